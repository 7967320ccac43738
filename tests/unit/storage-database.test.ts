// Storage module (fake-indexeddb): the versioned schema upgrades a database
// written by every earlier version (v1; v2 with checkpoints from before and
// after counters.lastRound existed) to the current version without losing its
// records, and a failing step leaves the old database as it was; a v3
// database gains the chart history (v4) with its records kept; v4 → v5 adds
// the kernel tuning cache, which keeps one record per key; clearAll
// empties every store; storage usage reads navigator.storage.estimate(); a
// QuotaExceededError from IndexedDB becomes a StorageQuotaError with a plain
// message, and nothing is stored; settings default, validate and persist;
// chart history round-trips, keeps only its newest points and refuses
// malformed series.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DATABASE_VERSION,
  DEFAULT_SETTINGS,
  StorageError,
  StorageQuotaError,
  clearAll,
  getAllSettings,
  getSetting,
  HISTORY_POINTS,
  loadChartHistory,
  saveChartHistory,
  listCheckpoints,
  loadLatestCheckpoint,
  openDatabase,
  pendingSubmissions,
  readFrame,
  saveCheckpoint,
  saveCheckpointWithSubmission,
  setSetting,
  storageError,
  storageUsage,
  kernelTuningCache,
  loadTuning,
  saveTuning,
  type CheckpointState,
  type TuningRecord,
} from '../../src/storage/index.ts';

let counter = 0;
const freshName = () => `tessera-test-db-${++counter}`;

function checkpoint(runId: string, version: number, P = 5): CheckpointState {
  return {
    runId,
    version,
    modelHash: `0x${version.toString(16).padStart(64, '0')}`,
    params: Float32Array.from({ length: P }, (_, i) => version + i / 8),
    errorFeedback: null,
    adamM: null,
    adamV: null,
    counters: { globalStep: version * 10, tokens: version * 1000, rounds: version, lastRound: null },
  };
}

const ADDRESS = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const submission = (round: number) => ({ runId: 'run-a', round, address: ADDRESS, payloadHash: `0x${'00'.repeat(32)}` as const, frame: new Uint8Array([round, 7]) });

/** A checkpoint record in the stored shape of v1/v2 (before counters.lastRound was required). */
function oldCheckpointRecord(runId: string, version: number, lastRound?: number) {
  return {
    runId,
    version,
    modelHash: `0x${'ab'.repeat(32)}` as const,
    parameterCount: 4,
    params: new Blob([new Float32Array([1, 2, 3, version])]),
    errorFeedback: null,
    adamM: null,
    adamV: null,
    counters: { globalStep: 30, tokens: 3000, rounds: 3, ...(lastRound === undefined ? {} : { lastRound }) },
    savedAt: 1000 + version,
  };
}

function tuningRecord(key: string): TuningRecord {
  return {
    key,
    adapter: 'google|swiftshader|dev|SwiftShader driver 5.0.0',
    tile: '32x32/4x4',
    timings: [{ tile: '32x32/4x4', ms: 1.5, problem: null }],
    shape: { M: 32, K: 64, N: 256 },
    searchMs: 900,
    savedAt: 1,
  };
}

afterEach(() => vi.restoreAllMocks());

