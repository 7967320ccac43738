// The swarm side of the dashboard. Connected to a relay it shows the open
// round with its countdown and quorum, what this tab sent per round against
// the dense float32 size (the compression ratio), swarm statistics (peers,
// rounds, tokens, tokens/s, contributors), and "my submissions": the relay's
// ledger for this tab's address joined with this browser's outbox (signed but
// not yet acknowledged) and this session's refusals, each closed one saying
// whether it was aggregated and why not; Gauntlet's leaderboard and this
// tab's latest signed receipt (scores-panel.tsx). Standalone (no relay
// served the page) it says so instead of showing numbers.
import { useEffect, useState } from 'react';
import type { LedgerEntry } from '../protocol/index.ts';
import { pendingSubmissions, type OutboxRecord } from '../storage/index.ts';
import { useAccount } from './chosen-account.ts';
import { formatBytes } from './device-panel.tsx';
import { formatCount, formatRate, NONE } from './format.ts';
import { pageDatabase } from './local-data.ts';
import { relayWatcher, useRelay, type RelayView } from './relay-watcher.ts';
import { EXCLUSION_TEXT, LeaderboardTable, ReceiptSummary } from './scores-panel.tsx';
import { useTraining, type RoundView, type TrainingView } from './training-feed.ts';

const NOT_CONNECTED = 'not connected to a relay';

function useOutbox(refreshKey: unknown): OutboxRecord[] | null {
  const [records, setRecords] = useState<OutboxRecord[] | null>(null);
  useEffect(() => {
    let live = true;
    pageDatabase()
      .then(pendingSubmissions)
      .then(
        (list) => live && setRecords(list),
        () => live && setRecords(null),
      );
    return () => {
      live = false;
    };
  }, [refreshKey]);
  return records;
}

