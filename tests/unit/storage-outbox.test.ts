// The outbox of signed submissions and the round-state writes that keep it in
// step with the checkpoint (fake-indexeddb): an entry is added in the same
// transaction as the checkpoint that assumes its delivery, and settled in the
// same transaction as the checkpoint that takes it back; a failing write
// stores neither half; entries come back oldest first with their frames byte
// for byte; a failure counts an attempt and pushes the next one out by
// exponential backoff (capped, with bounded jitter); acknowledging removes
// exactly that entry.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_BACKOFF,
  StorageError,
  acknowledgeSubmission,
  discardSubmission,
  loadLatestCheckpoint,
  openDatabase,
  pendingSubmissions,
  readFrame,
  recordFailure,
  retryDelay,
  saveCheckpointAndSettle,
  saveCheckpointWithSubmission,
  type CheckpointState,
  type NewSubmission,
  type TesseraDatabase,
} from '../../src/storage/index.ts';

let counter = 0;
const fresh = () => openDatabase({ name: `tessera-outbox-${++counter}` });
const submission = (round: number, bytes = [round, 1, 2, 3]): NewSubmission => ({
  runId: 'run-a',
  round,
  address: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
  payloadHash: `0x${round.toString(16).padStart(64, '0')}`,
  frame: new Uint8Array(bytes),
});
const noJitter = () => 0;

function state(version: number, lastRound: number | null): CheckpointState {
  return {
    runId: 'run-a',
    version,
    modelHash: `0x${version.toString(16).padStart(64, '0')}`,
    params: Float32Array.from({ length: 8 }, (_, i) => version + i),
    errorFeedback: Float32Array.from({ length: 8 }, (_, i) => -i * version),
    adamM: null,
    adamV: null,
    counters: { globalStep: version * 2, tokens: version * 64, rounds: version, lastRound },
  };
}

/** Adds one entry per round, each with the checkpoint of that round (as a tab does before sending). */
async function enqueueRounds(db: TesseraDatabase, rounds: number[], now = 1000): Promise<number[]> {
  const ids = [];
  for (const round of rounds) ids.push(await saveCheckpointWithSubmission(db, state(round, round), submission(round), { now }));
  return ids;
}

afterEach(() => vi.restoreAllMocks());

describe('retryDelay', () => {
  it('doubles from the base, caps at the maximum, and jitters down by at most the jitter share', () => {
    const policy = { baseMs: 1000, factor: 2, maxMs: 10_000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, policy, noJitter))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(retryDelay(3, policy, () => 0.999999)).toBe(2000); // 4000 · (1 − 0.5 · ~1)
    expect(retryDelay(3, policy, () => 0.5)).toBe(3000);
    expect(DEFAULT_BACKOFF.maxMs).toBeGreaterThanOrEqual(DEFAULT_BACKOFF.baseMs);
  });
});

describe('outbox', () => {
  it('adds an entry with its checkpoint in one transaction; entries come back oldest first, frames intact', async () => {
    const db = await fresh();
    const ids = await enqueueRounds(db, [5, 3, 9]);
    const entries = await pendingSubmissions(db);
    expect(entries.map((r) => r.round)).toEqual([5, 3, 9]);
    expect(entries.map((r) => r.id)).toEqual(ids);
    expect(Array.from(await readFrame(entries[1]))).toEqual([3, 1, 2, 3]);
    expect(entries[0]).toMatchObject({ attempts: 0, lastError: null, frameBytes: 4, createdAt: 1000, nextAttemptAt: 1000 });
    const saved = await loadLatestCheckpoint(db, 'run-a');
    expect(saved?.version).toBe(9);
    expect(saved?.counters.lastRound).toBe(9);
    db.close();
  });

  it('stores neither the entry nor the checkpoint when the write fails', async () => {
    const db = await fresh();
    await enqueueRounds(db, [1]);
    vi.spyOn(IDBObjectStore.prototype, 'add').mockImplementation(() => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    await expect(saveCheckpointWithSubmission(db, state(2, 2), submission(2), { now: 2000 })).rejects.toBeInstanceOf(StorageError);
    vi.restoreAllMocks();
    expect((await pendingSubmissions(db)).map((r) => r.round)).toEqual([1]);
    expect((await loadLatestCheckpoint(db, 'run-a'))?.version).toBe(1);
    db.close();
  });

  it('settles refused entries with the checkpoint that took their updates back, in one transaction', async () => {
    const db = await fresh();
    const [a, b] = await enqueueRounds(db, [1, 2]);
    await saveCheckpointAndSettle(db, state(3, 2), [a], { now: 3000 });
    expect((await pendingSubmissions(db)).map((r) => r.id)).toEqual([b]);
    expect((await loadLatestCheckpoint(db, 'run-a'))?.version).toBe(3);
    // A failing settle keeps the entry and the previous checkpoint.
    vi.spyOn(IDBObjectStore.prototype, 'delete').mockImplementation(() => {
      throw new DOMException('gone', 'InvalidStateError');
    });
    await expect(saveCheckpointAndSettle(db, state(4, 2), [b], { now: 4000 })).rejects.toBeInstanceOf(StorageError);
    vi.restoreAllMocks();
    expect((await pendingSubmissions(db)).map((r) => r.id)).toEqual([b]);
    expect((await loadLatestCheckpoint(db, 'run-a'))?.version).toBe(3);
    db.close();
  });

  it('backs off a failing entry exponentially', async () => {
    const db = await fresh();
    const [first] = await enqueueRounds(db, [1, 2], 0);
    const policy = { baseMs: 100, factor: 2, maxMs: 1000, jitter: 0.5 };
    let record = await recordFailure(db, first, 'relay unreachable', 0, policy, noJitter);
    expect(record).toMatchObject({ attempts: 1, nextAttemptAt: 100, lastError: 'relay unreachable' });
    record = await recordFailure(db, first, 'HTTP 503', 100, policy, noJitter);
    expect(record).toMatchObject({ attempts: 2, nextAttemptAt: 300 });
    for (let t = 300, attempts = 3; attempts <= 6; attempts++) {
      record = await recordFailure(db, first, 'HTTP 503', t, policy, noJitter);
      expect(record!.nextAttemptAt - t).toBe(Math.min(1000, 100 * 2 ** (attempts - 1)));
      t = record!.nextAttemptAt;
    }
    expect(record!.attempts).toBe(6);
    // The other entry is untouched.
    expect((await pendingSubmissions(db)).map((r) => r.attempts)).toEqual([6, 0]);
    db.close();
  });

  it('removes exactly the acknowledged entry, and reports unknown ids', async () => {
    const db = await fresh();
    const [a, b, c] = await enqueueRounds(db, [1, 2, 3]);
    expect(await acknowledgeSubmission(db, b)).toBe(true);
    expect((await pendingSubmissions(db)).map((r) => r.id)).toEqual([a, c]);
    expect(await acknowledgeSubmission(db, b)).toBe(false);
    expect(await discardSubmission(db, a)).toBe(true);
    expect(await recordFailure(db, a, 'late', 0)).toBeNull();
    expect((await pendingSubmissions(db)).map((r) => r.round)).toEqual([3]);
    expect(await acknowledgeSubmission(db, c)).toBe(true);
    expect(await pendingSubmissions(db)).toEqual([]);
    db.close();
  });
});
