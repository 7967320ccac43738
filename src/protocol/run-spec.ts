// What a volunteer needs to know about a run beyond the protocol's RunInfo, and
// the binary catch-up bundle — the two shapes the relay and every client
// (headless volunteer, browser Worker) must agree on. The relay builds both
// from here, so they cannot drift apart. Plain TypeScript: no Node, no DOM.
//
// GET /api/run answers a RunInfo (protocol/messages.ts) with one more member,
// `swarm` (RunInfo's validator ignores unknown members, so older tabs still
// parse it): the model shape, the inner-loop settings, the compression config,
// β (error feedback), α (outer step), the run seed and the training data.
//
// Catch-up bundle (GET /api/updates?since=v), little-endian, entries in
// ascending version order, nothing before the first or after the last:
//
//   u32 version        the model version this aggregate produces (v+1, v+2, …)
//   32  modelHash      modelHash(θ(version)) after applying it
//   u32 length         aggregate bytes that follow
//   ..  aggregate      wire format v1, kind 2 (src/compress/codec.ts)
//
// Leaves out: how the relay picks these values (src/relay/config.ts) and HTTP.
import type { CompressConfig, OneDimPolicy } from '../compress/sparseloco.ts';
import type { GptConfig } from '../model/config.ts';
import { ProtocolError } from './errors.ts';
import { HASH_BYTES, hexToHash } from './header.ts';
import { deriveDataSeed, parseRunInfo, type HexHash, type RunInfo } from './messages.ts';

/** Inner-loop settings every volunteer of the run uses (TrainConfig plus the schedule's length). */
export interface SwarmTrainSpec {
  batchSize: number; // B
  seqLen: number; // T
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  warmupSteps: number;
  minLrFraction: number;
  gradClip: number;
  /** Global step at which the cosine schedule reaches its floor (rounds planned × H). */
  totalSteps: number;
}

export interface SwarmSpec {
  /** Model preset name and its exact shape (a tab checks its layout against RunInfo.model.parameterCount). */
  model: GptConfig & { preset: string };
  train: SwarmTrainSpec;
  compression: CompressConfig;
  /** β of the error feedback, SPEC §1 step 3. */
  errorFeedbackBeta: number;
  /** α of the outer step θ ← θ − α·G, SPEC §1 step 7. */
  outerLearningRate: number;
  /** The run-wide data seed: a peer's batches come from deriveDataSeed(runSeed, address, round). */
  runSeed: HexHash;
  /** Training bytes: where a tab fetches them, and what they must hash to. */
  data: { name: string; trainUrl: string; trainBytes: number; trainSha256: string };
  /** Submissions that close a round before its deadline. */
  quorum: number;
}

export interface SwarmRunInfo extends RunInfo {
  swarm: SwarmSpec;
}

// ------------------------------------------------------------------ validator

type JsonObject = Record<string, unknown>;

function bad(path: string, expected: string): never {
  throw new ProtocolError('bad-message', `${path}: expected ${expected}`);
}

function object(value: unknown, path: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(path, 'an object');
  return value as JsonObject;
}

function positiveInteger(o: JsonObject, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) bad(`${path}.${key}`, 'a positive integer');
  return v;
}

