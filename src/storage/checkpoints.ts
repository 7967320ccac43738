// Checkpoints: the model θ(v) of one global version plus this tab's training
// state (error feedback, AdamW moments, counters), so a reloaded or crashed
// tab resumes instead of downloading and catching up from scratch.
//
// A checkpoint is written in ONE readwrite transaction together with the
// pruning of older ones (`await tx.done`): a tab killed mid-save keeps the
// previous checkpoint whole, never half of a new one. Any failure inside the
// transaction aborts it explicitly — a request that throws synchronously would
// otherwise leave the transaction to commit the puts made before it.
// Tensors go in as Blobs (see schema.ts) and come back as Float32Arrays; the
// Blob reads happen after the transaction, which must not await non-IDB work.
// Leaves out: deciding when to checkpoint (the worker/round logic) and the
// model hash itself (src/protocol/header.ts modelHash).
import { StorageError, abortQuietly, storageError } from './errors.ts';
import type { IDBPTransaction, StoreNames } from 'idb';
import type { CheckpointCounters, CheckpointRecord, HexHash, TesseraDatabase, TesseraSchema } from './schema.ts';

export interface CheckpointState {
  runId: string;
  version: number; // global model version v
  modelHash: HexHash;
  params: Float32Array; // (P)
  errorFeedback: Float32Array | null; // (P)
  adamM: Float32Array | null; // (P)
  adamV: Float32Array | null; // (P)
  counters: CheckpointCounters;
}

/** What a checkpoint list shows without reading any tensor. */
export interface CheckpointSummary {
  runId: string;
  version: number;
  modelHash: HexHash;
  parameterCount: number;
  counters: CheckpointCounters;
  savedAt: number;
  bytes: number; // sum of the tensor blobs' sizes
}

export interface SaveOptions {
  /** Checkpoints kept per run, newest first, including this one (≥ 1). */
  keep?: number;
  now?: number;
}

const DEFAULT_KEEP = 2; // the current one and one to fall back to if the newest turns out bad

function toBlob(name: string, tensor: Float32Array | null, parameterCount: number): Blob | null {
  if (tensor === null) return null;
  if (tensor.length !== parameterCount) {
    throw new StorageError('failed', `checkpoint tensor ${name} has ${tensor.length} floats, params have ${parameterCount}`, 'This is a bug in Tessera; please report it.');
  }
  return new Blob([tensor as Float32Array<ArrayBuffer>], { type: 'application/octet-stream' });
}

async function fromBlob(blob: Blob | null): Promise<Float32Array | null> {
  return blob === null ? null : new Float32Array(await blob.arrayBuffer());
}

/** The stored form of a checkpoint (tensors as Blobs), built before any transaction opens. */
export function checkpointRecord(state: CheckpointState, now = Date.now()): CheckpointRecord {
  const P = state.params.length;
  return {
    runId: state.runId,
    version: state.version,
    modelHash: state.modelHash,
    parameterCount: P,
    params: toBlob('params', state.params, P)!,
    errorFeedback: toBlob('errorFeedback', state.errorFeedback, P),
    adamM: toBlob('adamM', state.adamM, P),
    adamV: toBlob('adamV', state.adamV, P),
    counters: { ...state.counters },
    savedAt: now,
  };
}

/** Puts the record and deletes the run's checkpoints beyond the newest `keep`, inside the caller's transaction. */
export async function putCheckpointRecord(
  tx: IDBPTransaction<TesseraSchema, StoreNames<TesseraSchema>[], 'readwrite'>,
  record: CheckpointRecord,
  keep = DEFAULT_KEEP,
): Promise<void> {
  const store = tx.objectStore('checkpoints');
  await store.put(record);
  let cursor = await store.index('by-run-saved').openCursor(IDBKeyRange.bound([record.runId, -Infinity], [record.runId, Infinity]), 'prev');
  for (let seen = 0; cursor; cursor = await cursor.continue()) {
    if (++seen > Math.max(1, keep)) await cursor.delete();
  }
}

