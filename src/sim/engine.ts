// The engine a simulated swarm trains on. Every replica of a simulation shares
// one engine: before a replica's inner loop the global parameters and that
// replica's AdamW moments (m, v) are loaded, and its moments are kept after it,
// so moments persist per replica across rounds (as in DiLoCo: a tab keeps its
// optimizer), while AdamW's step count t runs on with the global step.
//
//   GpuReplicaEngine  the GPT on WebGPU (GptGpu; Dawn in Node, SwiftShader
//                     where there is no GPU) — the engine tabs run
//   CpuReplicaEngine  the plain-TypeScript reference GPT (gpt-reference.ts)
//                     with the reference grad-norm clip and AdamW — the oracle
//                     the GPU model is tested against
//
// Both do the same arithmetic in a different order (float64 sums on the CPU,
// float32 reductions on the GPU), so their losses agree to rounding, not to the
// bit (tests/gpu/sim.test.ts compares them). A comparison of algorithms runs all
// of them on one engine. On a machine without a GPU the reference is the faster
// of the two at the nano and tiny sizes (docs/results.md gives the figures), so
// the long experiments there use it.
//
// A step is the inner loop's: the batch of global step s is batchFor(train,
// seed, s, B, T), learning rate learningRate(scheduleStep(s)) over totalSteps,
// gradients clipped at global norm gradClip, AdamW at t = s + 1.
// Leaves out: compression (compressor.ts), aggregation (simulate.ts).
import type { GpuContext } from '../gpu/runtime.ts';
import { GptGpu, type StepOptimizer } from '../model/gpt-gpu.ts';
import type { GptConfig, TrainConfig } from '../model/config.ts';
import { decayMask, type ParameterLayout } from '../model/layout.ts';
import { createGptReference, gptBackward, gptForward, gptZeroGrad, type GptReference } from '../model/gpt-reference.ts';
import { adamwUpdate } from '../reference/adamw.ts';
import { clipScale, gradNorm, scaleInPlace } from '../reference/grad-norm.ts';
import { evaluate, NonFiniteLossError, runInnerLoop } from '../train/inner-loop.ts';
import { learningRate } from '../train/schedule.ts';
import { batchFor, validationBatches, type Seed } from '../data/sampler.ts';

export const SIM_ENGINES = ['cpu', 'gpu'] as const;
export type SimEngineName = (typeof SIM_ENGINES)[number];

export interface ReplicaEngine {
  /** Shown in the simulator's output. */
  readonly name: 'cpu-reference' | 'gpu';
  readonly layout: ParameterLayout;
  /**
   * `steps` AdamW steps of `replica` from θ = globalParams with its own moments,
   * global steps firstStep … firstStep + steps − 1, each at the learning rate
   * of scheduleStep(step) (default: the step). Returns the mean step loss;
   * θ_local stays in the engine until the next call.
   */
  innerLoop(replica: number, globalParams: Float32Array, seed: Seed, firstStep: number, steps: number, scheduleStep?: (step: number) => number): Promise<number>;
  /** θ_local after the last innerLoop (a copy). */
  readLocalParams(): Promise<Float32Array>;
  /** Mean loss of θ over `batches` fixed validation windows of B×T. */
  evaluate(params: Float32Array, batches: number): Promise<number>;
  /**
   * One data-parallel step at global step `step`: every seed's batch gives a
   * gradient at θ = params, their mean is clipped and applied by one AdamW step
   * (one optimizer state for the whole swarm). params is updated in place.
   * Returns the mean loss over the batches.
   */
  dataParallelStep(params: Float32Array, seeds: readonly Seed[], step: number): Promise<number>;
  destroy(): void;
}

export interface EngineSetup {
  model: GptConfig;
  train: TrainConfig; // B and T are train.batchSize and train.seqLen
  /** Step at which the cosine schedule reaches its floor. */
  totalSteps: number;
  data: { train: Uint8Array; val: Uint8Array };
}

