// The relay's configuration, as data (nanoGPT-style: typed objects whose
// defaults carry their reason). Two objects, because they live differently:
//
//   RunConfig     what the run IS: model, data, inner loop, compression, β, α,
//                 seeds. Written once into the data directory when the run is
//                 created; a restart reads it back and never changes it, since
//                 every checkpoint, update and signature depends on it.
//   RelayOptions  how this relay process runs it: round timing, quorum,
//                 limits, allowlist. May change between restarts.
//
// Both are checked when the relay starts (checkRun): the run by the very
// parser every tab runs on GET /api/run (protocol/api.ts parseSwarmRunInfo),
// so a run no tab could complete never opens.
//
// Leaves out: command-line parsing (main.ts) and the HTTP port.
import { defaultCompressConfig, DEFAULT_EF_BETA, type CompressConfig } from '../compress/sparseloco.ts';
import { DEFAULT_OUTER_LEARNING_RATE, defaultAggregationOptions, type AggregationOptions } from '../compress/aggregate.ts';
import type { PublishedUpdateForm } from '../compress/codec.ts';
import { defaultTrainConfig, GPT_PRESETS, type GptConfig, type GptPresetName } from '../model/config.ts';
import { buildLayout, TENSOR_ALIGN_FLOATS } from '../model/layout.ts';
import { manifestDigest } from '../compress/manifest.ts';
import { checkGauntletConfig, gauntletConfigWith, type GauntletOverrides } from '../gauntlet/config.ts';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type GauntletConfig,
  isProtocolError,
  MAX_SUBMISSION_TOKENS,
  maxSubmissionBytes,
  parseJson,
  parseRunManifest,
  parseSwarmRunInfo,
  SS58_PREFIX,
  SUBMISSION_DOMAIN,
  type HexHash,
  type RelayRunInfo,
  type StepRange,
  type SwarmRunInfo,
  type SwarmTrainSpec,
  tokensForSteps,
} from '../protocol/index.ts';

export interface RunConfig {
  /** Names the run in every signed header; 1..64 of [A-Za-z0-9._:-]. */
  runId: string;
  preset: GptPresetName;
  model: GptConfig;
  /** θ(0) = initGptParameters(model, initSeed); volunteers download it rather than re-derive it (init.ts). */
  initSeed: number;
  /** Every round's dataSeed; a peer's batches follow deriveDataSeed(runSeed, address, round) (SPEC §2.1). */
  runSeed: HexHash;
  /** H: the nominal inner AdamW steps per round (the LR schedule advances H steps per model version). */
  innerSteps: number;
  /** Inner steps a submission may report: a tab trains until the round's training deadline (min ≤ H ≤ max). */
  stepRange: StepRange;
  /** How a round's submissions become G: the rule and the token weighting (compress/aggregate.ts). */
  aggregation: AggregationOptions;
  /** What the relay publishes (and itself applies) for a round: the 2-bit or the float aggregate. */
  update: PublishedUpdateForm;
  /** Inner-loop settings for every volunteer, incl. the LR schedule's length. */
  train: SwarmTrainSpec;
  compression: CompressConfig;
  /** β of the error feedback (volunteers use it; SPEC §1 step 3). */
  errorFeedbackBeta: number;
  /** α of θ ← θ − α·G (SPEC §1 step 7). */
  outerLearningRate: number;
  /** Training data: the shipped Brown corpus (src/data/prepare.ts); digests pin the exact bytes. */
  data: { name: string; trainUrl: string; trainBytes: number; trainSha256: string; valBytes: number; valSha256: string };
  /** Held-out loss measured by the relay after every outer step (0 batches = off). */
  evaluation: { batchSize: number; seqLen: number; batches: number };
  /** Scoring, selection and payouts (SPEC §2; defaults and reasons in src/gauntlet/config.ts). */
  gauntlet: GauntletConfig;
}

export interface RateLimit {
  /** Requests allowed at once. */
  burst: number;
  /** Tokens added back per second. */
  perSecond: number;
}

