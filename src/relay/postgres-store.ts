// RelayStore on PostgreSQL (records) and a BlobStore (frames, checkpoints,
// round updates), so several relay replicas can serve one run. The schema
// and its migrations: postgres-schema.ts. npm `pg` (node-postgres) is the
// client: a pool for queries and one dedicated connection for LISTEN.
//
// How the replicas agree (store.ts has the contract):
//   - A submission is stored by one statement that takes a KEY SHARE lock on
//     its round's row, checks the round is 'open', and inserts with ON
//     CONFLICT DO NOTHING on (run, round, address). So a resubmission (to any
//     replica) is 'duplicate', and a submission racing a close either commits
//     before the claim (the claim's FOR UPDATE waits for it) or sees
//     'closing' and is refused ('closed', answered 'late'). A frame up to
//     inlineFrameBytes (256 KiB) is stored in its row, so its durability is
//     PostgreSQL's commit, which batches the WAL flushes of concurrent commits
//     (group commit); a bucket PUT per small frame would double the latency
//     and cost a request each (bench: docs/deploy.md). A larger frame goes to
//     the blob store first; the row, which publishes it, only after.
//   - Closing: claimClose takes a session-level advisory lock on (run, round)
//     on a connection it keeps, then marks the round 'closing' with a fresh
//     token. Exactly one live replica can hold the lock; if it dies (kill -9,
//     lost connection), PostgreSQL drops its session and the lock with it,
//     and a retrying replica takes the close over with a new token.
//   - The commit point is one transaction (putState with the claim): it
//     checks the token is still ours (FOR UPDATE), writes the rows the close
//     staged (update, checkpoint, Gauntlet's scores, round record), marks the round closed and
//     its submissions accepted (the ledger), opens the next round, moves
//     relay_state, and NOTIFYs. NOTIFY is transactional: the other replicas
//     hear of the close exactly when it is committed, never before.
//   - The claim NOTIFYs 'closing': the other replicas refuse the round's
//     submissions at once and retry the close after a few seconds, which
//     takes it over if the claimant died (its lock is gone) and finds
//     nothing to do if it committed.
//   - Other replicas LISTEN and call back watch() listeners with the new
//     state (they then load the checkpoint from the blob store); after a lost
//     listening connection they are told to resync, since notifications sent
//     meanwhile are gone.
//
// Leaves out: blob garbage collection (blob-store.ts), read replicas, schema
// downgrades.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { blake2AsU8a } from '@polkadot/util-crypto';
import { decodeBundle, encodeBundle, hexToHash, hashToHex, modelHash, type HexHash } from '../protocol/index.ts';
import { blobKey, checkpointKey, type BlobStore } from './blob-store.ts';
import type { Logger } from './log.ts';
import { migrate } from './postgres-schema.ts';
import { ScoringQueue } from './scoring-queue.ts';
import {
  CorruptStoreError,
  LostClaimError,
  type CloseClaim,
  type EvaluationRecord,
  type RelayStateRecord,
  type RelayStore,
  type RoundRecord,
  type RoundScoresRecord,
  type StoreChange,
  type StoredAggregate,
  type StoredRun,
  type StoredSubmission,
  type SubmissionWrite,
} from './store.ts';

/** Default of PostgresStoreOptions.inlineFrameBytes. */
export const DEFAULT_INLINE_FRAME_BYTES = 256 * 1024;
/** One channel for every run; payloads name theirs. */
const CHANNEL = 'tessera_relay';
/** Quiet time after a stored submission before the round's submissions are counted again. */
const RECOUNT_MS = 50;
/** Blob reads in flight when a close loads the round's frames. */
const READ_CONCURRENCY = 16;

export interface PostgresStoreOptions {
  /** libpq connection string; undefined: the PG* environment variables (PGHOST, PGUSER, PGPASSWORD…). */
  connectionString?: string;
  runId: string;
  blobs: BlobStore;
  /** Names this replica in rounds.claimed_by (diagnostics). */
  replica: string;
  /** Pool size (default 20). */
  maxConnections?: number;
  /**
   * Frames up to this many bytes are stored in their submissions row, larger
   * ones in the blob store (default 256 KiB; 0: every frame in the blob store).
   * See the file header for why.
   */
  inlineFrameBytes?: number;
  logger?: Logger;
}

interface Claim extends CloseClaim {
  readonly token: string;
}