/** Re-renders every `ms` (for countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function formatCountdown(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export function RelayPanel({ refreshKey }: { refreshKey: unknown }) {
  const relay = useRelay();
  const view = useTraining();
  const { account } = useAccount();
  const address = view.swarmAddress ?? account?.address ?? null;
  useEffect(() => {
    if (relay.status === 'connected') relayWatcher().watchAddress(address);
  }, [relay.status, address]);
  // The outbox changes when a round's submission is sent, acknowledged or settled.
  const newest = view.rounds[0];
  const outbox = useOutbox(`${String(refreshKey)}:${newest?.round}:${newest?.phase}`);
  if (relay.status !== 'connected') return <StandalonePanel relay={relay} view={view} outbox={outbox} />;
  return <SwarmPanel relay={relay} view={view} outbox={outbox} address={address} />;
}

function SwarmPanel({ relay, view, outbox, address }: { relay: RelayView; view: TrainingView; outbox: OutboxRecord[] | null; address: string | null }) {
  useNow(); // re-render every second; the countdown reads the clock at render time
  const now = Date.now();
  const round = relay.round;
  const dense = relay.run ? relay.run.model.parameterCount * 4 : null;
  const sent = view.lastSent;
  const sentBytes = sent?.frameBytes ?? null;
  const ratio = dense !== null && sentBytes ? dense / sentBytes : null;
  return (
    <section className="panel" aria-labelledby="relay-heading" data-testid="relay-panel" data-connected="true">
      <h2 id="relay-heading">Swarm</h2>
      <p className="muted small">
        Run <strong>{relay.run?.runId}</strong>: {relay.run?.model.name} ({formatCount(relay.run?.model.parameterCount ?? null)} parameters), H ={' '}
        {relay.run?.innerSteps} inner steps per round, quorum {relay.run?.swarm.quorum}.
      </p>
      {relay.problem && <p className="note">{relay.problem}</p>}
      <dl className="figures">
        <div>
          <dt>Round {round?.round ?? ''} closes in</dt>
          <dd data-testid="round-countdown" data-round={round?.round ?? ''}>
            {round ? (round.closing ? 'closing…' : formatCountdown(round.deadline - now)) : NONE}
          </dd>
        </div>
        <div>
          <dt>Submissions this round</dt>
          <dd data-testid="round-submissions">{round ? `${round.submissions} of ${round.quorum}` : NONE}</dd>
        </div>
        <div>
          <dt>Sent per round (this tab)</dt>
          <dd data-testid="bytes-per-round" data-bytes={sentBytes ?? ''} data-round={sent?.round ?? ''}>
            {sentBytes === null ? NONE : formatBytes(sentBytes)}
          </dd>
        </div>
        <div>
          <dt>Dense float32 update</dt>
          <dd data-testid="dense-bytes" data-bytes={dense ?? ''}>
            {dense === null ? NONE : formatBytes(dense)}
          </dd>
        </div>
        <div>
          <dt>Compression ratio</dt>
          <dd data-testid="compression-ratio" data-ratio={ratio ?? ''}>
            {ratio === null ? NONE : `${ratio.toFixed(0)}×`}
          </dd>
        </div>
        <div>
          <dt>Peers connected</dt>
          <dd data-testid="swarm-peers">{formatCount(relay.stats?.peers ?? null)}</dd>
        </div>
        <div>
          <dt>Rounds closed</dt>
          <dd data-testid="swarm-rounds">{formatCount(relay.version)}</dd>
        </div>
        <div>
          <dt>Contributors</dt>
          <dd data-testid="swarm-contributors">{formatCount(relay.contributors)}</dd>
        </div>
        <div>
          <dt>Swarm tokens</dt>
          <dd data-testid="swarm-tokens">{formatCount(relay.stats?.tokens ?? null)}</dd>
        </div>
        <div>
          <dt>Swarm tokens/s</dt>
          <dd data-testid="swarm-tokens-per-second">{formatRate(relay.swarmTokensPerSecond, 'tok/s')}</dd>
        </div>
      </dl>
      <h3>My submissions</h3>
      {address === null ? (
        <p className="muted" data-testid="no-submissions">
          No account yet: join the swarm (or choose an account) to see your submissions.
        </p>
      ) : (
        <>
          <ReceiptSummary receipt={relay.receipt} />
          <Submissions address={address} ledger={relay.ledger} outbox={outbox} rounds={view.rounds} />
        </>
      )}
      <h3>Leaderboard</h3>
      <LeaderboardTable board={relay.scoreboard} highlight={address} />
    </section>
  );
}

interface SubmissionRow {
  round: number;
  bytes: number | null;
  status: string;
  state: 'accepted' | 'excluded' | 'pending' | 'outbox' | 'refused' | 'working';
}

function statusOfRound(r: RoundView): SubmissionRow['state'] | null {
  switch (r.phase) {
    case 'refused':
      return 'refused';
    case 'trained':
    case 'sending':
    case 'retrying':
      return 'working';
    default:
      return null; // acknowledged / closed: the ledger has it
  }
}

function Submissions({ address, ledger, outbox, rounds }: { address: string; ledger: LedgerEntry[] | null; outbox: OutboxRecord[] | null; rounds: RoundView[] }) {
  const rows = new Map<number, SubmissionRow>();
  const framed = new Map(rounds.map((r) => [r.round, r.frameBytes]));
  for (const line of ledger ?? []) {
    const excluded = line.status === 'accepted' && line.aggregated === false;
    rows.set(line.round, {
      round: line.round,
      bytes: framed.get(line.round) ?? line.payloadBytes, // the frame this session sent, else the relay's payload count
      status:
        line.status === 'pending'
          ? 'received; the round is open'
          : excluded
            ? `not aggregated into model v${line.version}: ${line.reason ? EXCLUSION_TEXT[line.reason] : 'no reason given'}`
            : `aggregated into model v${line.version}`,
      state: excluded ? 'excluded' : line.status,
    });
  }
  for (const entry of outbox ?? []) {
    if (entry.address !== address || rows.has(entry.round)) continue;
    rows.set(entry.round, {
      round: entry.round,
      bytes: entry.frameBytes,
      status: entry.attempts === 0 ? 'signed, in the outbox: sending' : `in the outbox: retrying (${entry.attempts} failed: ${entry.lastError ?? 'unknown'})`,
      state: 'outbox',
    });
  }
  for (const r of rounds) {
    const state = statusOfRound(r);
    if (!state || rows.has(r.round)) continue;
    rows.set(r.round, {
      round: r.round,
      bytes: r.frameBytes,
      status: state === 'refused' ? `not sent: ${r.code ?? 'refused'}` : r.phase === 'trained' ? 'trained; compressing and signing' : 'sending',
      state,
    });
  }
  const list = [...rows.values()].sort((a, b) => b.round - a.round).slice(0, 20);
  if (list.length === 0) return <p className="muted" data-testid="no-submissions">None yet: the first one goes out after this tab's first round.</p>;
  return (
    <table className="checks" data-testid="submissions">
      <thead>
        <tr>
          <th scope="col">round</th>
          <th scope="col">size</th>
          <th scope="col">status</th>
        </tr>
      </thead>
      <tbody>
        {list.map((row) => (
          <tr key={row.round} data-round={row.round} data-state={row.state}>
            <td>{row.round}</td>
            <td>{row.bytes === null ? NONE : formatBytes(row.bytes)}</td>
            <td>{row.status}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function StandalonePanel({ relay, view, outbox }: { relay: RelayView; view: TrainingView; outbox: OutboxRecord[] | null }) {
  const dense = view.ready ? view.ready.parameterCount * 4 : null;
  return (
    <section className="panel" aria-labelledby="relay-heading" data-testid="relay-panel" data-connected="false">
      <h2 id="relay-heading">Swarm</h2>
      <p className="note" role="status">
        {relay.status === 'probing'
          ? 'Looking for a relay at this address…'
          : 'Not connected to a relay: this tab trains on its own. Round, upload and swarm figures appear when a relay serves this page (npm start).'}
      </p>
      <dl className="figures">
        <div>
          <dt>Round closes in</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
        <div>
          <dt>Sent per round</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
        <div>
          <dt>Dense update size</dt>
          <dd data-testid="dense-bytes">{dense === null ? NONE : formatBytes(dense)}</dd>
        </div>
        <div>
          <dt>Compression ratio</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
        <div>
          <dt>Peers</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
        <div>
          <dt>Rounds</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
        <div>
          <dt>Swarm tokens</dt>
          <dd className="placeholder">{NOT_CONNECTED}</dd>
        </div>
      </dl>
      <h3>My submissions</h3>
      {outbox === null && <p className="muted">Reading the outbox…</p>}
      {outbox?.length === 0 && <p className="muted" data-testid="no-submissions">None: submissions start when a relay runs rounds.</p>}
      {outbox && outbox.length > 0 && (
        <table className="checks" data-testid="submissions">
          <thead>
            <tr>
              <th scope="col">round</th>
              <th scope="col">size</th>
              <th scope="col">status</th>
            </tr>
          </thead>
          <tbody>
            {outbox.map((r) => (
              <tr key={r.id}>
                <td>{r.round}</td>
                <td>{formatBytes(r.frameBytes)}</td>
                <td>{r.attempts === 0 ? 'waiting to send' : `retrying (${r.attempts} failed: ${r.lastError ?? 'unknown'})`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
