// Local training for one round: H AdamW steps of the GPU model from θ on the
// volunteer's assigned batches. Runs wherever a GpuContext exists (Dawn in
// Node, navigator.gpu in a Worker). AdamW's moments stay on the GPU between
// rounds, as an inner optimizer does in DiLoCo/SparseLoCo; the schedule's
// position comes from the global version (version · H), so a tab that joins
// late uses the run's current learning rate.
//
// θ_local stays where training left it (the model's parameter buffer): the
// GPU compressor reads it in place, the CPU compressor reads it back
// (LocalParams), so the GPU path never copies the whole model to the host.
//
// Pacing (the browser tab): with a Pace the H steps run in chunks of a few
// with a gate between chunks, where the tab honours the page's controls — it
// waits while a pause reason holds and sleeps after each chunk so the GPU
// works only the throttle's share of the time. Without one (the headless
// volunteer) the H steps run in one go.
// A stop (the signal aborts) throws TrainingStoppedError instead of returning
// a shortened round, so a stopped volunteer never signs a partial update.
//
// Time-boxed rounds (a plan with a timeBox): the trainer runs until the
// training deadline instead of exactly H steps — at least minSteps, at most
// maxSteps, and no chunk that the last chunks' pace says would end past the
// deadline. Chunks stay short near it, so a fast GPU stops within a step or
// two of the deadline, and the time a pause or the throttle takes is simply
// time not trained: such a tab contributes fewer steps.
// Leaves out: device acquisition (the caller's), CPU fallback training.
import type { GpuContext } from '../gpu/runtime.ts';
import type { TrainConfig } from '../model/config.ts';
import { GptGpu } from '../model/gpt-gpu.ts';
import { runInnerLoop, type StepReport } from '../train/inner-loop.ts';
import { gptConfigOf, type SwarmSpec } from '../protocol/index.ts';

/** A stop arrived while the round was training: nothing of it is submitted. */
export class TrainingStoppedError extends Error {
  constructor() {
    super('training stopped');
    this.name = 'TrainingStoppedError';
  }
}

export interface TrainPlan {
  /** Sampler seed (samplerSeed(runSeed, address, round)). */
  seed: bigint;
  /** Global step before the first inner step (drives the batches and AdamW's t). */
  firstStep: number;
  /** H: the steps of a fixed round (a trainer that cannot keep time runs these). */
  steps: number;
  /** Train until a deadline instead (see the file header). */
  timeBox?: TimeBox;
  /** The schedule step whose learning rate global step `step` uses (schedule.ts roundScheduleStep); default the step. */
  scheduleStep?: (step: number) => number;
  signal?: AbortSignal;
  onStep?: (step: StepReport) => void;
}

export interface TimeBox {
  minSteps: number;
  maxSteps: number;
  /** When training must be over, on performance.now()'s clock (ms). */
  deadline: number;
}

/** Longest chunk of a time-boxed round without a Pace: long enough to keep two steps in flight, short enough to see the deadline coming. */
const TIME_BOX_CHUNK = 16;

/** θ_local where the trainer left it. */
export interface LocalParams {
  /** A host copy. (P) */
  read(): Promise<Float32Array>;
  /** The GPU buffer that holds it until the next train(), or null for a trainer without one. (P) */
  readonly gpuBuffer: GPUBuffer | null;
}

export interface TrainResult {
  local: LocalParams; // θ_local
  tokens: number;
  steps: number;
  losses: number[];
  ms: number; // wall time of the round's training, waits included
  workMs: number; // time the GPU was given work (chunks), without the Pace's waits
}

export interface LocalTrainer {
  readonly batchSize: number; // B
  readonly seqLen: number; // T
  train(params: Float32Array, plan: TrainPlan): Promise<TrainResult>;
  /** AdamW's first and second moments, (P) each, for a checkpoint. */
  moments(): Promise<{ m: Float32Array; v: Float32Array }>;
  /** Restores saved moments (P each); a fresh optimizer keeps zeros. */
  setMoments(m: Float32Array, v: Float32Array): void;
  destroy(): void;
}

