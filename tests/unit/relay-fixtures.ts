// Shared pieces of the relay tests (not a test file itself): a small run on the
// nano model, real compressed updates, frames signed through the test wallet
// (which signs exactly like the extension), a loose header encoder for
// hostile headers the protocol module refuses to build, HTTP helpers, and a
// relay started as a child process (so `kill -9` hits the real thing).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggregateUpdates, applyAggregate, emptyAggregate } from '../../src/compress/aggregate.ts';
import { decodePublishedAggregate, decodeUpdate, encodePublishedAggregate, encodeUpdate } from '../../src/compress/codec.ts';
import { ensureDataset } from '../../src/data/prepare.ts';
import { batchFor } from '../../src/data/sampler.ts';
import { createGptReference, gptBackward, gptForward, gptZeroGrad } from '../../src/model/gpt-reference.ts';
import { samplerSeed } from '../../src/protocol/index.ts';
import { compress, defaultCompressConfig } from '../../src/compress/sparseloco.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { buildLayout } from '../../src/model/layout.ts';
import { mulberry32 } from '../../src/model/random.ts';
import {
  encodeSubmission,
  hexToHash,
  payloadHash,
  signHeader,
  SUBMISSION_DOMAIN,
  type HexHash,
  type SubmissionHeader,
} from '../../src/protocol/index.ts';
import { buildRunConfig, type RelayOptionsInput, type RunConfigInput } from '../../src/relay/config.ts';
import { launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { createTestWallet, type TestWallet } from '../support/test-wallet.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The tests' run: nano with small B, T and H (the machine is slow and shared). */
export const TEST_RUN: Omit<RunConfigInput, 'data'> = {
  runId: 'relay-test',
  preset: 'nano',
  innerSteps: 2,
  // Time-boxed rounds of at most 4 steps: a volunteer whose deadline is far away stops at 4.
  stepRange: { min: 1, max: 4 },
  plannedRounds: 50,
  train: { batchSize: 2, seqLen: 32, warmupSteps: 0, learningRate: 3e-3 },
  evaluation: { batchSize: 4, seqLen: 64, batches: 2 },
};

export const NANO_LAYOUT = buildLayout(GPT_PRESETS.nano);
export const COMPRESSION = defaultCompressConfig;

const tempDirs: string[] = [];

/** A fresh temporary directory for one relay's data (removed by removeTempDirs). */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${label}-`));
  tempDirs.push(dir);
  return dir;
}

/** Deletes every directory tempDir made in this test file (call from afterAll, after the relays stopped). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A relay in this process on 127.0.0.1, a free port, no app, no evaluation unless asked; TEST_RUN (Gauntlet on) unless another run is given. */
export function startTestRelay(
  dataDir: string,
  relay: RelayOptionsInput = {},
  extra: { evaluate?: boolean; now?: () => number; log?: (m: string) => void; run?: Omit<RunConfigInput, 'data'> } = {},
): Promise<RelayServer> {
  return launchRelay({
    dataDir,
    port: 0,
    distDir: null,
    run: extra.run ?? TEST_RUN,
    relay: { roundMs: 600_000, quorum: 1000, ...relay },
    evaluate: extra.evaluate ?? false,
    now: extra.now,
    log: extra.log,
  });
}

/** Deterministic pseudo-random residual in [−scale, scale) over the tensors (padding stays 0). */
export function residual(seed: number, scale = 1e-3): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(NANO_LAYOUT.size);
  for (const t of NANO_LAYOUT.tensors) {
    for (let i = t.offset; i < t.offset + t.size; i++) out[i] = (random() * 2 - 1) * scale;
  }
  return out;
}

/**
 * The payload an honest tab of TEST_RUN would send for `round` from θ(version):
 * `steps` sign-gradient steps (AdamW's first steps are ≈ lr·sign(g)) of the CPU
 * reference model on the address's assigned batches, Δ = θ − θ_local, then
 * top-k + 2-bit. Not the GPU inner loop, but trained on exactly the data
 * Gauntlet checks, so it lowers the loss like an honest update (scale −1:
 * raises it).
 */
export function trainedPayload(address: string, round: number, version: number, theta: Float32Array, options: { scale?: number; runSeed?: HexHash } = {}): Uint8Array {
  const runSeed = options.runSeed ?? DEFAULT_RUN_SEED;
  const scale = options.scale ?? 1; // −1: the sign-flipped update of an attacker who trained and sends the opposite
  const { batchSize: B, seqLen: T } = TEST_RUN.train as { batchSize: number; seqLen: number };
  const H = TEST_RUN.innerSteps!;
  const data = ensureDataset().train;
  const model = createGptReference(GPT_PRESETS.nano, theta.slice());
  const seed = samplerSeed(runSeed, address, round);
  for (let i = 0; i < H; i++) {
    const batch = batchFor(data, seed, version * H + i, B, T);
    gptZeroGrad(model);
    gptForward(model, batch.inputs, batch.targets, B, T);
    gptBackward(model);
    for (const t of NANO_LAYOUT.tensors) for (let j = t.offset; j < t.offset + t.size; j++) model.params[j] -= 3e-3 * Math.sign(model.grads[j]);
  }
  const delta = theta.map((v, j) => scale * (v - model.params[j]));
  return encodeUpdate(compress(delta, NANO_LAYOUT.tensors, COMPRESSION), NANO_LAYOUT.tensors, COMPRESSION);
}

/** The relay's default run seed (src/relay/config.ts). */
export const DEFAULT_RUN_SEED = `0x${'00'.repeat(31)}01` as const;

/**
 * θ(v+1) as the test run's relay makes it from θ(v) and these submissions
 * (each of the default 2 steps unless it says): its aggregation rule and token
 * weights, its published form, and the update those bytes decode to. With
 * Gauntlet on, pass the submissions its receipt says it aggregated.
 */
export function relayNextParams(theta: Float32Array, submissions: { address: string; payload: Uint8Array; tokens?: number }[], run: Omit<RunConfigInput, 'data'> = TEST_RUN): Float32Array {
  const manifest = NANO_LAYOUT.tensors;
  const config = buildRunConfig({ ...run, data: { name: '', trainUrl: '', trainBytes: 1, trainSha256: '', valBytes: 1, valSha256: '' } });
  // No submission (Gauntlet selected none): the empty aggregate, which changes nothing.
  const aggregate = submissions.length
    ? aggregateUpdates(
        submissions.map((s) => ({ id: s.address, update: decodeUpdate(s.payload, manifest, COMPRESSION), tokens: s.tokens ?? 128 })),
        manifest,
        COMPRESSION,
        config.aggregation,
      )
    : emptyAggregate(manifest);
  const published = encodePublishedAggregate(aggregate, config.update, manifest, COMPRESSION);
  const next = theta.slice();
  applyAggregate(next, decodePublishedAggregate(published, manifest, COMPRESSION), manifest, config.outerLearningRate);
  return next;
}

/** A valid update payload for the nano model (what a tab's compressor would send). */
export function updatePayload(seed: number): Uint8Array {
  return encodeUpdate(compress(residual(seed), NANO_LAYOUT.tensors, COMPRESSION), NANO_LAYOUT.tensors, COMPRESSION);
}

/** A key for test i, from a 32-byte seed (fast: no derivation path). */
export function walletFor(i: number): TestWallet {
  return createTestWallet({ uri: `0x${(i + 1).toString(16).padStart(64, '0')}` });
}

export interface FrameParts {
  wallet: TestWallet;
  round: number;
  version: number;
  modelHash: HexHash;
  payload: Uint8Array;
  runId?: string;
  innerSteps?: number;
  tokens?: number;
}

export function headerFor(parts: Omit<FrameParts, 'wallet'> & { address: string }): SubmissionHeader {
  return {
    runId: parts.runId ?? 'relay-test',
    round: parts.round,
    baseModelVersion: parts.version,
    baseModelHash: hexToHash(parts.modelHash),
    payloadHash: payloadHash(parts.payload),
    payloadBytes: parts.payload.length,
    address: parts.address,
    innerSteps: parts.innerSteps ?? 2,
    tokens: parts.tokens ?? 128,
    clientVersion: 'tessera-test/relay',
  };
}

/** A frame signed through the test wallet's signRaw, exactly as a tab builds it. */
export async function signedFrame(parts: FrameParts): Promise<Uint8Array> {
  const signed = await signHeader(parts.wallet.signer, headerFor({ ...parts, address: parts.wallet.address }));
  return encodeSubmission(signed, parts.payload);
}

/** The header layout of docs/protocol.md without any validation, for headers the protocol refuses to encode. */
export function encodeHeaderLoose(h: SubmissionHeader, domain = SUBMISSION_DOMAIN): Uint8Array {
  const parts: number[] = [];
  const str = (s: string) => {
    parts.push(s.length & 0xff, s.length >> 8);
    for (const c of s) parts.push(c.charCodeAt(0));
  };
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  str(domain);
  str(h.runId);
  u32(h.round);
  u32(h.baseModelVersion);
  parts.push(...h.baseModelHash, ...h.payloadHash);
  u32(h.payloadBytes);
  str(h.address);
  u32(h.innerSteps);
  u32(h.tokens);
  u32(0);
  str(h.clientVersion);
  return Uint8Array.from(parts);
}

/** [u32 hl][header][signature][payload] with no checks at all. */
export function rawFrame(headerBytes: Uint8Array, signature: Uint8Array, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + headerBytes.length + signature.length + payload.length);
  new DataView(frame.buffer).setUint32(0, headerBytes.length, true);
  frame.set(headerBytes, 4);
  frame.set(signature, 4 + headerBytes.length);
  frame.set(payload, 4 + headerBytes.length + signature.length);
  return frame;
}

export async function post(baseUrl: string, body: Uint8Array): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(new URL('api/submissions', baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: body as BodyInit,
  });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

export async function getJson(baseUrl: string, path: string): Promise<any> {
  const response = await fetch(new URL(path, baseUrl));
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

export async function getBytes(baseUrl: string, path: string): Promise<{ bytes: Uint8Array; headers: Headers; status: number }> {
  const response = await fetch(new URL(path, baseUrl));
  return { bytes: new Uint8Array(await response.arrayBuffer()), headers: response.headers, status: response.status };
}

// ------------------------------------------------------------ child process

export interface RelayProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts `src/relay/main.ts` as its own node process (not through the tsx
 * CLI, which would put a second process between us and the relay) and
 * resolves once it prints its URL.
 */
export function spawnRelay(dataDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<RelayProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx',
      '--import', './src/node/register-wgsl.mjs',
      'src/relay/main.ts',
      '--port', '0', '--data-dir', dataDir, '--dist', 'none', '--no-eval',
      '--run-id', 'relay-test', '--preset', 'nano', '--inner-steps', '2', '--batch-size', '2', '--seq-len', '32',
      ...args,
    ],
    { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (https?:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match) resolve({ url: match[1], child, output: () => output, exited });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`relay exited with ${code} before listening:\n${output}`)));
  });
}

/** Runs a CLI entry point under tsx to its end; resolves with its exit code and output. */
export function runCli(entry: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/node/register-wgsl.mjs', entry, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

const spawned: RelayProcess[] = [];

/** spawnRelay, remembered so that killSpawnedRelays (afterEach) never leaves one behind, whatever failed. */
export async function spawnTrackedRelay(dataDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<RelayProcess> {
  const relay = await spawnRelay(dataDir, args, env);
  spawned.push(relay);
  return relay;
}

/** kill -9 every relay spawnTrackedRelay started and not yet killed here. */
export async function killSpawnedRelays(): Promise<void> {
  for (const relay of spawned.splice(0)) await kill9(relay);
}

/** SIGKILL and wait for the exit. */
export async function kill9(relay: RelayProcess): Promise<void> {
  if (relay.child.exitCode === null && relay.child.signalCode === null) relay.child.kill('SIGKILL');
  await relay.exited;
}
