// "The swarm": everyone's work, as the relay reports it. The open round with
// its countdown and the quorum in words, tabs training now, rounds closed,
// contributors, tokens and tokens/s, the shared model's held-out loss per
// round, the live activity (updates received, rounds closed: push events), the
// leaderboard (Gauntlet's scoreboard, GET /api/leaderboard: rank, score,
// payout share; before the first scored round, or from a relay without
// Gauntlet, GET /api/ledger: addresses by tokens in the shared model), what
// the shared model writes, and the model itself to download (safetensors,
// ONNX and its card: docs/model-download.md). Standalone (no relay served the
// page) it says so instead of showing numbers.
// Leaves out: this tab's own work (contribution-panel.tsx).
import type { LeaderboardRow } from '../protocol/index.ts';
import { formatCount, formatCountdown, formatRate, NONE } from './format.ts';
import { LineChart, VALIDATION_COLOR } from './line-chart.tsx';
import { useRelay, type ActivityItem, type RelayView } from './relay-watcher.ts';
import { SamplePanel } from './sample-panel.tsx';
import { LeaderboardTable } from './scores-panel.tsx';
import { shorten, ShortHash } from './short-hash.tsx';
import { useTraining } from './training-feed.ts';
import { useNow } from './use-now.ts';

const NOT_CONNECTED = 'not connected to a relay';

export function RelayPanel() {
  const relay = useRelay();
  const view = useTraining();
  if (relay.status !== 'connected') return <StandalonePanel relay={relay} />;
  return <SwarmPanel relay={relay} address={view.swarmAddress} />;
}

/** One line of activity in words. */
export function activityText(item: ActivityItem): string {
  return item.kind === 'submission'
    ? `${shorten(item.address, 6, 4)} sent an update for round ${item.round} (${formatCount(item.tokens)} bytes of text trained)`
    : `Round ${item.round} closed: ${item.accepted === item.submitted ? item.accepted : `${item.accepted} of ${item.submitted}`} ${item.submitted === 1 ? 'update' : 'updates'} merged into version ${item.version} of the shared model`;
}

function SwarmPanel({ relay, address }: { relay: RelayView; address: string | null }) {
  const now = useNow();
  const round = relay.round;
  return (
    <section className="panel" aria-labelledby="relay-heading" data-testid="relay-panel" data-connected="true">
      <h2 id="relay-heading">The swarm</h2>
      {relay.problem && <p className="note">{relay.problem}</p>}
      <dl className="figures explained">
        <div>
          <dt>Round {round?.round ?? ''} closes in</dt>
          <dd data-testid="round-countdown" data-round={round?.round ?? ''}>
            {round ? (round.closing ? 'closing…' : formatCountdown(round.deadline - now)) : NONE}
          </dd>
          <dd className="why">…or sooner: a round closes as soon as {round ? formatCount(round.quorum) : 'enough'} updates are in.</dd>
        </div>
        <div>
          <dt>Updates this round</dt>
          <dd data-testid="round-submissions">{round ? `${round.submissions} of ${round.quorum}` : NONE}</dd>
          <dd className="why">The round closes when {round ? formatCount(round.quorum) : 'enough'} updates are in or at the deadline, whichever comes first.</dd>
        </div>
        <div>
          <dt>Training now</dt>
          <dd data-testid="swarm-trainers" data-count={relay.stats?.trainers ?? ''}>
            {formatCount(relay.stats?.trainers ?? null)}
          </dd>
          <dd className="why">Tabs that sent an update in this round or the last one. Pages open: {formatCount(relay.stats?.peers ?? null)} (viewers too).</dd>
        </div>
        <div>
          <dt>Rounds closed</dt>
          <dd data-testid="swarm-rounds">{formatCount(relay.version)}</dd>
          <dd className="why">Each closed round made a new version of the shared model.</dd>
        </div>
        <div>
          <dt>Contributors</dt>
          <dd data-testid="swarm-contributors">{formatCount(relay.contributors)}</dd>
          <dd className="why">Addresses with at least one update in the shared model.</dd>
        </div>
        <div>
          <dt>Text trained</dt>
          <dd data-testid="swarm-tokens">{formatCount(relay.stats?.tokens ?? null)}</dd>
          <dd className="why">
            Bytes of text the swarm has trained on{relay.swarmTokensPerSecond === null ? '' : `, ${formatRate(relay.swarmTokensPerSecond, 'B/s')} lately`}.
          </dd>
        </div>
      </dl>
      <LineChart
        title="The shared model's loss on held-out text, per round"
        xLabel="version (rounds closed)"
        yLabel="loss (nats/byte)"
        series={[{ label: 'shared model', x: relay.losses.x, y: relay.losses.y, color: VALIDATION_COLOR, points: true }]}
        revision={relay.revision}
        integerX
        testId="global-loss-chart"
      />
      <p className="muted small">
        Measured by the relay after every round on text no tab trains on (nats per byte: lower is better). This is the swarm's progress.
      </p>
      <h3>Lately</h3>
      <Activity items={relay.activity} />
      <h3>Leaderboard</h3>
      <SwarmLeaderboard relay={relay} you={address} />
      <SamplePanel />
      <ModelDownload relay={relay} />
    </section>
  );
}

