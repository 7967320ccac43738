// A swarm in one process: R replicas train the same GPT and synchronise with
// SparseLoCo, DiLoCo or plain data-parallel AdamW (DDP), so the three can be
// compared at equal tokens on the same data. The replicas share one engine
// (engine.ts): the GPT on WebGPU, or the plain-TypeScript reference GPT; one
// simulation runs every algorithm step on the same engine.
//
// Per round t (with every replica at speed 1 and fixed H, all three consume
// exactly R·H·B·T tokens, the same ones):
//   sparseloco  replica r: n_r AdamW steps from θ(t−1) on its data; compressor
//               (EF β = 0.95, top-k, 2-bit; compressor.ts, CPU reference or
//               GPU) → encodeUpdate → bytes (counted; the largest of the
//               payloads, which differ by a few bytes) → decodeUpdate;
//               relay: aggregateUpdates (median-norm clip, the aggregation
//               rule, token weights) → the published form (download.ts,
//               counted as the download) → every tab's G → θ(t) = θ(t−1) − α·G.
//   diloco      replica r: the same H steps; Δ_r = θ(t−1) − θ_r sent densely
//               (4 bytes × params); G = mean Δ; outer Nesterov (lr 0.7, μ 0.9).
//   ddp         H global steps; at each, every replica computes a gradient on
//               its batch of that step, the gradients are averaged in replica
//               order, clipped and applied by one AdamW step. Each replica
//               sends 4 bytes × params per step.
// Replica r's batch at global step s is batchFor(train, replicaDataSeed(seed,
// r, round), s, B, T) in every algorithm; the inner LR schedule (warmup +
// cosine) runs over rounds·H steps in all three.
//
// Time (SparseLoCo only): replica r runs at speed s_r (default 1): a step costs
// it 1/s_r simulated seconds, and a round's training window is W simulated
// seconds (default H / min s_r, the slowest replica's H steps). Schedules:
//   fixed        n_r = H, or 0 (the replica misses the round) when H/s_r > W
//   time-boxed   n_r = min(max, ⌊W·s_r⌋), or 0 when that is below min
// A replica's step i of round t is global step t·H + i (H the nominal steps
// per round; its batch and AdamW's t), and its learning rate is the schedule's
// at step t·H + min(i, H − 1) (lrPastNominal 'hold', schedule.ts
// roundScheduleStep, what tabs do) or at t·H + i ('continue', which runs a
// fast replica ahead along the decay). Tokens per replica are n_r·B·T;
// aggregation weighs them (aggregate.ts, token weighting).
//
// Bytes are counted per peer and round: up = what one replica sends, down =
// what the coordinator sends back to one replica (parameter-server
// accounting; a ring all-reduce would move about 2·(R−1)/R of the dense size).
//
// Every step is deterministic (GPU reductions are fixed-order; CPU sums run in
// replica-id order), so the same options give the same bits.
// Leaves out: dropped or malicious peers, scoring (relay work), the real
// network and the time to compress and upload; replicas run one after another.
// Sources: SPEC.md §1 (SparseLoCo), Douillard et al. 2023 (DiLoCo).
import type { GpuContext } from '../gpu/runtime.ts';
import { defaultTrainConfig, validateTrainConfig, type GptConfig, type TrainConfig } from '../model/config.ts';
import { initGptParameters } from '../model/init.ts';
import type { ParameterLayout } from '../model/layout.ts';
import { mix64 } from '../data/sampler.ts';
import { roundScheduleStep } from '../train/schedule.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import { defaultCompressConfig, DEFAULT_EF_BETA, type CompressConfig } from '../compress/sparseloco.ts';
import { decodeUpdate, encodeUpdate } from '../compress/codec.ts';
import { aggregateUpdates, applyAggregate, DEFAULT_OUTER_LEARNING_RATE, defaultAggregationOptions, type AggregationOptions, type Submission } from '../compress/aggregate.ts';
import {
  defaultNesterovOuterConfig,
  meanPseudoGradient,
  nesterovOuterStep,
  pseudoGradient,
  type DensePseudoGradient,
  type NesterovOuterConfig,
} from '../compress/diloco.ts';
import { CpuReplicaCompressor, GpuReplicaCompressor, type ReplicaCompressor } from './compressor.ts';
import { createReplicaEngine, type ReplicaEngine, type SimEngineName } from './engine.ts';
import { publishAggregate, DOWNLOAD_FORMS, type DownloadForm } from './download.ts';

