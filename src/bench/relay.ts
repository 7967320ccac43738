// `npm run bench -- relay [--models nano] [--submissions 100,1000] [--stores file,postgres]
//                         [--replicas 1,3] [--in-flight 64] [--repeat 3] [--check-threads N]`
// The relay as a volunteer swarm feels it, per model preset, store, replica
// count and round size R. Every relay is the real CLI (src/relay/main.ts) in
// its own process, as deployed:
//   file      the embedded store (one process)
//   postgres  PostgreSQL in a private directory + the S3 test server as the
//             bucket + N replicas behind HAProxy (src/cluster/local-cluster.ts)
// The load comes from this process over node:http with keep-alive, `in_flight`
// requests at once, each virtual client from its own loopback address
// (127.0.0.2, .3, …) so HAProxy's source affinity spreads them as it would
// spread real clients. Payloads are real compressed updates (4 distinct
// residuals per model, reused across keys); every frame is signed before the
// clock starts. Each round (repeat) uses the same R keys on the next round.
//   ingest_per_s  R signed submissions / the time until the last
//                 acknowledgement: HTTP, framing, sr25519, payload hash,
//                 codec decode and the durable write before each answer
//   relay_cpu_ms  CPU time (user + system, all threads) the relay processes
//                 spent per submission during ingest: unlike ingest_per_s it
//                 barely depends on what else runs on the machine, so
//                 cores / relay_cpu_ms bounds the rate on an idle machine
//                 (the database's and the bucket's CPU are not in it)
//   close_ms      the close the R-th submission triggers (aggregate, outer
//                 step, model hash, durable writes, commit), as the closing
//                 replica reports it in /api/stats
//   stored_kb     what the round added to storage: the data directory (file),
//                 or the database plus the bucket's directory (postgres)
//   peak_rss_mb   the largest peak resident memory of the relay processes
// With --repeat n the figures are the median of n rounds and their range.
// Leaves out: evaluation (off: it runs after the close, not in it) and
// Gauntlet's scoring (off: `npm run bench -- gauntlet` measures it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import pg from 'pg';
import { startChild, type Child } from '../cluster/child-process.ts';
import { LocalCluster } from '../cluster/local-cluster.ts';
import { encodeUpdate } from '../compress/codec.ts';
import { compress, defaultCompressConfig } from '../compress/sparseloco.ts';
import { GPT_PRESETS, type GptPresetName } from '../model/config.ts';
import { buildLayout, type ParameterLayout } from '../model/layout.ts';
import { uniformFloats } from '../model/random.ts';
import { encodeHeader, encodeSubmission, hexToHash, payloadHash, SS58_PREFIX, type RoundState, type RoundStatus, type StatsBody } from '../protocol/index.ts';
import { printTable, round, type BenchOptions } from './report.ts';

/** A relay deployment under test: one file-store process, or a local cluster. */
interface Deployment {
  url: string;
  relayUrls: string[];
  pids(): number[];
  /** Bytes the deployment keeps on disk now. */
  storedBytes(): Promise<number>;
  stop(): Promise<void>;
}

const RUN_ARGS = (model: string, R: number, checkThreads: number | undefined) => [
  '--run-id', 'bench', '--preset', model, '--quorum', String(R), '--round-ms', '3600000', '--no-eval', '--dist', 'none', '--gauntlet', 'off',
  ...(checkThreads === undefined ? [] : ['--check-threads', String(checkThreads)]),
];

/** Bytes under `dir` (du: what the files occupy in blocks, as a disk would fill). */
function diskBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

async function fileDeployment(dir: string, model: string, R: number, checkThreads: number | undefined): Promise<Deployment> {
  const relay: Child = await startChild(
    'relay',
    process.execPath,
    [
      '--import', 'tsx', '--import', './src/node/register-wgsl.mjs', 'src/relay/main.ts',
      '--port', '0', '--data-dir', join(dir, 'relay'),
      ...RUN_ARGS(model, R, checkThreads),
    ],
    { ready: /listening on (http:\/\/127\.0\.0\.1:\d+\/)/ },
  );
  return {
    url: relay.ready![1],
    relayUrls: [relay.ready![1]],
    pids: () => [relay.pid],
    storedBytes: async () => diskBytes(join(dir, 'relay')),
    stop: () => relay.stop(),
  };
}

