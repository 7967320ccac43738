// The time-boxed round's training deadline (src/swarm/round-timing.ts): the
// margin before any round is measured, then 1.5 × the slowest of the last 8
// submissions + 1 s; the deadline reads the relay's clock only as a
// difference (deadline − now), so a tab whose clock is off trains as long.
import { describe, expect, it } from 'vitest';
import { SubmitMargin, trainingDeadline } from '../../src/swarm/round-timing.ts';

describe('submit margin', () => {
  it('starts at a quarter of the round, at most 15 s', () => {
    expect(new SubmitMargin(120_000).ms()).toBe(15_000);
    expect(new SubmitMargin(20_000).ms()).toBe(5_000);
  });

  it('follows the slowest of the last 8 submissions, with head room', () => {
    const margin = new SubmitMargin(120_000);
    margin.record(2_000);
    expect(margin.ms()).toBe(1.5 * 2_000 + 1_000);
    margin.record(6_000); // a slow signature
    for (let i = 0; i < 7; i++) margin.record(1_000);
    expect(margin.ms()).toBe(1.5 * 6_000 + 1_000);
    margin.record(1_000); // the slow one leaves the window of 8
    expect(margin.ms()).toBe(1.5 * 1_000 + 1_000);
    margin.record(Number.NaN);
    margin.record(-5);
    expect(margin.ms()).toBe(1.5 * 1_000 + 1_000);
  });
});

describe('training deadline', () => {
  it('is the local time of the answer plus the time left minus the margin, whatever the clocks say', () => {
    const round = { deadline: 1_700_000_100_000, now: 1_700_000_040_000 }; // 60 s left on the relay's clock
    expect(trainingDeadline(round, 5_000, 10_000)).toBe(5_000 + 60_000 - 10_000);
    // The same round seen by a tab whose clock is a day ahead: the same deadline on its own clock.
    expect(trainingDeadline({ deadline: round.deadline + 86_400_000, now: round.now + 86_400_000 }, 5_000, 10_000)).toBe(55_000);
  });
});
