// The embedded RelayStore: plain files in one directory, nothing to install.
// One relay process owns the directory (claims and watches are trivial).
//
//   <dir>/run.json                        StoredRun (written once)
//   <dir>/state.json                      RelayStateRecord — the commit point
//   <dir>/checkpoints/v0000000012.ckpt    θ(12): 64-byte header + float32 LE
//   <dir>/aggregates/v0000000012.agg      the aggregate that made θ(12): 80-byte header + bytes
//   <dir>/rounds/r0000000011/submissions.log  acknowledged frames with their verification records, appended
//                                             with group commit (submission-log.ts)
//   <dir>/rounds/r0000000011/<address>.sub    frames stored one file each by older relays (read, never written):
//                                             52-byte header + frame, or u64 receivedAt + frame
//   <dir>/rounds/r0000000011/record.json  RoundRecord, written when round 11 closes
//   <dir>/rounds/r0000000011/scores.json  RoundScoresRecord: Gauntlet's receipt, weights and state after round 11
//   <dir>/weights/r0000000011.json        the payout vector after round 11 alone (WeightsFile), for the operator
//   <dir>/evaluations.jsonl               one EvaluationRecord per line (append-only)
//
// Every file except the two logs is written the crash-safe way of
// durable-file.ts (temporary, fsync, rename, fsync of the directory).
// Leftover temporaries (a crash between write and rename) are deleted at open.
//
// Binary headers (little-endian):
//   checkpoint  "TSCK" u32 format u32 version u32 floats [32] modelHash [20] zero
//   aggregate   "TSAG" u32 format u32 version u32 bytes [32] modelHash-after [32] BLAKE2b-256(bytes)
//   submission  "TSSB" u32 format(2) u64 receivedAt u32 verifiedBy [32] verification record
//               (older relays wrote u64 receivedAt + frame: read as unverified)
// Reads check magic, format, version, length and hash, and throw
// CorruptStoreError on any mismatch, so a damaged file is never served.
//
// The verification record makes a restart cheap without trusting the disk: it
// is BLAKE2b-256 of ("tessera/verified-submission/v1", round, address,
// receivedAt, verifiedBy, frame), so it vouches for those exact bytes in that
// round under that name. A flipped bit, a frame edited or moved to another
// round or address, no longer matches, and the relay re-runs every check on it
// (which a damaged or forged frame fails). It is not a MAC: whoever can write
// the data directory can also rewrite state.json; the record guards against
// damage and against reuse, not against the machine's owner.
// The evaluation log tolerates a torn last line (losses are advisory).
//
// Leaves out: replication (PostgresRelayStore shares a run between
// processes), compaction of old rounds' frames (they are the ledger's
// evidence and stay).
import { appendFile, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesEqual, hashToHex, hexToHash, modelHash, payloadHash, type HexHash } from '../protocol/index.ts';
import { DurableDirectories, isTemporary, readdirIfExists, readIfExists } from './durable-file.ts';
import { decodeLog, encodeLogEntry, SubmissionLog, verificationRecord } from './submission-log.ts';
import {
  CorruptStoreError,
  STORE_FORMAT,
  type CloseClaim,
  type EvaluationRecord,
  type RelayStateRecord,
  type RelayStore,
  type RoundRecord,
  type RoundScoresRecord,
  type StoredAggregate,
  type StoredRun,
  type StoredSubmission,
  type SubmissionWrite,
} from './store.ts';

const CHECKPOINT_MAGIC = 0x4b435354; // "TSCK" read as u32 LE
const AGGREGATE_MAGIC = 0x47415354; // "TSAG"
const CHECKPOINT_HEADER_BYTES = 64;
const AGGREGATE_HEADER_BYTES = 80;
const SUBMISSION_MAGIC = 0x42535354; // "TSSB": a .sub file of the relays before the submission log
const SUBMISSION_FORMAT = 2;
const SUBMISSION_HEADER_BYTES = 52;
const LEGACY_SUBMISSION_PREFIX_BYTES = 8;
/** Submission files read at once at a restart. */
const READ_CONCURRENCY = 64;
const SUBMISSION_LOG = 'submissions.log';

const pad = (n: number) => String(n).padStart(10, '0');

