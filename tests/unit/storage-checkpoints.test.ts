// Checkpoints in IndexedDB (fake-indexeddb): a round trip returns the same
// tensors bit for bit and the same counters; the newest checkpoint of a run
// wins; older ones beyond `keep` are pruned in the same transaction; a save
// that fails inside its transaction stores nothing (the previous checkpoints
// stay whole); mismatched tensor lengths are refused before anything is written.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mulberry32, randomInt } from '../../src/model/random.ts';
import {
  StorageError,
  deleteRunCheckpoints,
  listCheckpoints,
  loadCheckpoint,
  loadLatestCheckpoint,
  openDatabase,
  saveCheckpoint,
  type CheckpointState,
} from '../../src/storage/index.ts';

let counter = 0;
const fresh = () => openDatabase({ name: `tessera-checkpoints-${++counter}` });

function random(length: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (next() - 0.5) * 2 ** (randomInt(next, 32) - 16); // spans many exponents
  return out;
}

function state(runId: string, version: number, P = 1000): CheckpointState {
  return {
    runId,
    version,
    modelHash: `0x${version.toString(16).padStart(64, '0')}`,
    params: random(P, version),
    errorFeedback: random(P, version + 100),
    adamM: random(P, version + 200),
    adamV: random(P, version + 300),
    counters: { globalStep: 15 * version, tokens: 15 * version * 512, rounds: version, lastRound: null },
  };
}

const bits = (a: Float32Array | null) => (a ? Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)) : null);

afterEach(() => vi.restoreAllMocks());

describe('checkpoints', () => {
  it('round-trips every tensor bit for bit, with its counters', async () => {
    const db = await fresh();
    const saved = state('run-a', 7);
    saved.params[3] = -0; // signed zero and subnormals must survive
    saved.params[4] = 1e-42;
    await saveCheckpoint(db, saved, { now: 100 });
    const loaded = await loadCheckpoint(db, 'run-a', 7);
    expect(loaded).not.toBeNull();
    for (const key of ['params', 'errorFeedback', 'adamM', 'adamV'] as const) expect(bits(loaded![key])).toEqual(bits(saved[key]));
    expect(loaded!.counters).toEqual(saved.counters);
    expect(loaded!.modelHash).toBe(saved.modelHash);
    expect(await loadCheckpoint(db, 'run-a', 8)).toBeNull();
    expect(await loadLatestCheckpoint(db, 'run-b')).toBeNull();
    db.close();
  });

  it('stores absent optional tensors as null', async () => {
    const db = await fresh();
    await saveCheckpoint(db, { ...state('run-a', 1, 16), errorFeedback: null, adamM: null, adamV: null });
    const loaded = await loadLatestCheckpoint(db, 'run-a');
    expect([loaded!.errorFeedback, loaded!.adamM, loaded!.adamV]).toEqual([null, null, null]);
    expect((await listCheckpoints(db))[0].bytes).toBe(16 * 4);
    db.close();
  });

  it('returns the newest checkpoint of a run and prunes beyond keep, per run', async () => {
    const db = await fresh();
    await saveCheckpoint(db, state('run-a', 1, 8), { now: 10, keep: 2 });
    await saveCheckpoint(db, state('run-b', 1, 8), { now: 11, keep: 2 });
    await saveCheckpoint(db, state('run-a', 2, 8), { now: 12, keep: 2 });
    await saveCheckpoint(db, state('run-a', 3, 8), { now: 13, keep: 2 });
    expect((await listCheckpoints(db, 'run-a')).map((c) => c.version)).toEqual([3, 2]);
    expect((await listCheckpoints(db, 'run-b')).map((c) => c.version)).toEqual([1]);
    expect((await loadLatestCheckpoint(db, 'run-a'))!.version).toBe(3);
    const summary = (await listCheckpoints(db, 'run-a'))[0];
    expect(summary).toMatchObject({ runId: 'run-a', version: 3, parameterCount: 8, savedAt: 13, bytes: 4 * 8 * 4 });
    expect(await deleteRunCheckpoints(db, 'run-a')).toBe(2);
    expect(await listCheckpoints(db)).toHaveLength(1);
    db.close();
  });

  it('stores nothing when the transaction fails after the put (pruning throws)', async () => {
    const db = await fresh();
    await saveCheckpoint(db, state('run-a', 1, 8), { now: 10, keep: 1 });
    // The put of version 2 succeeds inside the transaction; deleting version 1 then fails.
    vi.spyOn(IDBCursor.prototype, 'delete').mockImplementation(() => {
      throw new DOMException('disk went away', 'UnknownError');
    });
    await expect(saveCheckpoint(db, state('run-a', 2, 8), { now: 20, keep: 1 })).rejects.toThrow(/saving a checkpoint: disk went away/);
    vi.restoreAllMocks();
    expect((await listCheckpoints(db, 'run-a')).map((c) => c.version)).toEqual([1]);
    expect(await loadCheckpoint(db, 'run-a', 2)).toBeNull();
    db.close();
  });

  it('refuses tensors whose length differs from the parameters', async () => {
    const db = await fresh();
    const bad = { ...state('run-a', 1, 8), adamV: new Float32Array(7) };
    await expect(saveCheckpoint(db, bad)).rejects.toThrow(StorageError);
    expect(await listCheckpoints(db)).toEqual([]);
    db.close();
  });
});