describe('schema upgrades', () => {
  it('upgrades a v1 database to the current version and keeps its records', async () => {
    expect(DATABASE_VERSION).toBe(5);
    const name = freshName();
    const v1 = await openDatabase({ name, version: 1 });
    expect([...v1.objectStoreNames].sort()).toEqual(['checkpoints', 'settings']);
    // Write through the raw v1 stores, in the v1 shape.
    await v1.put('checkpoints', oldCheckpointRecord('run-a', 3) as never);
    await v1.put('settings', 0.5, 'throttle');
    v1.close();

    const current = await openDatabase({ name });
    expect(current.version).toBe(DATABASE_VERSION);
    expect([...current.objectStoreNames].sort()).toEqual(['chartHistory', 'checkpoints', 'kernel-tuning', 'outbox', 'settings']);
    expect([...current.transaction('checkpoints').store.indexNames]).toEqual(['by-run-saved']);
    expect([...current.transaction('outbox').store.indexNames]).toEqual([]);
    // The index added in v2 covers the record written under v1; v3 gave it lastRound.
    const restored = await loadLatestCheckpoint(current, 'run-a');
    expect(restored?.version).toBe(3);
    expect(Array.from(restored!.params)).toEqual([1, 2, 3, 3]);
    expect(restored?.counters).toEqual({ globalStep: 30, tokens: 3000, rounds: 3, lastRound: null });
    expect(await getSetting(current, 'throttle')).toBe(0.5);
    // The outbox added in v2 works.
    await saveCheckpointWithSubmission(current, checkpoint('run-a', 4), submission(4));
    expect(await pendingSubmissions(current)).toHaveLength(1);
    current.close();
  });

  it('upgrades a v2 database: checkpoints get an explicit lastRound, the outbox keeps its entries and loses its indexes', async () => {
    const name = freshName();
    const v2 = await openDatabase({ name, version: 2 });
    expect([...v2.transaction('outbox').store.indexNames].sort()).toEqual(['by-next-attempt', 'by-run-round']);
    // v2 was shipped before and after counters.lastRound existed (it came without a version bump): both shapes.
    await v2.put('checkpoints', oldCheckpointRecord('run-standalone', 5) as never);
    await v2.put('checkpoints', oldCheckpointRecord('run-swarm', 7, 6) as never);
    const entry = {
      runId: 'run-swarm',
      round: 6,
      address: ADDRESS,
      payloadHash: `0x${'cd'.repeat(32)}` as const,
      frame: new Blob([new Uint8Array([9, 8, 7])]),
      frameBytes: 3,
      createdAt: 1,
      attempts: 2,
      nextAttemptAt: 4000,
      lastError: 'network: down',
    };
    await v2.add('outbox', entry);
    v2.close();

    const current = await openDatabase({ name });
    expect(current.version).toBe(DATABASE_VERSION);
    expect([...current.transaction('outbox').store.indexNames]).toEqual([]);
    expect((await loadLatestCheckpoint(current, 'run-standalone'))?.counters.lastRound).toBeNull();
    expect((await loadLatestCheckpoint(current, 'run-swarm'))?.counters).toEqual({ globalStep: 30, tokens: 3000, rounds: 3, lastRound: 6 });
    const [kept] = await pendingSubmissions(current);
    expect(kept).toMatchObject({ runId: 'run-swarm', round: 6, attempts: 2, nextAttemptAt: 4000, lastError: 'network: down' });
    expect(Array.from(await readFrame(kept))).toEqual([9, 8, 7]);
    current.close();
  });

  it('leaves a v2 database as it was when the v3 step fails on a record', async () => {
    const name = freshName();
    const v2 = await openDatabase({ name, version: 2 });
    await v2.put('checkpoints', { ...oldCheckpointRecord('run-a', 1), counters: null } as never);
    v2.close();
    await expect(openDatabase({ name })).rejects.toThrow(StorageError);
    const again = await openDatabase({ name, version: 2 });
    expect(again.version).toBe(2);
    expect([...again.transaction('outbox').store.indexNames].sort()).toEqual(['by-next-attempt', 'by-run-round']);
    expect(((await again.get('checkpoints', ['run-a', 1])) as { counters: unknown }).counters).toBeNull();
    again.close();
  });

  it('upgrades a v3 database: the chart history store appears, checkpoints, outbox and settings stay', async () => {
    const name = freshName();
    const v3 = await openDatabase({ name, version: 3 });
    expect([...v3.objectStoreNames].sort()).toEqual(['checkpoints', 'outbox', 'settings']);
    await saveCheckpointWithSubmission(v3, checkpoint('run-a', 2), submission(2));
    await v3.put('settings', false, 'pauseOnBattery');
    v3.close();

    const current = await openDatabase({ name, version: 4 });
    expect(current.version).toBe(4);
    expect([...current.objectStoreNames].sort()).toEqual(['chartHistory', 'checkpoints', 'outbox', 'settings']);
    expect((await loadLatestCheckpoint(current, 'run-a'))?.version).toBe(2);
    expect(await pendingSubmissions(current)).toHaveLength(1);
    expect(await getSetting(current, 'pauseOnBattery')).toBe(false);
    expect(await loadChartHistory(current, 'run-a')).toBeNull();
    await saveChartHistory(current, 'run-a', { x: [0, 1], y: [5.5, 5.4] }, { x: [], y: [] });
    expect((await loadChartHistory(current, 'run-a'))?.innerLoss).toEqual({ x: [0, 1], y: [5.5, 5.4] });
    current.close();
  });

  it('upgrades a v4 database (a checkpoint, an outbox entry and a chart history in it) to v5 with the kernel-tuning store, keeping them', async () => {
    const name = freshName();
    const v4 = await openDatabase({ name, version: 4 });
    expect([...v4.objectStoreNames].sort()).toEqual(['chartHistory', 'checkpoints', 'outbox', 'settings']);
    await saveCheckpointWithSubmission(v4, checkpoint('run-b', 7), submission(7));
    await saveChartHistory(v4, 'run-b', { x: [0], y: [5.5] }, { x: [], y: [] });
    v4.close();

    const v5 = await openDatabase({ name, version: 5 });
    expect([...v5.objectStoreNames].sort()).toEqual(['chartHistory', 'checkpoints', 'kernel-tuning', 'outbox', 'settings']);
    expect((await loadLatestCheckpoint(v5, 'run-b'))?.version).toBe(7);
    expect(await pendingSubmissions(v5)).toHaveLength(1);
    expect(await loadTuning(v5, 'absent')).toBeNull();
    await saveTuning(v5, tuningRecord('google|swiftshader|dev|SwiftShader driver 5.0.0|32x64x256|abc'));
    expect((await loadTuning(v5, 'google|swiftshader|dev|SwiftShader driver 5.0.0|32x64x256|abc'))?.tile).toBe('32x32/4x4');
    expect((await loadChartHistory(v5, 'run-b'))?.innerLoss.x).toEqual([0]);
    v5.close();
  });

  it('refuses to open a version it has no upgrade step for', async () => {
    await expect(openDatabase({ name: freshName(), version: DATABASE_VERSION + 1 })).rejects.toThrow(StorageError);
  });
});

