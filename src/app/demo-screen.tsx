// The demo screen (#/demo) for a projector, laid out for 1920×1080 and
// 1280×720 without scrolling (one grid of viewport units; the e2e test checks
// nothing overflows at both): big live figures — the shared model's loss,
// tabs training now, the round's countdown and its updates, text trained —
// the loss chart (whole-number round ticks, large type), the live activity as
// updates arrive (push events), the leaderboard (Gauntlet's scoreboard: rank,
// score, payout share), what the model writes (only
// once its bytes are readable text), and the QR code of the join URL with a
// warning when phones could not use it (a loopback or plain-http address).
// With a relay everything comes from the relay (push channel, history and
// its samples), so the screen works on a machine that only displays and
// downloads no inference engine. Standalone it shows this tab's own training
// and says so.
// The live region speaks one sentence per closed round, at most every
// ANNOUNCE_EVERY_MS, never the sample's bytes.
// Leaves out: controls (a projector screen is watched, not used: the dashboard has them).
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { continuationBytes, isLoopbackUrl } from '../protocol/index.ts';
import { formatCount, formatCountdown, formatLoss, formatRate } from './format.ts';
import { JoinQr } from './join-qr.tsx';
import { LineChart, LOSS_COLOR, VALIDATION_COLOR } from './line-chart.tsx';
import { readableText, SHOW_FROM_SHARE } from './readable-text.ts';
import { activityText, SwarmLeaderboard } from './relay-panel.tsx';
import { useRelay, type RelayView } from './relay-watcher.ts';
import { useTraining, type TrainingView } from './training-feed.ts';
import { useNow } from './use-now.ts';
import { useSample } from './use-sample.ts';

/** Fewest milliseconds between two spoken announcements: a fast demo closes rounds every few seconds. */
const ANNOUNCE_EVERY_MS = 30_000;
/** Activity lines on screen. */
const ACTIVITY_LINES = 5;
/** Leaderboard rows on screen. */
const LEADERBOARD_ROWS = 5;

/** What phones should open: the relay's published join URL, else this page's own address. */
export function joinUrlOf(relay: RelayView): string {
  return relay.run?.joinUrl ?? `${location.origin}${location.pathname}`;
}

/** Why phones in the room could not train from this URL, or null when they can. */
export function joinUrlProblem(url: string): string | null {
  if (isLoopbackUrl(url)) {
    return 'This address points at this computer: a phone that scans it opens itself. Start the relay with --public-url and an https address phones can reach (docs/demo.md).';
  }
  if (new URL(url).protocol !== 'https:') {
    return 'Phones will not train over plain http: browsers offer WebGPU only to secure (https) pages. Serve https with --tls-cert and --tls-key, or through a proxy (docs/demo.md).';
  }
  return null;
}

export function DemoScreen() {
  const relay = useRelay();
  const view = useTraining();
  if (relay.status === 'probing') return <DemoFrame joinUrl={joinUrlOf(relay)} figures={null} chart={null} side={null} sample={null} />;
  return relay.status === 'connected' ? <SwarmDemo relay={relay} /> : <StandaloneDemo view={view} />;
}

function Figure({ label, value, testId, detail, count }: { label: string; value: ReactNode; testId: string; detail?: ReactNode; count?: number | null }) {
  return (
    <div className="demo-figure">
      <span className="label">{label}</span>
      <span className="value" data-testid={testId} data-count={count ?? ''}>
        {value}
      </span>
      {detail && <span className="detail">{detail}</span>}
    </div>
  );
}

