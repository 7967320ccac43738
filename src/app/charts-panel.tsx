// Live charts: inner (training) loss per step, and validation loss. The global
// validation loss per round comes from the relay; until one is connected the
// chart shows this tab's own held-out loss, labelled as such.
import { LineChart } from './line-chart.tsx';
import { useTraining } from './training-store.ts';

export const LOSS_COLOR = '#f59e0b';
export const VALIDATION_COLOR = '#38bdf8';

export function ChartsPanel() {
  const view = useTraining();
  return (
    <section className="panel" aria-labelledby="charts-heading" data-testid="charts-panel">
      <h2 id="charts-heading">Loss</h2>
      <div className="chart-grid">
        <LineChart
          title="Inner loss per step (this tab)"
          xLabel="step"
          yLabel="loss (nats/byte)"
          series={[{ label: 'inner loss', x: view.innerLoss.x, y: view.innerLoss.y, color: LOSS_COLOR }]}
          revision={view.revision}
          testId="inner-loss-chart"
        />
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
      </div>
    </section>
  );
}