/** A round's open submission log and the addresses stored in the round (log and older .sub files). */
interface RoundSubmissions {
  log: SubmissionLog;
  addresses: Set<string>;
}

export class FileRelayStore implements RelayStore {
  private readonly directories = new DurableDirectories();
  /** Open logs by round (the open round's, and the previous one's while its close finishes). */
  private readonly logs = new Map<number, Promise<RoundSubmissions>>();

  private constructor(readonly dir: string) {}

  /** Opens (creating if needed) a store in `dir` and deletes temporaries a crash left behind. */
  static async open(dir: string): Promise<FileRelayStore> {
    const store = new FileRelayStore(dir);
    await store.ensureDir(dir);
    for (const sub of ['checkpoints', 'aggregates', 'rounds', 'weights']) await store.ensureDir(join(dir, sub));
    await store.removeTemporaries();
    return store;
  }

  // ----------------------------------------------------------- file plumbing

  private checkpointPath = (version: number) => join(this.dir, 'checkpoints', `v${pad(version)}.ckpt`);
  private aggregatePath = (version: number) => join(this.dir, 'aggregates', `v${pad(version)}.agg`);
  private roundDir = (round: number) => join(this.dir, 'rounds', `r${pad(round)}`);

  private ensureDir(path: string): Promise<void> {
    return this.directories.ensure(path);
  }

  private writeAtomic(path: string, parts: readonly Uint8Array[], failpointName?: string): Promise<void> {
    return this.directories.writeAtomic(path, parts, failpointName);
  }

  private writeJson(path: string, value: unknown): Promise<void> {
    return this.writeAtomic(path, [new TextEncoder().encode(JSON.stringify(value, null, 1) + '\n')]);
  }

  private async removeTemporaries(): Promise<void> {
    const dirs = [this.dir, join(this.dir, 'checkpoints'), join(this.dir, 'aggregates'), join(this.dir, 'weights')];
    for (const entry of await readdir(join(this.dir, 'rounds'))) dirs.push(join(this.dir, 'rounds', entry));
    for (const dir of dirs) {
      for (const name of await readdir(dir)) if (isTemporary(name)) await rm(join(dir, name), { force: true });
    }
  }

  // ------------------------------------------------------------- run, state

  getRun(): Promise<StoredRun | null> {
    return readJson<StoredRun>(join(this.dir, 'run.json'));
  }

  putRun(run: StoredRun): Promise<void> {
    return this.writeJson(join(this.dir, 'run.json'), run);
  }

  getState(): Promise<RelayStateRecord | null> {
    return readJson<RelayStateRecord>(join(this.dir, 'state.json'));
  }

  putState(state: RelayStateRecord): Promise<void> {
    // One process owns the directory, so a claim it handed out always holds.
    return this.writeJson(join(this.dir, 'state.json'), state);
  }

  async claimClose(round: number): Promise<CloseClaim | null> {
    return { round, release: async () => {} };
  }

  watch(): () => void {
    return () => {}; // nobody else writes here
  }

  // ------------------------------------------------------------ submissions

  async putSubmission(round: number, submission: StoredSubmission): Promise<SubmissionWrite> {
    const entry = encodeLogEntry(round, { ...submission, verifiedBy: submission.verifiedBy ?? 0 });
    const submissions = await this.roundSubmissions(round);
    if (submissions.addresses.has(submission.address)) return { outcome: 'duplicate' };
    submissions.addresses.add(submission.address);
    try {
      await this.append(round, submissions, entry);
    } catch (error) {
      submissions.addresses.delete(submission.address);
      throw error;
    }
    return { outcome: 'stored', count: submissions.addresses.size };
  }

  /** A second entry for the same frame with the new record: listSubmissions takes the later record. */
  async recordVerified(round: number, submission: StoredSubmission & { verifiedBy: number }): Promise<void> {
    await this.append(round, await this.roundSubmissions(round), encodeLogEntry(round, submission));
  }

  private async append(round: number, submissions: RoundSubmissions, entry: Uint8Array): Promise<void> {
    try {
      await submissions.log.append(entry);
    } catch (error) {
      if (submissions.log.broken) {
        // Reopened (its tail cut) by the next write, unless that happened already.
        const current = this.logs.get(round);
        if (current && (await current.catch(() => null)) === submissions) this.logs.delete(round);
      }
      throw error;
    }
  }

