// The app shell: the dashboard (#/) and the demo screen (#/demo).
// The dashboard reads top to bottom the way a volunteer asks: what is
// happening (and the controls), what my tab contributes, what the swarm does,
// then the device details. Served by a relay (npm start), the tab trains for
// the swarm and every swarm figure is the relay's; served by a plain static
// host, it trains standalone and the swarm figures say "not connected to a
// relay" (relay-watcher.ts probes).
// Leaves out: a router library (use-route.ts: two hash routes).
import { useState } from 'react';
import { ContributionPanel } from './contribution-panel.tsx';
import { DemoScreen } from './demo-screen.tsx';
import { DetailsPanel } from './details-panel.tsx';
import { useSettings } from './local-data.ts';
import { RelayPanel } from './relay-panel.tsx';
import { TrainingPanel } from './training-panel.tsx';
import { useDevice } from './use-device.ts';
import { useRoute } from './use-route.ts';

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
    <main className="dashboard">
      <header className="masthead">
        <div>
          <h1>Tessera</h1>
          <p>Help train a language model from this tab. Your GPU runs training steps; only a few kilobytes of compressed updates leave your machine per round.</p>
        </div>
        <nav aria-label="Screens">
          <a href="#/demo" data-testid="demo-link">
            Demo screen
          </a>
        </nav>
      </header>
      <TrainingPanel device={device} settings={settings} />
      <ContributionPanel refreshKey={dataGeneration} />
      <RelayPanel />
      <DetailsPanel
        device={device}
        selfTest={selfTest}
        refreshKey={dataGeneration}
        onCleared={() => {
          setDataGeneration((g) => g + 1);
          settings.reload();
        }}
      />
    </main>
  );
}