export const SIM_ALGORITHMS = ['sparseloco', 'diloco', 'ddp'] as const;
export type SimAlgorithm = (typeof SIM_ALGORITHMS)[number];

export const ROUND_SCHEDULES = ['fixed', 'time-boxed'] as const;
export type RoundSchedule = (typeof ROUND_SCHEDULES)[number];

/** The learning rate of steps past a round's nominal H: held at step H − 1's, or continuing along the schedule. */
export const LR_PAST_NOMINAL = ['hold', 'continue'] as const;
export type LrPastNominal = (typeof LR_PAST_NOMINAL)[number];

export interface SimulationOptions {
  /** Needed by the gpu engine and the gpu compressor. */
  ctx?: GpuContext;
  /** What trains the replicas; default 'gpu'. */
  engine?: SimEngineName;
  algo: SimAlgorithm;
  model: GptConfig;
  /** Preset name, echoed in the result. */
  modelName?: string;
  peers: number; // R
  inner: number; // H: (nominal) inner steps per round (DDP: global steps per round)
  rounds: number;
  batch: number; // B per replica per step
  seq: number; // T
  /** Seeds θ(0) and every replica's data. */
  seed: number;
  data: { train: Uint8Array; val: Uint8Array };
  /** Overrides of defaultTrainConfig (lr, warmup, …); B and T come from batch/seq. */
  train?: Partial<Omit<TrainConfig, 'batchSize' | 'seqLen'>>;
  /** Fixed validation batches (of B×T) per evaluation; default 8. */
  evalBatches?: number;
  compress?: CompressConfig;
  efBeta?: number;
  /** SparseLoCo: the aggregation rule and token weighting (aggregate.ts); default defaultAggregationOptions. */
  aggregation?: AggregationOptions;
  /** SparseLoCo: α of θ ← θ − α·G; default the relay's (DEFAULT_OUTER_LEARNING_RATE). */
  outerLr?: number;
  /** SparseLoCo: what the relay publishes for tabs to apply (download.ts); default 'float'. */
  download?: DownloadForm;
  /** SparseLoCo: each replica's speed (steps per simulated second); default all 1. */
  speeds?: readonly number[];
  /** SparseLoCo: how many steps a replica runs per round; default 'fixed'. */
  schedule?: RoundSchedule;
  /** SparseLoCo: the training window W in simulated seconds; default H / min(speeds). */
  roundSeconds?: number;
  /** SparseLoCo, time-boxed: the accepted range of steps per round; default [1, 16·H]. */
  stepRange?: { min: number; max: number };
  /** SparseLoCo: the learning rate of steps past H in a round; default 'hold'. */
  lrPastNominal?: LrPastNominal;
  outer?: NesterovOuterConfig;
  /** SparseLoCo's compressor: 'cpu' (the reference, default), 'gpu', or a factory (tests, new implementations). */
  compressor?: 'cpu' | 'gpu' | CompressorFactory;
  onRound?: (round: RoundResult) => void;
}

/** What a compressor needs to set itself up. paramCount = layout.size, the flat buffer's length. */
export type CompressorFactory = (setup: {
  ctx?: GpuContext;
  manifest: TensorManifest;
  paramCount: number;
  config: CompressConfig;
  beta: number;
}) => ReplicaCompressor | Promise<ReplicaCompressor>;

const COMPRESSORS: Record<'cpu' | 'gpu', CompressorFactory> = {
  cpu: ({ manifest, config, beta }) => new CpuReplicaCompressor(manifest, config, beta),
  gpu: ({ ctx, manifest, paramCount, config, beta }) => {
    if (!ctx) throw new RangeError('the gpu compressor needs a GPU context');
    return GpuReplicaCompressor.create(ctx, manifest, paramCount, config, beta);
  },
};

export interface RoundResult {
  round: number; // 1-based
  val_loss: number; // global model after the round's outer step
  train_loss: number; // mean inner-step loss over the contributing replicas (their step means, averaged)
  bytes_up_per_peer: number;
  bytes_down_per_peer: number;
  /** Simulated seconds since the start after this round (round · W). */
  sim_seconds: number;
  /** Steps each replica ran this round (0: it missed the round). */
  steps: number[];
  /** Tokens trained this round by all replicas, Σ n_r·B·T. */
  tokens: number;
  /** Share of the replicas' time spent training: Σ n_r/s_r / (R·W). */
  busy_share: number;
  ms: number;
}

