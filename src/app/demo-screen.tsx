// The demo screen (#/demo) for a projector: big type readable from the back of
// a room — the loss curve, contributors, tokens per second, the leaderboard,
// a live sample, and a QR code of the join URL.
// With a relay everything comes from the relay (its push channel and history),
// so the screen works on a machine that only displays and does not train: the
// global validation loss per round, the contributors, the swarm's tokens/s,
// and samples from the current global model, rewritten when it changes (at
// most every SAMPLE_EVERY_MS). Standalone it shows this tab's own training
// and says so.
import { useEffect, useRef, type ReactNode } from 'react';
import { LineChart } from './line-chart.tsx';
import { LOSS_COLOR, VALIDATION_COLOR } from './charts-panel.tsx';
import { JoinQr } from './join-qr.tsx';
import { useRelay, type RelayView } from './relay-watcher.ts';
import { useTraining, type TrainingView } from './training-feed.ts';
import { useSample, type SampleState } from './use-sample.ts';
import { formatCount, formatLoss, formatRate } from './format.ts';
import { LeaderboardTable } from './scores-panel.tsx';

/** Seconds between live samples: long enough to read one aloud. */
const SAMPLE_EVERY_MS = 30_000;

export function joinUrl(): string {
  return `${location.origin}${location.pathname}`;
}

export function DemoScreen() {
  const relay = useRelay();
  const view = useTraining();
  if (relay.status === 'probing') return <DemoFrame sample={null} chart={null} stats={null} />;
  return relay.status === 'connected' ? <SwarmDemo relay={relay} /> : <StandaloneDemo view={view} />;
}

function SwarmDemo({ relay }: { relay: RelayView }) {
  const [sample, generate] = useSample('relay');
  const version = relay.version;
  const lastSampleAt = useRef(-Infinity);
  // A new sample when the global model changes, at most every SAMPLE_EVERY_MS (the first one at once).
  useEffect(() => {
    if (version === null) return;
    const timer = setTimeout(
      () => {
        lastSampleAt.current = Date.now();
        void generate({ temperature: 0.8, maxNewBytes: 100 });
      },
      Math.max(0, lastSampleAt.current + SAMPLE_EVERY_MS - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [version, generate]);
  const latest = relay.losses.y.at(-1) ?? null;
  return (
    <DemoFrame
      sample={sample}
      chart={
        <LineChart
          title={relay.losses.x.length ? `Global validation loss per round — ${relay.run?.runId}, ${relay.version} rounds so far` : 'Loss — waiting for the relay\'s first evaluation'}
          xLabel="round"
          yLabel="loss"
          series={[{ label: 'global validation', x: relay.losses.x, y: relay.losses.y, color: VALIDATION_COLOR, points: true }]}
          revision={relay.revision}
          height={270}
          big
          testId="demo-loss-chart"
        />
      }
      stats={
        <>
          <div>
            <span className="label">Contributors</span>
            <span className="value" data-testid="demo-contributors" data-count={relay.contributors ?? ''}>
              {formatCount(relay.contributors)}
            </span>
          </div>
          <div>
            <span className="label">Tokens / s (whole swarm)</span>
            <span className="value" data-testid="demo-tokens-per-second">
              {formatRate(relay.swarmTokensPerSecond, 'tok/s')}
            </span>
          </div>
          <div>
            <span className="label">Loss · tabs online</span>
            <span className="value" data-testid="demo-loss">
              {formatLoss(latest)} · {formatCount(relay.stats?.peers ?? null)}
            </span>
          </div>
        </>
      }
      board={<LeaderboardTable board={relay.scoreboard} limit={3} big />}
    />
  );
}

function StandaloneDemo({ view }: { view: TrainingView }) {
  const [sample, generate] = useSample('worker');
  const training = view.state === 'training' && view.lastStep !== null;
  useEffect(() => {
    if (!training) return;
    void generate({ temperature: 0.8, maxNewBytes: 100 });
    const timer = setInterval(() => void generate({ temperature: 0.8, maxNewBytes: 100 }), SAMPLE_EVERY_MS);
    return () => clearInterval(timer);
  }, [training, generate]);
  return (
    <DemoFrame
      sample={sample}
      idleText={training ? 'Writing…' : 'Samples appear once training runs.'}
      chart={
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
      }
      stats={
        <>
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
        </>
      }
    />
  );
}

function DemoFrame({
  sample,
  chart,
  stats,
  board = null,
  idleText = 'Writing…',
}: {
  sample: SampleState | null;
  chart: ReactNode;
  stats: ReactNode;
  board?: ReactNode;
  idleText?: string;
}) {
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
        {chart}
      </section>
      <section className="demo-stats" aria-label="Swarm figures">
        {stats}
      </section>
      {board && (
        <section className="demo-board" aria-label="Leaderboard">
          <span className="label">Top contributors (payout by score)</span>
          {board}
        </section>
      )}
      <section className="demo-sample" aria-label="Live sample" aria-live="polite">
        <span className="label">The model writes{sample?.origin ? ` (${sample.origin})` : ''}</span>
        <p data-testid="demo-sample">{sample?.text ?? (sample?.error ? `No sample: ${sample.error}` : idleText)}</p>
      </section>
      <aside className="demo-join" aria-label="Join">
        <span className="label">Join from your phone</span>
        <JoinQr url={joinUrl()} />
      </aside>
    </main>
  );
}
