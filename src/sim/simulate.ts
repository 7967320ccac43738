// A swarm in one process: R replicas train the same GPT on the real WebGPU
// engine and synchronise with SparseLoCo, DiLoCo or plain data-parallel AdamW
// (DDP), so the three can be compared at equal tokens on the same data.
//
// One GptGpu serves every replica: before a replica's inner loop the global
// parameters and that replica's AdamW moments (m, v) are written into the
// model's buffers, and the moments are read back afterwards. Moments persist
// per replica across rounds, as in DiLoCo (a tab keeps its optimizer), and
// AdamW's step count t runs on with the global step.
//
// Per round t (all three consume exactly R·H·B·T tokens, the same ones):
//   sparseloco  replica r: H AdamW steps from θ(t−1) on its data; compressor
//               (EF β = 0.95, top-k, 2-bit; compressor.ts, CPU reference or
//               GPU) → encodeUpdate → bytes (counted; the largest of the R
//               payloads, which differ by a few bytes) → decodeUpdate;
//               relay: aggregateUpdates
//               (median-norm clip, 1/R mean) → encodeAggregate (counted as the
//               download) → decodeAggregate → θ(t) = θ(t−1) − 1·G.
//   diloco      replica r: the same H steps; Δ_r = θ(t−1) − θ_r sent densely
//               (4 bytes × params); G = mean Δ; outer Nesterov (lr 0.7, μ 0.9).
//   ddp         H global steps; at each, every replica runs forward+backward on
//               its batch of that step, gradients are averaged in float32 in
//               replica order, clipped and applied by one AdamW step. Each
//               replica sends 4 bytes × params per step.
// Replica r's batch at global step s is batchFor(train, replicaDataSeed(seed,
// r, round), s, B, T) in every algorithm; the inner LR schedule (warmup +
// cosine) runs over rounds·H steps in all three.
// Bytes are counted per peer and round: up = what one replica sends, down =
// what the coordinator sends back to one replica (parameter-server
// accounting; a ring all-reduce would move about 2·(R−1)/R of the dense size).
//
// Every step is deterministic (GPU reductions are fixed-order; CPU sums run in
// replica-id order), so the same options give the same bits.
// Leaves out: stragglers, dropped or malicious peers, scoring (relay work), and
// the real network; replicas run one after another.
// Sources: SPEC.md §1 (SparseLoCo), Douillard et al. 2023 (DiLoCo).
import type { GpuContext } from '../gpu/runtime.ts';
import { GptGpu, type StepOptimizer } from '../model/gpt-gpu.ts';
import { defaultTrainConfig, validateTrainConfig, type GptConfig, type TrainConfig } from '../model/config.ts';
import { initGptParameters } from '../model/init.ts';
import type { ParameterLayout } from '../model/layout.ts';
import { evaluate, runInnerLoop } from '../train/inner-loop.ts';
import { learningRate } from '../train/schedule.ts';
import { batchFor, mix64, type Seed } from '../data/sampler.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import { defaultCompressConfig, DEFAULT_EF_BETA, type CompressConfig } from '../compress/sparseloco.ts';
import { decodeAggregate, decodeUpdate, encodeAggregate, encodeUpdate } from '../compress/codec.ts';
import { aggregateUpdates, applyAggregate, type Submission } from '../compress/aggregate.ts';
import {
  defaultNesterovOuterConfig,
  meanPseudoGradient,
  nesterovOuterStep,
  pseudoGradient,
  type DensePseudoGradient,
  type NesterovOuterConfig,
} from '../compress/diloco.ts';
import { CpuReplicaCompressor, GpuReplicaCompressor, type ReplicaCompressor } from './compressor.ts';

export const SIM_ALGORITHMS = ['sparseloco', 'diloco', 'ddp'] as const;
export type SimAlgorithm = (typeof SIM_ALGORITHMS)[number];

export interface SimulationOptions {
  ctx: GpuContext;
  algo: SimAlgorithm;
  model: GptConfig;
  /** Preset name, echoed in the result. */
  modelName?: string;
  peers: number; // R
  inner: number; // H: inner steps per round (DDP: global steps per round)
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
  outer?: NesterovOuterConfig;
  /** SparseLoCo's compressor: 'cpu' (the reference, default), 'gpu', or a factory (tests, new implementations). */
  compressor?: 'cpu' | 'gpu' | CompressorFactory;
  onRound?: (round: RoundResult) => void;
}

/** What a compressor needs to set itself up. paramCount = layout.size, the flat buffer's length. */
export type CompressorFactory = (setup: {
  ctx: GpuContext;
  manifest: TensorManifest;
  paramCount: number;
  config: CompressConfig;
  beta: number;
}) => ReplicaCompressor | Promise<ReplicaCompressor>;

