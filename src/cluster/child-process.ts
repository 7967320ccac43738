// Child processes of a local cluster (relays, the S3 test server, HAProxy):
// started with their output collected, ready when a line matches, stopped by
// a signal with a wait for the exit. They stay in the cluster's process
// group, so a Ctrl-C at the terminal reaches every one of them directly and
// each stops by itself (relays finish in-flight work, PostgreSQL does a fast
// shutdown) even if the main process is gone first — the tsx launcher, for
// one, SIGKILLs its child when it does not acknowledge a signal within 30 ms,
// which a loaded machine can miss. SIGTERM to the main process alone stops
// them in order (cluster main.ts); and when the main process exits, `exit`
// SIGKILLs any child still running.
// Leaves out: restarts (the caller starts a new one).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root (for `node --import tsx src/…` children). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** The match of the ready pattern (empty when there was none). */
  readonly ready: RegExpExecArray | null;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM), waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface ChildOptions {
  env?: Record<string, string>;
  /** Resolves the start when a line of stdout or stderr matches; null: as soon as it is spawned (the caller probes). */
  ready: RegExp | null;
  timeoutMs?: number;
  /** Every line of output, as it comes (e.g. to the cluster's console). */
  onLine?: (line: string) => void;
}

export function startChild(name: string, command: string, args: string[], options: ChildOptions): Promise<Child> {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  let partial = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const handle = (match: RegExpExecArray | null): Child => ({
    name,
    process: child,
    pid: child.pid!,
    ready: match,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    },
  });
  return new Promise((resolve, reject) => {
    let ready: RegExpExecArray | null = null;
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready within ${options.timeoutMs ?? 120_000} ms:\n${output}`));
    }, options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (options.ready === null) {
      child.once('spawn', () => {
        started = true;
        clearTimeout(timer);
        resolve(handle(null));
      });
    }
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-200_000);
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) options.onLine?.(line);
      if (!started && options.ready) {
        ready = options.ready.exec(output);
        if (ready) {
          started = true;
          clearTimeout(timer);
          resolve(handle(ready));
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited (${code ?? child.signalCode}) before it was ready:\n${output}`));
    });
  });
}

/** A TCP port free on 127.0.0.1 right now (for configurations written before the server starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