export interface RelayOptions {
  /** Time a round stays open for submissions. Long enough for a phone to do H steps of the nano model. */
  roundMs: number;
  /** A round closes early once this many submissions are in (SPEC §2.6 aggregates the top 15–20 peers). */
  quorum: number;
  /** At the deadline, fewer acknowledged submissions than this extend the round by roundMs instead of closing it. */
  minSubmissions: number;
  /** Largest payload accepted (the body limit is this plus the frame's header and signature). */
  maxPayloadBytes: number;
  /** Submissions per client IP, checked before the body is read: a conference room shares one NAT address, so generous. */
  ipRateLimit: RateLimit;
  /**
   * Per address, after the signature checks out. An honest tab submits once per
   * round (and rounds of a fast demo can be seconds apart); this bounds a key
   * that keeps sending signed junk to the codec.
   */
  addressRateLimit: RateLimit;
  /** If set, only these SS58 addresses may submit (a closed run). */
  allowlist: readonly string[] | null;
  /** Checkpoints kept on disk besides the current one (catch-up uses updates, not old checkpoints). */
  keepCheckpoints: number;
  /** Most aggregates in one catch-up response; a tab further behind loops or downloads the checkpoint. */
  maxCatchUp: number;
  /** Swarm stats are pushed at most this often. */
  statsIntervalMs: number;
  /** WebSocket ping interval; a client that misses one is dropped (y-webrtc's heartbeat). */
  heartbeatMs: number;
  /** Use the first X-Forwarded-For address as the client IP (only behind a trusted proxy). */
  trustProxy: boolean;
  /**
   * Gauntlet's evaluation of a round must finish within this; what is missing
   * then is the relay's failure (no penalty) and the round closes without it.
   * Bounds the close whatever the number of submitters.
   */
  evaluationTimeoutMs: number;
  /**
   * Origins whose pages may read API answers ('*': any origin — the API serves
   * public, signed data and never reads cookies or credentials). The app itself
   * (HTML, scripts, wasm) is never readable cross-origin.
   */
  corsOrigins: '*' | readonly string[];
  /** What one client address, and everyone together, may hold of this process (server.ts). */
  limits: ServerLimits;
  /**
   * The address people open to join (--public-url), published in GET /api/run
   * as joinUrl for the demo screen's QR code; null: none given (the page shows
   * its own address). Checked at start by the tabs' parser (parseJoinUrl).
   */
  publicUrl: string | null;
}

/**
 * Resource bounds of the HTTP/WebSocket server: time, concurrency and rate,
 * per client address (the IP, or X-Forwarded-For's first entry with
 * trustProxy) and in total. Every figure and its reason: docs/relay.md
 * "Resource limits". An answer to a refusal is a typed error body; nothing
 * here ever waits for a body it is going to refuse.
 */
export interface ServerLimits {
  /** Request line and headers must arrive within this (slow-header attacks). */
  headersTimeoutMs: number;
  /** The whole request, body included (slow-body attacks); a body needs maxBody / this bytes per second. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with no byte moving either way (a client that stops reading an answer) is dropped. */
  socketIdleTimeoutMs: number;
  /** Request line plus headers, in bytes (Node's own parser enforces it: 431). */
  maxHeaderBytes: number;
  /** Requests on one keep-alive connection, pipelined or not. */
  maxRequestsPerSocket: number;
  /** Open TCP connections per client address, and in total (file descriptors). */
  connectionsPerIp: number;
  maxConnections: number;
  /** Submission bodies being received at once per address, and in total: memory ≤ maxUploads × body limit. */
  uploadsPerIp: number;
  maxUploads: number;
  /** Per address: JSON API reads (run, round, stats, ledger, health). */
  apiReadRateLimit: RateLimit;
  /** Per address: the big reads — checkpoint, catch-up bundles, and static files ≥ 1 MiB (training data, wasm). */
  bulkReadRateLimit: RateLimit;
  /** Open push channels per address, and in total. */
  webSocketsPerIp: number;
  maxWebSockets: number;
  /** Largest WebSocket message a client may send (the channel is one-way: any message closes it, 1008). */
  webSocketMaxMessageBytes: number;
  /** After SIGTERM: how long in-flight requests may finish before every socket is destroyed. */
  shutdownGraceMs: number;
}

export const RELAY_VERSION = 'tessera-relay/0.1.0';

