// The tab's IndexedDB schema, typed for `idb` (DBSchema), with one explicit
// upgrade step per version (jakearchibald/idb style). Only src/storage/ opens
// the database; everything else goes through the functions in this folder.
//
// Versions (each step runs once, in order, inside the versionchange
// transaction, so a tab that last ran any older version upgrades in one open):
//   1  checkpoints: one record per (run, global model version): the model and
//        the per-tab training state needed to resume.
//      settings: small named values (chosen account, throttle, guest key…).
//   2  outbox: signed submissions waiting for the relay's acknowledgement,
//        auto-increment ids (creation order), indexed by next retry time.
//      checkpoints.by-run-saved: newest checkpoint of a run without reading
//        every record's blobs.
//   3  checkpoints.counters.lastRound becomes a required `number | null`.
//        It was added as an optional field without a version bump (commit
//        1f3d25e), so a v2 database holds records with and without it; this
//        step writes null where it is missing (those records predate swarm
//        mode: no round was signed).
//      outbox: both indexes dropped. Nothing reads 'by-run-round'; the retry
//        schedule ('by-next-attempt') is kept per entry and read with it.
//   4  chartHistory: one record per run with the points of the dashboard's
//        loss charts, so a reload shows the curve it had (chart-history.ts).
//   5  kernel-tuning: the matmul tile search's result per adapter and shape
//        (src/kernels/tab-kernels.ts), so only a tab's first start on a GPU
//        pays for the search.
// Changing a record shape means a new version with its own step; a step never
// edits an earlier one, because tabs in the wild are at every version.
//
// Why Blobs for tensors: Chromium stores a Blob ~2× faster than the same bytes
// as an ArrayBuffer (ENVIRONMENT.md: 50 MB in ~0.5 s) and reads it lazily.
// Leaves out: anything the relay keeps (it has its own store).
import type { DBSchema, IDBPDatabase, IDBPObjectStore, IDBPTransaction, StoreNames } from 'idb';
import type { HexHash } from '../protocol/header.ts';
import type { TuningRecord } from '../kernels/tab-kernels.ts';

export type { HexHash, TuningRecord };

export const DATABASE_NAME = 'tessera';
export const DATABASE_VERSION = 5;

/** Counters that let a resumed tab continue its LR schedule and its statistics. */
export interface CheckpointCounters {
  globalStep: number; // inner AdamW steps taken by this tab in this run (AdamW's t, the LR schedule's step)
  tokens: number; // tokens this tab trained on in this run
  rounds: number; // rounds this tab took part in
  /**
   * Swarm mode: the last round this tab trained for and signed (its update is
   * in the outbox or at the relay). A resumed tab never trains that round
   * again. null standalone and before the tab's first signed round.
   */
  lastRound: number | null;
}

export interface CheckpointRecord {
  runId: string;
  version: number; // global model version v of `params`
  modelHash: HexHash; // modelHash(θ(v)) as the relay announced it (or computed locally when standalone)
  parameterCount: number; // P: floats in every tensor blob below
  params: Blob; // (P) float32 little-endian: θ(v)
  errorFeedback: Blob | null; // (P) float32: SparseLoCo EF residual e (SPEC §1 step 3); null before the first round
  adamM: Blob | null; // (P) float32: AdamW first moment; null when the optimizer restarts each round
  adamV: Blob | null; // (P) float32: AdamW second moment
  counters: CheckpointCounters;
  savedAt: number; // ms since the Unix epoch, tab clock
}

export interface OutboxRecord {
  id?: number; // auto-increment: creation order
  runId: string;
  round: number;
  address: string; // SS58-42 signer
  payloadHash: HexHash;
  frame: Blob; // the complete submission frame (protocol/submission.ts encodeSubmission), exactly as it is POSTed
  frameBytes: number;
  createdAt: number; // ms since epoch
  attempts: number; // failed sends so far
  nextAttemptAt: number; // ms since epoch; 0 = send now
  lastError: string | null; // the last failure, for the "my submissions" list
}

/** A wallet account the user chose, remembered across visits. */
export interface ChosenAccount {
  source: string; // extension name, or 'guest'
  address: string; // SS58-42
  name: string | null;
}

/** A locally generated sr25519 key for kiosks and demos; see src/wallet/guest.ts. */
export interface GuestKeyRecord {
  mnemonic: string; // 12 words; the seed is mnemonicToMiniSecret(mnemonic), as wallet extensions derive it
  address: string; // SS58-42 of the sr25519 public key
  createdAt: number;
}

/**
 * How one adapter compressed one model size fastest: GPU or CPU, measured
 * once (src/swarm/compression-path.ts) and kept so later visits skip it.
 */
