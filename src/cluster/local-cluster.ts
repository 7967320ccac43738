// A whole deployment on one machine, for `npm run cluster`, the cluster tests
// and the bench: PostgreSQL in a private directory (postgres-server.ts), the
// S3 test server standing in for a bucket (s3-test-server.ts), N relay
// replicas as child processes sharing both, HAProxy in front of them, and
// optionally scoring workers — everything on 127.0.0.1.
//
// HAProxy balances by source address (`balance source`, consistent hashing),
// so one client always reaches the same replica: per-IP rate limits stay
// meaningful, and a tab's pending ledger entries are on the replica it asks.
// It forwards the client's address in X-Forwarded-For (the relays run with
// --trust-proxy), health-checks /api/health every second and takes a dead
// replica out within two failed checks (its clients move to another one).
// Why HAProxy and not a Node round-robin: source affinity, health checks,
// WebSocket tunnelling and connection limits are what it does, and it is the
// proxy an operator would put in front anyway.
//
// Leaves out: TLS (docs/deploy.md puts a TLS proxy in front), more than one
// machine.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startChild, type Child } from './child-process.ts';
import { PrivatePostgres } from './postgres-server.ts';

export interface LocalClusterOptions {
  /** A private working directory: database, bucket, relay data, HAProxy configuration. */
  dir: string;
  replicas: number;
  /** Blobs in the S3 test server (default) or a directory every replica shares. */
  blobs?: 's3' | 'directory';
  /** HAProxy in front (default true). */
  balancer?: boolean;
  /** The balancer's port (default: a free one). */
  port?: number;
  /** Run and relay flags for every replica (src/relay/main.ts), e.g. ['--quorum', '3']. */
  relayArgs?: string[];
  /** More flags for replica i only (replicaArgs[i]). */
  replicaArgs?: string[][];
  /** Extra environment for the relays (e.g. a failpoint). */
  relayEnv?: Record<string, string>;
  /** Scoring workers (npm run scorer) to start; the relays then evaluate through them (--scoring workers). */
  scorers?: number;
  /** Every output line of every process, with its name. */
  onLine?: (source: string, line: string) => void;
}

/** Credentials s3rver documents for its signed requests (it does not check them). */
export const S3_TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
export const S3_TEST_BUCKET = 'tessera';

const TSX = ['--import', 'tsx'];

export class LocalCluster {
  readonly relays: (Child | null)[];
  readonly scorers: (Child | null)[];
  private s3: Child | null = null;
  private balancer: Child | null = null;

  private constructor(
    readonly options: LocalClusterOptions,
    readonly postgres: PrivatePostgres,
    readonly relayPorts: number[],
    readonly s3Port: number,
    readonly balancerPort: number,
  ) {
    this.relays = relayPorts.map(() => null);
    this.scorers = Array.from({ length: options.scorers ?? 0 }, () => null);
  }

