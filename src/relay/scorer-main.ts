// `npm run scorer -- --database postgresql://… [--blobs DIR|s3://BUCKET/PREFIX …] [--worker NAME]`:
// one scoring worker (scoring-worker.ts). It takes evaluation jobs of every
// run in the database, runs them and writes the results back; start as many
// as there are cores to spare, on any machine that reaches the database and
// the blob store (the same --blobs and S3 flags as the relays). SIGINT or
// SIGTERM: finish the job in hand, then exit.
// Leaves out: the jobs themselves (scoring-worker.ts).
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import pg from 'pg';
import { choiceFlag, integerFlag, parseCommandLine, runCli } from '../node/cli.ts';
import { openBlobs } from './blob-settings.ts';
import type { BlobStore } from './blob-store.ts';
import { jsonLogger, lineLogger } from './log.ts';
import { migrate } from './postgres-schema.ts';
import { ScoringJobs } from './scoring-queue.ts';
import { workLoop } from './scoring-worker.ts';
import { blobSettings, STORE_FLAGS } from './store-flags.ts';

const USAGE = `usage: npm run scorer -- --database postgresql://… [options]
  --blobs DIR|s3://BUCKET/PREFIX  --s3-endpoint URL  --s3-region us-east-1  --s3-path-style
  --data-dir .tessera/relay (where a directory of blobs defaults to, as for the relay)
  --worker NAME (default host:pid)  --lease-ms 120000  --log-format text|json  --help`;

async function main(): Promise<'keep-running'> {
  const { values } = parseCommandLine(process.argv.slice(2), {
    database: STORE_FLAGS.database,
    blobs: STORE_FLAGS.blobs,
    's3-endpoint': STORE_FLAGS['s3-endpoint'],
    's3-region': STORE_FLAGS['s3-region'],
    's3-path-style': STORE_FLAGS['s3-path-style'],
    'data-dir': { type: 'string', default: '.tessera/relay' },
    worker: { type: 'string' },
    'lease-ms': { type: 'string' },
    'log-format': { type: 'string', default: 'text' },
  } as const);
  const worker = values.worker ?? `${hostname()}:${process.pid}`;
  const logger = choiceFlag(values['log-format'], 'log-format', ['text', 'json'] as const) === 'json' ? jsonLogger({ worker }) : lineLogger((line) => console.log(line), '[scorer] ');
  const settings = blobSettings({ ...values, store: 'postgres', 'blob-redirect': 'none' });
  const pool = new pg.Pool({ connectionString: values.database, max: 2 });
  pool.on('error', (error) => logger.warn({ reason: error.message }, 'postgres: an idle connection was lost'));
  await migrate(pool);
  const blobs = new Map<string, BlobStore>();
  const blobsFor = (runId: string) => {
    let store = blobs.get(runId);
    if (!store) blobs.set(runId, (store = openBlobs(settings, resolve(values['data-dir']), runId)));
    return store;
  };
  const stop = new AbortController();
  const loop = workLoop(
    { jobs: new ScoringJobs(pool, blobsFor, worker), blobsFor, logger, leaseMs: integerFlag(values['lease-ms'], 'lease-ms', 1000) ?? 120_000, idleMs: 200 },
    stop.signal,
  );
  console.log(`Tessera scoring worker ${worker} taking jobs`);
  const shutdown = (signal: string) => {
    if (stop.signal.aborted) process.exit(1); // a second signal does not wait
    logger.info({ signal }, 'finishing the job in hand');
    stop.abort();
    void loop.finally(async () => {
      await pool.end().catch(() => {});
      for (const store of blobs.values()) await store.close();
      process.exit(0);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  return 'keep-running';
}

runCli(USAGE, main);
