// Swarm mode: the writes that must land together with a checkpoint, each in
// ONE readwrite transaction over the checkpoints and outbox stores.
//
//   before a signed submission is sent   the outbox entry AND the checkpoint
//       whose error-feedback residual already has that update taken out (and
//       whose counters say the round was trained: lastRound);
//   when a refused update is settled     the checkpoint whose residual has the
//       update put back AND the removal of its outbox entry.
//
// Invariant this keeps (what makes a reload safe): an outbox entry exists
// exactly when the newest saved residual assumes that entry will reach the
// aggregate. A resumed tab therefore either delivers the entry (the relay
// acknowledges it, or already has it) or puts its update back into the
// residual — never both, never neither. A tab killed between the two halves
// of either write keeps the state before it (an aborted transaction stores
// nothing).
// Leaves out: HTTP and the decision what counts as delivered (src/worker/outbox-sender.ts).
import { checkpointRecord, putCheckpointRecord, type CheckpointState, type SaveOptions } from './checkpoints.ts';
import { abortQuietly, storageError } from './errors.ts';
import { outboxRecord, type NewSubmission } from './outbox.ts';
import type { TesseraDatabase } from './schema.ts';

/** Saves the checkpoint and adds the submission to the outbox in one transaction; returns the entry's id. */
export async function saveCheckpointWithSubmission(
  db: TesseraDatabase,
  state: CheckpointState,
  submission: NewSubmission,
  options: SaveOptions = {},
): Promise<number> {
  const now = options.now ?? Date.now();
  const record = checkpointRecord(state, now);
  const entry = outboxRecord(submission, now);
  const tx = db.transaction(['checkpoints', 'outbox'], 'readwrite');
  try {
    await putCheckpointRecord(tx, record, options.keep);
    const id = await tx.objectStore('outbox').add(entry);
    await tx.done;
    return id;
  } catch (error) {
    abortQuietly(tx);
    await tx.done.catch(() => undefined);
    throw storageError(error, 'keeping a signed submission until the relay confirms it');
  }
}

/** Saves the checkpoint and removes the given outbox entries (settled ones) in one transaction. */
export async function saveCheckpointAndSettle(
  db: TesseraDatabase,
  state: CheckpointState,
  settledIds: readonly number[],
  options: SaveOptions = {},
): Promise<void> {
  const record = checkpointRecord(state, options.now);
  const tx = db.transaction(['checkpoints', 'outbox'], 'readwrite');
  try {
    await putCheckpointRecord(tx, record, options.keep);
    const outbox = tx.objectStore('outbox');
    for (const id of settledIds) await outbox.delete(id);
    await tx.done;
  } catch (error) {
    abortQuietly(tx);
    await tx.done.catch(() => undefined);
    throw storageError(error, 'saving a checkpoint');
  }
}
