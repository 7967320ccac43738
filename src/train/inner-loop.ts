// The inner loop: H AdamW steps of the GPU model from its current parameters,
// on batches that are a pure function of (data seed, step), with warmup +
// cosine learning rate over the run's global step count. The same code runs
// in the browser Worker and in Node (Dawn).
//
// Losses are read back asynchronously: step i+1 is submitted before step i's
// loss arrives, so the GPU never waits on the CPU; at most two steps are in
// flight (a bounded queue keeps memory and latency in check).
// Leaves out: checkpointing and compression (callers do them between rounds).
import type { GptGpu, StepOptimizer } from '../model/gpt-gpu.ts';
import type { TrainConfig } from '../model/config.ts';
import { batchFor, validationBatches, type Seed } from '../data/sampler.ts';
import { learningRate } from './schedule.ts';

export interface InnerLoopOptions {
  model: GptGpu;
  train: TrainConfig;
  data: Uint8Array; // training bytes
  seed: Seed; // data seed: the batch of step s is batchFor(data, seed, s, B, T)
  steps: number; // H
  /** Global step count before this loop (drives the LR schedule and AdamW's t). */
  firstStep: number;
  /** Step at which the cosine schedule reaches its floor. */
  totalSteps: number;
  /**
   * The schedule step whose learning rate global step `step` uses; default the
   * step itself. A time-boxed round holds the rate past its nominal steps
   * (schedule.ts, roundScheduleStep).
   */
  scheduleStep?: (step: number) => number;
  onStep?: (step: StepReport) => void;
  /** Stops after the step in flight; the result covers the steps done. */
  signal?: AbortSignal;
}

export interface StepReport {
  step: number; // global step (0-based)
  loss: number;
  lr: number;
  tokens: number; // B·T of this step
  ms: number; // wall time between this step's and the previous step's completion
}

export interface InnerLoopResult {
  steps: StepReport[];
  tokens: number;
  ms: number;
}

export async function runInnerLoop(options: InnerLoopOptions): Promise<InnerLoopResult> {
  const { model, train, data, seed, steps, firstStep, totalSteps } = options;
  const { B, T } = model;
  const reports: StepReport[] = [];
  const inFlight: { step: number; lr: number; loss: Promise<number> }[] = [];
  const start = performance.now();
  let last = start;

  const settle = async () => {
    const pending = inFlight.shift()!;
    const loss = await pending.loss;
    const now = performance.now();
    const report = { step: pending.step, loss, lr: pending.lr, tokens: B * T, ms: now - last };
    last = now;
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(pending.step, loss);
    reports.push(report);
    options.onStep?.(report);
  };

  try {
    for (let i = 0; i < steps && !options.signal?.aborted; i++) {
      const step = firstStep + i;
      const lr = learningRate(options.scheduleStep ? options.scheduleStep(step) : step, { maxLr: train.learningRate, warmupSteps: train.warmupSteps, totalSteps, minLrRatio: train.minLrFraction });
      const optimizer: StepOptimizer = { lr, beta1: train.beta1, beta2: train.beta2, eps: train.eps, weightDecay: train.weightDecay, gradClip: train.gradClip };
      const batch = batchFor(data, seed, step, B, T);
      inFlight.push({ step, lr, loss: model.step(batch.inputs, batch.targets, step + 1, optimizer).loss });
      if (inFlight.length >= 2) await settle();
    }
    while (inFlight.length) await settle();
  } catch (error) {
    // A lost device or a diverged step rejects every step still in flight:
    // the first rejection is this loop's error, the rest must not surface as
    // unhandled rejections.
    for (const pending of inFlight) pending.loss.catch(() => undefined);
    throw error;
  }
  return { steps: reports, tokens: reports.length * B * T, ms: performance.now() - start };
}

/** Mean loss over fixed validation windows (forward only). */
export async function evaluate(model: GptGpu, data: Uint8Array, batches = 4): Promise<number> {
  let total = 0;
  const list = validationBatches(data, model.B, model.T, batches);
  for (const batch of list) total += await model.forward(batch.inputs, batch.targets);
  return total / list.length;
}

export class NonFiniteLossError extends Error {
  constructor(readonly step: number, readonly loss: number) {
    super(`training diverged: the loss at step ${step} is ${loss}; the round's update is discarded`);
    this.name = 'NonFiniteLossError';
  }
}
