// Local training for one round: H AdamW steps of the GPU model from θ on the
// volunteer's assigned batches, returning θ_local. Runs wherever a GpuContext
// exists (Dawn in Node, navigator.gpu in a Worker). AdamW's moments stay on
// the GPU between rounds, as an inner optimizer does in DiLoCo/SparseLoCo;
// the schedule's position comes from the global version (version · H), so a
// tab that joins late uses the run's current learning rate.
// Leaves out: device acquisition (the caller's), CPU fallback training.
import type { GpuContext } from '../gpu/runtime.ts';
import type { TrainConfig } from '../model/config.ts';
import { GptGpu } from '../model/gpt-gpu.ts';
import { runInnerLoop, type StepReport } from '../train/inner-loop.ts';
import { gptConfigOf, type SwarmSpec } from '../protocol/index.ts';

export interface TrainPlan {
  /** Sampler seed (samplerSeed(runSeed, address, round)). */
  seed: bigint;
  /** Global step before the first inner step (drives the LR schedule and AdamW's t). */
  firstStep: number;
  /** H. */
  steps: number;
  signal?: AbortSignal;
  onStep?: (step: StepReport) => void;
}

export interface TrainResult {
  params: Float32Array; // (P) θ_local
  tokens: number;
  steps: number;
  losses: number[];
  ms: number;
}

export interface LocalTrainer {
  readonly batchSize: number; // B
  readonly seqLen: number; // T
  train(params: Float32Array, plan: TrainPlan): Promise<TrainResult>;
  destroy(): void;
}

export class GpuTrainer implements LocalTrainer {
  private constructor(
    private readonly model: GptGpu,
    private readonly train_: TrainConfig,
    private readonly totalSteps: number,
    private readonly data: Uint8Array,
  ) {}

  /** data: the run's training bytes (checked against the run's digest by the caller). B defaults to the run's. */
  static async create(ctx: GpuContext, spec: SwarmSpec, data: Uint8Array, batchSize = spec.train.batchSize): Promise<GpuTrainer> {
    const { totalSteps, ...rest } = spec.train;
    const train: TrainConfig = { ...rest, batchSize };
    const model = await GptGpu.create(ctx, gptConfigOf(spec), batchSize, train.seqLen, {
      lr: train.learningRate,
      beta1: train.beta1,
      beta2: train.beta2,
      eps: train.eps,
      weightDecay: train.weightDecay,
      gradClip: train.gradClip,
    });
    return new GpuTrainer(model, train, totalSteps, data);
  }

  get batchSize(): number {
    return this.model.B;
  }

  get seqLen(): number {
    return this.model.T;
  }

  async train(params: Float32Array, plan: TrainPlan): Promise<TrainResult> {
    this.model.uploadParams(params);
    const result = await runInnerLoop({
      model: this.model,
      train: this.train_,
      data: this.data,
      seed: plan.seed,
      steps: plan.steps,
      firstStep: plan.firstStep,
      totalSteps: Math.max(this.totalSteps, plan.firstStep + plan.steps),
      signal: plan.signal,
      onStep: plan.onStep,
    });
    return {
      params: await this.model.readParams(),
      tokens: result.tokens,
      steps: result.steps.length,
      losses: result.steps.map((s) => s.loss),
      ms: result.ms,
    };
  }

  destroy(): void {
    this.model.destroy();
  }
}