async function postgresDeployment(dir: string, model: string, R: number, replicas: number, checkThreads: number | undefined): Promise<Deployment> {
  const cluster = await LocalCluster.start({ dir, replicas, blobs: process.env.TESSERA_BENCH_BLOBS === 'directory' ? 'directory' : 's3', relayArgs: RUN_ARGS(model, R, checkThreads) });
  const client = new pg.Client({ connectionString: cluster.postgres.connectionString });
  await client.connect();
  return {
    url: cluster.url,
    relayUrls: cluster.relayPorts.map((_, i) => cluster.relayUrl(i)),
    pids: () => cluster.relays.flatMap((r) => (r ? [r.pid] : [])),
    storedBytes: async () => Number((await client.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n) + diskBytes(join(dir, process.env.TESSERA_BENCH_BLOBS === 'directory' ? 'blobs' : 'bucket')),
    stop: async () => {
      await client.end();
      await cluster.stop();
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms: /proc/<pid>/stat fields 14 and 15 (clock ticks). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** VmHWM (peak resident set) of a process, in MB; 0 if it is gone. */
function peakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function getJson<T>(url: string, path: string): Promise<T> {
  const response = await fetch(new URL(path, url));
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return (await response.json()) as T;
}

/** POSTs every frame, `inFlight` at a time, client i from 127.0.0.(2 + i mod 200); resolves with the statuses and the first refusal's body. */
export async function postAll(url: string, frames: Uint8Array[], inFlight: number): Promise<{ statuses: number[]; refusal: string | null }> {
  let refusal: string | null = null;
  const target = new URL('api/submissions', url);
  const agents = new Map<string, Agent>();
  const agentFor = (address: string) => {
    let agent = agents.get(address);
    if (!agent) agents.set(address, (agent = new Agent({ keepAlive: true, maxSockets: inFlight })));
    return agent;
  };
  const statuses: number[] = new Array(frames.length);
  let next = 0;
  const worker = async () => {
    while (next < frames.length) {
      const i = next++;
      const localAddress = `127.0.0.${2 + (i % 200)}`;
      statuses[i] = await new Promise<number>((resolve, reject) => {
        const req = request(
          target,
          { method: 'POST', agent: agentFor(localAddress), localAddress, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': frames[i].length } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              if (res.statusCode !== 200) refusal ??= Buffer.concat(chunks).toString().slice(0, 300);
              resolve(res.statusCode ?? 0);
            });
          },
        );
        req.on('error', reject);
        req.end(frames[i]);
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(inFlight, frames.length) }, worker));
  } finally {
    for (const agent of agents.values()) agent.destroy();
  }
  return { statuses, refusal };
}

/** Frames for the open round, signed as a tab signs them, for a run with the default H = 15, B = 8, T = block size. */
export function benchFrames(pairs: readonly KeyringPair[], state: RoundState, payloads: readonly Uint8Array[], model: GptPresetName): Uint8Array[] {
  return pairs.map((pair, i) => {
    const payload = payloads[i % payloads.length];
    const headerBytes = encodeHeader({
      runId: 'bench',
      round: state.round,
      baseModelVersion: state.version,
      baseModelHash: hexToHash(state.modelHash),
      payloadHash: payloadHash(payload),
      payloadBytes: payload.length,
      address: pair.address,
      innerSteps: 15,
      tokens: 15 * 8 * GPT_PRESETS[model].blockSize,
      clientVersion: 'tessera-bench/relay',
    });
    return encodeSubmission({ headerBytes, signature: pair.sign(u8aWrapBytes(headerBytes)) }, payload);
  });
}

/** n sr25519 keys from the seeds 1..n (the tests' wallets use the same). */
export function benchKeys(n: number): KeyringPair[] {
  const keyring = new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX });
  return Array.from({ length: n }, (_, i) => keyring.addFromUri(`0x${(i + 1).toString(16).padStart(64, '0')}`));
}

/** A real compressed update of residual-like values (uniform in ±1e-3, from `seed`). */
export function benchPayload(layout: ParameterLayout, seed: number): Uint8Array {
  return encodeUpdate(compress(uniformFloats(layout.size, seed, 1e-3), layout.tensors, defaultCompressConfig), layout.tensors, defaultCompressConfig);
}

/** Four real compressed updates of the preset (distinct residual-like random values). */
export function benchPayloads(model: GptPresetName): Uint8Array[] {
  const layout = buildLayout(GPT_PRESETS[model]);
  return [1, 2, 3, 4].map((seed) => benchPayload(layout, seed));
}

