// One swarm session per browser and relay (Web Locks: released when the
// holding Worker ends, a reload included). Two would share one checkpoint and
// outbox in IndexedDB.
// Leaves out: the standalone mode (its checkpoints are per tab run id and
// nothing is sent).
import { TabBusyError } from './error-event.ts';

/**
 * How long a joining tab waits for another tab of this browser to let go of
 * the swarm (a reloaded page's old Worker is gone within moments).
 */
const TAB_LOCK_WAIT_MS = 10_000;

/** Resolves to the release function; TabBusyError if another tab keeps the lock. No Web Locks: nothing to hold. */
export async function holdTabLock(relayUrl: string): Promise<() => void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return () => {};
  return new Promise((resolve, reject) => {
    let release = () => {};
    const held = new Promise<void>((done) => (release = done));
    locks
      .request(`tessera-swarm ${new URL(relayUrl).origin}`, { signal: AbortSignal.timeout(TAB_LOCK_WAIT_MS) }, async () => {
        resolve(release);
        await held;
      })
      .catch((error: Error) => reject(error.name === 'TimeoutError' || error.name === 'AbortError' ? new TabBusyError() : error));
  });
}