/** Writes the checkpoint and prunes the run's older ones beyond `keep`, in one transaction. */
export async function saveCheckpoint(db: TesseraDatabase, state: CheckpointState, options: SaveOptions = {}): Promise<void> {
  const record = checkpointRecord(state, options.now);
  const tx = db.transaction(['checkpoints'], 'readwrite');
  try {
    await putCheckpointRecord(tx, record, options.keep);
    await tx.done;
  } catch (error) {
    abortQuietly(tx);
    await tx.done.catch(() => undefined);
    throw storageError(error, 'saving a checkpoint');
  }
}

async function hydrate(record: CheckpointRecord | undefined): Promise<CheckpointState | null> {
  if (!record) return null;
  const [params, errorFeedback, adamM, adamV] = await Promise.all([
    fromBlob(record.params),
    fromBlob(record.errorFeedback),
    fromBlob(record.adamM),
    fromBlob(record.adamV),
  ]);
  return { runId: record.runId, version: record.version, modelHash: record.modelHash, params: params!, errorFeedback, adamM, adamV, counters: record.counters };
}

/** The most recently saved checkpoint of a run, or null. */
export async function loadLatestCheckpoint(db: TesseraDatabase, runId: string): Promise<CheckpointState | null> {
  let record: CheckpointRecord | undefined;
  try {
    const cursor = await db
      .transaction('checkpoints')
      .store.index('by-run-saved')
      .openCursor(IDBKeyRange.bound([runId, -Infinity], [runId, Infinity]), 'prev');
    record = cursor?.value;
  } catch (error) {
    throw storageError(error, 'loading a checkpoint');
  }
  return hydrate(record);
}

/** The checkpoint of one run and version, or null. */
export async function loadCheckpoint(db: TesseraDatabase, runId: string, version: number): Promise<CheckpointState | null> {
  let record: CheckpointRecord | undefined;
  try {
    record = await db.get('checkpoints', [runId, version]);
  } catch (error) {
    throw storageError(error, 'loading a checkpoint');
  }
  return hydrate(record);
}

/** Every checkpoint (of one run, or all), newest first, without reading tensors. */
export async function listCheckpoints(db: TesseraDatabase, runId?: string): Promise<CheckpointSummary[]> {
  try {
    const records =
      runId === undefined
        ? await db.getAllFromIndex('checkpoints', 'by-run-saved')
        : await db.getAllFromIndex('checkpoints', 'by-run-saved', IDBKeyRange.bound([runId, -Infinity], [runId, Infinity]));
    return records
      .map((r) => ({
        runId: r.runId,
        version: r.version,
        modelHash: r.modelHash,
        parameterCount: r.parameterCount,
        counters: r.counters,
        savedAt: r.savedAt,
        bytes: [r.params, r.errorFeedback, r.adamM, r.adamV].reduce((sum, blob) => sum + (blob?.size ?? 0), 0),
      }))
      .sort((a, b) => b.savedAt - a.savedAt || b.version - a.version);
  } catch (error) {
    throw storageError(error, 'listing checkpoints');
  }
}

/** Deletes every checkpoint of a run (e.g. the operator started a new run). */
export async function deleteRunCheckpoints(db: TesseraDatabase, runId: string): Promise<number> {
  const tx = db.transaction('checkpoints', 'readwrite');
  try {
    let deleted = 0;
    let cursor = await tx.store.openCursor(IDBKeyRange.bound([runId, -Infinity], [runId, Infinity]));
    for (; cursor; cursor = await cursor.continue()) {
      await cursor.delete();
      deleted++;
    }
    await tx.done;
    return deleted;
  } catch (error) {
    abortQuietly(tx);
    await tx.done.catch(() => undefined);
    throw storageError(error, 'deleting checkpoints');
  }
}
