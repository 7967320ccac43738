// learningRate: warmup endpoints, the cosine's endpoints and midpoint, the floor
// after totalSteps, monotonicity on each side of the peak, and argument checks.

import { describe, expect, it } from 'vitest';
import { learningRate, roundScheduleStep, type ScheduleConfig } from '../../src/train/schedule.ts';

const config: ScheduleConfig = { maxLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };

describe('learningRate', () => {
  it('ramps linearly from maxLr/warmup to maxLr over the warmup', () => {
    expect(learningRate(0, config)).toBeCloseTo(1e-4, 15);
    expect(learningRate(4, config)).toBeCloseTo(5e-4, 15);
    expect(learningRate(9, config)).toBeCloseTo(1e-3, 15);
    expect(learningRate(10, config)).toBeCloseTo(1e-3, 15); // cosine starts at its peak
  });

  it('decays along a cosine to minLrRatio·maxLr and stays there', () => {
    expect(learningRate(60, config)).toBeCloseTo((1e-3 + 1e-4) / 2, 15); // halfway
    expect(learningRate(35, config)).toBeCloseTo(1e-4 + 0.5 * (1 + Math.cos(Math.PI / 4)) * 9e-4, 15);
    expect(learningRate(110, config)).toBeCloseTo(1e-4, 15);
    expect(learningRate(10_000, config)).toBeCloseTo(1e-4, 15);
    expect(learningRate(109, config)).toBeGreaterThan(1e-4);
  });

  it('rises during warmup and never rises afterwards', () => {
    for (let step = 1; step < 10; step++) {
      expect(learningRate(step, config)).toBeGreaterThan(learningRate(step - 1, config));
    }
    for (let step = 11; step <= 130; step++) {
      expect(learningRate(step, config)).toBeLessThanOrEqual(learningRate(step - 1, config));
    }
  });

  it('defaults the floor to 0.1×, allows no warmup, and honours another ratio', () => {
    const { minLrRatio: _, ...withoutRatio } = config;
    expect(learningRate(500, withoutRatio)).toBeCloseTo(1e-4, 15);
    expect(learningRate(0, { ...config, warmupSteps: 0 })).toBeCloseTo(1e-3, 15);
    expect(learningRate(500, { ...config, minLrRatio: 0 })).toBe(0);
  });

  it('rejects invalid arguments', () => {
    expect(() => learningRate(-1, config)).toThrow(RangeError);
    expect(() => learningRate(1.5, config)).toThrow(RangeError);
    expect(() => learningRate(0, { ...config, totalSteps: 5 })).toThrow(RangeError);
    expect(() => learningRate(0, { ...config, minLrRatio: 2 })).toThrow(RangeError);
    expect(() => learningRate(0, { ...config, maxLr: Number.NaN })).toThrow(RangeError);
  });
});

describe('roundScheduleStep', () => {
  it('follows the step for the nominal H steps of a round, then holds the last one', () => {
    // Round at version 3 with H = 15: global steps 45.. ; nominal steps 45..59.
    expect([44, 45, 52, 59, 60, 100, 284].map((s) => roundScheduleStep(s, 45, 15))).toEqual([44, 45, 52, 59, 59, 59, 59]);
    expect(roundScheduleStep(0, 0, 1)).toBe(0);
    expect(roundScheduleStep(7, 0, 1)).toBe(0);
    expect(() => roundScheduleStep(3, 0, 0)).toThrow(RangeError);
  });
});
