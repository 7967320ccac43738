// Storage module (fake-indexeddb): the versioned schema upgrades an existing
// v1 database to the current version without losing its records; clearAll
// empties every store; storage usage reads navigator.storage.estimate(); a
// QuotaExceededError from IndexedDB becomes a StorageQuotaError with a plain
// message, and nothing is stored; settings default, validate and persist.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DATABASE_VERSION,
  DEFAULT_SETTINGS,
  StorageError,
  StorageQuotaError,
  clearAll,
  enqueueSubmission,
  getAllSettings,
  getSetting,
  listCheckpoints,
  loadLatestCheckpoint,
  openDatabase,
  pendingSubmissions,
  saveCheckpoint,
  setSetting,
  storageError,
  storageUsage,
  type CheckpointState,
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
    counters: { globalStep: version * 10, tokens: version * 1000, rounds: version },
  };
}

afterEach(() => vi.restoreAllMocks());

describe('schema upgrades', () => {
  it('upgrades a v1 database to the current version and keeps its records', async () => {
    expect(DATABASE_VERSION).toBeGreaterThan(1);
    const name = freshName();
    const v1 = await openDatabase({ name, version: 1 });
    expect([...v1.objectStoreNames].sort()).toEqual(['checkpoints', 'settings']);
    // Write through the raw v1 stores: the v1 shape has no index to maintain yet.
    const P = 4;
    const record = {
      runId: 'run-a',
      version: 3,
      modelHash: `0x${'ab'.repeat(32)}` as const,
      parameterCount: P,
      params: new Blob([new Float32Array([1, 2, 3, 4])]),
      errorFeedback: null,
      adamM: null,
      adamV: null,
      counters: { globalStep: 30, tokens: 3000, rounds: 3 },
      savedAt: 1000,
    };
    await v1.put('checkpoints', record);
    await v1.put('settings', 0.5, 'throttle');
    v1.close();

    const current = await openDatabase({ name });
    expect(current.version).toBe(DATABASE_VERSION);
    expect([...current.objectStoreNames].sort()).toEqual(['checkpoints', 'outbox', 'settings']);
    expect([...current.transaction('checkpoints').store.indexNames]).toEqual(['by-run-saved']);
    expect([...current.transaction('outbox').store.indexNames].sort()).toEqual(['by-next-attempt', 'by-run-round']);
    // The index added in v2 covers the record written under v1.
    const restored = await loadLatestCheckpoint(current, 'run-a');
    expect(restored?.version).toBe(3);
    expect(Array.from(restored!.params)).toEqual([1, 2, 3, 4]);
    expect(await getSetting(current, 'throttle')).toBe(0.5);
    // The new store works.
    await enqueueSubmission(current, { runId: 'run-a', round: 4, address: 'x', payloadHash: `0x${'00'.repeat(32)}`, frame: new Uint8Array([1]) });
    expect(await pendingSubmissions(current)).toHaveLength(1);
    current.close();
  });

  it('refuses to open a version it has no upgrade step for', async () => {
    await expect(openDatabase({ name: freshName(), version: DATABASE_VERSION + 1 })).rejects.toThrow(StorageError);
  });
});

describe('clearAll and usage', () => {
  it('empties every store', async () => {
    const db = await openDatabase({ name: freshName() });
    await saveCheckpoint(db, checkpoint('run-a', 1));
    await setSetting(db, 'pauseOnBattery', false);
    await enqueueSubmission(db, { runId: 'run-a', round: 1, address: 'x', payloadHash: `0x${'00'.repeat(32)}`, frame: new Uint8Array([1, 2]) });
    await clearAll(db);
    expect(await listCheckpoints(db)).toEqual([]);
    expect(await pendingSubmissions(db)).toEqual([]);
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