export interface SimulationResult {
  algo: SimAlgorithm;
  engine: string;
  model: string;
  params: number; // real parameters (no padding)
  peers: number;
  inner: number;
  batch: number;
  seq: number;
  seed: number;
  compressor: string | null;
  aggregation: AggregationOptions | null;
  outer_lr: number | null;
  /** SparseLoCo: β of the error feedback e ← β·e + Δ. */
  ef_beta: number | null;
  download: DownloadForm | null;
  speeds: number[];
  schedule: RoundSchedule;
  round_seconds: number;
  step_range: { min: number; max: number } | null;
  lr_past_nominal: LrPastNominal | null;
  /** R·H·B·T: the tokens of a round when every replica runs H steps. */
  tokens_per_round: number;
  total_tokens: number;
  initial_val_loss: number;
  rounds: RoundResult[];
  total_bytes_up_per_peer: number;
  total_bytes_down_per_peer: number;
  ms: number;
  /** θ after the last round (layout.size floats). Not part of the JSON report. */
  finalParams: Float32Array;
}

/** Seed of replica r's data in one round: mix64-hashed so neighbouring (r, round) share no stream. */
export function replicaDataSeed(seed: number, replica: number, round: number): bigint {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  return mix64(mix64(BigInt(seed)) ^ mix64((BigInt(replica) << 32n) | BigInt(round)));
}

/** The compression manifest of a model layout: its tensors, padding excluded. */
export function manifestOf(layout: ParameterLayout): TensorManifest {
  return layout.tensors.map(({ name, shape, offset, size }) => ({ name, shape, offset, size }));
}

/** A flat id per replica, ordered like the replica index (aggregation sorts by id). */
const replicaId = (r: number) => `replica-${String(r).padStart(6, '0')}`;

/** The inner-loop settings of a simulation: the model's defaults, a warmup of a tenth of the run at most, then the overrides. */
export function simulationTrainConfig(model: GptConfig, totalSteps: number, B: number, T: number, overrides: SimulationOptions['train'] = {}): TrainConfig {
  const base = defaultTrainConfig(model);
  const train: TrainConfig = {
    ...base,
    // The default 100-step warmup would outlast a short comparison; a tenth of the run keeps the shape.
    warmupSteps: Math.min(base.warmupSteps, Math.floor(totalSteps / 10)),
    ...overrides,
    batchSize: B,
    seqLen: T,
  };
  validateTrainConfig(train, model);
  return train;
}

/**
 * Steps each replica runs in one round under the schedule (see the file
 * header): fixed H for those whose H steps fit the window, or as many as the
 * window allows within the step range.
 */
export function stepsPerReplica(
  schedule: RoundSchedule,
  speeds: readonly number[],
  H: number,
  roundSeconds: number,
  range: { min: number; max: number },
): number[] {
  return speeds.map((speed) => {
    if (schedule === 'fixed') return H / speed <= roundSeconds ? H : 0;
    // A hair of slack so W·s that is an integer in exact arithmetic does not round down.
    const fit = Math.floor(roundSeconds * speed * (1 + 1e-12));
    const steps = Math.min(range.max, fit);
    return steps >= range.min ? steps : 0;
  });
}