  /** Starts database, bucket, replicas and balancer; on any failure stops what started. */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    mkdirSync(options.dir, { recursive: true });
    // The database runs as another user (postgres-server.ts): it must be able to pass through to its own directory.
    chmodSync(options.dir, 0o711);
    const postgres = await PrivatePostgres.start(join(options.dir, 'postgres'));
    const ports = await Promise.all(Array.from({ length: options.replicas }, () => freePort()));
    const cluster = new LocalCluster(options, postgres, ports, await freePort(), options.port ?? (await freePort()));
    try {
      if ((options.blobs ?? 's3') === 's3') await cluster.startS3();
      // The first replica creates the run; the others find it (they would agree anyway: genesis is deterministic).
      await cluster.startRelay(0);
      await Promise.all(ports.slice(1).map((_, i) => cluster.startRelay(i + 1)));
      if (options.balancer ?? true) await cluster.startBalancer();
      await Promise.all(cluster.scorers.map((_, i) => cluster.startScorer(i)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The balancer's URL, or the first replica's without one. */
  get url(): string {
    return this.balancer ? `http://127.0.0.1:${this.balancerPort}/` : this.relayUrl(0);
  }

  relayUrl(i: number): string {
    return `http://127.0.0.1:${this.relayPorts[i]}/`;
  }

  get s3Endpoint(): string {
    return `http://127.0.0.1:${this.s3Port}`;
  }

  /** Every process of the cluster that is running (the database's postmaster included). */
  pids(): number[] {
    const children = [this.s3, this.balancer, ...this.relays, ...this.scorers].filter((c): c is Child => c !== null && c.process.exitCode === null && c.process.signalCode === null);
    return [...children.map((c) => c.pid), ...(this.postgres.pid ? [this.postgres.pid] : [])];
  }

  private line(source: string) {
    return (line: string) => this.options.onLine?.(source, line);
  }

  async startS3(): Promise<void> {
    const dir = join(this.options.dir, 'bucket');
    mkdirSync(dir, { recursive: true });
    this.s3 = await startChild('s3', process.execPath, [...TSX, 'src/cluster/s3-test-server.ts', '--dir', dir, '--port', String(this.s3Port), '--bucket', S3_TEST_BUCKET], {
      ready: /s3 test server listening/,
      onLine: this.line('s3'),
    });
  }

  /** Stops the S3 test server: a bucket outage. */
  async stopS3(): Promise<void> {
    await this.s3?.stop('SIGTERM');
    this.s3 = null;
  }

  private blobArgs(): string[] {
    if ((this.options.blobs ?? 's3') === 'directory') return ['--blobs', join(this.options.dir, 'blobs')];
    return ['--blobs', `s3://${S3_TEST_BUCKET}/cluster/`, '--s3-endpoint', this.s3Endpoint, '--s3-path-style'];
  }

  /** Starts replica i (again, after killRelay); `env` adds to the relays' environment for this one. */
  async startRelay(i: number, env: Record<string, string> = {}): Promise<Child> {
    const dataDir = join(this.options.dir, `relay-${i}`);
    mkdirSync(dataDir, { recursive: true });
    const args = [
      ...TSX,
      '--import', './src/node/register-wgsl.mjs',
      'src/relay/main.ts',
      '--host', '127.0.0.1',
      '--port', String(this.relayPorts[i]),
      '--data-dir', dataDir,
      '--store', 'postgres',
      '--database', this.postgres.connectionString,
      '--replica', `relay-${i}`,
      ...this.blobArgs(),
      ...(this.options.balancer ?? true ? ['--trust-proxy'] : []),
      ...(this.scorers.length > 0 ? ['--scoring', 'workers'] : []),
      ...(this.options.relayArgs ?? []),
      ...(this.options.replicaArgs?.[i] ?? []),
    ];
    const relay = await startChild(`relay-${i}`, process.execPath, args, {
      ready: /listening on (http:\/\/127\.0\.0\.1:\d+\/)/,
      env: { ...S3_TEST_CREDENTIALS, ...this.options.relayEnv, ...env },
      onLine: this.line(`relay-${i}`),
    });
    this.relays[i] = relay;
    return relay;
  }

  /** Starts scoring worker i (again, after stopScorer). */
  async startScorer(i: number): Promise<Child> {
    const args = [...TSX, '--import', './src/node/register-wgsl.mjs', 'src/relay/scorer-main.ts', '--database', this.postgres.connectionString, '--worker', `scorer-${i}`, ...this.blobArgs()];
    const scorer = await startChild(`scorer-${i}`, process.execPath, args, { ready: /scoring worker \S+ taking jobs/, env: S3_TEST_CREDENTIALS, onLine: this.line(`scorer-${i}`) });
    this.scorers[i] = scorer;
    return scorer;
  }

  async stopScorer(i: number): Promise<void> {
    await this.scorers[i]?.stop('SIGTERM');
    this.scorers[i] = null;
  }

  /** kill -9 of replica i. */
  async killRelay(i: number): Promise<void> {
    await this.relays[i]?.stop('SIGKILL');
    this.relays[i] = null;
  }

  private async startBalancer(): Promise<void> {
    const config = join(this.options.dir, 'haproxy.cfg');
    writeFileSync(config, haproxyConfig(this.balancerPort, this.relayPorts));
    this.balancer = await startChild('haproxy', '/usr/sbin/haproxy', ['-db', '-f', config], { ready: null, onLine: this.line('haproxy') });
    // Ready when it answers through to a replica.
    const started = Date.now();
    for (;;) {
      const ok = await fetch(new URL('api/health', this.url)).then((r) => r.ok, () => false);
      if (ok) return;
      if (this.balancer.process.exitCode !== null) throw new Error(`haproxy exited:\n${this.balancer.output()}`);
      if (Date.now() - started > 30_000) throw new Error(`haproxy did not answer within 30 s:\n${this.balancer.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops everything in order: balancer, replicas (they finish in-flight work), bucket, database. */
  async stop(): Promise<void> {
    await this.balancer?.stop('SIGTERM', 5_000);
    this.balancer = null;
    await Promise.all(this.relays.map((relay) => relay?.stop('SIGTERM')));
    this.relays.fill(null);
    await Promise.all(this.scorers.map((scorer) => scorer?.stop('SIGTERM')));
    this.scorers.fill(null);
    await this.stopS3();
    await this.postgres.stop();
  }
}

/** HAProxy 2.6: source affinity, health checks, X-Forwarded-For, WebSocket tunnels (see the file header). */
export function haproxyConfig(port: number, relayPorts: number[]): string {
  return `# Written by src/cluster/local-cluster.ts for one local cluster.
global
  maxconn 4096

defaults
  mode http
  option forwardfor
  option http-server-close
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  # A WebSocket push channel stays open between pings (the relay pings every 30 s).
  timeout tunnel 1h

frontend tessera
  bind 127.0.0.1:${port}
  default_backend relays

backend relays
  balance source
  hash-type consistent
  option httpchk GET /api/health
  http-check expect status 200
${relayPorts.map((p, i) => `  server relay-${i} 127.0.0.1:${p} check inter 1s fall 2 rise 1`).join('\n')}
`;
}
