// The demo screen (#/demo) for a projector: big type readable from the back of
// a room — the loss curve, contributors, tokens per second, a live sample, and
// a QR code of the join URL. Standalone (no relay) it shows this tab's own
// training and says so; swarm-wide numbers need a relay.
import { useEffect } from 'react';
import { LineChart } from './line-chart.tsx';
import { LOSS_COLOR, VALIDATION_COLOR } from './charts-panel.tsx';
import { JoinQr } from './join-qr.tsx';
import { useTraining } from './training-store.ts';
import { useSample } from './use-sample.ts';
import { formatLoss, formatRate } from './format.ts';

/** Seconds between live samples: long enough to read one aloud. */
const SAMPLE_EVERY_MS = 30_000;

export function joinUrl(): string {
  return `${location.origin}${location.pathname}`;
}

export function DemoScreen() {
  const view = useTraining();
  const [sample, generate] = useSample();
  const training = view.state === 'training' && view.lastStep !== null;

  useEffect(() => {
    if (!training) return;
    void generate({ temperature: 0.8, maxNewBytes: 100 });
    const timer = setInterval(() => void generate({ temperature: 0.8, maxNewBytes: 100 }), SAMPLE_EVERY_MS);
    return () => clearInterval(timer);
  }, [training, generate]);

  return (
    <main className="demo" data-testid="demo-screen">
      <header className="demo-header">
        <h1>Tessera</h1>
        <p>Train a language model together: open the link on any device with a modern browser.</p>
        <a href="#/" className="back">
          Back to the dashboard
        </a>
      </header>
      <section className="demo-chart" aria-label="Loss">
        <LineChart
          title={view.innerLoss.x.length ? 'Loss of this tab: training (orange), held-out (blue) — standalone, not connected to a relay' : 'Loss — waiting for the first training step'}
          xLabel="step"
          yLabel="loss"
          series={[
            { label: 'training', x: view.innerLoss.x, y: view.innerLoss.y, color: LOSS_COLOR },
            { label: 'held-out', x: view.validationLoss.x, y: view.validationLoss.y, color: VALIDATION_COLOR, points: true },
          ]}
          revision={view.revision}
          height={270}
          big
          testId="demo-loss-chart"
        />
      </section>
      <section className="demo-stats" aria-label="Swarm figures">
        <div>
          <span className="label">Contributors</span>
          <span className="value placeholder" data-testid="demo-contributors">
            not connected to a relay
          </span>
        </div>
        <div>
          <span className="label">Tokens / s (this tab)</span>
          <span className="value" data-testid="demo-tokens-per-second">
            {formatRate(view.tokensPerSecond, 'tok/s')}
          </span>
        </div>
        <div>
          <span className="label">Loss</span>
          <span className="value">{formatLoss(view.lastStep?.loss)}</span>
        </div>
      </section>
      <section className="demo-sample" aria-label="Live sample" aria-live="polite">
        <span className="label">The model writes{sample.step !== null ? ` (step ${sample.step})` : ''}</span>
        <p data-testid="demo-sample">{sample.text ?? (training ? 'Writing…' : 'Samples appear once training runs.')}</p>
      </section>
      <aside className="demo-join" aria-label="Join">
        <span className="label">Join from your phone</span>
        <JoinQr url={joinUrl()} />
      </aside>
    </main>
  );
}