/** Where a paced trainer yields between chunks of steps. */
export interface Pace {
  /** Steps per inner-loop call: small enough that a pause waits at most a few steps. */
  chunkSteps(): number;
  /** Before each chunk: waits while paused, then sleeps for the throttle given the last chunk's work (ms). */
  gate(lastWorkMs: number): Promise<void>;
  onStep(report: StepReport): void;
}

export interface GpuTrainerOptions {
  pace?: Pace;
}

export class GpuTrainer implements LocalTrainer {
  private constructor(
    readonly model: GptGpu,
    private readonly train_: TrainConfig,
    private readonly totalSteps: number,
    private readonly data: Uint8Array,
    private readonly pace: Pace | null,
  ) {}

  /** data: the run's training bytes (checked against the run's digest by the caller). */
  static async create(ctx: GpuContext, spec: SwarmSpec, data: Uint8Array, options: GpuTrainerOptions = {}): Promise<GpuTrainer> {
    const { totalSteps, ...rest } = spec.train;
    // B and T are the run's: a submission reports exactly steps·B·T tokens (protocol run-spec.ts).
    const train: TrainConfig = rest;
    const model = await GptGpu.create(ctx, gptConfigOf(spec), train.batchSize, train.seqLen, {
      lr: train.learningRate,
      beta1: train.beta1,
      beta2: train.beta2,
      eps: train.eps,
      weightDecay: train.weightDecay,
      gradClip: train.gradClip,
    });
    return new GpuTrainer(model, train, totalSteps, data, options.pace ?? null);
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
    const box = plan.timeBox;
    const most = box ? box.maxSteps : plan.steps;
    let tokens = 0;
    let done = 0;
    let lastWorkMs = 0;
    let workMs = 0;
    let stepMs: number | null = null; // pace of the last chunk
    while (done < most) {
      if (this.pace) await this.pace.gate(lastWorkMs);
      if (plan.signal?.aborted) throw new TrainingStoppedError();
      let chunk = this.pace ? this.pace.chunkSteps() : box ? TIME_BOX_CHUNK : most;
      if (box && done < box.minSteps) {
        // The minimum first, whatever the clock says; then the clock decides.
        chunk = Math.min(chunk, box.minSteps - done);
      } else if (box && stepMs !== null) {
        // Only the steps that fit before the deadline at the last chunk's pace.
        const fit = Math.floor((box.deadline - performance.now()) / stepMs);
        if (fit < 1) break;
        chunk = Math.min(chunk, fit);
      }
      chunk = Math.min(chunk, most - done);
      const chunkStarted = performance.now();
      const result = await runInnerLoop({
        model: this.model,
        train: this.train_,
        data: this.data,
        seed: plan.seed,
        steps: chunk,
        firstStep: plan.firstStep + done,
        totalSteps: Math.max(this.totalSteps, plan.firstStep + plan.steps),
        scheduleStep: plan.scheduleStep,
        signal: plan.signal,
        onStep: (report) => {
          plan.onStep?.(report);
          this.pace?.onStep(report);
        },
      });
      lastWorkMs = performance.now() - chunkStarted;
      workMs += lastWorkMs;
      if (plan.signal?.aborted) throw new TrainingStoppedError();
      done += result.steps.length;
      tokens += result.tokens;
      for (const step of result.steps) losses.push(step.loss);
      if (result.steps.length) stepMs = lastWorkMs / result.steps.length;
    }
    const model = this.model;
    return { local: { read: () => model.readParams(), gpuBuffer: model.params }, tokens, steps: done, losses, ms: performance.now() - started, workMs };
  }

  async moments(): Promise<{ m: Float32Array; v: Float32Array }> {
    const { ctx, layout } = this.model;
    const [m, v] = await Promise.all([ctx.readFloat32(this.model.m, layout.size), ctx.readFloat32(this.model.v, layout.size)]);
    return { m, v };
  }

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