/** AdamW settings of global step `step` (0-based), as runInnerLoop computes them. */
export function optimizerAt(train: TrainConfig, step: number, totalSteps: number): StepOptimizer {
  const lr = learningRate(step, { maxLr: train.learningRate, warmupSteps: train.warmupSteps, totalSteps, minLrRatio: train.minLrFraction });
  return { lr, beta1: train.beta1, beta2: train.beta2, eps: train.eps, weightDecay: train.weightDecay, gradClip: train.gradClip };
}

/** One replica's AdamW moments while another replica holds the engine. */
interface Moments {
  m: Float32Array; // (layout.size)
  v: Float32Array; // (layout.size)
}

/** Key of the swarm-wide optimizer of dataParallelStep among the replicas' moments. */
const DATA_PARALLEL = -1;

export class CpuReplicaEngine implements ReplicaEngine {
  readonly name = 'cpu-reference';
  readonly layout: ParameterLayout;
  private readonly model: GptReference;
  private readonly mask: Float32Array; // (layout.size) weight decay on matrices only
  private readonly moments = new Map<number, Moments>();

  constructor(private readonly setup: EngineSetup) {
    this.model = createGptReference(setup.model);
    this.layout = this.model.layout;
    this.mask = decayMask(this.layout);
  }

  private momentsOf(replica: number): Moments {
    let state = this.moments.get(replica);
    if (!state) {
      state = { m: new Float32Array(this.layout.size), v: new Float32Array(this.layout.size) };
      this.moments.set(replica, state);
    }
    return state;
  }

  /** Forward + backward of one batch into cleared (or, with accumulate, summed) gradients; returns the loss. */
  private gradient(seed: Seed, step: number, accumulate: boolean): number {
    const { batchSize: B, seqLen: T } = this.setup.train;
    const batch = batchFor(this.setup.data.train, seed, step, B, T);
    if (!accumulate) gptZeroGrad(this.model);
    const loss = gptForward(this.model, batch.inputs, batch.targets, B, T);
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(step, loss);
    gptBackward(this.model);
    return loss;
  }

  /** Clip the gradients at the global norm and take the AdamW step of global step `step` at the rate of `scheduleStep`. */
  private optimizerStep(state: Moments, step: number, scheduleStep = step): void {
    const { train, totalSteps } = this.setup;
    const { grads, params } = this.model;
    const N = this.layout.size;
    const optimizer = optimizerAt(train, scheduleStep, totalSteps);
    scaleInPlace(grads, N, clipScale(gradNorm(grads, N), optimizer.gradClip));
    adamwUpdate(params, grads, state.m, state.v, N, optimizer.lr, optimizer.beta1, optimizer.beta2, optimizer.eps, optimizer.weightDecay, step + 1, this.mask);
  }

  async innerLoop(replica: number, globalParams: Float32Array, seed: Seed, firstStep: number, steps: number, scheduleStep?: (step: number) => number): Promise<number> {
    const state = this.momentsOf(replica);
    this.model.params.set(globalParams);
    let lossSum = 0;
    for (let i = 0; i < steps; i++) {
      const step = firstStep + i;
      lossSum += this.gradient(seed, step, false);
      this.optimizerStep(state, step, scheduleStep ? scheduleStep(step) : step);
    }
    return lossSum / steps;
  }

  async readLocalParams(): Promise<Float32Array> {
    return this.model.params.slice();
  }

  async evaluate(params: Float32Array, batches: number): Promise<number> {
    const { batchSize: B, seqLen: T } = this.setup.train;
    this.model.params.set(params);
    let total = 0;
    const list = validationBatches(this.setup.data.val, B, T, batches);
    for (const batch of list) total += gptForward(this.model, batch.inputs, batch.targets, B, T);
    return total / list.length;
  }

  async dataParallelStep(params: Float32Array, seeds: readonly Seed[], step: number): Promise<number> {
    this.model.params.set(params);
    let lossSum = 0;
    // gptBackward accumulates: the sum of the R mean-loss gradients, then / R.
    seeds.forEach((seed, r) => (lossSum += this.gradient(seed, step, r > 0)));
    scaleInPlace(this.model.grads, this.layout.size, 1 / seeds.length);
    this.optimizerStep(this.momentsOf(DATA_PARALLEL), step);
    params.set(this.model.params);
    return lossSum / seeds.length;
  }