/** Median and range of `values`, e.g. "1021 (954–1100)". */
function spread(values: number[], digits = 0): { median: number; range: string } {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const f = (v: number) => v.toFixed(digits);
  return { median: round(median, digits), range: sorted.length > 1 ? `${f(sorted[0])}–${f(sorted[sorted.length - 1])}` : '' };
}

export async function benchRelay(options: BenchOptions) {
  await cryptoWaitReady();
  const models = options.models ?? ['nano'];
  const counts = options.submissions ?? [100, 1000];
  const stores = options.stores ?? ['file', 'postgres'];
  const replicaCounts = options.replicas ?? [1, 3];
  const inFlight = options.inFlight ?? 64;
  const repeat = options.repeat ?? 3;
  const pairs = benchKeys(Math.max(...counts));
  const rows = [];
  for (const model of models) {
    const payloads = benchPayloads(model);
    for (const store of stores) {
      for (const replicas of store === 'file' ? [1] : replicaCounts) {
        for (const R of counts) {
          const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-relay-'));
          const deployment =
            store === 'file' ? await fileDeployment(dir, model, R, options.checkThreads) : await postgresDeployment(dir, model, R, replicas, options.checkThreads);
          try {
            const ingest: number[] = [];
            const cpu: number[] = [];
            const closes: number[] = [];
            const stored: number[] = [];
            for (let r = 0; r < repeat; r++) {
              const state = await getJson<RoundStatus>(deployment.url, 'api/round');
              const frames = benchFrames(pairs.slice(0, R), state, payloads, model);
              const before = await deployment.storedBytes();
              const cpuBefore = deployment.pids().reduce((sum, pid) => sum + cpuMs(pid), 0);
              const started = performance.now();
              const { statuses, refusal } = await postAll(deployment.url, frames, inFlight);
              const seconds = (performance.now() - started) / 1000;
              cpu.push((deployment.pids().reduce((sum, pid) => sum + cpuMs(pid), 0) - cpuBefore) / R);
              const refused = statuses.filter((s) => s !== 200);
              if (refused.length) throw new Error(`${refused.length} of ${R} bench submissions were refused (statuses ${[...new Set(refused)].join(', ')}; first: ${refusal})`);
              // Every replica follows the close; the closer's /api/stats has its duration.
              let closeMs: number | null = null;
              for (let i = 0; i < 6000 && closeMs === null; i++) {
                for (const url of deployment.relayUrls) {
                  const stats = await getJson<StatsBody>(url, 'api/stats');
                  const closed = stats.rounds.find((x) => x.round === state.round);
                  if (closed?.closeMs != null) closeMs = closed.closeMs;
                }
                if (closeMs === null) await new Promise((resolve) => setTimeout(resolve, 10));
              }
              if (closeMs === null) throw new Error('the round did not close');
              // The next round's frames are signed for what the balancer answers: every replica must have followed the close.
              for (const url of deployment.relayUrls) {
                for (let i = 0; (await getJson<RoundState>(url, 'api/round')).round <= state.round; i++) {
                  if (i >= 6000) throw new Error(`${url} did not follow the close of round ${state.round}`);
                  await new Promise((resolve) => setTimeout(resolve, 10));
                }
              }
              ingest.push(R / seconds);
              closes.push(closeMs);
              stored.push((await deployment.storedBytes()) - before);
            }
            const ingestSpread = spread(ingest);
            const closeSpread = spread(closes);
            rows.push({
              model,
              store,
              replicas,
              submissions: R,
              in_flight: Math.min(inFlight, R),
              ingest_per_s: ingestSpread.median,
              ingest_range: ingestSpread.range,
              relay_cpu_ms: spread(cpu, 2).median,
              close_ms: closeSpread.median,
              close_range: closeSpread.range,
              stored_kb: round(spread(stored).median / 1024, 0),
              peak_rss_mb: round(Math.max(...deployment.pids().map(peakRssMb)), 0),
            });
          } finally {
            await deployment.stop();
            rmSync(dir, { recursive: true, force: true });
          }
        }
      }
    }
  }
  printTable(`relay: ingest (HTTP, verify, decode, durable write) and round close; median of ${repeat} rounds (range)`, rows);
  return { bench: 'relay', rows };
}