/** One sentence per closed round for the live region, at most every ANNOUNCE_EVERY_MS. */
function useAnnouncement(relay: RelayView): string {
  const [sentence, setSentence] = useState('');
  const lastAt = useRef(-Infinity);
  const closed = relay.activity.find((item) => item.kind === 'round-closed');
  const loss = relay.losses.y.at(-1) ?? null;
  useEffect(() => {
    if (!closed || closed.kind !== 'round-closed' || Date.now() - lastAt.current < ANNOUNCE_EVERY_MS) return;
    lastAt.current = Date.now();
    setSentence(`Round ${closed.round} closed: ${closed.accepted} ${closed.accepted === 1 ? 'update' : 'updates'} merged.${loss !== null ? ` The shared model's loss is ${loss.toFixed(2)}.` : ''}`);
  }, [closed, loss]);
  return sentence;
}

function SwarmDemo({ relay }: { relay: RelayView }) {
  const now = useNow();
  const round = relay.round;
  const latest = relay.losses.y.at(-1) ?? null;
  const first = relay.losses.y[0] ?? null;
  const announcement = useAnnouncement(relay);
  const written = relay.sample ? readableText(continuationBytes(relay.sample.continuation)) : null;
  return (
    <DemoFrame
      joinUrl={joinUrlOf(relay)}
      announcement={announcement}
      figures={
        <>
          <Figure
            label="Shared model's loss"
            value={formatLoss(latest)}
            testId="demo-loss"
            detail={first !== null && latest !== null && relay.losses.y.length > 1 ? `from ${first.toFixed(2)} at the start — lower is better` : 'lower is better'}
          />
          <Figure label="Training now" value={formatCount(relay.stats?.trainers ?? null)} testId="demo-trainers" count={relay.stats?.trainers ?? null} detail={`${formatCount(relay.contributors)} contributors so far`} />
          <Figure
            label={round ? `Round ${round.round} closes in` : 'Round'}
            value={round ? (round.closing ? 'closing…' : formatCountdown(round.deadline - now)) : '—'}
            testId="demo-countdown"
            detail={round ? `${round.submissions} of ${round.quorum} updates in` : undefined}
          />
          <Figure
            label="Text trained"
            value={formatCount(relay.stats?.tokens ?? null)}
            testId="demo-tokens"
            detail={
              <span data-testid="demo-tokens-per-second">{relay.swarmTokensPerSecond === null ? 'bytes of text' : `bytes of text · ${formatRate(relay.swarmTokensPerSecond, 'B/s')}`}</span>
            }
          />
          <span className="visually-hidden" data-testid="demo-contributors" data-count={relay.contributors ?? ''}>
            {formatCount(relay.contributors)} contributors
          </span>
        </>
      }
      chart={
        <LineChart
          title={relay.losses.x.length ? `The shared model's loss on held-out text, round by round — run ${relay.run?.runId}` : 'Loss — waiting for the relay\'s first measurement'}
          xLabel="round"
          yLabel="loss"
          series={[{ label: 'shared model', x: relay.losses.x, y: relay.losses.y, color: VALIDATION_COLOR, points: true }]}
          revision={relay.revision}
          fill
          big
          integerX
          testId="demo-loss-chart"
        />
      }
      side={
        <>
          <section className="demo-activity" aria-label="Live activity">
            <h2>Live</h2>
            {relay.activity.length === 0 ? (
              <p className="muted">Updates appear here as tabs send them.</p>
            ) : (
              <ul data-testid="demo-activity">
                {relay.activity.slice(0, ACTIVITY_LINES).map((item) => (
                  <li key={item.key} data-kind={item.kind}>
                    {activityText(item)}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="demo-leaderboard" aria-label="Leaderboard">
            <h2>Leaderboard</h2>
            <SwarmLeaderboard relay={relay} you={null} limit={LEADERBOARD_ROWS} compact />
          </section>
        </>
      }
      sample={
        relay.sample && written ? (
          written.readableShare >= SHOW_FROM_SHARE ? (
            <p data-testid="demo-sample" data-readable={written.readableShare}>
              <span className="label">The model writes (v{relay.sample.version}): </span>
              {relay.sample.prompt}
              {written.text}
            </p>
          ) : (
            <p data-testid="demo-sample" data-readable={written.readableShare} className="muted">
              The model is still learning to write: {Math.round(written.readableShare * 100)} % of its bytes form letters so far. Its text appears here once it writes words.
            </p>
          )
        ) : (
          <p data-testid="demo-sample" className="muted">
            The model's writing appears here after the first round.
          </p>
        )
      }
    />
  );
}

/** Seconds between standalone samples: long enough to read one aloud. */
const SAMPLE_EVERY_MS = 30_000;

function StandaloneDemo({ view }: { view: TrainingView }) {
  // Without a relay the page writes samples itself (onnxruntime-web, loaded only once training runs).
  const [sample, generate] = useSample();
  const training = view.state === 'training' && view.lastStep !== null;
  useEffect(() => {
    if (!training) return;
    void generate({ temperature: 0.8, maxNewBytes: 100 });
    const timer = setInterval(() => void generate({ temperature: 0.8, maxNewBytes: 100 }), SAMPLE_EVERY_MS);
    return () => clearInterval(timer);
  }, [training, generate]);
  return (
    <DemoFrame
      joinUrl={`${location.origin}${location.pathname}`}
      figures={
        <>
          <Figure label="Loss (this tab)" value={formatLoss(view.lastStep?.loss)} testId="demo-loss" detail="lower is better" />
          <Figure label="Tokens / s (this tab)" value={formatRate(view.tokensPerSecond, 'tok/s')} testId="demo-tokens-per-second" />
          <Figure label="Contributors" value={<span className="placeholder">not connected to a relay</span>} testId="demo-contributors" />
        </>
      }
      chart={
        <LineChart
          title={view.innerLoss.x.length ? 'Loss of this tab: training (amber), held-out (blue) — standalone, not connected to a relay' : 'Loss — waiting for the first training step'}
          xLabel="step"
          yLabel="loss"
          series={[
            { label: 'training', x: view.innerLoss.x, y: view.innerLoss.y, color: LOSS_COLOR },
            { label: 'held-out', x: view.validationLoss.x, y: view.validationLoss.y, color: VALIDATION_COLOR, points: true },
          ]}
          revision={view.revision}
          fill
          big
          integerX
          testId="demo-loss-chart"
        />
      }
      side={null}
      sample={
        <p data-testid="demo-sample" data-readable={sample.readableShare ?? ''} className={sample.text ? undefined : 'muted'}>
          {sample.text ?? (sample.error ? `No sample: ${sample.error}` : training ? 'Writing…' : 'Samples appear once training runs.')}
        </p>
      }
    />
  );
}

function DemoFrame({
  joinUrl,
  figures,
  chart,
  side,
  sample,
  announcement = '',
}: {
  joinUrl: string;
  figures: ReactNode;
  chart: ReactNode;
  side: ReactNode;
  sample: ReactNode;
  announcement?: string;
}) {
  const problem = joinUrlProblem(joinUrl);
  return (
    <main className="demo" data-testid="demo-screen">
      <header className="demo-header">
        <h1>Tessera</h1>
        <p>Train a language model together: scan the code, tap Join, and your phone or laptop trains with everyone here.</p>
        <a href="#/" className="back">
          Dashboard
        </a>
      </header>
      <section className="demo-figures" aria-label="Swarm figures">
        {figures}
      </section>
      <section className="demo-chart" aria-label="Loss chart">
        {chart}
      </section>
      <div className="demo-side">{side}</div>
      <section className="demo-sample" aria-label="What the model writes">
        {sample}
      </section>
      <aside className="demo-join" aria-label="Join">
        <span className="label">Join from your phone</span>
        <JoinQr url={joinUrl} />
        {problem && (
          <p className="join-warning" role="alert" data-testid="join-warning">
            {problem}
          </p>
        )}
      </aside>
      <p className="visually-hidden" aria-live="polite" data-testid="demo-announcement">
        {announcement}
      </p>
    </main>
  );
}