function checkOptions(o: SimulationOptions): void {
  if (!SIM_ALGORITHMS.includes(o.algo)) throw new RangeError(`algo must be one of ${SIM_ALGORITHMS.join(', ')}, got ${o.algo}`);
  for (const [name, value] of [['peers', o.peers], ['inner', o.inner], ['rounds', o.rounds], ['batch', o.batch], ['seq', o.seq]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  if (o.speeds !== undefined) {
    if (o.speeds.length !== o.peers) throw new RangeError(`speeds has ${o.speeds.length} entries for ${o.peers} peers`);
    if (!o.speeds.every((s) => s > 0 && Number.isFinite(s))) throw new RangeError(`speeds must be positive, got ${o.speeds.join(', ')}`);
  }
  if (o.schedule !== undefined && !ROUND_SCHEDULES.includes(o.schedule)) throw new RangeError(`schedule must be one of ${ROUND_SCHEDULES.join(', ')}`);
  if (o.roundSeconds !== undefined && !(o.roundSeconds > 0 && Number.isFinite(o.roundSeconds))) throw new RangeError(`roundSeconds must be positive`);
  if (o.stepRange !== undefined) {
    const { min, max } = o.stepRange;
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 1 || max < min) throw new RangeError(`stepRange must be integers 1 ≤ min ≤ max, got ${min}..${max}`);
  }
  if (o.lrPastNominal !== undefined && !LR_PAST_NOMINAL.includes(o.lrPastNominal)) throw new RangeError(`lrPastNominal must be one of ${LR_PAST_NOMINAL.join(', ')}`);
  if (o.download !== undefined && !DOWNLOAD_FORMS.includes(o.download)) throw new RangeError(`download must be one of ${DOWNLOAD_FORMS.join(', ')}`);
  if (o.outerLr !== undefined && !(o.outerLr > 0 && Number.isFinite(o.outerLr))) throw new RangeError(`outerLr must be positive`);
  const timed = o.speeds !== undefined || o.schedule !== undefined || o.roundSeconds !== undefined || o.stepRange !== undefined || o.lrPastNominal !== undefined;
  if (timed && o.algo !== 'sparseloco') throw new RangeError('speeds, schedules and round windows are simulated for sparseloco only');
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  checkOptions(options);
  const { ctx, algo, peers: R, inner: H, rounds, batch: B, seq: T, seed, data } = options;
  const totalSteps = rounds * H;
  const train = simulationTrainConfig(options.model, totalSteps, B, T, options.train);
  const evalBatches = options.evalBatches ?? 8;
  const compressConfig = options.compress ?? defaultCompressConfig;
  const beta = options.efBeta ?? DEFAULT_EF_BETA;
  const outer = options.outer ?? defaultNesterovOuterConfig;
  const aggregation = options.aggregation ?? defaultAggregationOptions;
  const outerLr = options.outerLr ?? DEFAULT_OUTER_LEARNING_RATE;
  const download = options.download ?? 'float';
  const speeds = options.speeds ? [...options.speeds] : Array.from({ length: R }, () => 1);
  const schedule = options.schedule ?? 'fixed';
  const roundSeconds = options.roundSeconds ?? H / Math.min(...speeds);
  const stepRange = options.stepRange ?? { min: 1, max: 16 * H };
  const lrPastNominal = options.lrPastNominal ?? 'hold';

  const started = performance.now();
  const { params: initial, layout } = initGptParameters(options.model, seed);
  const manifest = manifestOf(layout);
  const denseBytes = 4 * layout.paramCount;
  const engine: ReplicaEngine = await createReplicaEngine(options.engine ?? 'gpu', { model: options.model, train, totalSteps, data }, ctx);
  let compressor: ReplicaCompressor | null = null;
  if (algo === 'sparseloco') {
    const choice = options.compressor ?? 'cpu';
    const factory = typeof choice === 'function' ? choice : COMPRESSORS[choice];
    if (!factory) throw new RangeError(`compressor must be cpu, gpu or a factory, got ${String(choice)}`);
    try {
      compressor = await factory({ ctx, manifest, paramCount: layout.size, config: compressConfig, beta });
    } catch (e) {
      engine.destroy();
      throw e;
    }
  }

  try {
    const globalParams = initial.slice(); // (layout.size) θ, the coordinator's copy
    const initialValLoss = await engine.evaluate(globalParams, evalBatches);
    const momentum = new Float32Array(layout.size); // (layout.size) DiLoCo's outer Nesterov buffer
    const results: RoundResult[] = [];

    for (let round = 0; round < rounds; round++) {
      const roundStart = performance.now();
      const steps = algo === 'sparseloco' ? stepsPerReplica(schedule, speeds, H, roundSeconds, stepRange) : speeds.map(() => H);
      const contributors = steps.flatMap((n, r) => (n > 0 ? [r] : []));
      let trainLoss = 0;
      let bytesUp = 0;
      let bytesDown = 0;

      if (algo === 'sparseloco') {
        const submissions: Submission[] = [];
        let largest = 0;
        for (const r of contributors) {
          const scheduleStep = lrPastNominal === 'hold' ? (step: number) => roundScheduleStep(step, round * H, H) : undefined;
          trainLoss += (await engine.innerLoop(r, globalParams, replicaDataSeed(seed, r, round), round * H, steps[r], scheduleStep)) / contributors.length;
          const update = await compressor!.compress(r, globalParams, engine);
          const bytes = encodeUpdate(update, manifest, compressConfig);
          largest = Math.max(largest, bytes.length);
          // The relay sees only bytes: aggregate what decodes, as it would.
          submissions.push({ id: replicaId(r), update: decodeUpdate(bytes, manifest, compressConfig), tokens: steps[r] * B * T });
        }
        if (submissions.length > 0) {
          bytesUp = largest; // payload sizes differ by a few bytes (Rice-coded gaps); report the largest
          const aggregate = aggregateUpdates(submissions, manifest, compressConfig, aggregation);
          // What a tab receives and applies; the relay applies the same (download.ts keeps them equal).
          const published = publishAggregate(download, aggregate, submissions, manifest, compressConfig, aggregation);
          bytesDown = published.bytes;
          const skipped = applyAggregate(globalParams, published.applied, manifest, outerLr);
          if (skipped.length) throw new Error(`round ${round + 1}: aggregate skipped non-finite tensors ${skipped.join(', ')}`);
        }
      } else if (algo === 'diloco') {
        const pseudoGradients: DensePseudoGradient[] = [];
        for (let r = 0; r < R; r++) {
          trainLoss += (await engine.innerLoop(r, globalParams, replicaDataSeed(seed, r, round), round * H, H)) / R;
          const delta = new Float32Array(layout.size); // (layout.size)
          pseudoGradient(delta, globalParams, await engine.readLocalParams());
          pseudoGradients.push({ id: replicaId(r), delta });
        }
        const mean = new Float32Array(layout.size); // (layout.size) G
        meanPseudoGradient(mean, pseudoGradients);
        nesterovOuterStep(globalParams, momentum, mean, outer);
        bytesUp = denseBytes;
        bytesDown = denseBytes;
      } else {
        const seeds = Array.from({ length: R }, (_, r) => replicaDataSeed(seed, r, round));
        for (let i = 0; i < H; i++) trainLoss += (await engine.dataParallelStep(globalParams, seeds, round * H + i)) / H;
        bytesUp = denseBytes * H;
        bytesDown = denseBytes * H;
      }

      const valLoss = await engine.evaluate(globalParams, evalBatches);
      const result: RoundResult = {
        round: round + 1,
        val_loss: valLoss,
        train_loss: trainLoss,
        bytes_up_per_peer: bytesUp,
        bytes_down_per_peer: bytesDown,
        sim_seconds: (round + 1) * roundSeconds,
        steps,
        tokens: steps.reduce((sum, n) => sum + n, 0) * B * T,
        busy_share: steps.reduce((sum, n, r) => sum + n / speeds[r], 0) / (R * roundSeconds),
        ms: performance.now() - roundStart,
      };
      results.push(result);
      options.onRound?.(result);
    }

    return {
      algo,
      engine: engine.name,
      model: options.modelName ?? `L${options.model.nLayer}-C${options.model.nEmbd}`,
      params: layout.paramCount,
      peers: R,
      inner: H,
      batch: B,
      seq: T,
      seed,
      compressor: compressor?.name ?? null,
      aggregation: algo === 'sparseloco' ? aggregation : null,
      outer_lr: algo === 'sparseloco' ? outerLr : null,
      ef_beta: algo === 'sparseloco' ? beta : null,
      download: algo === 'sparseloco' ? download : null,
      speeds,
      schedule,
      round_seconds: roundSeconds,
      step_range: schedule === 'time-boxed' ? stepRange : null,
      lr_past_nominal: algo === 'sparseloco' ? lrPastNominal : null,
      tokens_per_round: R * H * B * T,
      total_tokens: results.reduce((sum, r) => sum + r.tokens, 0),
      initial_val_loss: initialValLoss,
      rounds: results,
      total_bytes_up_per_peer: results.reduce((sum, r) => sum + r.bytes_up_per_peer, 0),
      total_bytes_down_per_peer: results.reduce((sum, r) => sum + r.bytes_down_per_peer, 0),
      ms: performance.now() - started,
      finalParams: globalParams,
    };
  } finally {
    compressor?.destroy();
    engine.destroy();
  }
}