function nonNegativeInteger(o: JsonObject, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${path}.${key}`, 'a non-negative integer');
  return v;
}

function finite(o: JsonObject, key: string, path: string, min = -Infinity, max = Infinity): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(`${path}.${key}`, `a number in [${min}, ${max}]`);
  return v;
}

function text(o: JsonObject, key: string, path: string, pattern = /^[\x20-\x7e]{1,256}$/): string {
  const v = o[key];
  if (typeof v !== 'string' || !pattern.test(v)) bad(`${path}.${key}`, `a string matching ${pattern}`);
  return v;
}

const POLICIES: readonly OneDimPolicy[] = ['dense-quantized', 'dense-float32', 'sparse'];

/** Strict on every field a volunteer uses; unknown members are ignored (as in messages.ts). */
export function parseSwarmRunInfo(json: unknown, path = 'run'): SwarmRunInfo {
  const info = parseRunInfo(json, path);
  const s = object(object(json, path).swarm, `${path}.swarm`);
  const p = `${path}.swarm`;
  const model = object(s.model, `${p}.model`);
  const train = object(s.train, `${p}.train`);
  const compression = object(s.compression, `${p}.compression`);
  const data = object(s.data, `${p}.data`);
  const policy = compression.oneDimPolicy;
  if (!POLICIES.includes(policy as OneDimPolicy)) bad(`${p}.compression.oneDimPolicy`, POLICIES.join(' | '));
  const runSeed = s.runSeed;
  if (typeof runSeed !== 'string' || !/^0x[0-9a-f]{64}$/.test(runSeed)) bad(`${p}.runSeed`, '0x and 64 lowercase hex digits');
  return {
    ...info,
    swarm: {
      model: {
        preset: text(model, 'preset', `${p}.model`, /^[a-z0-9-]{1,32}$/),
        vocabSize: positiveInteger(model, 'vocabSize', `${p}.model`),
        blockSize: positiveInteger(model, 'blockSize', `${p}.model`),
        nLayer: positiveInteger(model, 'nLayer', `${p}.model`),
        nHead: positiveInteger(model, 'nHead', `${p}.model`),
        nEmbd: positiveInteger(model, 'nEmbd', `${p}.model`),
      },
      train: {
        batchSize: positiveInteger(train, 'batchSize', `${p}.train`),
        seqLen: positiveInteger(train, 'seqLen', `${p}.train`),
        learningRate: finite(train, 'learningRate', `${p}.train`, 0, 1),
        beta1: finite(train, 'beta1', `${p}.train`, 0, 1),
        beta2: finite(train, 'beta2', `${p}.train`, 0, 1),
        eps: finite(train, 'eps', `${p}.train`, 0, 1),
        weightDecay: finite(train, 'weightDecay', `${p}.train`, 0, 10),
        warmupSteps: nonNegativeInteger(train, 'warmupSteps', `${p}.train`),
        minLrFraction: finite(train, 'minLrFraction', `${p}.train`, 0, 1),
        gradClip: finite(train, 'gradClip', `${p}.train`, 0),
        totalSteps: nonNegativeInteger(train, 'totalSteps', `${p}.train`),
      },
      compression: {
        chunkSize: positiveInteger(compression, 'chunkSize', `${p}.compression`),
        topK: positiveInteger(compression, 'topK', `${p}.compression`),
        oneDimPolicy: policy as OneDimPolicy,
        maxAbsValue: finite(compression, 'maxAbsValue', `${p}.compression`, 0),
      },
      errorFeedbackBeta: finite(s, 'errorFeedbackBeta', p, 0, 1),
      outerLearningRate: finite(s, 'outerLearningRate', p, 0, 10),
      runSeed: runSeed as HexHash,
      data: {
        name: text(data, 'name', `${p}.data`),
        trainUrl: text(data, 'trainUrl', `${p}.data`),
        trainBytes: positiveInteger(data, 'trainBytes', `${p}.data`),
        trainSha256: text(data, 'trainSha256', `${p}.data`, /^[0-9a-f]{64}$/),
      },
      quorum: positiveInteger(s, 'quorum', p),
    },
  };
}

/** The model shape alone (validateGptConfig refuses extra members such as `preset`). */
export function gptConfigOf(spec: SwarmSpec): GptConfig {
  const { vocabSize, blockSize, nLayer, nHead, nEmbd } = spec.model;
  return { vocabSize, blockSize, nLayer, nHead, nEmbd };
}

// ------------------------------------------------------------------ data seed

/**
 * The sampler seed of `address` in `round`: the first 8 bytes (little-endian)
 * of deriveDataSeed(runSeed, address, round), as the 64-bit seed batchFor takes.
 * Anyone can re-derive which windows a peer should have trained on.
 */
export function samplerSeed(runSeed: HexHash, address: string, round: number): bigint {
  const seed = deriveDataSeed(hexToHash(runSeed), address, round);
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 8n) | BigInt(seed[i]);
  return value;
}

// ------------------------------------------------------------ catch-up bundle

export interface BundleEntry {
  /** Model version after applying this aggregate. */
  version: number;
  /** modelHash of that version, 32 bytes. */
  modelHash: Uint8Array;
  /** The aggregate, wire format v1 kind 2. */
  aggregate: Uint8Array;
}

const ENTRY_OVERHEAD = 4 + HASH_BYTES + 4;

export function encodeBundle(entries: readonly BundleEntry[]): Uint8Array {
  let length = 0;
  for (const e of entries) length += ENTRY_OVERHEAD + e.aggregate.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let at = 0;
  entries.forEach((e, i) => {
    if (i > 0 && e.version !== entries[i - 1].version + 1) throw new RangeError(`bundle versions must be consecutive (${entries[i - 1].version} then ${e.version})`);
    if (e.modelHash.length !== HASH_BYTES) throw new RangeError('modelHash must be 32 bytes');
    view.setUint32(at, e.version, true);
    out.set(e.modelHash, at + 4);
    view.setUint32(at + 4 + HASH_BYTES, e.aggregate.length, true);
    out.set(e.aggregate, at + ENTRY_OVERHEAD);
    at += ENTRY_OVERHEAD + e.aggregate.length;
  });
  return out;
}

/**
 * Parses a bundle strictly: whole entries only, consecutive versions starting
 * at `since + 1`. The aggregates themselves are checked by decodeAggregate and
 * the hashes by applying them. Throws ProtocolError('bad-message').
 */
export function decodeBundle(bytes: Uint8Array, since: number): BundleEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: BundleEntry[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < ENTRY_OVERHEAD) throw new ProtocolError('bad-message', `update bundle truncated at byte ${at}`);
    const version = view.getUint32(at, true);
    const expected = since + 1 + entries.length;
    if (version !== expected) throw new ProtocolError('bad-message', `update bundle has version ${version} where ${expected} belongs`);
    const length = view.getUint32(at + 4 + HASH_BYTES, true);
    if (length > bytes.length - at - ENTRY_OVERHEAD) throw new ProtocolError('bad-message', `update bundle entry ${version} runs past the end`);
    entries.push({
      version,
      modelHash: bytes.slice(at + 4, at + 4 + HASH_BYTES),
      aggregate: bytes.subarray(at + ENTRY_OVERHEAD, at + ENTRY_OVERHEAD + length),
    });
    at += ENTRY_OVERHEAD + length;
  }
  return entries;
}
