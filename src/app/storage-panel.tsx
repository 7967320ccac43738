// Local data: how much this site stores (navigator.storage.estimate()) and a
// "clear local data" button that asks once more before deleting checkpoints,
// the outbox, settings and the guest key.
import { useState } from 'react';
import { clearAll, StorageError } from '../storage/index.ts';
import { formatBytes } from './format.ts';
import { pageDatabase, useStorageUsage } from './local-data.ts';
import { useTraining } from './training-feed.ts';

export function StoragePanel({ refreshKey, onCleared }: { refreshKey: unknown; onCleared: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<StorageError | Error | null>(null);
  // Measure again after every checkpoint: that is when usage grows.
  const checkpointStep = useTraining().lastCheckpoint?.step ?? null;
  const usage = useStorageUsage(`${String(refreshKey)}:${checkpointStep}`);

  const clear = async () => {
    setConfirming(false);
    setProblem(null);
    try {
      await clearAll(await pageDatabase());
      setMessage('Local data cleared: checkpoints, pending submissions, settings and the guest key are gone.');
      onCleared();
    } catch (error) {
      setProblem(error as Error);
    }
  };

  return (
    <section className="subpanel" aria-labelledby="storage-heading" data-testid="storage-panel">
      <h3 id="storage-heading">Data this browser keeps</h3>
      <p data-testid="storage-usage">
        {usage === 'pending' && 'Measuring…'}
        {usage === null && 'This browser does not report storage use.'}
        {usage !== null && usage !== 'pending' && (
          <>
            This site stores <strong>{formatBytes(usage.usage)}</strong> of {formatBytes(usage.quota)} the browser allows.
          </>
        )}
      </p>
      {!confirming ? (
        <button type="button" className="secondary" onClick={() => setConfirming(true)} data-testid="clear-data">
          Clear local data
        </button>
      ) : (
        <div className="controls" role="group" aria-label="Confirm clearing local data">
          <span>Delete checkpoints, pending submissions, settings and the guest key?</span>
          <button type="button" className="danger" onClick={() => void clear()} data-testid="confirm-clear" autoFocus>
            Yes, clear
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {message && <p role="status">{message}</p>}
      {problem && (
        <p role="alert" className="problem">
          {problem.message} {problem instanceof StorageError ? problem.advice : ''}
        </p>
      )}
    </section>
  );
}