const COMPRESSORS: Record<'cpu' | 'gpu', CompressorFactory> = {
  cpu: ({ manifest, config, beta }) => new CpuReplicaCompressor(manifest, config, beta),
  gpu: ({ ctx, manifest, paramCount, config, beta }) => GpuReplicaCompressor.create(ctx, manifest, paramCount, config, beta),
};

export interface RoundResult {
  round: number; // 1-based
  val_loss: number; // global model after the round's outer step
  train_loss: number; // mean inner-step loss over replicas and steps
  bytes_up_per_peer: number;
  bytes_down_per_peer: number;
  ms: number;
}

export interface SimulationResult {
  algo: SimAlgorithm;
  model: string;
  params: number; // real parameters (no padding)
  peers: number;
  inner: number;
  batch: number;
  seq: number;
  seed: number;
  compressor: string | null;
  tokens_per_round: number; // R·H·B·T
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

/** One replica's AdamW moments, kept on the CPU between its turns on the shared model. */
interface ReplicaOptimizerState {
  m: Float32Array; // (layout.size)
  v: Float32Array; // (layout.size)
}

/**
 * R replicas sharing one GptGpu: before a replica's inner loop θ and that
 * replica's AdamW moments are written into the model, and the moments are read
 * back after it (see the file header).
 */
export class ReplicaTrainer {
  private readonly states: ReplicaOptimizerState[];

  constructor(
    private readonly ctx: GpuContext,
    readonly model: GptGpu,
    private readonly train: TrainConfig,
    private readonly totalSteps: number,
    private readonly data: Uint8Array, // training bytes
    replicas: number,
  ) {
    const size = model.layout.size;
    this.states = Array.from({ length: replicas }, () => ({ m: new Float32Array(size), v: new Float32Array(size) }));
  }

