// The outbox of signed submissions (fake-indexeddb): entries come back oldest
// first and only once due; a failure counts an attempt and pushes the next one
// out by exponential backoff (capped, with bounded jitter); acknowledging
// removes exactly that entry; frames come back byte for byte.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF,
  acknowledgeSubmission,
  discardSubmission,
  dueSubmissions,
  enqueueSubmission,
  nextAttemptAt,
  openDatabase,
  pendingSubmissions,
  readFrame,
  recordFailure,
  retryDelay,
  type NewSubmission,
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
  it('returns due entries oldest first, with their frames intact', async () => {
    const db = await fresh();
    const ids = [];
    for (const round of [5, 3, 9]) ids.push(await enqueueSubmission(db, submission(round), 1000));
    const due = await dueSubmissions(db, 1000);
    expect(due.map((r) => r.round)).toEqual([5, 3, 9]);
    expect(due.map((r) => r.id)).toEqual(ids);
    expect(Array.from(await readFrame(due[1]))).toEqual([3, 1, 2, 3]);
    expect(due[0]).toMatchObject({ attempts: 0, lastError: null, frameBytes: 4, createdAt: 1000 });
    expect(await dueSubmissions(db, 999)).toEqual([]);
    db.close();
  });

  it('backs off a failing entry exponentially while the others stay due', async () => {
    const db = await fresh();
    const first = await enqueueSubmission(db, submission(1), 0);
    await enqueueSubmission(db, submission(2), 0);
    const policy = { baseMs: 100, factor: 2, maxMs: 1000, jitter: 0.5 };

    let record = await recordFailure(db, first, 'relay unreachable', 0, policy, noJitter);
    expect(record).toMatchObject({ attempts: 1, nextAttemptAt: 100, lastError: 'relay unreachable' });
    expect((await dueSubmissions(db, 50)).map((r) => r.round)).toEqual([2]);
    expect((await dueSubmissions(db, 100)).map((r) => r.round)).toEqual([1, 2]);

    record = await recordFailure(db, first, 'HTTP 503', 100, policy, noJitter);
    expect(record).toMatchObject({ attempts: 2, nextAttemptAt: 300 });
    for (let t = 300, attempts = 3; attempts <= 6; attempts++) {
      record = await recordFailure(db, first, 'HTTP 503', t, policy, noJitter);
      expect(record!.nextAttemptAt - t).toBe(Math.min(1000, 100 * 2 ** (attempts - 1)));
      t = record!.nextAttemptAt;
    }
    expect(record!.attempts).toBe(6);
    expect(await nextAttemptAt(db)).toBe(0); // entry 2 is still due from the start
    db.close();
  });

  it('removes exactly the acknowledged entry, and reports unknown ids', async () => {
    const db = await fresh();
    const a = await enqueueSubmission(db, submission(1), 0);
    const b = await enqueueSubmission(db, submission(2), 0);
    const c = await enqueueSubmission(db, submission(3), 0);
    expect(await acknowledgeSubmission(db, b)).toBe(true);
    expect((await pendingSubmissions(db)).map((r) => r.id)).toEqual([a, c]);
    expect(await acknowledgeSubmission(db, b)).toBe(false);
    expect(await discardSubmission(db, a)).toBe(true);
    expect(await recordFailure(db, a, 'late', 0)).toBeNull();
    expect((await pendingSubmissions(db)).map((r) => r.round)).toEqual([3]);
    expect(await acknowledgeSubmission(db, c)).toBe(true);
    expect(await nextAttemptAt(db)).toBeNull();
    db.close();
  });
});
