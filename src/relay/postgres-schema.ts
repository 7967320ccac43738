// The PostgreSQL schema of PostgresRelayStore as a table of versioned steps,
// applied in order at start (idb's pattern for IndexedDB, applied to SQL).
// Each step runs in its own transaction together with its row in
// tessera_migrations, under a transaction-scoped advisory lock, so replicas
// starting at once apply every step exactly once and a failing step leaves
// the schema as it was. A step is never edited once released: a change is a
// new step.
//
// Tables (one database may hold several runs; every row names its run):
//   runs           the run as created (config, θ(0)'s hash)
//   relay_state    the open round and the model it trains from: the commit point
//   rounds         one row per round: open → closing (claimed by one replica) → closed
//   submissions    one per (run, round, address): the idempotence of a resubmission;
//                  the frame itself (up to inlineFrameBytes) or its blob key;
//                  accepted_version is set when the round commits (the ledger)
//   checkpoints    θ(version): model hash and blob key
//   updates        the round update (aggregate) that made θ(version): hash, blob key, length
//   round_records  the closed round's RoundRecord (who went into which aggregate)
//   evaluations    held-out loss per version
//   evaluation_jobs the scoring workers' queue (scoring-queue.ts)
//   round_scores   Gauntlet's outcome of a closed round (signed receipt, weights,
//                  state), written in the close's commit
//   relay_keys     the relay's own signing key per run, shared by every replica
//                  (the first replica to start creates it)
//
// Leaves out: blobs (frames, checkpoints, updates live in a BlobStore; the
// tables hold their keys).
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, state, rounds, submissions, checkpoints, updates, round records, evaluations',
    sql: `
      CREATE TABLE runs (
        run_id       text PRIMARY KEY,
        format       integer NOT NULL,
        config       jsonb NOT NULL,
        genesis_hash text NOT NULL,
        created_at   bigint NOT NULL
      );
      CREATE TABLE relay_state (
        run_id     text PRIMARY KEY REFERENCES runs,
        format     integer NOT NULL,
        round      integer NOT NULL,
        version    integer NOT NULL,
        model_hash text NOT NULL,
        opened_at  bigint NOT NULL,
        deadline   bigint NOT NULL
      );
      CREATE TABLE rounds (
        run_id      text NOT NULL REFERENCES runs,
        round       integer NOT NULL,
        status      text NOT NULL CHECK (status IN ('open', 'closing', 'closed')),
        claim_token text,
        claimed_by  text,
        PRIMARY KEY (run_id, round)
      );
      CREATE TABLE submissions (
        run_id           text NOT NULL,
        round            integer NOT NULL,
        address          text NOT NULL,
        frame            bytea,
        frame_key        text,
        frame_bytes      integer NOT NULL,
        received_at      bigint NOT NULL,
        verified_by      integer,
        accepted_version integer,
        PRIMARY KEY (run_id, round, address),
        FOREIGN KEY (run_id, round) REFERENCES rounds,
        CHECK ((frame IS NULL) <> (frame_key IS NULL))
      );
      CREATE INDEX submissions_by_address ON submissions (run_id, address, round);
      CREATE TABLE checkpoints (
        run_id     text NOT NULL REFERENCES runs,
        version    integer NOT NULL,
        model_hash text NOT NULL,
        blob_key   text NOT NULL,
        PRIMARY KEY (run_id, version)
      );
      CREATE TABLE updates (
        run_id     text NOT NULL REFERENCES runs,
        version    integer NOT NULL,
        model_hash text NOT NULL,
        blob_key   text NOT NULL,
        bytes      integer NOT NULL,
        PRIMARY KEY (run_id, version)
      );
      CREATE TABLE round_records (
        run_id text NOT NULL REFERENCES runs,
        round  integer NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (run_id, round)
      );
      CREATE TABLE evaluations (
        run_id       text NOT NULL REFERENCES runs,
        version      integer NOT NULL,
        loss         double precision NOT NULL,
        evaluated_at bigint NOT NULL,
        PRIMARY KEY (run_id, version)
      );
    `,
  },
  {
    version: 2,
    name: 'evaluation jobs for scoring workers',
    sql: `
      CREATE TABLE evaluation_jobs (
        id          bigserial PRIMARY KEY,
        run_id      text NOT NULL REFERENCES runs,
        round       integer NOT NULL,
        kind        text NOT NULL,
        input_key   text NOT NULL,
        status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'abandoned')),
        worker      text,
        attempts    integer NOT NULL DEFAULT 0,
        lease_until bigint,
        result      bytea,
        error       text,
        created_at  bigint NOT NULL,
        finished_at bigint
      );
      CREATE INDEX evaluation_jobs_waiting ON evaluation_jobs (id) WHERE status IN ('queued', 'running');
    `,
  },
  {
    version: 3,
    name: "Gauntlet's round scores and the relay's shared key",
    sql: `
      CREATE TABLE round_scores (
        run_id text NOT NULL REFERENCES runs,
        round  integer NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (run_id, round)
      );
      -- No reference to runs: the key exists before the first replica creates the run.
      CREATE TABLE relay_keys (
        run_id     text PRIMARY KEY,
        format     integer NOT NULL,
        mnemonic   text NOT NULL,
        created_at bigint NOT NULL
      );
    `,
  },
];

/** Any lock key works as long as every replica uses the same one. */
const MIGRATION_LOCK = 0x7e55e4a;

/** Applies the steps the database lacks; returns the versions applied now. */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  const client = await pool.connect();
  try {
    for (const migration of migrations) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        // Under the lock: two replicas creating it at once would collide in the catalog.
        await client.query('CREATE TABLE IF NOT EXISTS tessera_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
        const done = await client.query('SELECT 1 FROM tessera_migrations WHERE version = $1', [migration.version]);
        if (done.rowCount === 0) {
          await client.query(migration.sql);
          await client.query('INSERT INTO tessera_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
          applied.push(migration.version);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
  } finally {
    client.release();
  }
  return applied;
}
