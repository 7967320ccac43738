// The volunteer's trainer in a time-boxed round (src/swarm/trainer.ts) on
// Dawn (SwiftShader): with the deadline already past it trains exactly its
// minimum, with the deadline far away its maximum, without a time box
// exactly H; steps past H hold the learning rate of step H − 1 (the
// schedule map the volunteer passes, roundScheduleStep); the GPU's work time
// never exceeds the wall time. No assertion depends on how fast a step is.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDataset } from '../../src/data/prepare.ts';
import { buildRunConfig, defaultRelayOptions, runInfoFor } from '../../src/relay/config.ts';
import { initGptParameters } from '../../src/model/init.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { roundScheduleStep } from '../../src/train/schedule.ts';
import { GpuTrainer, type TrainPlan } from '../../src/swarm/trainer.ts';
import type { StepReport } from '../../src/train/inner-loop.ts';
import { gpuContext } from './gpu-context.ts';

const H = 3;
let trainer: GpuTrainer;
let theta: Float32Array;

beforeAll(async () => {
  const data = ensureDataset();
  const config = buildRunConfig({
    preset: 'nano',
    innerSteps: H,
    train: { batchSize: 1, seqLen: 16, warmupSteps: 0 },
    data: { name: 'brown', trainUrl: '/data/x', trainBytes: data.train.length, trainSha256: '00'.repeat(32), valBytes: 1, valSha256: '00'.repeat(32) },
  });
  const info = runInfoFor(config, defaultRelayOptions(config.model));
  trainer = await GpuTrainer.create(await gpuContext(), info.swarm, data.train);
  theta = initGptParameters(GPT_PRESETS.nano, 1).params;
});

async function train(extra: Partial<TrainPlan>): Promise<{ steps: number; reports: StepReport[]; ms: number; workMs: number }> {
  const reports: StepReport[] = [];
  const firstStep = 10 * H; // version 10
  const result = await trainer.train(theta, { seed: 7n, firstStep, steps: H, scheduleStep: (s) => roundScheduleStep(s, firstStep, H), onStep: (r) => reports.push(r), ...extra });
  return { steps: result.steps, reports, ms: result.ms, workMs: result.workMs };
}

describe('trainer: time-boxed rounds', () => {
  it('trains exactly H without a time box', async () => {
    expect((await train({})).steps).toBe(H);
  });

  it('stops at its minimum when the deadline has passed, runs to its maximum when it is far', async () => {
    const late = await train({ timeBox: { minSteps: 2, maxSteps: 6, deadline: performance.now() - 1 } });
    expect(late.steps).toBe(2);
    const early = await train({ timeBox: { minSteps: 2, maxSteps: 6, deadline: performance.now() + 3_600_000 } });
    expect(early.steps).toBe(6);
    expect(early.reports.map((r) => r.step)).toEqual([30, 31, 32, 33, 34, 35]);
    // Steps past H hold the rate of step H − 1 (here 32); before it the cosine still moves.
    const lrs = early.reports.map((r) => r.lr);
    expect(lrs[3]).toBe(lrs[2]);
    expect(lrs[5]).toBe(lrs[2]);
    expect(lrs[1]).not.toBe(lrs[2]);
    expect(early.workMs).toBeLessThanOrEqual(early.ms);
  });
});
