// `npm run cluster` stops cleanly: Ctrl-C at a terminal (SIGINT to the whole
// foreground process group) and SIGTERM to its main process alone both end
// every process it started — PostgreSQL, the S3 test server, the relays,
// HAProxy — with no orphan left, and PostgreSQL shut down cleanly (its
// postmaster.pid removed).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, removeTempDirs, tempDir } from '../unit/relay-fixtures.ts';
import { TEST_RUN_ARGS } from './cluster-fixtures.ts';

afterAll(() => removeTempDirs());

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Processes whose command line mentions `text` (our cluster's directory). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function runCluster(label: string, stop: (main: number) => void): Promise<{ pids: number[]; dir: string; output: string; code: number | null }> {
  const root = tempDir(label);
  chmodSync(root, 0o711);
  const dir = join(root, 'cluster');
  // detached: its own process group, as a job a terminal runs in the foreground.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './src/node/register-wgsl.mjs', 'src/cluster/main.ts', '--replicas', '2', '--port', '0', '--dir', dir, '--', ...TEST_RUN_ARGS],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ url: string; pids: number[] }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /Tessera cluster listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      const pids = /processes: ([\d ]+)\n/.exec(output);
      if (url && pids) resolve({ url: url[1], pids: pids[1].trim().split(' ').map(Number) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`the cluster exited (${code}) before it was ready:\n${output}`)));
  });
  try {
    const { url, pids } = await ready;
    expect((await fetch(new URL('api/health', url))).status).toBe(200);
    expect(pids.every(alive)).toBe(true);
    stop(child.pid!);
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 90_000))]);
    if (code === 'timeout') throw new Error(`the cluster did not exit within 90 s:\n${output}`);
    return { pids: [child.pid!, ...pids], dir, output, code };
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
}

async function expectNothingLeft(run: { pids: number[]; dir: string }): Promise<void> {
  // Children are reaped by their parents as those exit; give the last ones a moment.
  for (let i = 0; i < 100 && (run.pids.some(alive) || processesMentioning(run.dir).length > 0); i++) await new Promise((r) => setTimeout(r, 100));
  expect(run.pids.filter(alive)).toEqual([]);
  expect(processesMentioning(run.dir)).toEqual([]);
  expect(existsSync(join(run.dir, 'postgres', 'data', 'postmaster.pid'))).toBe(false); // a clean shutdown removes it
}

describe('npm run cluster', () => {
  it('stops every process on Ctrl-C', async () => {
    const run = await runCluster('cli-int', (main) => process.kill(-main, 'SIGINT'));
    await expectNothingLeft(run);
  }, 300_000);

  it('stops every process, in order, on SIGTERM to its main process', async () => {
    const run = await runCluster('cli-term', (main) => process.kill(main, 'SIGTERM'));
    expect(run.code).toBe(0);
    expect(run.output).toContain('[cluster] stopped');
    await expectNothingLeft(run);
  }, 300_000);
});
