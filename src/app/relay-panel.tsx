// The swarm side of the dashboard: round countdown, bytes sent per round
// against the dense size, my submissions, and swarm statistics. Until the
// relay integration lands these say "not connected to a relay" — the only
// real numbers shown are local ones: the dense update size of this model and
// the submissions waiting in this browser's outbox.
import { useEffect, useState } from 'react';
import { pendingSubmissions, type OutboxRecord } from '../storage/index.ts';
import { formatBytes } from './device-panel.tsx';
import { pageDatabase } from './local-data.ts';
import { useTraining } from './training-store.ts';

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

export function RelayPanel({ refreshKey }: { refreshKey: unknown }) {
  const view = useTraining();
  const outbox = useOutbox(refreshKey);
  const dense = view.ready ? view.ready.parameterCount * 4 : null;
  return (
    <section className="panel" aria-labelledby="relay-heading" data-testid="relay-panel" data-connected="false">
      <h2 id="relay-heading">Swarm</h2>
      <p className="note" role="status">
        Not connected to a relay: this tab trains on its own. Round, upload and swarm figures appear once a relay serves this page.
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
          <dd data-testid="dense-bytes">{dense === null ? '—' : formatBytes(dense)}</dd>
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
      {outbox?.length === 0 && <p className="muted" data-testid="no-submissions">None yet: submissions start when a relay runs rounds.</p>}
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