  /** The round's log, opened once (creating its directory and file), with the addresses already stored. */
  private roundSubmissions(round: number): Promise<RoundSubmissions> {
    let opened = this.logs.get(round);
    if (!opened) {
      opened = (async (): Promise<RoundSubmissions> => {
        await this.ensureDir(this.roundDir(round));
        const legacy = await this.legacySubmissions(round);
        const { log, entries } = await SubmissionLog.open(join(this.roundDir(round), SUBMISSION_LOG), round);
        return { log, addresses: new Set([...legacy, ...entries].map((e) => e.address)) };
      })();
      opened.catch(() => this.logs.delete(round));
      this.logs.set(round, opened);
      // Older rounds' logs are done with once a newer round is written.
      for (const [other, previous] of this.logs) {
        if (other < round - 1) {
          this.logs.delete(other);
          void previous.then((s) => s.log.close()).catch(() => {});
        }
      }
    }
    return opened;
  }

  async countSubmissions(round: number): Promise<number> {
    return (await this.roundSubmissions(round)).addresses.size;
  }

  /**
   * The .sub files of older relays, then the log in order. A later log entry
   * for the same address and the very same frame is a newer record of it
   * (recordVerified); any other repeat is ignored (the first one stands).
   */
  async listSubmissions(round: number, skip: ReadonlySet<string> = new Set()): Promise<StoredSubmission[]> {
    const open = this.logs.get(round);
    if (open) await (await open).log.flushed();
    const log = await readIfExists(join(this.roundDir(round), SUBMISSION_LOG));
    const byAddress = new Map<string, StoredSubmission>();
    for (const stored of await this.legacySubmissions(round)) byAddress.set(stored.address, stored);
    for (const entry of log ? decodeLog(log, round).entries : []) {
      const known = byAddress.get(entry.address);
      const verifiedBy = entry.recordMatches && entry.verifiedBy !== 0 ? entry.verifiedBy : null;
      if (!known) byAddress.set(entry.address, { address: entry.address, frame: entry.frame, receivedAt: entry.receivedAt, verifiedBy });
      else if (verifiedBy !== null && bytesEqual(known.frame, entry.frame) && known.receivedAt === entry.receivedAt) known.verifiedBy = verifiedBy;
    }
    return [...byAddress.values()].filter((s) => !skip.has(s.address)).sort((a, b) => (a.address < b.address ? -1 : 1));
  }