export interface CompressionPathRecord {
  path: 'gpu' | 'cpu';
  reason: string; // the measurement behind it, in words
  gpuMs: number | null; // median ms per round; null when the GPU path failed
  cpuMs: number;
  measuredAt: number; // ms since the Unix epoch
}

/** Points of one chart series: x (a step) and y (a loss) of equal length, x ascending. */
export interface ChartSeriesRecord {
  x: number[];
  y: number[];
}

/** The dashboard's loss charts of one run, as they were when last saved (chart-history.ts). */
export interface ChartHistoryRecord {
  runId: string;
  innerLoss: ChartSeriesRecord; // this tab's training loss per global step
  validationLoss: ChartSeriesRecord; // standalone: this tab's held-out loss by step (swarm: the relay keeps the global one)
  savedAt: number; // ms since the Unix epoch
}

/** Every setting, by name; absent names read as their default (settings.ts). */
export interface SettingValues {
  account: ChosenAccount | null;
  throttle: number; // share of time the GPU works, (0, 1]
  pauseWhenHidden: boolean;
  pauseOnBattery: boolean;
  guestKey: GuestKeyRecord | null;
  autoJoin: boolean; // rejoin the relay's swarm when the page opens (set by "Join", cleared by "Stop")
  compressionPaths: Record<string, CompressionPathRecord>; // by `${adapter identity} P=${parameter count}`
}

export type SettingName = keyof SettingValues;

export interface TesseraSchema extends DBSchema {
  checkpoints: {
    key: [string, number]; // [runId, version]
    value: CheckpointRecord;
    indexes: { 'by-run-saved': [string, number] }; // [runId, savedAt]
  };
  settings: {
    key: SettingName;
    value: SettingValues[SettingName];
  };
  outbox: {
    key: number;
    value: OutboxRecord;
  };
  chartHistory: {
    key: string; // runId
    value: ChartHistoryRecord;
  };
  'kernel-tuning': {
    key: string; // TuningRecord.key: adapter identity | timed shape | digest of the candidates and shader
    value: TuningRecord;
  };
}

export type TesseraDatabase = IDBPDatabase<TesseraSchema>;
type UpgradeTransaction = IDBPTransaction<TesseraSchema, StoreNames<TesseraSchema>[], 'versionchange'>;
/** A store as an upgrade step finds it: the typed schema describes the newest version, not the one being upgraded. */
type StoreAsFound = IDBPObjectStore<unknown, string[], string, 'versionchange'>;

/**
 * The upgrade step that brings a database from version n − 1 to n, indexed by
 * n. A step may await IndexedDB requests of `tx` (and nothing else: the
 * versionchange transaction commits once no request is pending).
 */
const UPGRADES: Record<number, (db: TesseraDatabase, tx: UpgradeTransaction) => void | Promise<void>> = {
  1(db) {
    db.createObjectStore('checkpoints', { keyPath: ['runId', 'version'] });
    db.createObjectStore('settings');
  },
  2(db, tx) {
    const outbox = db.createObjectStore('outbox', { keyPath: 'id', autoIncrement: true }) as unknown as StoreAsFound;
    outbox.createIndex('by-next-attempt', 'nextAttemptAt');
    outbox.createIndex('by-run-round', ['runId', 'round']);
    tx.objectStore('checkpoints').createIndex('by-run-saved', ['runId', 'savedAt']);
  },
  async 3(_db, tx) {
    const outbox = tx.objectStore('outbox') as unknown as StoreAsFound;
    for (const index of ['by-next-attempt', 'by-run-round']) if (outbox.indexNames.contains(index)) outbox.deleteIndex(index);
    for (let cursor = await tx.objectStore('checkpoints').openCursor(); cursor; cursor = await cursor.continue()) {
      const counters = cursor.value.counters as Omit<CheckpointCounters, 'lastRound'> & { lastRound?: number | null };
      if (counters.lastRound === undefined) await cursor.update({ ...cursor.value, counters: { ...counters, lastRound: null } });
    }
  },
  4(db) {
    db.createObjectStore('chartHistory', { keyPath: 'runId' });
  },
  5(db) {
    db.createObjectStore('kernel-tuning', { keyPath: 'key' });
  },
};

/**
 * Runs every step from oldVersion + 1 to newVersion, in order (idb's
 * `upgrade` callback). A step that fails aborts the versionchange
 * transaction, so the database stays at oldVersion with its records intact.
 */
export async function upgradeSchema(db: TesseraDatabase, oldVersion: number, newVersion: number | null, tx: UpgradeTransaction): Promise<void> {
  const target = newVersion ?? DATABASE_VERSION;
  for (let version = oldVersion + 1; version <= target; version++) {
    const step = UPGRADES[version];
    if (!step) throw new Error(`no upgrade step to schema version ${version}`);
    await step(db, tx);
  }
}
