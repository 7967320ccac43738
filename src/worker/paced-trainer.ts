// The swarm's LocalTrainer in the browser Worker: the same H AdamW steps as
// src/swarm/trainer.ts's GpuTrainer (same batches, schedule and AdamW t from
// the global step, so the update is the same), run in chunks of a few steps
// with a gate between chunks. The gate is where the tab honours the page's
// controls: it waits while a pause reason holds and sleeps after each chunk
// so the GPU works only the throttle's share of the time. A stop (abort)
// throws TrainingStoppedError instead of returning a shortened round, so a
// stopped tab never signs a partial update.
// It also exposes AdamW's moments, which a tab checkpoints with its round.
// Leaves out: device acquisition and data download (swarm-session.ts).
import type { GptConfig, TrainConfig } from '../model/config.ts';
import { GptGpu } from '../model/gpt-gpu.ts';
import type { GpuContext } from '../gpu/runtime.ts';
import type { LocalTrainer, TrainPlan, TrainResult } from '../swarm/trainer.ts';
import type { SwarmTrainSpec } from '../protocol/run-spec.ts';
import { runInnerLoop, type StepReport } from '../train/inner-loop.ts';

/** A stop arrived while the round was training: nothing of it is submitted. */
export class TrainingStoppedError extends Error {
  constructor() {
    super('training stopped');
    this.name = 'TrainingStoppedError';
  }
}

export interface Pace {
  /** Steps per inner-loop call: small enough that a pause waits at most a few steps. */
  chunkSteps(): number;
  /** Before each chunk: waits while paused, then sleeps for the throttle given the last chunk's work (ms). */
  gate(lastWorkMs: number, signal: AbortSignal | undefined): Promise<void>;
  onStep(report: StepReport): void;
}

export class PacedTrainer implements LocalTrainer {
  private constructor(
    readonly model: GptGpu,
    private readonly train_: TrainConfig,
    private readonly totalSteps: number,
    private readonly data: Uint8Array,
    private readonly pace: Pace,
  ) {}

  static async create(ctx: GpuContext, config: GptConfig, spec: SwarmTrainSpec, data: Uint8Array, pace: Pace): Promise<PacedTrainer> {
    const { totalSteps, ...train } = spec;
    const model = await GptGpu.create(ctx, config, train.batchSize, train.seqLen, {
      lr: train.learningRate,
      beta1: train.beta1,
      beta2: train.beta2,
      eps: train.eps,
      weightDecay: train.weightDecay,
      gradClip: train.gradClip,
    });
    return new PacedTrainer(model, train, totalSteps, data, pace);
  }

  get batchSize(): number {
    return this.model.B;
  }

  get seqLen(): number {
    return this.model.T;
  }

  async train(params: Float32Array, plan: TrainPlan): Promise<TrainResult> {
    this.model.uploadParams(params);
    const started = performance.now();
    const losses: number[] = [];
    let tokens = 0;
    let done = 0;
    let lastWorkMs = 0;
    while (done < plan.steps) {
      await this.pace.gate(lastWorkMs, plan.signal);
      if (plan.signal?.aborted) throw new TrainingStoppedError();
      const chunkStarted = performance.now();
      const result = await runInnerLoop({
        model: this.model,
        train: this.train_,
        data: this.data,
        seed: plan.seed,
        steps: Math.min(this.pace.chunkSteps(), plan.steps - done),
        firstStep: plan.firstStep + done,
        totalSteps: Math.max(this.totalSteps, plan.firstStep + plan.steps),
        signal: plan.signal,
        onStep: (report) => {
          plan.onStep?.(report);
          this.pace.onStep(report);
        },
      });
      lastWorkMs = performance.now() - chunkStarted;
      if (plan.signal?.aborted) throw new TrainingStoppedError();
      done += result.steps.length;
      tokens += result.tokens;
      for (const step of result.steps) losses.push(step.loss);
    }
    return { params: await this.model.readParams(), tokens, steps: done, losses, ms: performance.now() - started };
  }

  /** AdamW's first and second moments, (P) each, for a checkpoint. */
  async moments(): Promise<{ m: Float32Array; v: Float32Array }> {
    const { ctx, layout } = this.model;
    const [m, v] = await Promise.all([ctx.readFloat32(this.model.m, layout.size), ctx.readFloat32(this.model.v, layout.size)]);
    return { m, v };
  }

  /** Restores saved moments (P each); a fresh optimizer keeps zeros. */
  setMoments(m: Float32Array, v: Float32Array): void {
    const size = this.model.layout.size;
    if (m.length !== size || v.length !== size) throw new RangeError(`saved AdamW moments have ${m.length}/${v.length} floats, the model ${size}`);
    this.model.ctx.write(this.model.m, m);
    this.model.ctx.write(this.model.v, v);
  }

  destroy(): void {
    this.model.destroy();
  }
}
