// Opening, clearing and measuring the tab's IndexedDB database (through idb).
// The same code runs in the page and in the training Worker: both may open the
// database; IndexedDB serializes their transactions.
// Leaves out: the stores' own operations (checkpoints.ts, outbox.ts,
// settings.ts) and persistence requests (navigator.storage.persist() returns
// false headless and is the browser's decision; we only report usage).
import { openDB } from 'idb';
import { StorageBlockedError, StorageUnavailableError, abortQuietly, storageError } from './errors.ts';
import { DATABASE_NAME, DATABASE_VERSION, upgradeSchema, type TesseraDatabase, type TesseraSchema } from './schema.ts';

export interface OpenOptions {
  /** Database name (tests use their own). */
  name?: string;
  /** Schema version to open; only tests ask for an older one (upgrade tests). */
  version?: number;
  /** Another tab holds an older version open; the open waits until it closes. */
  onBlocked?: (error: StorageBlockedError) => void;
}

export async function openDatabase(options: OpenOptions = {}): Promise<TesseraDatabase> {
  if (typeof indexedDB === 'undefined') throw new StorageUnavailableError('IndexedDB is not available in this context');
  const name = options.name ?? DATABASE_NAME;
  let upgradeFailure: unknown = null;
  try {
    const db = await openDB<TesseraSchema>(name, options.version ?? DATABASE_VERSION, {
      upgrade: (database, oldVersion, newVersion, tx) => {
        // A failed upgrade rejects the open itself; the versionchange transaction's own rejection adds nothing.
        tx.done.catch(() => undefined);
        upgradeSchema(database, oldVersion, newVersion, tx).catch((error: unknown) => {
          upgradeFailure = error; // the open rejects with an AbortError; the step's own error says more
          abortQuietly(tx);
        });
      },
      blocked: () => options.onBlocked?.(new StorageBlockedError()),
      // A newer tab wants to upgrade: step aside rather than block it; this tab reopens on its next reload.
      blocking: () => db.close(),
    });
    return db;
  } catch (error) {
    throw storageError(upgradeFailure ?? error, 'opening the local database');
  }
}

/** Deletes every record of every store in one transaction ("Clear local data"). */
export async function clearAll(db: TesseraDatabase): Promise<void> {
  try {
    const names = [...db.objectStoreNames];
    const tx = db.transaction(names, 'readwrite');
    await Promise.all([...names.map((name) => tx.objectStore(name).clear()), tx.done]);
  } catch (error) {
    throw storageError(error, 'clearing local data');
  }
}

export interface StorageUsage {
  usage: number; // bytes this origin uses (all storage kinds)
  quota: number; // bytes the browser would let it use
}

/** navigator.storage.estimate(), or null where the browser has no StorageManager. */
export async function storageUsage(manager: Pick<StorageManager, 'estimate'> | undefined = globalStorageManager()): Promise<StorageUsage | null> {
  if (!manager) return null;
  const estimate = await manager.estimate();
  return { usage: estimate.usage ?? 0, quota: estimate.quota ?? 0 };
}

function globalStorageManager(): StorageManager | undefined {
  return typeof navigator !== 'undefined' ? navigator.storage : undefined;
}
