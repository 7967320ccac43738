// `npm run cluster -- [--replicas 3] [--port 8787] [--dir .tessera/cluster] [--blobs s3|directory] [relay flags…]`
// A deployment on this machine (local-cluster.ts): PostgreSQL from Debian's
// packages in a private directory (socket only, run as the postgres user when
// we are root), the S3 test server standing in for a bucket, N relay replicas
// and HAProxy in front, all on 127.0.0.1. Prints the balancer's URL (open it
// in a WebGPU browser, or point volunteers at it) and each replica's. With
// --scorers N, N scoring workers (npm run scorer) run the evaluations.
// Ctrl-C (or SIGTERM) stops everything in order and exits; the directory
// keeps the run, so the next start resumes it.
// Leaves out: more than one machine (docs/deploy.md).
import { resolve } from 'node:path';
import { choiceFlag, exitWhenStopped, integerFlag, parseCommandLine, runCli, UsageError } from '../node/cli.ts';
import { LocalCluster } from './local-cluster.ts';
import { PostgresUnavailableError } from './postgres-server.ts';

const USAGE = `usage: npm run cluster -- [--replicas 3] [--scorers 0] [--port 8787 (0: any free port)] [--dir .tessera/cluster] [--blobs s3|directory] [-- relay flags]
  relay flags go to every replica (npm run relay -- --help lists them), e.g. -- --quorum 8 --round-ms 60000`;

async function main(): Promise<'keep-running'> {
  const { values, positionals } = parseCommandLine(
    process.argv.slice(2),
    {
      replicas: { type: 'string', default: '3' },
      scorers: { type: 'string', default: '0' },
      port: { type: 'string', default: '8787' },
      dir: { type: 'string', default: '.tessera/cluster' },
      blobs: { type: 'string', default: 's3' },
    } as const,
    { positionals: true },
  );
  const replicas = integerFlag(values.replicas, 'replicas', 1)!;
  if (replicas > 16) throw new UsageError('--replicas: at most 16 on one machine');
  const dir = resolve(values.dir);
  let stopping: Promise<void> | null = null;
  let cluster: LocalCluster | null = null;
  const stop = (signal: string) => {
    if (stopping) return;
    console.log(`[cluster] ${signal}: stopping the balancer, ${replicas} relays, the bucket and the database…`);
    stopping = exitWhenStopped(cluster?.stop() ?? Promise.resolve(), () => console.log('[cluster] stopped'));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    cluster = await LocalCluster.start({
      dir,
      replicas,
      port: integerFlag(values.port, 'port', 0) || undefined, // 0: a free port
      blobs: choiceFlag(values.blobs, 'blobs', ['s3', 'directory'] as const),
      scorers: integerFlag(values.scorers, 'scorers', 0),
      relayArgs: positionals,
      onLine: (source, line) => console.log(`[${source}] ${line}`),
    });
  } catch (error) {
    if (error instanceof PostgresUnavailableError) throw new UsageError(error.message);
    throw error;
  }
  if (stopping) return 'keep-running'; // a signal arrived while starting: stop() is under way
  console.log(`Tessera cluster listening on ${cluster.url} (HAProxy, source affinity)`);
  cluster.relayPorts.forEach((_, i) => console.log(`  relay-${i}: ${cluster!.relayUrl(i)}`));
  console.log(`  PostgreSQL: ${cluster.postgres.connectionString}`);
  if (values.blobs === 's3') console.log(`  bucket: s3://tessera/cluster/ at ${cluster.s3Endpoint} (the S3 test server, a stand-in for a real bucket)`);
  console.log(`  processes: ${cluster.pids().join(' ')}`);
  console.log('  Ctrl-C stops them all.');
  return 'keep-running';
}

runCli(USAGE, main);