  /** `steps` AdamW steps of `replica` from θ on batchFor(data, seed, step); θ_local stays in model.params. Returns the mean step loss. */
  async innerLoop(replica: number, globalParams: Float32Array, seed: Seed, firstStep: number, steps: number): Promise<number> {
    const { ctx, model } = this;
    const state = this.states[replica];
    model.uploadParams(globalParams);
    ctx.write(model.m, state.m);
    ctx.write(model.v, state.v);
    const result = await runInnerLoop({ model, train: this.train, data: this.data, seed, steps, firstStep, totalSteps: this.totalSteps });
    state.m = await ctx.readFloat32(model.m, model.layout.size);
    state.v = await ctx.readFloat32(model.v, model.layout.size);
    return result.steps.reduce((sum, s) => sum + s.loss, 0) / result.steps.length;
  }
}

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

/** A flat id per replica, ordered like the replica index (aggregation sorts by id). */
const replicaId = (r: number) => `replica-${String(r).padStart(6, '0')}`;

function checkOptions(o: SimulationOptions): void {
  if (!SIM_ALGORITHMS.includes(o.algo)) throw new RangeError(`algo must be one of ${SIM_ALGORITHMS.join(', ')}, got ${o.algo}`);
  for (const [name, value] of [['peers', o.peers], ['inner', o.inner], ['rounds', o.rounds], ['batch', o.batch], ['seq', o.seq]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
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

  const started = performance.now();
  const { params: initial, layout } = initGptParameters(options.model, seed);
  const manifest = manifestOf(layout);
  const denseBytes = 4 * layout.paramCount;
  // The clip threshold is fixed when the grad-norm dispatch is prepared; lr and the rest are set per step.
  const model = await GptGpu.create(ctx, options.model, B, T, optimizerAt(train, 0, totalSteps));
  let compressor: ReplicaCompressor | null = null;
  if (algo === 'sparseloco') {
    const choice = options.compressor ?? 'cpu';
    const factory = typeof choice === 'function' ? choice : COMPRESSORS[choice];
    if (!factory) throw new RangeError(`compressor must be cpu, gpu or a factory, got ${String(choice)}`);
    try {
      compressor = await factory({ ctx, manifest, paramCount: layout.size, config: compressConfig, beta });
    } catch (e) {
      model.destroy();
      throw e;
    }
  }

  try {
    const globalParams = initial.slice(); // (layout.size) θ, the coordinator's copy
    model.uploadParams(globalParams);
    model.resetOptimizer();
    const initialValLoss = await evaluate(model, data.val, evalBatches);

    const replicas = new ReplicaTrainer(ctx, model, train, totalSteps, data.train, R);
    const momentum = new Float32Array(layout.size); // (layout.size) DiLoCo's outer Nesterov buffer
    const results: RoundResult[] = [];
    const innerLoop = (r: number, round: number) => replicas.innerLoop(r, globalParams, replicaDataSeed(seed, r, round), round * H, H);

    for (let round = 0; round < rounds; round++) {
      const roundStart = performance.now();
      let trainLoss = 0;
      let bytesUp = 0;
      let bytesDown = 0;

      if (algo === 'sparseloco') {
        const submissions: Submission[] = [];
        let largest = 0;
        for (let r = 0; r < R; r++) {
          trainLoss += (await innerLoop(r, round)) / R;
          const update = await compressor!.compress(r, globalParams, model);
          const bytes = encodeUpdate(update, manifest, compressConfig);
          largest = Math.max(largest, bytes.length);
          // The relay sees only bytes: aggregate what decodes, as it would.
          submissions.push({ id: replicaId(r), update: decodeUpdate(bytes, manifest, compressConfig) });
        }
        bytesUp = largest; // payload sizes differ by a few bytes (Rice-coded gaps); report the largest
        const aggregate = aggregateUpdates(submissions, manifest, compressConfig);
        const wire = encodeAggregate(aggregate, manifest, compressConfig);
        bytesDown = wire.length;
        const skipped = applyAggregate(globalParams, decodeAggregate(wire, manifest, compressConfig), manifest, 1);
        if (skipped.length) throw new Error(`round ${round + 1}: aggregate skipped non-finite tensors ${skipped.join(', ')}`);
      } else if (algo === 'diloco') {
        const pseudoGradients: DensePseudoGradient[] = [];
        for (let r = 0; r < R; r++) {
          trainLoss += (await innerLoop(r, round)) / R;
          const delta = new Float32Array(layout.size); // (layout.size)
          pseudoGradient(delta, globalParams, await model.readParams());
          pseudoGradients.push({ id: replicaId(r), delta });
        }
        const mean = new Float32Array(layout.size); // (layout.size) G
        meanPseudoGradient(mean, pseudoGradients);
        nesterovOuterStep(globalParams, momentum, mean, outer);
        bytesUp = denseBytes;
        bytesDown = denseBytes;
      } else {
        trainLoss = await ddpRound(model, train, data.train, seed, R, H, round, totalSteps);
        globalParams.set(await model.readParams());
        bytesUp = denseBytes * H;
        bytesDown = denseBytes * H;
      }

      model.uploadParams(globalParams);
      const valLoss = await evaluate(model, data.val, evalBatches);
      const result: RoundResult = {
        round: round + 1,
        val_loss: valLoss,
        train_loss: trainLoss,
        bytes_up_per_peer: bytesUp,
        bytes_down_per_peer: bytesDown,
        ms: performance.now() - roundStart,
      };
      results.push(result);
      options.onRound?.(result);
    }

    return {
      algo,
      model: options.modelName ?? `L${options.model.nLayer}-C${options.model.nEmbd}`,
      params: layout.paramCount,
      peers: R,
      inner: H,
      batch: B,
      seq: T,
      seed,
      compressor: compressor?.name ?? null,
      tokens_per_round: R * H * B * T,
      initial_val_loss: initialValLoss,
      rounds: results,
      total_bytes_up_per_peer: results.reduce((sum, r) => sum + r.bytes_up_per_peer, 0),
      total_bytes_down_per_peer: results.reduce((sum, r) => sum + r.bytes_down_per_peer, 0),
      ms: performance.now() - started,
      finalParams: globalParams,
    };
  } finally {
    compressor?.destroy();
    model.destroy();
  }
}

/** AdamW settings of global step `step` (0-based), as runInnerLoop computes them. */
export function optimizerAt(train: TrainConfig, step: number, totalSteps: number): StepOptimizer {
  const lr = learningRate(step, { maxLr: train.learningRate, warmupSteps: train.warmupSteps, totalSteps, minLrRatio: train.minLrFraction });
  return { lr, beta1: train.beta1, beta2: train.beta2, eps: train.eps, weightDecay: train.weightDecay, gradClip: train.gradClip };
}

/**
 * One DDP round: H global AdamW steps, each on the mean of the R replicas'
 * gradients for that step (the model's m and v are the one optimizer). Returns
 * the mean loss over steps and replicas.
 */
async function ddpRound(
  model: GptGpu,
  train: TrainConfig,
  data: Uint8Array,
  seed: number,
  R: number,
  H: number,
  round: number,
  totalSteps: number,
): Promise<number> {
  const size = model.layout.size;
  const mean = new Float32Array(size); // (layout.size) averaged gradient
  const seeds = Array.from({ length: R }, (_, r) => replicaDataSeed(seed, r, round));
  let lossSum = 0;
  for (let i = 0; i < H; i++) {
    const step = round * H + i;
    mean.fill(0);
    for (let r = 0; r < R; r++) {
      const batch = batchFor(data, seeds[r], step, model.B, model.T);
      lossSum += await model.forwardBackward(batch.inputs, batch.targets);
      const grads = await model.readGrads(); // (layout.size)
      for (let j = 0; j < size; j++) mean[j] += grads[j];
    }
    for (let j = 0; j < size; j++) mean[j] = mean[j] / R;
    model.uploadGrads(mean);
    await model.optimizerStep(step + 1, optimizerAt(train, step, totalSteps));
  }
  return lossSum / (H * R);
}