describe('chart history', () => {
  it('round-trips a run\'s series and keeps runs apart', async () => {
    const db = await openDatabase({ name: freshName() });
    await saveChartHistory(db, 'run-a', { x: [3, 4, 9], y: [5.1, 4.9, 4.2] }, { x: [4], y: [5.0] }, 1234);
    await saveChartHistory(db, 'run-b', { x: [0], y: [5.5] }, { x: [], y: [] });
    expect(await loadChartHistory(db, 'run-a')).toEqual({ runId: 'run-a', innerLoss: { x: [3, 4, 9], y: [5.1, 4.9, 4.2] }, validationLoss: { x: [4], y: [5.0] }, savedAt: 1234 });
    expect((await loadChartHistory(db, 'run-b'))?.innerLoss.x).toEqual([0]);
    // A later save replaces the earlier one.
    await saveChartHistory(db, 'run-a', { x: [10], y: [4.0] }, { x: [], y: [] });
    expect((await loadChartHistory(db, 'run-a'))?.innerLoss).toEqual({ x: [10], y: [4.0] });
    db.close();
  });

  it('keeps the newest points only', async () => {
    const db = await openDatabase({ name: freshName() });
    const n = HISTORY_POINTS + 7;
    const x = Array.from({ length: n }, (_, i) => i);
    await saveChartHistory(db, 'run-a', { x, y: x.map((i) => 6 - i / n) }, { x: [], y: [] });
    const saved = await loadChartHistory(db, 'run-a');
    expect(saved?.innerLoss.x).toHaveLength(HISTORY_POINTS);
    expect(saved?.innerLoss.x[0]).toBe(7);
    expect(saved?.innerLoss.x.at(-1)).toBe(n - 1);
    db.close();
  });

  it('refuses uneven, non-finite or unordered series and stores nothing', async () => {
    const db = await openDatabase({ name: freshName() });
    const none = { x: [], y: [] };
    await expect(saveChartHistory(db, 'run-a', { x: [1, 2], y: [1] }, none)).rejects.toThrow(/equal length/);
    await expect(saveChartHistory(db, 'run-a', { x: [1, 2], y: [1, Number.NaN] }, none)).rejects.toThrow(/not finite/);
    await expect(saveChartHistory(db, 'run-a', none, { x: [2, 2], y: [1, 1] })).rejects.toThrow(/ascend/);
    expect(await loadChartHistory(db, 'run-a')).toBeNull();
    db.close();
  });
});

