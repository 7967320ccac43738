// "Your contribution": what this tab did, in plain words with a short
// explanation beside each figure — steps, the inner loss (and what its numbers
// mean), how busy the GPU really was over the last minute and the tokens per
// second over wall-clock time (gpu-activity.ts: rests and waits included), what
// one round's update weighed against the dense model, this tab's copy of the
// shared model (hash shortened, whole on hover and copy), the inner-loss chart
// with its saw-tooth explained, "My submissions" (the relay's ledger joined with
// this browser's outbox; a closed one says whether Gauntlet aggregated it and
// why not) with this tab's latest signed receipt verified in the page
// (scores-panel.tsx), and who gets the credit (the wallet).
// Leaves out: controls (training-panel.tsx), the swarm's figures (relay-panel.tsx).
import { useEffect, useState } from 'react';
import type { LedgerEntry } from '../protocol/index.ts';
import { pendingSubmissions, type OutboxRecord } from '../storage/index.ts';
import { useAccount } from './chosen-account.ts';
import { formatBytes, formatCount, formatLoss, formatPercent, formatRate, NONE } from './format.ts';
import { LineChart, LOSS_COLOR, VALIDATION_COLOR } from './line-chart.tsx';
import { pageDatabase } from './local-data.ts';
import { relayWatcher, useRelay } from './relay-watcher.ts';
import { EXCLUSION_TEXT, ReceiptSummary } from './scores-panel.tsx';
import { ShortHash } from './short-hash.tsx';
import { trainingFeed, useTraining, type RoundView } from './training-feed.ts';
import { useNow } from './use-now.ts';
import { WalletPanel } from './wallet-panel.tsx';

/** ln 256: the loss of a model that guesses every byte uniformly (nats per byte). */
const BLIND_GUESS_LOSS = Math.log(256);

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