function Activity({ items }: { items: ActivityItem[] }) {
  if (items.length === 0) return <p className="muted" data-testid="swarm-activity">Nothing yet: updates appear here as tabs send them.</p>;
  return (
    <ul className="activity" data-testid="swarm-activity">
      {items.map((item) => (
        <li key={item.key} data-kind={item.kind}>
          <time dateTime={new Date(item.at).toISOString()}>{new Date(item.at).toLocaleTimeString()}</time> {activityText(item)}
        </li>
      ))}
    </ul>
  );
}

/** Gauntlet's scoreboard once a round has been scored; until then (or without Gauntlet) addresses by text trained. */
export function SwarmLeaderboard({ relay, you, limit = 10, compact = false }: { relay: RelayView; you: string | null; limit?: number; compact?: boolean }) {
  if (relay.scoreboard && relay.scoreboard.rows.length > 0) return <LeaderboardTable board={relay.scoreboard} limit={limit} compact={compact} highlight={you} />;
  return <Leaderboard rows={relay.leaderboard} you={you} limit={limit} />;
}

export function Leaderboard({ rows, you, limit = 10 }: { rows: LeaderboardRow[] | null; you: string | null; limit?: number }) {
  if (rows === null) return <p className="muted">Reading the leaderboard…</p>;
  if (rows.length === 0) return <p className="muted" data-testid="leaderboard">No one yet: the first round's updates will lead it.</p>;
  return (
    <table className="checks leaderboard" data-testid="leaderboard">
      <caption className="visually-hidden">Addresses by bytes of text trained in the shared model</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">address</th>
          <th scope="col">rounds</th>
          <th scope="col">text trained</th>
        </tr>
      </thead>
      <tbody>
        {rows.slice(0, limit).map((row, i) => (
          <tr key={row.address} data-you={row.address === you}>
            <td>{i + 1}</td>
            <td>
              <ShortHash value={row.address} label="address" />
              {row.address === you ? ' (you)' : ''}
            </td>
            <td>{formatCount(row.rounds)}</td>
            <td>{formatCount(row.tokens)} bytes</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ModelDownload({ relay }: { relay: RelayView }) {
  return (
    <div data-testid="model-download">
      <h3>Take the model home</h3>
      <p className="muted small">
        Version {relay.version ?? NONE} of the shared model{relay.modelHash ? <>, fingerprint <ShortHash value={relay.modelHash} label="model hash" /></> : null}. It loads in
        PyTorch or onnxruntime (see docs/model-download.md in the Tessera repository).
      </p>
      <p className="controls">
        <a className="button-link" href="/api/model.safetensors" download data-testid="download-safetensors">
          Download (safetensors)
        </a>
        <a className="button-link" href="/api/model.onnx" download data-testid="download-onnx">
          Download (ONNX)
        </a>
        <a href="/api/model.json" data-testid="download-card">
          model card (JSON)
        </a>
      </p>
    </div>
  );
}

function StandalonePanel({ relay }: { relay: RelayView }) {
  return (
    <section className="panel" aria-labelledby="relay-heading" data-testid="relay-panel" data-connected="false">
      <h2 id="relay-heading">The swarm</h2>
      <p className="note" role="status">
        {relay.status === 'probing'
          ? 'Looking for a relay at this address…'
          : 'Not connected to a relay: this tab trains on its own. Rounds, other tabs and the shared model appear when a relay serves this page (npm start).'}
      </p>
      <dl className="figures">
        <div>
          <dt>Round closes in</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
        <div>
          <dt>Training now</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
        <div>
          <dt>Rounds closed</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
      </dl>
      <SamplePanel />
    </section>
  );
}
