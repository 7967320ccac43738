// The app shell. For now: what Tessera is, the device panel and the GPU
// self-test. Training, wallet and dashboards arrive in later milestones.
import { DevicePanel } from './device-panel.tsx';
import { SelfTestPanel } from './self-test-panel.tsx';
import { useDevice } from './use-device.ts';

export function App() {
  const device = useDevice();
  return (
    <main>
      <header className="masthead">
        <h1>Tessera</h1>
        <p>Help pre-train a language model from this tab. Your GPU runs training steps through WebGPU; only a few hundred kilobytes of compressed updates leave your machine.</p>
      </header>
      <DevicePanel state={device} />
      <SelfTestPanel device={device} />
    </main>
  );
}