/** Largest update the codec can produce for this model: dense float32 everywhere plus record overheads. */
export function payloadLimitFor(model: GptConfig): number {
  const layout = buildLayout(model);
  return Math.min(DEFAULT_MAX_PAYLOAD_BYTES, 4 * layout.paramCount + 64 * layout.tensors.length + 4096);
}

/** Memory the relay may spend on submission bodies being received, all uploads together. */
const UPLOAD_MEMORY_BUDGET = 256 * 1024 * 1024;

export function defaultServerLimits(maxPayloadBytes: number): ServerLimits {
  const bodyLimit = maxSubmissionBytes(maxPayloadBytes);
  return {
    headersTimeoutMs: 10_000, // a phone on a bad network sends a few hundred header bytes in well under 10 s
    requestTimeoutMs: 60_000, // a nano update (3.4 kB) takes milliseconds; 16 MiB needs ≥ 280 kB/s
    keepAliveTimeoutMs: 5_000, // Node's default; tabs reuse connections within a round's burst
    socketIdleTimeoutMs: 60_000,
    maxHeaderBytes: 16 * 1024, // Node's default; our own requests send < 1 kB
    maxRequestsPerSocket: 1000,
    // A room behind one NAT address: 100+ tabs, each with a few connections.
    connectionsPerIp: 256,
    maxConnections: 4096, // well under the usual 65,536 descriptors per process
    uploadsPerIp: 8, // an honest tab has one upload in flight
    maxUploads: Math.max(16, Math.min(256, Math.floor(UPLOAD_MEMORY_BUDGET / bodyLimit))),
    apiReadRateLimit: { burst: 600, perSecond: 100 }, // 100 tabs polling /api/round every 5 s use 20/s
    bulkReadRateLimit: { burst: 120, perSecond: 4 }, // a tab reads the checkpoint, the data and the wasm once per visit
    webSocketsPerIp: 128,
    maxWebSockets: 4096,
    webSocketMaxMessageBytes: 1024,
    shutdownGraceMs: 5_000,
  };
}

export function defaultRelayOptions(model: GptConfig): RelayOptions {
  const maxPayloadBytes = payloadLimitFor(model);
  return {
    roundMs: 120_000,
    quorum: 16,
    minSubmissions: 1,
    maxPayloadBytes,
    ipRateLimit: { burst: 120, perSecond: 10 },
    addressRateLimit: { burst: 20, perSecond: 1 },
    allowlist: null,
    keepCheckpoints: 2,
    maxCatchUp: 64,
    statsIntervalMs: 2_000,
    heartbeatMs: 30_000,
    trustProxy: false,
    // ~20 evaluations of nano take under a second here (docs/relay.md); a minute leaves room for a loaded machine.
    evaluationTimeoutMs: 60_000,
    corsOrigins: '*',
    limits: defaultServerLimits(maxPayloadBytes),
    publicUrl: null,
  };
}

/** RelayOptions as callers give them: anything left out keeps its default, limits field by field. */
export type RelayOptionsInput = Partial<Omit<RelayOptions, 'limits'>> & { limits?: Partial<ServerLimits> };

/** The options a relay for this model runs with: the defaults, overridden by `input`. */
export function relayOptionsFor(model: GptConfig, input: RelayOptionsInput = {}): RelayOptions {
  const defaults = defaultRelayOptions(model);
  const maxPayloadBytes = input.maxPayloadBytes ?? defaults.maxPayloadBytes;
  return { ...defaults, ...input, limits: { ...defaultServerLimits(maxPayloadBytes), ...input.limits } };
}

export interface RunConfigInput {
  runId?: string;
  preset?: GptPresetName;
  initSeed?: number;
  runSeed?: HexHash;
  innerSteps?: number;
  /** The accepted inner steps per submission; default 1 … 8·H. */
  stepRange?: Partial<StepRange>;
  aggregation?: Partial<AggregationOptions>;
  update?: PublishedUpdateForm;
  /** Rounds the LR schedule is planned for: totalSteps = plannedRounds × H. */
  plannedRounds?: number;
  train?: Partial<SwarmTrainSpec>;
  compression?: Partial<CompressConfig>;
  errorFeedbackBeta?: number;
  outerLearningRate?: number;
  evaluation?: Partial<RunConfig['evaluation']>;
  gauntlet?: GauntletOverrides;
  data: RunConfig['data'];
}

