// Live charts: inner (training) loss per step of this tab, and validation
// loss. With a relay the second chart is the swarm's global validation loss
// per round (the relay's held-out evaluation of every model version);
// standalone it is this tab's own held-out loss, labelled as such.
import { LineChart } from './line-chart.tsx';
import { useRelay } from './relay-watcher.ts';
import { useTraining } from './training-feed.ts';

export const LOSS_COLOR = '#f59e0b';
export const VALIDATION_COLOR = '#38bdf8';

export function ChartsPanel() {
  const view = useTraining();
  const relay = useRelay();
  const swarm = relay.status === 'connected';
  return (
    <section className="panel" aria-labelledby="charts-heading" data-testid="charts-panel">
      <h2 id="charts-heading">Loss</h2>
      <div className="chart-grid">
        <LineChart
          title={swarm ? 'Inner loss per step (this tab, global step axis)' : 'Inner loss per step (this tab)'}
          xLabel="step"
          yLabel="loss (nats/byte)"
          series={[{ label: 'inner loss', x: view.innerLoss.x, y: view.innerLoss.y, color: LOSS_COLOR }]}
          revision={view.revision}
          testId="inner-loss-chart"
        />
        {swarm ? (
          <LineChart
            title="Global validation loss per round (the relay's held-out text)"
            xLabel="model version (rounds closed)"
            yLabel="loss (nats/byte)"
            series={[{ label: 'global validation', x: relay.losses.x, y: relay.losses.y, color: VALIDATION_COLOR, points: true }]}
            revision={relay.revision}
            testId="global-loss-chart"
          />
        ) : (
          <div>
            <LineChart
              title="Validation loss (this tab, held-out text)"
              xLabel="step"
              yLabel="loss (nats/byte)"
              series={[{ label: 'local validation', x: view.validationLoss.x, y: view.validationLoss.y, color: VALIDATION_COLOR, points: true }]}
              revision={view.revision}
              testId="validation-loss-chart"
            />
            <p className="muted small">Global validation loss per round: not connected to a relay.</p>
          </div>
        )}
      </div>
    </section>
  );
}
