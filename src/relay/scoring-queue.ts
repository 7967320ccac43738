// Evaluation jobs on PostgreSQL, for scoring workers in other processes
// (scoring-worker.ts, `npm run scorer`). A job is a pure function's input:
// the relay serializes it (node:v8, the structured-clone format: plain
// objects and typed arrays, no code) into the blob store under its content
// hash, and inserts a row naming it. Workers take rows with
// `FOR UPDATE SKIP LOCKED` — each queued job goes to exactly one worker, and
// workers never wait on each other's locks — with a lease: a job whose worker
// died (its lease ran out) is taken again, at most MAX_ATTEMPTS times. The
// worker writes the result (v8-serialized) into the row.
//
// The relay waits for its jobs until a deadline it chooses (the round's
// evaluation budget). A job not done by then is abandoned: its row is marked
// so, a worker still running it cannot write a result any more, and the
// caller treats it as the relay's failure (Gauntlet: never the contributor's;
// the receipt says "not evaluated").
//
// Leaves out: priorities (jobs run in id order), result streaming (a job's
// result arrives whole), cleanup of old rows (a row is small; the input blob
// can be expired by a bucket rule).
import { deserialize, serialize } from 'node:v8';
import type pg from 'pg';
import { blobKey, type BlobStore } from './blob-store.ts';

/** What a job computes (scoring-worker.ts has the functions). */
export type JobKind = 'validation-loss' | 'gauntlet-trials';

/** A job's outcome as the relay sees it. */
export type JobOutcome = { result: unknown } | { error: string };

/** A job a worker took. */
export interface TakenJob {
  id: string;
  runId: string;
  round: number;
  kind: JobKind;
  input: unknown;
}

/** How often a waiting relay looks at its jobs' rows. */
const POLL_MS = 50;
/** A job is taken at most this often (a job that kills its worker every time is not retried forever). */
export const MAX_ATTEMPTS = 3;

export class ScoringQueue {
  constructor(
    private readonly pool: pg.Pool,
    private readonly blobs: BlobStore,
    private readonly runId: string,
  ) {}

  /** Stores bytes a job refers to (content-addressed under jobs/); resolves with their key. */
  async storeBlob(bytes: Uint8Array): Promise<string> {
    const key = blobKey('jobs', bytes);
    await this.blobs.put(key, bytes);
    return key;
  }

  /** Stores the input and queues the job; resolves with its id. */
  async enqueue(kind: JobKind, round: number, input: unknown): Promise<string> {
    const key = await this.storeBlob(new Uint8Array(serialize(input)));
    const { rows } = await this.pool.query('INSERT INTO evaluation_jobs (run_id, round, kind, input_key, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id', [
      this.runId,
      round,
      kind,
      key,
      Date.now(),
    ]);
    return String(rows[0].id);
  }

  /**
   * The outcome of every job in `ids` once all are finished, or at `deadline`
   * (ms since the epoch): then the unfinished ones are abandoned and reported
   * as errors (the relay's failure). `onOutcome` hears of each job as it
   * finishes (not for those abandoned).
   */
  async outcomes(ids: readonly string[], deadline: number, onOutcome?: (id: string, outcome: JobOutcome) => void): Promise<Map<string, JobOutcome>> {
    const outcomes = new Map<string, JobOutcome>();
    for (;;) {
      const pending = ids.filter((id) => !outcomes.has(id));
      if (pending.length === 0) return outcomes;
      const { rows } = await this.pool.query("SELECT id, status, result, error FROM evaluation_jobs WHERE id = ANY($1::bigint[]) AND status IN ('done', 'failed')", [pending]);
      for (const row of rows) {
        const outcome: JobOutcome = row.status === 'done' ? { result: deserialize(row.result) } : { error: `the scoring worker failed: ${row.error}` };
        outcomes.set(String(row.id), outcome);
        onOutcome?.(String(row.id), outcome);
      }
      if (outcomes.size === ids.length) return outcomes;
      if (Date.now() >= deadline) {
        const late = ids.filter((id) => !outcomes.has(id));
        await this.pool.query("UPDATE evaluation_jobs SET status = 'abandoned', finished_at = $2 WHERE id = ANY($1::bigint[]) AND status IN ('queued', 'running')", [late, Date.now()]);
        for (const id of late) outcomes.set(id, { error: 'no scoring worker finished it within the deadline' });
        return outcomes;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

/** The worker's side of the queue (any run: one worker serves every run in the database). */
export class ScoringJobs {
  constructor(
    private readonly pool: pg.Pool,
    /** Each run keeps its blobs under its own prefix (launch.ts). */
    private readonly blobsFor: (runId: string) => BlobStore,
    private readonly worker: string,
  ) {}

  /** The oldest job nobody holds (or whose holder's lease ran out), now ours for `leaseMs`; null when there is none. */
  async take(leaseMs: number): Promise<TakenJob | null> {
    const now = Date.now();
    const { rows } = await this.pool.query(
      `UPDATE evaluation_jobs SET status = 'running', worker = $1, attempts = attempts + 1, lease_until = $2
       WHERE id = (
         SELECT id FROM evaluation_jobs
         WHERE (status = 'queued' OR (status = 'running' AND lease_until < $3)) AND attempts < $4
         ORDER BY id
         FOR UPDATE SKIP LOCKED
         LIMIT 1
       )
       RETURNING id, run_id, round, kind, input_key`,
      [this.worker, now + leaseMs, now, MAX_ATTEMPTS],
    );
    if (rows.length === 0) return null;
    const row = rows[0];
    const input = await this.blobsFor(row.run_id).get(row.input_key);
    if (!input) {
      await this.fail(String(row.id), `input blob ${row.input_key} is missing`);
      return null;
    }
    return { id: String(row.id), runId: row.run_id, round: row.round, kind: row.kind, input: deserialize(input) };
  }

  /** Writes the result, if the job is still ours (not abandoned, not taken over after our lease ran out). */
  async complete(id: string, result: unknown): Promise<boolean> {
    const { rowCount } = await this.pool.query("UPDATE evaluation_jobs SET status = 'done', result = $3, finished_at = $4 WHERE id = $1 AND worker = $2 AND status = 'running'", [
      id,
      this.worker,
      serialize(result),
      Date.now(),
    ]);
    return rowCount === 1;
  }

  async fail(id: string, error: string): Promise<void> {
    await this.pool.query("UPDATE evaluation_jobs SET status = 'failed', error = $3, finished_at = $4 WHERE id = $1 AND worker = $2 AND status = 'running'", [id, this.worker, error, Date.now()]);
  }
}
