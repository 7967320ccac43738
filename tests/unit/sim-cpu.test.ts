// The swarm simulator on the CPU reference engine (no GPU): SparseLoCo under
// both aggregation rules lowers the validation loss and is deterministic to the
// bit; forwarding the submissions gives the float aggregate's model bit for bit,
// the 2-bit aggregate a different one; time-boxed rounds give each replica the
// steps its speed fits in the window (within the range), count tokens and busy
// time, and weigh unequal tokens; DiLoCo and DDP run on the same engine.
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { ensureDataset } from '../../src/data/prepare.ts';
import { DEFAULT_OUTER_LEARNING_RATE } from '../../src/compress/aggregate.ts';
import { runSimulation, stepsPerReplica, type SimulationOptions, type SimulationResult } from '../../src/sim/simulate.ts';

let data: { train: Uint8Array; val: Uint8Array };
beforeAll(() => {
  data = ensureDataset();
});

const options = (overrides: Partial<SimulationOptions> = {}): SimulationOptions => ({
  engine: 'cpu',
  algo: 'sparseloco',
  model: GPT_PRESETS.nano,
  modelName: 'nano',
  peers: 3,
  inner: 2,
  rounds: 2,
  batch: 2,
  seq: 16,
  seed: 5,
  data,
  evalBatches: 2,
  ...overrides,
});

const bits = (r: SimulationResult) => Buffer.from(r.finalParams.buffer, r.finalParams.byteOffset, r.finalParams.byteLength);

describe('steps per replica', () => {
  it('fixed H: every replica whose H steps fit the window runs H, the others miss the round', () => {
    expect(stepsPerReplica('fixed', [0.25, 1, 4], 15, 60, { min: 1, max: 240 })).toEqual([15, 15, 15]);
    expect(stepsPerReplica('fixed', [0.25, 1, 4], 15, 15, { min: 1, max: 240 })).toEqual([0, 15, 15]);
  });

  it('time-boxed: ⌊W·speed⌋ within [min, max], 0 below min', () => {
    expect(stepsPerReplica('time-boxed', [0.25, 1, 4], 15, 60, { min: 1, max: 240 })).toEqual([15, 60, 240]);
    expect(stepsPerReplica('time-boxed', [0.25, 1, 4], 15, 60, { min: 1, max: 100 })).toEqual([15, 60, 100]);
    expect(stepsPerReplica('time-boxed', [0.25, 1, 4], 15, 15, { min: 4, max: 100 })).toEqual([0, 15, 60]);
    // 0.1 × 30 is 2.9999999999999996 in floating point: still 3 steps.
    expect(stepsPerReplica('time-boxed', [0.1], 15, 30, { min: 1, max: 100 })).toEqual([3]);
  });
});