  destroy(): void {
    this.moments.clear();
  }
}

export class GpuReplicaEngine implements ReplicaEngine {
  readonly name = 'gpu';
  private readonly moments = new Map<number, Moments>();
  private resident: number | null = null; // whose moments model.m / model.v hold

  private constructor(
    private readonly ctx: GpuContext,
    /** The model; a GPU compressor reads θ_local from model.params without a readback. */
    readonly model: GptGpu,
    private readonly setup: EngineSetup,
  ) {}

  static async create(ctx: GpuContext, setup: EngineSetup): Promise<GpuReplicaEngine> {
    // The clip threshold is fixed when the grad-norm dispatch is prepared; lr and the rest are set per step.
    const model = await GptGpu.create(ctx, setup.model, setup.train.batchSize, setup.train.seqLen, optimizerAt(setup.train, 0, setup.totalSteps));
    return new GpuReplicaEngine(ctx, model, setup);
  }

  get layout(): ParameterLayout {
    return this.model.layout;
  }

  /** Swaps `replica`'s moments into the model (zero at first use). */
  private async load(replica: number): Promise<void> {
    if (this.resident === replica) return;
    const size = this.layout.size;
    if (this.resident !== null) {
      this.moments.set(this.resident, {
        m: await this.ctx.readFloat32(this.model.m, size),
        v: await this.ctx.readFloat32(this.model.v, size),
      });
    }
    const saved = this.moments.get(replica);
    if (saved) {
      this.ctx.write(this.model.m, saved.m);
      this.ctx.write(this.model.v, saved.v);
    } else {
      this.model.resetOptimizer();
    }
    this.resident = replica;
  }

  async innerLoop(replica: number, globalParams: Float32Array, seed: Seed, firstStep: number, steps: number, scheduleStep?: (step: number) => number): Promise<number> {
    await this.load(replica);
    this.model.uploadParams(globalParams);
    const result = await runInnerLoop({
      model: this.model,
      train: this.setup.train,
      data: this.setup.data.train,
      seed,
      steps,
      firstStep,
      totalSteps: this.setup.totalSteps,
      scheduleStep,
    });
    return result.steps.reduce((sum, s) => sum + s.loss, 0) / result.steps.length;
  }

  readLocalParams(): Promise<Float32Array> {
    return this.model.readParams();
  }

  async evaluate(params: Float32Array, batches: number): Promise<number> {
    this.model.uploadParams(params);
    return evaluate(this.model, this.setup.data.val, batches);
  }

  async dataParallelStep(params: Float32Array, seeds: readonly Seed[], step: number): Promise<number> {
    await this.load(DATA_PARALLEL);
    const { model } = this;
    const size = this.layout.size;
    const { batchSize: B, seqLen: T } = this.setup.train;
    model.uploadParams(params);
    const mean = new Float32Array(size); // (layout.size) averaged gradient, summed in seed order
    let lossSum = 0;
    for (const seed of seeds) {
      const batch = batchFor(this.setup.data.train, seed, step, B, T);
      lossSum += await model.forwardBackward(batch.inputs, batch.targets);
      const grads = await model.readGrads(); // (layout.size)
      for (let j = 0; j < size; j++) mean[j] += grads[j];
    }
    for (let j = 0; j < size; j++) mean[j] = mean[j] / seeds.length;
    model.uploadGrads(mean);
    await model.optimizerStep(step + 1, optimizerAt(this.setup.train, step, this.setup.totalSteps));
    params.set(await model.readParams());
    return lossSum / seeds.length;
  }

  destroy(): void {
    this.moments.clear();
    this.model.destroy();
  }
}

/** The engine of that name; the GPU one needs a context. */
export async function createReplicaEngine(name: SimEngineName, setup: EngineSetup, ctx?: GpuContext): Promise<ReplicaEngine> {
  if (name === 'cpu') return new CpuReplicaEngine(setup);
  if (name === 'gpu') {
    if (!ctx) throw new RangeError('the gpu engine needs a GPU context');
    return GpuReplicaEngine.create(ctx, setup);
  }
  throw new RangeError(`engine must be one of ${SIM_ENGINES.join(', ')}, got ${String(name)}`);
}
