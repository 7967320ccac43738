// The outbox: signed submissions kept until the relay acknowledges them, so a
// flaky network, a relay restart or a closed laptop lid never loses a round's
// work that the user already signed. An entry is added together with the
// checkpoint that assumes its delivery (round-state.ts); the sender
// (src/worker/outbox-delivery.ts) POSTs its frame and either acknowledges it
// (deleted) or records a failure, which counts the attempt and gives the
// delay before the next one (exponential backoff).
//
// Backoff: delay = min(maxMs, baseMs · factor^(attempts − 1)), then scaled by a
// random factor in [1 − jitter, 1] ("equal jitter", AWS Architecture Blog,
// "Exponential Backoff And Jitter", 2015) so the tabs of a whole room do not
// retry in lockstep after the relay comes back.
// Order: entries come oldest first (auto-increment id), so a reloaded tab
// delivers an older round's submission before a newer one's.
// Leaves out: HTTP, and deciding when a submission is too late to matter (the
// round logic discards those with discardSubmission).
import { abortQuietly, storageError } from './errors.ts';
import type { HexHash, OutboxRecord, TesseraDatabase } from './schema.ts';

export interface BackoffPolicy {
  baseMs: number; // first retry delay
  factor: number; // growth per failed attempt
  maxMs: number; // ceiling: a relay that is down for long is retried at least this often
  jitter: number; // in [0, 1]: the share of the delay that is randomized
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 1_000, // a dropped connection usually recovers within seconds
  factor: 2,
  maxMs: 60_000, // a round lasts minutes: waiting longer than one minute could miss its deadline
  jitter: 0.5,
};

/** Delay before the next attempt after `attempts` failures (≥ 1); random() in [0, 1). */
export function retryDelay(attempts: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, attempts - 1));
  return Math.round(exponential * (1 - policy.jitter * random()));
}

export interface NewSubmission {
  runId: string;
  round: number;
  address: string;
  payloadHash: HexHash;
  frame: Uint8Array; // the complete submission frame as it is POSTed
}

/** A fresh outbox entry for a signed submission, due at once. */
export function outboxRecord(submission: NewSubmission, now: number): OutboxRecord {
  return {
    runId: submission.runId,
    round: submission.round,
    address: submission.address,
    payloadHash: submission.payloadHash,
    frame: new Blob([submission.frame as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }),
    frameBytes: submission.frame.byteLength,
    createdAt: now,
    attempts: 0,
    nextAttemptAt: now,
    lastError: null,
  };
}

/** An outbox entry as stored: its id is set. */
export type SavedSubmission = OutboxRecord & { id: number };

/** Every entry, oldest first (the "my submissions" list). */
export async function pendingSubmissions(db: TesseraDatabase): Promise<SavedSubmission[]> {
  try {
    return (await db.getAll('outbox')) as SavedSubmission[];
  } catch (error) {
    throw storageError(error, 'reading the outbox');
  }
}

/** Counts a failed send and schedules the next one; returns the updated entry (null if it is gone). */
export async function recordFailure(
  db: TesseraDatabase,
  id: number,
  reason: string,
  now = Date.now(),
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): Promise<OutboxRecord | null> {
  const tx = db.transaction('outbox', 'readwrite');
  try {
    const record = await tx.store.get(id);
    if (!record) {
      await tx.done;
      return null;
    }
    record.attempts += 1;
    record.nextAttemptAt = now + retryDelay(record.attempts, policy, random);
    record.lastError = reason;
    await tx.store.put(record);
    await tx.done;
    return record;
  } catch (error) {
    abortQuietly(tx);
    await tx.done.catch(() => undefined);
    throw storageError(error, 'updating the outbox');
  }
}

/** The relay stored the submission: it leaves the outbox. Returns whether it was there. */
export async function acknowledgeSubmission(db: TesseraDatabase, id: number): Promise<boolean> {
  return removeSubmission(db, id, 'removing an acknowledged submission');
}

/** The submission can no longer count (its round closed, or the relay refused it for good). */
export async function discardSubmission(db: TesseraDatabase, id: number): Promise<boolean> {
  return removeSubmission(db, id, 'discarding a submission');
}

async function removeSubmission(db: TesseraDatabase, id: number, action: string): Promise<boolean> {
  const tx = db.transaction('outbox', 'readwrite');
  try {
    const existed = (await tx.store.count(id)) > 0;
    if (existed) await tx.store.delete(id);
    await tx.done;
    return existed;
  } catch (error) {
    abortQuietly(tx);
    await tx.done.catch(() => undefined);
    throw storageError(error, action);
  }
}

/** The frame bytes of an entry, ready to POST. */
export async function readFrame(record: OutboxRecord): Promise<Uint8Array> {
  return new Uint8Array(await record.frame.arrayBuffer());
}
