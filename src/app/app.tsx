// The app shell: the dashboard (#/) — device, self-test, training, charts,
// swarm, wallet, samples, local data — and the demo screen (#/demo).
// Served by a relay (npm start), the tab trains for the swarm and every swarm
// figure is the relay's; served by a plain static host, it trains standalone
// and the swarm figures say "not connected to a relay" (relay-watcher.ts probes).
import { useState } from 'react';
import { ChartsPanel } from './charts-panel.tsx';
import { DemoScreen } from './demo-screen.tsx';
import { DevicePanel } from './device-panel.tsx';
import { useSettings } from './local-data.ts';
import { RelayPanel } from './relay-panel.tsx';
import { SamplePanel } from './sample-panel.tsx';
import { SelfTestPanel } from './self-test-panel.tsx';
import { StoragePanel } from './storage-panel.tsx';
import { TrainingPanel } from './training-panel.tsx';
import { useDevice } from './use-device.ts';
import { useRoute } from './use-route.ts';
import { WalletPanel } from './wallet-panel.tsx';

export function App() {
  const route = useRoute();
  return route === 'demo' ? <DemoScreen /> : <Dashboard />;
}

function Dashboard() {
  const { device, selfTest } = useDevice();
  const settings = useSettings();
  // Bumped after "Clear local data" so panels that read storage read it again.
  const [dataGeneration, setDataGeneration] = useState(0);
  return (
    <main>
      <header className="masthead">
        <div>
          <h1>Tessera</h1>
          <p>Help pre-train a language model from this tab. Your GPU runs training steps through WebGPU; only a few hundred kilobytes of compressed updates leave your machine.</p>
        </div>
        <nav aria-label="Screens">
          <a href="#/demo" data-testid="demo-link">
            Demo screen
          </a>
        </nav>
      </header>
      <div className="columns">
        <div className="column">
          <TrainingPanel device={device} settings={settings} />
          <ChartsPanel />
          <SamplePanel />
        </div>
        <div className="column">
          <DevicePanel state={device} />
          <SelfTestPanel device={device} state={selfTest} />
          <WalletPanel refreshKey={dataGeneration} />
          <RelayPanel refreshKey={dataGeneration} />
          <StoragePanel
            refreshKey={dataGeneration}
            onCleared={() => {
              setDataGeneration((g) => g + 1);
              settings.reload();
            }}
          />
        </div>
      </div>
    </main>
  );
}
