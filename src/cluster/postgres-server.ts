// A private PostgreSQL server for tests, benches and `npm run cluster`:
// Debian's PostgreSQL binaries (apt-get install postgresql), a cluster made
// by initdb in a directory of our own, listening on a Unix socket in that
// directory only (listen_addresses = '': no TCP port, so it never collides
// with Debian's own cluster on 5432 or another test's).
//
// initdb and postgres refuse to run as root. As root we run both as the
// `postgres` system user (the package creates it) through spawn's uid/gid, so
// there is no wrapper process between us and the server: signals reach it
// directly and nothing is left behind. The server runs in the foreground as
// our child (not daemonized through pg_ctl), so stopping the parent's process
// group stops it too.
//
// Settings: fsync on (the durability tests mean it), synchronous_commit on.
//
// Leaves out: TCP, passwords (trust over a private socket), replication.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const POSTGRES_USER = 'tessera';
export const POSTGRES_DATABASE = 'tessera';

/** The newest PostgreSQL under /usr/lib/postgresql/<major>/bin (Debian's layout), or null. */
export function findPostgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
  for (const major of majors) if (existsSync(join(root, major, 'bin', 'postgres'))) return join(root, major, 'bin');
  return null;
}

/** uid/gid of the `postgres` system user when we are root (initdb refuses root), else nothing to change. */
function runAs(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as (apt-get install postgresql creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export class PostgresUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PostgresUnavailableError';
  }
}

export class PrivatePostgres {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(
    /** Holds data/ and the socket; writable by the server's user. */
    readonly dir: string,
    private readonly bin: string,
  ) {}

  /** `postgresql:///tessera?host=<dir>&user=tessera`: what pg and psql take. */
  get connectionString(): string {
    return `postgresql:///${POSTGRES_DATABASE}?host=${encodeURIComponent(this.dir)}&user=${POSTGRES_USER}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Creates the cluster in `dir` (unless it exists), starts it, and creates the database. */
  static async start(dir: string): Promise<PrivatePostgres> {
    const bin = findPostgresBin();
    if (!bin) throw new PostgresUnavailableError('PostgreSQL is not installed: apt-get install -y postgresql (Debian), or set up one and pass --database');
    const server = new PrivatePostgres(dir, bin);
    const user = runAs();
    mkdirSync(dir, { recursive: true });
    if ('uid' in user) chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
    if (!existsSync(join(dir, 'data', 'PG_VERSION'))) {
      const init = spawnSync(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', POSTGRES_USER, '--no-sync', '-E', 'UTF8', '--locale', 'C'], {
        ...user,
        encoding: 'utf8',
      });
      if (init.status !== 0) {
        const hint = 'uid' in user ? ` (as root, ${dir} and every directory above it must be traversable by the postgres user)` : '';
        throw new PostgresUnavailableError(`initdb failed (${init.status})${hint}: ${init.stderr || init.stdout}`);
      }
    }
    await server.run();
    const client = new pg.Client({ connectionString: server.connectionString.replace(`/${POSTGRES_DATABASE}?`, '/postgres?') });
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [POSTGRES_DATABASE]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${POSTGRES_DATABASE}`);
    } finally {
      await client.end();
    }
    return server;
  }

  /** Starts the server process and waits until it accepts connections. */
  async run(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      join(this.bin, 'postgres'),
      ['-D', join(this.dir, 'data'), '-c', 'listen_addresses=', '-c', `unix_socket_directories=${this.dir}`, '-c', 'max_connections=200', '-c', 'fsync=on'],
      { ...runAs(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.output = '';
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = null;
    });
    const started = Date.now();
    for (;;) {
      if (this.child !== child) throw new PostgresUnavailableError(`postgres exited while starting:\n${this.output}`);
      const probe = new pg.Client({ connectionString: this.connectionString.replace(`/${POSTGRES_DATABASE}?`, '/postgres?') });
      try {
        await probe.connect();
        await probe.end();
        return;
      } catch {
        await probe.end().catch(() => {});
      }
      if (Date.now() - started > 60_000) throw new PostgresUnavailableError(`postgres did not accept connections within 60 s:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit) and wait for the exit. */
  async stop(): Promise<void> {
    this.child?.kill('SIGINT');
    await this.exited;
  }

  /** Stops and starts the server (a database restart). */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  log(): string {
    return this.output;
  }
}