export function ContributionPanel({ refreshKey }: { refreshKey: unknown }) {
  const feed = trainingFeed();
  const view = useTraining(feed);
  const relay = useRelay();
  const now = useNow();
  const { account } = useAccount();
  const swarm = relay.status === 'connected';
  const address = view.swarmAddress ?? account?.address ?? null;
  useEffect(() => {
    if (swarm) relayWatcher().watchAddress(address);
  }, [swarm, address]);
  // The run's saved curve shows at once after a reload, before training resumes.
  const runId = relay.run?.runId ?? null;
  useEffect(() => {
    if (runId !== null) void feed.showHistory(runId);
  }, [feed, runId]);
  const newest = view.rounds[0];
  const outbox = useOutbox(`${String(refreshKey)}:${newest?.round}:${newest?.phase}`);
  const activity = feed.activity(now);
  const dense = relay.run ? relay.run.model.parameterCount * 4 : view.ready ? view.ready.parameterCount * 4 : null;
  const sentBytes = view.lastSent?.frameBytes ?? null;
  const ratio = dense !== null && sentBytes ? dense / sentBytes : null;
  const accepted = relay.ledger?.filter((e) => e.status === 'accepted').length ?? null;

  return (
    <section className="panel" aria-labelledby="contribution-heading" data-testid="contribution-panel">
      <h2 id="contribution-heading">Your contribution</h2>
      <p className="lead" data-testid="contribution-sentence">
        {view.stepsThisSession === 0
          ? 'Nothing yet this visit: the figures fill in once your tab trains.'
          : `This visit your tab trained ${formatCount(view.stepsThisSession)} steps on ${formatCount(view.tokensThisSession)} bytes of text` +
            (swarm ? `; ${formatCount(accepted ?? 0)} of your updates are part of the shared model so far.` : '.')}
      </p>
      <dl className="figures explained">
        <div>
          <dt>Steps</dt>
          <dd data-testid="step-count" data-steps={view.stepsThisSession}>
            {view.lastStep ? formatCount(view.lastStep.step + 1) : NONE}
          </dd>
          <dd className="why">Training steps your tab has taken in this run; each one reads a few lines of text and nudges the model.</dd>
        </div>
        <div>
          <dt>Inner loss</dt>
          <dd data-testid="last-loss">{formatLoss(view.lastStep?.loss)}</dd>
          <dd className="why">
            How surprised your tab's copy of the model is by the text it just trained on, in nats per byte: {BLIND_GUESS_LOSS.toFixed(2)} is a blind guess among 256
            bytes; lower is better.
          </dd>
        </div>
        <div>
          <dt>GPU busy</dt>
          <dd data-testid="gpu-busy" data-share={activity?.busyShare ?? ''}>
            {formatPercent(activity?.busyShare ?? null)}
          </dd>
          <dd className="why">
            Share of the last {activity ? Math.round(activity.windowMs / 1000) : 60} s your GPU was working on training steps (set to {formatPercent(view.throttle)}); pauses and
            waits for the round to close count as rest.
          </dd>
        </div>
        <div>
          <dt>Tokens/s</dt>
          <dd data-testid="tokens-per-second" data-rate={activity?.tokensPerSecond ?? ''}>
            {formatRate(activity?.tokensPerSecond ?? null, 'tok/s')}
          </dd>
          <dd className="why">
            Bytes of text trained per second of clock time over the same minute. While a step runs: {formatRate(view.tokensPerSecond, 'tok/s')}.
          </dd>
        </div>
        {swarm && (
          <>
            <div>
              <dt>Last round</dt>
              <dd data-testid="round-tokens-per-second" data-rate={view.roundWork?.tokensPerSecond ?? ''}>
                {view.roundWork ? formatRate(view.roundWork.tokensPerSecond, 'tok/s') : NONE}
              </dd>
              <dd data-testid="gpu-busy-share" data-share={view.roundWork?.busyShare ?? ''}>
                {view.roundWork ? `GPU busy ${formatPercent(view.roundWork.busyShare)}, ${formatCount(view.roundWork.steps)} steps` : NONE}
              </dd>
              <dd className="why">
                A round is time-boxed: your tab trains until just before the round closes, however fast it is, so a fast GPU takes more steps rather than waiting.
              </dd>
            </div>
            <div>
              <dt>Sent per round</dt>
              <dd data-testid="bytes-per-round" data-bytes={sentBytes ?? ''} data-round={view.lastSent?.round ?? ''}>
                {sentBytes === null ? NONE : formatBytes(sentBytes)}
              </dd>
              <dd className="why">Your last update as it went to the relay: compressed, signed.</dd>
            </div>
            <div>
              <dt>Without compression</dt>
              <dd data-testid="dense-bytes" data-bytes={dense ?? ''}>
                {dense === null ? NONE : formatBytes(dense)}
              </dd>
              <dd className="why">The same update as plain 32-bit numbers, one per model parameter.</dd>
            </div>
            <div>
              <dt>Compression</dt>
              <dd data-testid="compression-ratio" data-ratio={ratio ?? ''}>
                {ratio === null ? NONE : `${ratio.toFixed(0)}× smaller`}
              </dd>
              <dd className="why">Only the largest changes are sent, at 2 bits each; what is left over is kept and sent later.</dd>
            </div>
          </>
        )}
      </dl>
      {view.model && (
        <p className="muted small" data-testid="model-hash" data-version={view.model.version} data-hash={view.model.modelHash}>
          Your tab holds version <strong>{view.model.version}</strong> of the shared model, fingerprint <ShortHash value={view.model.modelHash} label="model hash" />
          {relay.version !== null &&
            (relay.version === view.model.version && relay.modelHash === view.model.modelHash
              ? ' — the same bits as the relay\'s.'
              : ` — the relay is at version ${relay.version}.`)}
        </p>
      )}
      <LineChart
        title="Inner loss per step (your tab)"
        xLabel="step"
        yLabel="loss (nats/byte)"
        series={[{ label: 'inner loss', x: view.innerLoss.x, y: view.innerLoss.y, color: LOSS_COLOR }]}
        revision={view.revision}
        integerX
        testId="inner-loss-chart"
      />
      {swarm ? (
        <p className="muted small" data-testid="sawtooth-explained">
          Why the saw-tooth: in each round your tab trains its own copy on its own text until just before the round closes, and the loss falls; then it takes the
          merged shared model, which has not seen that text, and the loss jumps back up before it falls again. The swarm's progress is the shared model's loss under "The
          swarm".
        </p>
      ) : (
        <>
          <LineChart
            title="Held-out loss (your tab, on text it never trains on)"
            xLabel="step"
            yLabel="loss (nats/byte)"
            series={[{ label: 'held-out loss', x: view.validationLoss.x, y: view.validationLoss.y, color: VALIDATION_COLOR, points: true }]}
            revision={view.revision}
            integerX
            testId="validation-loss-chart"
          />
          <p className="muted small">The held-out loss shows whether the model learns English or only its training lines.</p>
        </>
      )}
      {swarm && (
        <>
          <h3>My submissions</h3>
          {address === null ? (
            <p className="muted" data-testid="no-submissions">
              No account yet: join the swarm (or choose an account below) to see your submissions.
            </p>
          ) : (
            <>
              <ReceiptSummary receipt={relay.receipt} />
              <Submissions address={address} ledger={relay.ledger} outbox={outbox} rounds={view.rounds} />
            </>
          )}
        </>
      )}
      {!swarm && outbox && outbox.length > 0 && (
        <p className="muted small" data-testid="submissions">
          {outbox.length} signed {outbox.length === 1 ? 'update waits' : 'updates wait'} in this browser for the relay they were made for.
        </p>
      )}
      <WalletPanel refreshKey={refreshKey} />
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
    // Gauntlet decides at the close whether an accepted update is aggregated, and says why not.
    const excluded = line.status === 'accepted' && line.aggregated === false;
    rows.set(line.round, {
      round: line.round,
      bytes: framed.get(line.round) ?? line.payloadBytes, // the frame this session sent, else the relay's payload count
      status:
        line.status === 'pending'
          ? 'received; the round is still open'
          : excluded
            ? `not aggregated into version ${line.version}: ${line.reason ? EXCLUSION_TEXT[line.reason] : 'no reason given'}`
            : `in the shared model since version ${line.version}`,
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
  if (list.length === 0) return <p className="muted" data-testid="no-submissions">None yet: the first one goes out after your tab's first round.</p>;
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