type NoticeBody = { kind: 'state'; state: RelayStateRecord } | { kind: 'evaluation'; evaluation: EvaluationRecord } | { kind: 'closing'; round: number };
type Notice = { runId: string } & NoticeBody;

/** A close's rows, held until its commit (store.ts: "an implementation may hold what a close writes"). */
interface Staged {
  checkpoints: { version: number; modelHash: HexHash; key: string }[];
  updates: { version: number; modelHash: HexHash; key: string; bytes: number }[];
  records: RoundRecord[];
  scores: RoundScoresRecord[];
}

const emptyStage = (): Staged => ({ checkpoints: [], updates: [], records: [], scores: [] });

export class PostgresRelayStore implements RelayStore {
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private staged: Staged = emptyStage();
  private listener: pg.Client | null = null;
  private listenRetry: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Advisory lock class for this run: the first 4 bytes of BLAKE2b(runId) as int32. */
  private readonly lockClass: number;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresStoreOptions,
  ) {
    this.lockClass = new DataView(blake2AsU8a(new TextEncoder().encode(options.runId), 64).buffer).getInt32(0, true);
    this.jobs = new ScoringQueue(pool, options.blobs, options.runId);
  }

  get blobs(): BlobStore {
    return this.options.blobs;
  }

  /** The run's queue of evaluation jobs for scoring workers (same database, same blobs). */
  readonly jobs: ScoringQueue;

  /** Connects, runs the migrations the database lacks, and starts listening for other replicas' commits. */
  static async open(options: PostgresStoreOptions): Promise<PostgresRelayStore> {
    const pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 20 });
    // An idle connection dropped by a database restart is reported here; the pool replaces it.
    pool.on('error', (error) => options.logger?.warn({ reason: error.message }, 'postgres: an idle connection was lost'));
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    const store = new PostgresRelayStore(pool, options);
    await store.listen();
    return store;
  }

  // ---------------------------------------------------------------- notices

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString });
    const lost = (why: string) => {
      if (this.listener !== client) return;
      this.listener = null;
      client.removeAllListeners();
      void client.end().catch(() => {});
      if (this.closed) return;
      this.options.logger?.warn({ reason: why }, 'postgres: the notification connection was lost; reconnecting');
      this.scheduleListen(1000);
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('closed'));
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      let notice: Notice;
      try {
        notice = JSON.parse(message.payload) as Notice;
      } catch {
        return;
      }
      if (notice.runId !== this.options.runId) return;
      this.emit(notice);
    });
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      this.listener = null;
      client.removeAllListeners();
      await client.end().catch(() => {});
      throw error;
    }
  }

  private scheduleListen(delayMs: number): void {
    if (this.closed || this.listenRetry) return;
    this.listenRetry = setTimeout(() => {
      this.listenRetry = null;
      this.listen().then(
        () => this.emit({ kind: 'resync' }), // anything sent while we were away is lost: read the state again
        () => this.scheduleListen(Math.min(2 * delayMs, 10_000)),
      );
    }, delayMs);
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) listener(change);
  }

  watch(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(client: pg.ClientBase, notice: NoticeBody): Promise<unknown> {
    return client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ runId: this.options.runId, ...notice })]);
  }

  /** BEGIN … COMMIT on one pooled connection; ROLLBACK on any failure. */
  private async transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true; // the connection itself is gone: do not hand it back to the pool
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  // ------------------------------------------------------------- run, state

  async getRun(): Promise<StoredRun | null> {
    const { rows } = await this.pool.query('SELECT format, config, genesis_hash, created_at FROM runs WHERE run_id = $1', [this.options.runId]);
    if (rows.length === 0) return null;
    return { format: rows[0].format, config: rows[0].config, genesisHash: rows[0].genesis_hash, createdAt: Number(rows[0].created_at) };
  }

  async putRun(run: StoredRun): Promise<void> {
    if (run.config.runId !== this.options.runId) throw new Error(`this store serves run ${this.options.runId}, not ${run.config.runId}`);
    // Replicas starting together all try; the first one's run stands (they compute the same one).
    await this.pool.query('INSERT INTO runs (run_id, format, config, genesis_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id) DO NOTHING', [
      this.options.runId,
      run.format,
      JSON.stringify(run.config),
      run.genesisHash,
      run.createdAt,
    ]);
  }

  async getState(): Promise<RelayStateRecord | null> {
    const { rows } = await this.pool.query('SELECT format, round, version, model_hash, opened_at, deadline FROM relay_state WHERE run_id = $1', [this.options.runId]);
    return rows.length === 0 ? null : stateOf(rows[0]);
  }

  async putState(state: RelayStateRecord, claim?: CloseClaim): Promise<void> {
    const staged = this.staged;
    const runId = this.options.runId;
    await this.transaction(async (client) => {
      if (claim) {
        const { rows } = await client.query('SELECT status, claim_token FROM rounds WHERE run_id = $1 AND round = $2 FOR UPDATE', [runId, claim.round]);
        if (rows[0]?.status !== 'closing' || rows[0].claim_token !== (claim as Claim).token) throw new LostClaimError(claim.round);
      }
      for (const c of staged.checkpoints) {
        await client.query('INSERT INTO checkpoints (run_id, version, model_hash, blob_key) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [runId, c.version, c.modelHash, c.key]);
      }
      for (const u of staged.updates) {
        await client.query('INSERT INTO updates (run_id, version, model_hash, blob_key, bytes) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [runId, u.version, u.modelHash, u.key, u.bytes]);
      }
      for (const r of staged.records) {
        await client.query('INSERT INTO round_records (run_id, round, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [runId, r.round, JSON.stringify(r)]);
      }
      for (const r of staged.scores) {
        await client.query('INSERT INTO round_scores (run_id, round, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [runId, r.round, JSON.stringify(r)]);
      }
      const values = [runId, state.format, state.round, state.version, state.modelHash, state.openedAt, state.deadline];
      if (!claim) {
        // Genesis: the first replica's state stands.
        await client.query(
          'INSERT INTO relay_state (run_id, format, round, version, model_hash, opened_at, deadline) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id) DO NOTHING',
          values,
        );
        await client.query("INSERT INTO rounds (run_id, round, status) VALUES ($1, $2, 'open') ON CONFLICT DO NOTHING", [runId, state.round]);
        return;
      }
      await client.query('UPDATE relay_state SET format = $2, round = $3, version = $4, model_hash = $5, opened_at = $6, deadline = $7 WHERE run_id = $1', values);
      if (state.round === claim.round) {
        // An extension: the round takes submissions again until its new deadline.
        await client.query("UPDATE rounds SET status = 'open', claim_token = NULL, claimed_by = NULL WHERE run_id = $1 AND round = $2", [runId, claim.round]);
      } else {
        await client.query("UPDATE rounds SET status = 'closed' WHERE run_id = $1 AND round = $2", [runId, claim.round]);
        await client.query('UPDATE submissions SET accepted_version = $3 WHERE run_id = $1 AND round = $2', [runId, claim.round, state.version]);
        await client.query("INSERT INTO rounds (run_id, round, status) VALUES ($1, $2, 'open')", [runId, state.round]);
      }
      await this.notify(client, { kind: 'state', state });
    });
    if (this.staged === staged) this.staged = emptyStage();
  }

  async claimClose(round: number): Promise<CloseClaim | null> {
    const client = await this.pool.connect();
    let locked = false;
    const giveUp = async (broken = false) => {
      if (locked && !broken) await client.query('SELECT pg_advisory_unlock($1, $2)', [this.lockClass, round]).catch(() => (broken = true));
      client.release(broken);
    };
    try {
      locked = (await client.query('SELECT pg_try_advisory_lock($1, $2) AS locked', [this.lockClass, round])).rows[0].locked;
      if (!locked) {
        await giveUp();
        return null;
      }
      const token = randomUUID();
      await client.query('BEGIN');
      // FOR UPDATE waits for submissions storing right now (they hold KEY SHARE): after it, the set is final.
      const { rows } = await client.query('SELECT status FROM rounds WHERE run_id = $1 AND round = $2 FOR UPDATE', [this.options.runId, round]);
      if (rows.length === 0 || rows[0].status === 'closed') {
        await client.query('COMMIT');
        await giveUp();
        return null;
      }
      // 'open', or 'closing' by a replica whose session (and lock) is gone: ours now, with a new token.
      await client.query('UPDATE rounds SET status = $3, claim_token = $4, claimed_by = $5 WHERE run_id = $1 AND round = $2', [
        this.options.runId,
        round,
        'closing',
        token,
        this.options.replica,
      ]);
      // The others stop taking submissions for the round and watch that this close completes (or take it over).
      await this.notify(client, { kind: 'closing', round });
      await client.query('COMMIT');
      this.staged = emptyStage();
      let released = false;
      const claim: Claim = {
        round,
        token,
        release: async () => {
          if (released) return;
          released = true;
          await giveUp();
        },
      };
      return claim;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      await giveUp(true);
      throw error;
    }
  }

  // ------------------------------------------------------------ submissions

  async putSubmission(round: number, submission: StoredSubmission): Promise<SubmissionWrite> {
    let key: string | null = null;
    if (submission.frame.length > (this.options.inlineFrameBytes ?? DEFAULT_INLINE_FRAME_BYTES)) {
      key = blobKey('frames', submission.frame);
      await this.options.blobs.put(key, submission.frame);
    }
    const { rows } = await this.pool.query(
      `WITH open_round AS (
         SELECT 1 FROM rounds WHERE run_id = $1 AND round = $2 AND status = 'open' FOR KEY SHARE
       ), stored AS (
         INSERT INTO submissions (run_id, round, address, frame, frame_key, frame_bytes, received_at, verified_by)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM open_round
         ON CONFLICT (run_id, round, address) DO NOTHING
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM open_round)::int AS open, (SELECT count(*) FROM stored)::int AS stored,
              (SELECT count(*) FROM submissions WHERE run_id = $1 AND round = $2)::int AS before`,
      [
        this.options.runId,
        round,
        submission.address,
        key === null ? Buffer.from(submission.frame.buffer, submission.frame.byteOffset, submission.frame.byteLength) : null,
        key,
        submission.frame.length,
        submission.receivedAt,
        submission.verifiedBy,
      ],
    );
    if (rows[0].open === 0) return { outcome: 'closed' };
    if (rows[0].stored === 0) return { outcome: 'duplicate' };
    // The count misses submissions other connections commit at the same moment; the recount after a
    // burst (recountSoon) catches them, so a quorum reached by concurrent submissions is noticed.
    this.recountSoon(round);
    return { outcome: 'stored', count: rows[0].before + 1 };
  }

  private recounting = new Map<number, ReturnType<typeof setTimeout>>();

  /** One count of the round's submissions RECOUNT_MS after the last one stored here, reported through watch(). */
  private recountSoon(round: number): void {
    const pending = this.recounting.get(round);
    if (pending) clearTimeout(pending);
    this.recounting.set(
      round,
      setTimeout(() => {
        this.recounting.delete(round);
        this.countSubmissions(round).then(
          (count) => this.emit({ kind: 'submissions', round, count }),
          () => {}, // the next submission or the deadline will do
        );
      }, RECOUNT_MS),
    );
  }

  async recordVerified(round: number, submission: StoredSubmission & { verifiedBy: number }): Promise<void> {
    await this.pool.query('UPDATE submissions SET verified_by = $4 WHERE run_id = $1 AND round = $2 AND address = $3', [
      this.options.runId,
      round,
      submission.address,
      submission.verifiedBy,
    ]);
  }

  async countSubmissions(round: number): Promise<number> {
    const { rows } = await this.pool.query('SELECT count(*)::int AS n FROM submissions WHERE run_id = $1 AND round = $2', [this.options.runId, round]);
    return rows[0].n;
  }

  async listSubmissions(round: number, skip: ReadonlySet<string> = new Set()): Promise<StoredSubmission[]> {
    const { rows } = await this.pool.query('SELECT address, frame, frame_key, received_at, verified_by FROM submissions WHERE run_id = $1 AND round = $2 ORDER BY address', [
      this.options.runId,
      round,
    ]);
    const wanted = rows.filter((row) => !skip.has(row.address));
    const out: StoredSubmission[] = new Array(wanted.length);
    let next = 0;
    const reader = async () => {
      while (next < wanted.length) {
        const i = next++;
        const inline: Buffer | null = wanted[i].frame;
        const frame = inline ? new Uint8Array(inline.buffer, inline.byteOffset, inline.byteLength) : await this.options.blobs.get(wanted[i].frame_key);
        if (!frame) throw new CorruptStoreError(`round ${round} frame of ${wanted[i].address}`, `blob ${wanted[i].frame_key} is missing`);
        // The row is the database's (its integrity is PostgreSQL's), and a blob is checked against its key.
        out[i] = { address: wanted[i].address, frame, receivedAt: Number(wanted[i].received_at), verifiedBy: wanted[i].verified_by };
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, wanted.length) }, reader));
    return out;
  }

  // ------------------------------------------------------------ checkpoints

  async putCheckpoint(version: number, params: Float32Array, hash: HexHash): Promise<void> {
    const key = checkpointKey(version, hash);
    const bytes = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    // The metadata comes back as x-amz-meta-* headers when a tab downloads the object from a bucket.
    await this.options.blobs.put(key, bytes, { 'tessera-model-version': String(version), 'tessera-model-hash': hash });
    this.staged.checkpoints.push({ version, modelHash: hash, key });
  }

  async getCheckpoint(version: number, expectedHash?: HexHash): Promise<Float32Array | null> {
    const { rows } = await this.pool.query('SELECT model_hash, blob_key FROM checkpoints WHERE run_id = $1 AND version = $2', [this.options.runId, version]);
    if (rows.length === 0) return null;
    const what = `checkpoint v${version}`;
    const bytes = await this.options.blobs.get(rows[0].blob_key);
    if (!bytes) throw new CorruptStoreError(what, `blob ${rows[0].blob_key} is missing`);
    if (bytes.length % 4 !== 0) throw new CorruptStoreError(what, `${bytes.length} bytes is not whole float32s`);
    const params = new Float32Array(bytes.length / 4);
    new Uint8Array(params.buffer).set(bytes);
    const actual = hashToHex(modelHash(params));
    if (actual !== rows[0].model_hash) throw new CorruptStoreError(what, 'parameters do not match the stored model hash');
    if (expectedHash !== undefined && actual !== expectedHash) throw new CorruptStoreError(what, `model hash ${actual}, the state expects ${expectedHash}`);
    return params;
  }

  /** The blob key of a committed checkpoint with this model hash, or null (scoring jobs name θ by it). */
  async checkpointKeyOf(hash: HexHash): Promise<string | null> {
    const { rows } = await this.pool.query('SELECT blob_key FROM checkpoints WHERE run_id = $1 AND model_hash = $2 ORDER BY version DESC LIMIT 1', [this.options.runId, hash]);
    return rows[0]?.blob_key ?? null;
  }

  async listCheckpoints(): Promise<number[]> {
    const { rows } = await this.pool.query('SELECT version FROM checkpoints WHERE run_id = $1 ORDER BY version', [this.options.runId]);
    return rows.map((row) => row.version);
  }

  // ------------------------------------------------------------- aggregates

  async putAggregate(aggregate: StoredAggregate): Promise<void> {
    // Stored as a one-entry catch-up bundle, so a bucket can serve it to a tab one version behind as it is.
    const entry = encodeBundle([{ version: aggregate.version, modelHash: hexToHash(aggregate.modelHash), aggregate: aggregate.bytes }]);
    const key = blobKey('updates', entry, aggregate.version);
    await this.options.blobs.put(key, entry, { 'tessera-model-version': String(aggregate.version), 'tessera-model-hash': aggregate.modelHash });
    this.staged.updates.push({ version: aggregate.version, modelHash: aggregate.modelHash, key, bytes: aggregate.bytes.length });
  }

  async getAggregate(version: number): Promise<StoredAggregate | null> {
    const key = await this.updateBlobKey(version);
    if (!key) return null;
    const what = `update v${version}`;
    const bytes = await this.options.blobs.get(key);
    if (!bytes) throw new CorruptStoreError(what, `blob ${key} is missing`);
    let entries;
    try {
      entries = decodeBundle(bytes, version - 1);
    } catch (error) {
      throw new CorruptStoreError(what, (error as Error).message);
    }
    if (entries.length !== 1) throw new CorruptStoreError(what, `holds ${entries.length} entries`);
    return { version, modelHash: hashToHex(entries[0].modelHash), bytes: entries[0].aggregate.slice() };
  }

  private async updateBlobKey(version: number): Promise<string | null> {
    const { rows } = await this.pool.query('SELECT blob_key FROM updates WHERE run_id = $1 AND version = $2', [this.options.runId, version]);
    return rows[0]?.blob_key ?? null;
  }

  async downloadUrl(object: 'checkpoint' | 'update', version: number): Promise<string | null> {
    if (!this.options.blobs.redirects) return null;
    const table = object === 'checkpoint' ? 'checkpoints' : 'updates';
    const { rows } = await this.pool.query(`SELECT blob_key FROM ${table} WHERE run_id = $1 AND version = $2`, [this.options.runId, version]);
    return rows.length === 0 ? null : this.options.blobs.downloadUrl(rows[0].blob_key);
  }

  // ---------------------------------------------------------- round records

  async putRoundRecord(record: RoundRecord): Promise<void> {
    this.staged.records.push(record);
  }

  async listRoundRecords(fromRound = 0): Promise<RoundRecord[]> {
    const { rows } = await this.pool.query('SELECT record FROM round_records WHERE run_id = $1 AND round >= $2 ORDER BY round', [this.options.runId, fromRound]);
    return rows.map((row) => row.record as RoundRecord);
  }

  // ------------------------------------------------------------ round scores

  async putRoundScores(record: RoundScoresRecord): Promise<void> {
    this.staged.scores.push(record);
  }

  async getRoundScores(round: number): Promise<RoundScoresRecord | null> {
    const { rows } = await this.pool.query('SELECT record FROM round_scores WHERE run_id = $1 AND round = $2', [this.options.runId, round]);
    return (rows[0]?.record as RoundScoresRecord | undefined) ?? null;
  }

  // ---------------------------------------------------------- the relay key

  /**
   * The run's signing key (a BIP-39 mnemonic), the same for every replica:
   * `candidate` becomes it if the run has none yet (the first replica to
   * start wins the insert), otherwise the stored one comes back. Kept in the
   * database because receipts must verify against one published address
   * whichever replica closed the round; who can read the table can sign as
   * the relay (docs/deploy.md).
   */
  async sharedRelayKey(candidate: string): Promise<string> {
    await this.pool.query('INSERT INTO relay_keys (run_id, format, mnemonic, created_at) VALUES ($1, 1, $2, $3) ON CONFLICT (run_id) DO NOTHING', [
      this.options.runId,
      candidate,
      Date.now(),
    ]);
    const { rows } = await this.pool.query('SELECT format, mnemonic FROM relay_keys WHERE run_id = $1', [this.options.runId]);
    if (rows[0]?.format !== 1) throw new CorruptStoreError('the relay key', `format ${rows[0]?.format} is not 1`);
    return rows[0].mnemonic;
  }

  // ------------------------------------------------------------ evaluations

  async appendEvaluation(evaluation: EvaluationRecord): Promise<void> {
    await this.transaction(async (client) => {
      const inserted = await client.query('INSERT INTO evaluations (run_id, version, loss, evaluated_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        this.options.runId,
        evaluation.version,
        evaluation.loss,
        evaluation.evaluatedAt,
      ]);
      if (inserted.rowCount) await this.notify(client, { kind: 'evaluation', evaluation });
    });
  }

  async listEvaluations(): Promise<EvaluationRecord[]> {
    const { rows } = await this.pool.query('SELECT version, loss, evaluated_at FROM evaluations WHERE run_id = $1 ORDER BY version', [this.options.runId]);
    return rows.map((row) => ({ version: row.version, loss: row.loss, evaluatedAt: Number(row.evaluated_at) }));
  }

  // ------------------------------------------------------------------ prune

  async prune(state: RelayStateRecord, keepCheckpoints: number): Promise<void> {
    // Rows beyond the state cannot exist (a close's rows are written in its commit); old checkpoints
    // go, except θ(0): every version can be rebuilt from it and the round updates.
    const { rows } = await this.pool.query('DELETE FROM checkpoints WHERE run_id = $1 AND version < $2 AND version <> 0 RETURNING blob_key', [
      this.options.runId,
      state.version - keepCheckpoints,
    ]);
    for (const row of rows) await this.options.blobs.delete(row.blob_key);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.recounting.values()) clearTimeout(timer);
    if (this.listenRetry) clearTimeout(this.listenRetry);
    const listener = this.listener;
    this.listener = null;
    listener?.removeAllListeners();
    await listener?.end().catch(() => {});
    await this.pool.end();
    await this.options.blobs.close();
  }
}

function stateOf(row: { format: number; round: number; version: number; model_hash: string; opened_at: string; deadline: string }): RelayStateRecord {
  return {
    format: row.format,
    round: row.round,
    version: row.version,
    modelHash: row.model_hash as HexHash,
    openedAt: Number(row.opened_at),
    deadline: Number(row.deadline),
  };
}