describe('kernel tuning cache', () => {
  it('keeps one record per key, reads a damaged record as absent, and is null without a database', async () => {
    const db = await openDatabase({ name: freshName() });
    const cache = kernelTuningCache(db)!;
    await cache.save(tuningRecord('a'));
    await cache.save({ ...tuningRecord('a'), tile: '64x64/8x8' });
    expect((await cache.load('a'))?.tile).toBe('64x64/8x8');
    expect(await cache.load('b')).toBeNull();
    // A record this version cannot read (written by a future one, or damaged): searched again, then overwritten.
    await db.put('kernel-tuning', { key: 'c', tile: 7 } as unknown as TuningRecord);
    expect(await cache.load('c')).toBeNull();
    expect(kernelTuningCache(null)).toBeNull();
    db.close();
  });
});

describe('clearAll and usage', () => {
  it('empties every store', async () => {
    const db = await openDatabase({ name: freshName() });
    await saveChartHistory(db, 'run-a', { x: [1], y: [2] }, { x: [], y: [] });
    await saveCheckpoint(db, checkpoint('run-a', 1));
    await setSetting(db, 'pauseOnBattery', false);
    await saveCheckpointWithSubmission(db, checkpoint('run-a', 2), submission(2));
    await clearAll(db);
    expect(await listCheckpoints(db)).toEqual([]);
    expect(await pendingSubmissions(db)).toEqual([]);
    expect(await loadChartHistory(db, 'run-a')).toBeNull();
    expect(await getSetting(db, 'pauseOnBattery')).toBe(DEFAULT_SETTINGS.pauseOnBattery);
    db.close();
  });

  it('reports usage from navigator.storage.estimate(), and null without a StorageManager', async () => {
    expect(await storageUsage({ estimate: async () => ({ usage: 1234, quota: 5678 }) })).toEqual({ usage: 1234, quota: 5678 });
    expect(await storageUsage({ estimate: async () => ({}) })).toEqual({ usage: 0, quota: 0 });
    expect(await storageUsage(undefined)).toBeNull();
  });
});

describe('quota errors', () => {
  it('maps a QuotaExceededError from put to StorageQuotaError with a plain message, storing nothing', async () => {
    const db = await openDatabase({ name: freshName() });
    await saveCheckpoint(db, checkpoint('run-a', 1), { now: 1 });
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    const failure = await saveCheckpoint(db, checkpoint('run-a', 2), { now: 2 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StorageQuotaError);
    const error = failure as StorageQuotaError;
    expect(error.code).toBe('quota-exceeded');
    expect(error.message).toBe("This browser has no room left to store Tessera's data while saving a checkpoint.");
    expect(error.advice).toContain('Clear local data');
    expect((error.cause as DOMException).name).toBe('QuotaExceededError');
    vi.restoreAllMocks();
    expect((await listCheckpoints(db, 'run-a')).map((c) => c.version)).toEqual([1]);
    db.close();
  });

  it('maps other failures by name and keeps StorageErrors as they are', () => {
    const quota = storageError(new DOMException('full', 'QuotaExceededError'), 'doing x');
    expect(quota).toBeInstanceOf(StorageQuotaError);
    expect(storageError(new DOMException('gone', 'InvalidStateError'), 'doing x').code).toBe('unavailable');
    const generic = storageError(new Error('boom'), 'doing x');
    expect(generic.code).toBe('failed');
    expect(generic.message).toBe('Storing data failed while doing x: boom');
    expect(storageError(quota, 'other')).toBe(quota);
  });
});

describe('settings', () => {
  it('reads defaults, persists values, and refuses invalid ones', async () => {
    const name = freshName();
    const db = await openDatabase({ name });
    expect(await getAllSettings(db)).toEqual(DEFAULT_SETTINGS);
    await setSetting(db, 'throttle', 0.25);
    await setSetting(db, 'account', { source: 'polkadot-js', address: '5Grw', name: 'Alice' });
    await expect(setSetting(db, 'throttle', 0)).rejects.toThrow(/throttle must be a number in \[0.1, 1\]/);
    await expect(setSetting(db, 'throttle', Number.NaN)).rejects.toThrow(StorageError);
    db.close();
    const again = await openDatabase({ name });
    const all = await getAllSettings(again);
    expect(all.throttle).toBe(0.25);
    expect(all.account).toEqual({ source: 'polkadot-js', address: '5Grw', name: 'Alice' });
    expect(all.pauseOnBattery).toBe(DEFAULT_SETTINGS.pauseOnBattery);
    again.close();
  });
});