  /** Frames stored one file each by relays before the submission log (format 2 with a record, or the first format without). */
  private async legacySubmissions(round: number): Promise<StoredSubmission[]> {
    const dir = this.roundDir(round);
    const names = (await readdirIfExists(dir)).filter((name) => name.endsWith('.sub') && !isTemporary(name)).sort();
    const out: StoredSubmission[] = [];
    // Reads overlap (a restart with thousands of frames waits on the disk, not the CPU); parsing stays in order.
    const files: Uint8Array[] = [];
    for (let at = 0; at < names.length; at += READ_CONCURRENCY) {
      const batch = await Promise.all(names.slice(at, at + READ_CONCURRENCY).map((name) => readFile(join(dir, name))));
      for (const buffer of batch) files.push(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
    }
    for (const [i, name] of names.entries()) {
      const bytes = files[i];
      const address = name.slice(0, -'.sub'.length);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (bytes.length >= SUBMISSION_HEADER_BYTES && view.getUint32(0, true) === SUBMISSION_MAGIC && view.getUint32(4, true) === SUBMISSION_FORMAT) {
        const receivedAt = Number(view.getBigUint64(8, true));
        const recorded = view.getUint32(16, true);
        const frame = bytes.subarray(SUBMISSION_HEADER_BYTES);
        const matches = bytesEqual(bytes.subarray(20, SUBMISSION_HEADER_BYTES), verificationRecord(round, address, receivedAt, recorded, frame));
        out.push({ address, frame, receivedAt, verifiedBy: matches && recorded !== 0 ? recorded : null });
        continue;
      }
      // The first format (u64 receivedAt + frame), or a damaged header: no record, so every check runs.
      if (bytes.length < LEGACY_SUBMISSION_PREFIX_BYTES) throw new CorruptStoreError(`round ${round} ${name}`, 'shorter than its prefix');
      const receivedAt = Number(view.getBigUint64(0, true));
      out.push({ address, frame: bytes.subarray(LEGACY_SUBMISSION_PREFIX_BYTES), receivedAt, verifiedBy: null });
    }
    return out;
  }

  // ------------------------------------------------------------ checkpoints

  putCheckpoint(version: number, params: Float32Array, hash: HexHash): Promise<void> {
    const header = new Uint8Array(CHECKPOINT_HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setUint32(0, CHECKPOINT_MAGIC, true);
    view.setUint32(4, STORE_FORMAT, true);
    view.setUint32(8, version, true);
    view.setUint32(12, params.length, true);
    header.set(hexToHash(hash), 16);
    const body = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    return this.writeAtomic(this.checkpointPath(version), [header, body], 'checkpoint:tmp-written');
  }

  async getCheckpoint(version: number, expectedHash?: HexHash): Promise<Float32Array | null> {
    const bytes = await readIfExists(this.checkpointPath(version));
    if (!bytes) return null;
    const what = `checkpoint v${version}`;
    if (bytes.length < CHECKPOINT_HEADER_BYTES) throw new CorruptStoreError(what, `${bytes.length} bytes is shorter than the header`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== CHECKPOINT_MAGIC) throw new CorruptStoreError(what, 'bad magic');
    if (view.getUint32(4, true) !== STORE_FORMAT) throw new CorruptStoreError(what, `format ${view.getUint32(4, true)}`);
    if (view.getUint32(8, true) !== version) throw new CorruptStoreError(what, `holds version ${view.getUint32(8, true)}`);
    const floats = view.getUint32(12, true);
    if (bytes.length !== CHECKPOINT_HEADER_BYTES + 4 * floats) {
      throw new CorruptStoreError(what, `${bytes.length} bytes, header announces ${CHECKPOINT_HEADER_BYTES + 4 * floats}`);
    }
    // A fresh, aligned copy: the file buffer's offset need not be a multiple of 4.
    const params = new Float32Array(floats);
    new Uint8Array(params.buffer).set(bytes.subarray(CHECKPOINT_HEADER_BYTES));
    const stored = bytes.subarray(16, 48);
    const actual = modelHash(params);
    if (!bytesEqual(actual, stored)) throw new CorruptStoreError(what, 'parameters do not match the stored model hash');
    if (expectedHash !== undefined && hashToHex(actual) !== expectedHash) {
      throw new CorruptStoreError(what, `model hash ${hashToHex(actual)}, the state expects ${expectedHash}`);
    }
    return params;
  }

  async listCheckpoints(): Promise<number[]> {
    return versionsIn(await readdir(join(this.dir, 'checkpoints')), '.ckpt');
  }

  // ------------------------------------------------------------- aggregates

  putAggregate(aggregate: StoredAggregate): Promise<void> {
    const header = new Uint8Array(AGGREGATE_HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setUint32(0, AGGREGATE_MAGIC, true);
    view.setUint32(4, STORE_FORMAT, true);
    view.setUint32(8, aggregate.version, true);
    view.setUint32(12, aggregate.bytes.length, true);
    header.set(hexToHash(aggregate.modelHash), 16);
    header.set(payloadHash(aggregate.bytes), 48);
    return this.writeAtomic(this.aggregatePath(aggregate.version), [header, aggregate.bytes]);
  }

  async getAggregate(version: number): Promise<StoredAggregate | null> {
    const file = await readIfExists(this.aggregatePath(version));
    if (!file) return null;
    const what = `aggregate v${version}`;
    if (file.length < AGGREGATE_HEADER_BYTES) throw new CorruptStoreError(what, 'shorter than the header');
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    if (view.getUint32(0, true) !== AGGREGATE_MAGIC) throw new CorruptStoreError(what, 'bad magic');
    if (view.getUint32(4, true) !== STORE_FORMAT) throw new CorruptStoreError(what, `format ${view.getUint32(4, true)}`);
    if (view.getUint32(8, true) !== version) throw new CorruptStoreError(what, `holds version ${view.getUint32(8, true)}`);
    const length = view.getUint32(12, true);
    if (file.length !== AGGREGATE_HEADER_BYTES + length) throw new CorruptStoreError(what, 'length differs from the header');
    const bytes = file.slice(AGGREGATE_HEADER_BYTES);
    if (!bytesEqual(payloadHash(bytes), file.subarray(48, 80))) throw new CorruptStoreError(what, 'content hash mismatch');
    return { version, modelHash: hashToHex(file.slice(16, 48)), bytes };
  }

  // ---------------------------------------------------------- round records

  putRoundRecord(record: RoundRecord): Promise<void> {
    return this.writeJson(join(this.roundDir(record.round), 'record.json'), record);
  }

  async listRoundRecords(fromRound = 0): Promise<RoundRecord[]> {
    const rounds = (await readdir(join(this.dir, 'rounds'))).filter((name) => /^r\d{10}$/.test(name) && Number(name.slice(1)) >= fromRound).sort();
    const records: RoundRecord[] = [];
    for (const name of rounds) {
      const record = await readJson<RoundRecord>(join(this.dir, 'rounds', name, 'record.json'));
      if (record) records.push(record);
    }
    return records;
  }

  // ------------------------------------------------------------ round scores

  async putRoundScores(record: RoundScoresRecord): Promise<void> {
    // The operator's payout file first: harmless if the close never commits (prune removes it).
    await this.writeJson(join(this.dir, 'weights', `r${pad(record.round)}.json`), record.weights);
    await this.writeJson(join(this.roundDir(record.round), 'scores.json'), record);
  }

  getRoundScores(round: number): Promise<RoundScoresRecord | null> {
    return readJson<RoundScoresRecord>(join(this.roundDir(round), 'scores.json'));
  }

  // ------------------------------------------------------------ evaluations

  async appendEvaluation(evaluation: EvaluationRecord): Promise<void> {
    const path = join(this.dir, 'evaluations.jsonl');
    await appendFile(path, JSON.stringify(evaluation) + '\n');
    const handle = await open(path, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async listEvaluations(): Promise<EvaluationRecord[]> {
    const bytes = await readIfExists(join(this.dir, 'evaluations.jsonl'));
    if (!bytes) return [];
    const out: EvaluationRecord[] = [];
    const versions = new Set<number>();
    for (const line of new TextDecoder().decode(bytes).split('\n')) {
      if (!line) continue;
      try {
        const record = JSON.parse(line) as EvaluationRecord;
        if (Number.isInteger(record.version) && Number.isFinite(record.loss) && !versions.has(record.version)) {
          versions.add(record.version);
          out.push(record);
        }
      } catch {
        // A line torn by a crash mid-append: skip it.
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ prune

  async prune(state: RelayStateRecord, keepCheckpoints: number): Promise<void> {
    for (const version of await this.listCheckpoints()) {
      const old = version < state.version - keepCheckpoints && version !== 0; // θ(0) stays: every version rebuilds from it
      if (version > state.version || old) await rm(this.checkpointPath(version), { force: true });
    }
    for (const version of versionsIn(await readdir(join(this.dir, 'aggregates')), '.agg')) {
      if (version > state.version) await rm(this.aggregatePath(version), { force: true });
    }
    // A record or scores for the open round (or later) are from a close that never committed.
    for (const name of await readdir(join(this.dir, 'rounds'))) {
      const round = /^r(\d{10})$/.exec(name);
      if (!round || Number(round[1]) < state.round) continue;
      await rm(join(this.dir, 'rounds', name, 'record.json'), { force: true });
      await rm(join(this.dir, 'rounds', name, 'scores.json'), { force: true });
    }
    for (const name of await readdir(join(this.dir, 'weights'))) {
      const round = /^r(\d{10})\.json$/.exec(name);
      if (round && Number(round[1]) >= state.round) await rm(join(this.dir, 'weights', name), { force: true });
    }
  }

  async close(): Promise<void> {
    // Every write is durable when its promise resolves; only the logs' files are open.
    const logs = [...this.logs.values()];
    this.logs.clear();
    await Promise.allSettled(logs.map(async (opened) => (await opened).log.close()));
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  const bytes = await readIfExists(path);
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (cause) {
    throw new CorruptStoreError(path, `not valid JSON (${(cause as Error).message})`);
  }
}

function versionsIn(names: string[], extension: string): number[] {
  const pattern = new RegExp(`^v(\\d{10})\\${extension}$`);
  return names
    .map((name) => pattern.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
}