/** A RunConfig with the defaults below for everything not given. */
export function buildRunConfig(input: RunConfigInput): RunConfig {
  const preset = input.preset ?? 'nano'; // the demo default: trains on any GPU, even a phone's
  const model = GPT_PRESETS[preset];
  if (!model) throw new Error(`unknown model preset ${String(preset)} (choose from ${Object.keys(GPT_PRESETS).join(', ')})`);
  const base = defaultTrainConfig(model);
  const innerSteps = input.innerSteps ?? 15; // SparseLoCo's sweeps start at H = 15 (SPEC §1)
  const plannedRounds = input.plannedRounds ?? 1000;
  const train: SwarmTrainSpec = {
    batchSize: base.batchSize,
    seqLen: base.seqLen,
    learningRate: base.learningRate,
    beta1: base.beta1,
    beta2: base.beta2,
    eps: base.eps,
    weightDecay: base.weightDecay,
    // Warmup counts global steps (version × H): 100 steps is under 7 rounds at H = 15.
    warmupSteps: base.warmupSteps,
    minLrFraction: base.minLrFraction,
    gradClip: base.gradClip,
    totalSteps: plannedRounds * innerSteps,
    ...input.train,
  };
  return {
    runId: input.runId ?? `tessera-${preset}`,
    preset,
    model: { ...model },
    initSeed: input.initSeed ?? 1,
    // A fixed default keeps a demo reproducible; an operator who wants fresh data assignments passes one.
    runSeed: input.runSeed ?? `0x${'00'.repeat(31)}01`,
    innerSteps,
    stepRange: {
      // One step is still a contribution (a phone, a throttled or paused tab); token weighting keeps it small.
      min: input.stepRange?.min ?? 1,
      // A default round (120 s) fits about eight nominal rounds of nano on a laptop GPU; the token cap bounds its weight.
      max: input.stepRange?.max ?? DEFAULT_MAX_STEPS_PER_NOMINAL * innerSteps,
    },
    aggregation: { ...defaultAggregationOptions, ...input.aggregation },
    // 2-bit aggregates: a few uploads' worth per round instead of ~10–150 (docs/results.md, "Small downloads").
    update: input.update ?? 'quantized',
    train,
    compression: { ...defaultCompressConfig, ...input.compression },
    errorFeedbackBeta: input.errorFeedbackBeta ?? DEFAULT_EF_BETA,
    outerLearningRate: input.outerLearningRate ?? DEFAULT_OUTER_LEARNING_RATE,
    data: input.data,
    evaluation: {
      batchSize: 8,
      seqLen: model.blockSize,
      batches: 4, // 4·8 fixed windows: the same measurement every round, milliseconds for nano on wasm
      ...input.evaluation,
    },
    gauntlet: gauntletConfigWith(input.gauntlet),
  };
}

/** GET /api/run for this run and these options: what every tab trains by, and the preset's tensor manifest. */
export function runInfoFor(config: RunConfig, options: RelayOptions): RelayRunInfo {
  const layout = buildLayout(config.model);
  return {
    runId: config.runId,
    protocol: SUBMISSION_DOMAIN,
    ss58Prefix: SS58_PREFIX,
    model: { name: config.preset, parameterCount: layout.paramCount },
    innerSteps: config.innerSteps,
    roundMs: options.roundMs,
    maxPayloadBytes: options.maxPayloadBytes,
    relayVersion: RELAY_VERSION,
    joinUrl: options.publicUrl,
    swarm: {
      model: { preset: config.preset, ...config.model },
      train: config.train,
      compression: config.compression,
      errorFeedbackBeta: config.errorFeedbackBeta,
      outerLearningRate: config.outerLearningRate,
      runSeed: config.runSeed,
      data: { name: config.data.name, trainUrl: config.data.trainUrl, trainBytes: config.data.trainBytes, trainSha256: config.data.trainSha256 },
      quorum: options.quorum,
      stepRange: config.stepRange,
      aggregation: config.aggregation,
      update: config.update,
    },
    manifest: {
      floats: layout.size,
      alignFloats: TENSOR_ALIGN_FLOATS,
      digest: Array.from(manifestDigest(layout.tensors), (b) => b.toString(16).padStart(2, '0')).join(''),
      tensors: layout.tensors.map(({ name, shape, offset, size }) => ({ name, shape: [...shape], offset, size })),
    },
  };
}

