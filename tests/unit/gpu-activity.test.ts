// The dashboard's honest GPU figures (src/app/gpu-activity.ts): the busy share
// is the part of the window covered by steps in flight, the tokens/s divide by
// wall-clock time (rests included), a young session is measured over its own
// age, and a step half inside the window counts half.
import { describe, expect, it } from 'vitest';
import { activityOver, trimIntervals, type WorkInterval } from '../../src/app/gpu-activity.ts';

/** Steps of `workMs` each followed by `restMs` of nothing, from t = 0, `tokens` per step. */
function pattern(steps: number, workMs: number, restMs: number, tokens = 128): WorkInterval[] {
  return Array.from({ length: steps }, (_, i) => ({ end: i * (workMs + restMs) + workMs, ms: workMs, tokens }));
}

describe('activityOver', () => {
  it('a 25 % duty cycle reads 25 % busy, and tokens/s over wall time', () => {
    const steps = pattern(100, 300, 900); // 100 × 1.2 s = 120 s
    const now = 120_000;
    const activity = activityOver(steps, now, 0, 60_000)!;
    expect(activity.windowMs).toBe(60_000);
    expect(activity.busyShare).toBeCloseTo(0.25, 10);
    // 50 steps in the last 60 s × 128 tokens / 60 s.
    expect(activity.tokensPerSecond).toBeCloseTo((50 * 128) / 60, 10);
  });

  it('measures a young session over its own age, and counts a step cut by the window in proportion', () => {
    const steps = pattern(3, 1000, 1000); // work 0–1, 2–3, 4–5 s
    expect(activityOver(steps, 5_000, 0, 60_000)).toMatchObject({ windowMs: 5_000, busyShare: 0.6 });
    const cut = activityOver(steps, 5_000, 0, 1_500)!; // window 3.5–5 s: half of nothing, all of the last step
    expect(cut.busyShare).toBeCloseTo(1 / 1.5, 10);
    expect(cut.tokensPerSecond).toBeCloseTo(128 / 1.5, 10);
    const half = activityOver(steps, 4_500, 0, 1_000)!; // window 3.5–4.5 s: the last step's first half
    expect(half.busyShare).toBeCloseTo(0.5, 10);
    expect(half.tokensPerSecond).toBeCloseTo(64, 10);
  });

  it('is null before any work, and trimming drops only steps that ended before the window', () => {
    expect(activityOver([], 10, 0)).toBeNull();
    expect(activityOver(pattern(1, 10, 0), 10, null)).toBeNull();
    const steps = pattern(10, 1000, 0); // ends at 1..10 s
    trimIntervals(steps, 10_000, 4_000);
    expect(steps.map((s) => s.end)).toEqual([6000, 7000, 8000, 9000, 10000]);
  });
});
