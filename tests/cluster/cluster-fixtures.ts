// Shared pieces of the cluster tier (not a test file): a local cluster
// (src/cluster/local-cluster.ts: PostgreSQL from Debian's packages in a
// private directory, the S3 test server, relay replicas as child processes,
// HAProxy) running the unit tier's small nano run, every output line kept
// per process, and helpers to post, wait, and read the database.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { LocalCluster, type LocalClusterOptions } from '../../src/cluster/local-cluster.ts';
import { hashToHex, modelHash, type HexHash } from '../../src/protocol/index.ts';
import { getBytes, getJson, post, relayNextParams, removeTempDirs, signedFrame, tempDir, updatePayload, walletFor } from '../unit/relay-fixtures.ts';

/**
 * The unit tier's run (relay-fixtures TEST_RUN) as relay flags, without
 * evaluation and with Gauntlet off: every acknowledged submission is
 * aggregated, so a test can compute the next model itself (a test turns
 * Gauntlet on with `--gauntlet on`; the last flag wins).
 */
export const TEST_RUN_ARGS = ['--run-id', 'relay-test', '--preset', 'nano', '--inner-steps', '2', '--batch-size', '2', '--seq-len', '32', '--dist', 'none', '--no-eval', '--gauntlet', 'off'];

export interface TestCluster {
  cluster: LocalCluster;
  /** Output lines per process name (relay-0, s3, haproxy…). */
  lines: Map<string, string[]>;
  /** The cluster's database (a pool: it reconnects after a database restart). */
  db: pg.Pool;
  stop(): Promise<void>;
}

/**
 * The clusters a test file starts, each stopped after its test (and the
 * temporary directories removed after the file); registers the hooks.
 */
export function clustersOfThisFile(): TestCluster[] {
  const clusters: TestCluster[] = [];
  beforeAll(async () => {
    await cryptoWaitReady();
  });
  afterEach(async () => {
    for (const test of clusters.splice(0)) await test.stop();
  });
  afterAll(() => removeTempDirs());
  return clusters;
}

export async function startTestCluster(
  label: string,
  options: Omit<LocalClusterOptions, 'dir'> & { relayArgs: string[]; evaluate?: boolean },
): Promise<TestCluster> {
  const lines = new Map<string, string[]>();
  const root = tempDir(label);
  chmodSync(root, 0o711); // mkdtemp's 0700 would keep the database's user out of its directory below
  const cluster = await LocalCluster.start({
    ...options,
    dir: join(root, 'cluster'),
    relayArgs: [...(options.evaluate ? TEST_RUN_ARGS.filter((a) => a !== '--no-eval') : TEST_RUN_ARGS), ...options.relayArgs],
    onLine: (source, line) => {
      if (!lines.has(source)) lines.set(source, []);
      lines.get(source)!.push(line);
    },
  });
  const db = new pg.Pool({ connectionString: cluster.postgres.connectionString, max: 2 });
  db.on('error', () => {}); // the database restart test drops idle connections too
  return {
    cluster,
    lines,
    db,
    async stop() {
      await db.end().catch(() => {});
      await cluster.stop();
    },
  };
}

/** "round closed" log lines for `round`, over every replica. */
export function closeLines(test: TestCluster, round: number): string[] {
  return [...test.lines.entries()].flatMap(([source, lines]) => lines.filter((l) => l.includes(`round closed round=${round} `)).map((l) => `${source}: ${l}`));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 90_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every listed replica's /api/round once all report `version`. */
export function waitForVersion(test: TestCluster, replicas: number[], version: number): Promise<{ round: number; version: number; modelHash: HexHash }[]> {
  return waitFor(`replicas ${replicas.join(', ')} at version ${version}`, async () => {
    const states = await Promise.all(replicas.map((i) => getJson(test.cluster.relayUrl(i), 'api/round')));
    return states.every((s) => s.version === version) ? states : null;
  });
}

export interface Contribution {
  address: string;
  payload: Uint8Array;
  frame: Uint8Array;
}

/** Signed submissions of wallets `ids` for the round a replica reports. */
export async function contributions(url: string, ids: number[]): Promise<Contribution[]> {
  const state = await getJson(url, 'api/round');
  return Promise.all(
    ids.map(async (id) => {
      const wallet = walletFor(id);
      const payload = updatePayload(id);
      return { address: wallet.address, payload, frame: await signedFrame({ wallet, round: state.round, version: state.version, modelHash: state.modelHash, payload }) };
    }),
  );
}

/** POST, retrying while the answer is transient 'unavailable' (503) — a database restart, say. */
export async function postUntilAnswered(url: string, frame: Uint8Array, attempts = 50): Promise<{ status: number; json: any }> {
  for (let i = 0; ; i++) {
    const answer = await post(url, frame).catch(() => null);
    if (answer && answer.status !== 503) return answer;
    if (i >= attempts) return answer ?? { status: 0, json: null };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function floatsOf(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** θ(v) from a replica, checked against the hash it names. */
export async function checkpointOf(url: string): Promise<Float32Array> {
  const { bytes, headers } = await getBytes(url, 'api/checkpoint');
  const params = floatsOf(bytes);
  if (hashToHex(modelHash(params)) !== headers.get('x-tessera-model-hash')) throw new Error('checkpoint does not match its hash');
  return params;
}

/** θ(v+1) as a relay that never crashed makes it from these submissions (the run's rule, its published 2-bit update). */
export function nextModel(theta: Float32Array, submissions: { address: string; payload: Uint8Array }[]): { params: Float32Array; hash: HexHash } {
  const params = relayNextParams(theta, submissions);
  return { params, hash: hashToHex(modelHash(params)) };
}
