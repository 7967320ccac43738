// The embedded RelayStore: plain files in one directory, nothing to install.
//
//   <dir>/run.json                        StoredRun (written once)
//   <dir>/state.json                      RelayStateRecord — the commit point
//   <dir>/checkpoints/v0000000012.ckpt    θ(12): 64-byte header + float32 LE
//   <dir>/aggregates/v0000000012.agg      the aggregate that made θ(12): 80-byte header + bytes
//   <dir>/rounds/r0000000011/<address>.sub  acknowledged frames: 52-byte header + frame
//   <dir>/rounds/r0000000011/record.json  RoundRecord, written when round 11 closes
//   <dir>/rounds/r0000000011/scores.json  RoundScoresRecord: Gauntlet's receipt, weights and state after round 11
//   <dir>/weights/r0000000011.json        the payout vector after round 11 alone (WeightsFile), for the operator
//   <dir>/evaluations.jsonl               one EvaluationRecord per line (append-only)
//
// Every file except the .jsonl is written the one crash-safe way POSIX offers:
// write a temporary file in the same directory, fsync it, rename it over the
// final name, fsync the directory. rename is atomic, so a reader finds the old
// file or the new one; the two fsyncs order the data before the name and make
// the name itself durable before the caller is told "done". New directories
// are fsync'd into their parent the same way. Leftover temporaries (a crash
// between write and rename) are deleted at open.
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
// Leaves out: replication and object storage (another RelayStore), compaction
// of old rounds' frames (they are the ledger's evidence and stay).
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, mkdir, appendFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { u8aConcat } from '@polkadot/util';
import { blake2AsU8a } from '@polkadot/util-crypto';
import { bytesEqual, hashToHex, hexToHash, modelHash, payloadHash, type HexHash } from '../protocol/index.ts';
import { failpoint } from './failpoint.ts';
import {
  CorruptStoreError,
  STORE_FORMAT,
  type EvaluationRecord,
  type RelayStateRecord,
  type RelayStore,
  type RoundRecord,
  type RoundScoresRecord,
  type StoredAggregate,
  type StoredRun,
  type StoredSubmission,
} from './store.ts';

const CHECKPOINT_MAGIC = 0x4b435354; // "TSCK" read as u32 LE
const AGGREGATE_MAGIC = 0x47415354; // "TSAG"
const CHECKPOINT_HEADER_BYTES = 64;
const AGGREGATE_HEADER_BYTES = 80;
const SUBMISSION_MAGIC = 0x42535354; // "TSSB"
const SUBMISSION_FORMAT = 2;
const SUBMISSION_HEADER_BYTES = 52;
const LEGACY_SUBMISSION_PREFIX_BYTES = 8;
const VERIFIED_DOMAIN = new TextEncoder().encode('tessera/verified-submission/v1');
/** Submission files read at once at a restart. */
const READ_CONCURRENCY = 64;
const TEMPORARY = '.tmp-';

const pad = (n: number) => String(n).padStart(10, '0');
const isTemporary = (name: string) => name.includes(TEMPORARY);

export class FileRelayStore implements RelayStore {
  private readonly madeDirs = new Set<string>();

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

  /** mkdir -p, then fsync the parent so the new entry survives a crash. */
  private async ensureDir(path: string): Promise<void> {
    if (this.madeDirs.has(path)) return;
    const target = resolve(path);
    const created = await mkdir(target, { recursive: true });
    if (created !== undefined) {
      // Each new directory's entry lives in its parent: sync from the deepest new one up to the first.
      for (let dir = target; ; dir = dirname(dir)) {
        await syncDir(dirname(dir));
        if (dir === resolve(created) || dir === dirname(dir)) break;
      }
    }
    this.madeDirs.add(path);
  }

  /** temp + fsync + rename + fsync(dir): all or nothing, durable on return. */
  private async writeAtomic(path: string, parts: readonly Uint8Array[], failpointName?: string): Promise<void> {
    const dir = join(path, '..');
    await this.ensureDir(dir);
    const temporary = `${path}${TEMPORARY}${process.pid}-${randomBytes(6).toString('hex')}`;
    const handle = await open(temporary, 'wx');
    try {
      for (const part of parts) await handle.writeFile(part);
      if (failpointName) failpoint(failpointName);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDir(dir);
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
    return this.writeJson(join(this.dir, 'state.json'), state);
  }

  // ------------------------------------------------------------ submissions

  putSubmission(round: number, submission: StoredSubmission): Promise<void> {
    const { address, frame, receivedAt } = submission;
    const verifiedBy = submission.verifiedBy ?? 0;
    const header = new Uint8Array(SUBMISSION_HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setUint32(0, SUBMISSION_MAGIC, true);
    view.setUint32(4, SUBMISSION_FORMAT, true);
    view.setBigUint64(8, BigInt(receivedAt), true);
    view.setUint32(16, verifiedBy, true);
    header.set(verificationRecord(round, address, receivedAt, verifiedBy, frame), 20);
    return this.writeAtomic(join(this.roundDir(round), `${address}.sub`), [header, frame]);
  }

  async listSubmissions(round: number): Promise<StoredSubmission[]> {
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
      // Written by an older relay (u64 receivedAt + frame), or a damaged header: no record, so every check runs.
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

  async listRoundRecords(): Promise<RoundRecord[]> {
    const rounds = (await readdir(join(this.dir, 'rounds'))).filter((name) => /^r\d{10}$/.test(name)).sort();
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
    for (const line of new TextDecoder().decode(bytes).split('\n')) {
      if (!line) continue;
      try {
        const record = JSON.parse(line) as EvaluationRecord;
        if (Number.isInteger(record.version) && Number.isFinite(record.loss)) out.push(record);
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
    // Every write is durable when its promise resolves; nothing is buffered here.
  }
}

/** What a submission file's record vouches for (see the file header): these bytes, in this round, under this address. */
function verificationRecord(round: number, address: string, receivedAt: number, verifiedBy: number, frame: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode(address);
  const fields = new Uint8Array(2 + VERIFIED_DOMAIN.length + 4 + 2 + name.length + 8 + 4);
  const view = new DataView(fields.buffer);
  let at = 0;
  view.setUint16(at, VERIFIED_DOMAIN.length, true);
  fields.set(VERIFIED_DOMAIN, at + 2);
  at += 2 + VERIFIED_DOMAIN.length;
  view.setUint32(at, round, true);
  view.setUint16(at + 4, name.length, true);
  fields.set(name, at + 6);
  at += 6 + name.length;
  view.setBigUint64(at, BigInt(receivedAt), true);
  view.setUint32(at + 8, verifiedBy, true);
  return blake2AsU8a(u8aConcat(fields, frame), 256);
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function readdirIfExists(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
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