/** Default stepRange.max as a multiple of H. */
export const DEFAULT_MAX_STEPS_PER_NOMINAL = 8;

/**
 * A run stored before time-boxed rounds, aggregation options, 2-bit updates
 * and Gauntlet existed: it keeps the rules it was created with (exactly H
 * steps, the plain mean, float aggregates, every submission aggregated), so
 * its checkpoints and updates stay reproducible.
 */
export function withRoundDefaults(stored: Omit<RunConfig, 'stepRange' | 'aggregation' | 'update' | 'gauntlet'> & Partial<RunConfig>): RunConfig {
  return {
    ...stored,
    gauntlet: stored.gauntlet ?? gauntletConfigWith({ enabled: false }),
    stepRange: stored.stepRange ?? { min: stored.innerSteps, max: stored.innerSteps },
    aggregation: stored.aggregation ?? { rule: 'mean', tokenCap: defaultAggregationOptions.tokenCap },
    update: stored.update ?? 'float',
  };
}

/**
 * A run or relay setting that would leave every round refused. `field` names
 * it as the tabs see it ("run.innerSteps", "run.swarm.compression.topK") or,
 * for a setting only the relay uses, by its RelayOptions/RunConfig name.
 */
export class RunConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'RunConfigError';
  }
}

/**
 * Refuses, at start, a run no tab could complete: the run info the relay
 * would serve goes through JSON and the tabs' own parser (parseSwarmRunInfo),
 * then the settings only the relay uses are checked. Throws RunConfigError.
 */
export function checkRun(config: RunConfig, options: RelayOptions): SwarmRunInfo {
  let info: SwarmRunInfo;
  try {
    const json = parseJson(JSON.stringify(runInfoFor(config, options)));
    info = parseSwarmRunInfo(json, 'run');
    parseRunManifest((json as { manifest?: unknown }).manifest);
  } catch (error) {
    if (isProtocolError(error, 'bad-message')) throw new RunConfigError(error.field ?? 'run', error.message);
    throw error;
  }
  const integerAtLeast = (field: string, value: number, min: number) => {
    if (!Number.isSafeInteger(value) || value < min) throw new RunConfigError(field, `${field}: expected an integer ≥ ${min}, got ${value}`);
  };
  integerAtLeast('minSubmissions', options.minSubmissions, 1);
  // Every total the relay keeps is a sum of these; the protocol's bound keeps such sums exact (docs/protocol.md "Counters").
  const mostTokens = tokensForSteps(config, config.stepRange.max);
  if (mostTokens > MAX_SUBMISSION_TOKENS) {
    const field = 'run.swarm.stepRange.max';
    throw new RunConfigError(field, `${field}: max·B·T = ${mostTokens} tokens per submission exceeds the protocol's ${MAX_SUBMISSION_TOKENS}`);
  }
  integerAtLeast('initSeed', config.initSeed, 0);
  integerAtLeast('evaluation.batches', config.evaluation.batches, 0);
  integerAtLeast('evaluation.batchSize', config.evaluation.batchSize, 1);
  integerAtLeast('evaluation.seqLen', config.evaluation.seqLen, 1);
  if (config.evaluation.seqLen > config.model.blockSize) {
    throw new RunConfigError('evaluation.seqLen', `evaluation.seqLen: ${config.evaluation.seqLen} exceeds the model's block size ${config.model.blockSize}`);
  }
  try {
    checkGauntletConfig(config.gauntlet);
  } catch (error) {
    const field = isProtocolError(error, 'bad-message') ? (error.field ?? 'gauntlet') : 'gauntlet';
    throw new RunConfigError(field, (error as Error).message);
  }
  integerAtLeast('evaluationTimeoutMs', options.evaluationTimeoutMs, 1);
  return info;
}