describe('swarm simulator on the CPU reference engine', () => {
  it('SparseLoCo (both rules) lowers the loss and repeats itself bit for bit; the rules differ', async () => {
    const mean = await runSimulation(options({ aggregation: { rule: 'mean', tokenCap: 2 } }));
    const again = await runSimulation(options({ aggregation: { rule: 'mean', tokenCap: 2 } }));
    const selected = await runSimulation(options({ aggregation: { rule: 'selected-mean', tokenCap: 2 } }));
    for (const r of [mean, selected]) {
      expect(r.engine).toBe('cpu-reference');
      expect(r.rounds.at(-1)!.val_loss).toBeLessThan(r.initial_val_loss);
      expect(r.rounds.map((x) => x.steps)).toEqual([[2, 2, 2], [2, 2, 2]]);
      expect(r.total_tokens).toBe(2 * 3 * 2 * 2 * 16);
    }
    expect(bits(again).equals(bits(mean))).toBe(true);
    expect(bits(selected).equals(bits(mean))).toBe(false);
    console.log(`cpu engine, 2 rounds: mean ${mean.rounds.at(-1)!.val_loss.toFixed(4)}, selected-mean ${selected.rounds.at(-1)!.val_loss.toFixed(4)}`);
  });

  it('tabs that aggregate the forwarded submissions end where the float aggregate ends; the 2-bit aggregate is smaller', async () => {
    const float = await runSimulation(options({ download: 'float' }));
    const forwarded = await runSimulation(options({ download: 'submissions' }));
    const quantized = await runSimulation(options({ download: 'quantized' }));
    expect(bits(forwarded).equals(bits(float))).toBe(true);
    expect(bits(quantized).equals(bits(float))).toBe(false);
    expect(quantized.rounds.at(-1)!.val_loss).toBeLessThan(quantized.initial_val_loss);
    for (let i = 0; i < 2; i++) {
      const up = float.rounds[i].bytes_up_per_peer;
      // Forwarded: the three uploads plus 8 bytes of framing each (they differ from the largest by a few bytes).
      expect(forwarded.rounds[i].bytes_down_per_peer).toBeGreaterThan(3 * (up - 16));
      expect(forwarded.rounds[i].bytes_down_per_peer).toBeLessThanOrEqual(3 * (up + 8));
      expect(quantized.rounds[i].bytes_down_per_peer).toBeLessThan(float.rounds[i].bytes_down_per_peer / 3);
    }
  });

  it('time-boxed rounds: fast replicas run more steps, tokens and busy time are counted, unequal tokens are weighed', async () => {
    const speeds = [0.5, 1, 4];
    // W = 4 simulated seconds: 2, 4 and 16 steps, the last capped at 8.
    const timed = await runSimulation(options({ speeds, schedule: 'time-boxed', roundSeconds: 4, stepRange: { min: 1, max: 8 } }));
    expect(timed.rounds.map((r) => r.steps)).toEqual([[2, 4, 8], [2, 4, 8]]);
    expect(timed.rounds[0].tokens).toBe((2 + 4 + 8) * 2 * 16);
    expect(timed.rounds.map((r) => r.sim_seconds)).toEqual([4, 8]);
    expect(timed.rounds[0].busy_share).toBeCloseTo((4 + 4 + 2) / 12, 12);
    expect(timed.rounds.at(-1)!.val_loss).toBeLessThan(timed.initial_val_loss);
    // Fixed H = 2 in the same window: everyone runs 2 steps and the fast replicas idle.
    const fixed = await runSimulation(options({ speeds, schedule: 'fixed', roundSeconds: 4 }));
    expect(fixed.rounds[0].steps).toEqual([2, 2, 2]);
    expect(fixed.rounds[0].busy_share).toBeCloseTo((4 + 2 + 0.5) / 12, 12);
    // The token cap matters only when tokens differ: 1 (ω ≤ median) against 8.
    const capped = await runSimulation(options({ speeds, schedule: 'time-boxed', roundSeconds: 4, stepRange: { min: 1, max: 8 }, aggregation: { rule: 'mean', tokenCap: 1 } }));
    expect(bits(capped).equals(bits(timed))).toBe(false);
    await expect(runSimulation(options({ algo: 'diloco', speeds }))).rejects.toThrow(/sparseloco only/);
  });

  it('the outer rate α and the error-feedback β are the run\'s to set, recorded, and each moves the model', async () => {
    const base = await runSimulation(options());
    const alpha = await runSimulation(options({ outerLr: 1.5 }));
    const beta = await runSimulation(options({ efBeta: 0.5 }));
    expect([base.outer_lr, base.ef_beta]).toEqual([DEFAULT_OUTER_LEARNING_RATE, 0.95]);
    expect([alpha.outer_lr, beta.ef_beta]).toEqual([1.5, 0.5]);
    expect(bits(alpha).equals(bits(base))).toBe(false);
    expect(bits(beta).equals(bits(base))).toBe(false);
    // Round 1 starts with an empty residual, so β first matters in round 2; α scales round 1's step exactly.
    const one = await runSimulation(options({ rounds: 1 }));
    const oneAlpha = await runSimulation(options({ rounds: 1, outerLr: 1.5 }));
    const oneBeta = await runSimulation(options({ rounds: 1, efBeta: 0.5 }));
    expect(bits(oneBeta).equals(bits(one))).toBe(true);
    expect(bits(oneAlpha).equals(bits(one))).toBe(false);
  });

  it('DiLoCo and DDP lower the loss on the same engine', async () => {
    for (const algo of ['diloco', 'ddp'] as const) {
      const r = await runSimulation(options({ algo }));
      expect(r.engine).toBe('cpu-reference');
      expect(r.rounds.at(-1)!.val_loss).toBeLessThan(r.initial_val_loss);
    }
  });
});
