// decideRound, rule by rule (SPEC §2.4–2.6): each case builds a state and a
// round's measured losses by hand and checks the one rule it is about —
// proof of data, the match, every penalty of the table, selection with
// reserves, the relay's failures (never a penalty) and Gauntlet off.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import type { CompressedUpdate } from '../../src/compress/sparseloco.ts';
import { gauntletConfigWith } from '../../src/gauntlet/config.ts';
import type { TrialLosses } from '../../src/gauntlet/evaluation-job.ts';
import type { CopyFinding } from '../../src/gauntlet/overlap.ts';
import type { RoundPlan } from '../../src/gauntlet/plan.ts';
import { decideRound, newPeerRecord, type RoundSubmission } from '../../src/gauntlet/round.ts';
import { ordinal } from '../../src/gauntlet/ratings.ts';
import type { GauntletConfig, GauntletState, PeerRecord } from '../../src/protocol/index.ts';
import { walletFor } from './relay-fixtures.ts';

let P: string[] = []; // addresses, ascending

beforeAll(async () => {
  await cryptoWaitReady();
  P = Array.from({ length: 8 }, (_, i) => walletFor(100 + i).address).sort();
});

const EMPTY_UPDATE = { chunkSize: 4096, topK: 64, tensors: [] } as CompressedUpdate;
const hash = (i: number) => `0x${i.toString(16).padStart(64, '0')}` as const;

function submission(address: string, receivedAt = 0): RoundSubmission {
  return { address, payloadHash: hash(P.indexOf(address) + 1), receivedAt, update: EMPTY_UPDATE, steps: 1 };
}

/** Losses with score s and own improvement o (before = 2); the consensus step improves both by `reference`. */
function losses(s: number, o: number, reference = 0): TrialLosses {
  return {
    lossBeforeRandom: 2,
    lossAfterRandom: 2 * (1 - s),
    lossBeforeOwn: 2,
    lossAfterOwn: 2 * (1 - o),
    lossReferenceRandom: 2 * (1 - reference),
    lossReferenceOwn: 2 * (1 - reference),
  };
}

interface Case {
  config?: GauntletConfig;
  round?: number;
  peers?: PeerRecord[];
  submit: string[];
  evaluate?: Record<string, TrialLosses | { error: string }>;
  missing?: string[];
  quarantined?: string[];
  findings?: Record<string, CopyFinding>;
}

function decide(c: Case) {
  const config = c.config ?? gauntletConfigWith();
  const round = c.round ?? 30;
  const state: GauntletState = { format: 1, round, peers: (c.peers ?? []).sort((a, b) => (a.address < b.address ? -1 : 1)) };
  const evaluate = Object.keys(c.evaluate ?? {});
  const plan: RoundPlan = {
    round,
    seed: hash(7),
    candidates: [],
    drawn: [...evaluate, ...(c.missing ?? [])],
    evaluate,
    missing: c.missing ?? [],
    quarantined: c.quarantined ?? [],
  };
  const decision = decideRound(
    state,
    { config, round, version: round, submissions: c.submit.map((a, i) => submission(a, i)) },
    { plan, findings: new Map(Object.entries(c.findings ?? {})), outcomes: new Map(Object.entries(c.evaluate ?? {})) },
  );
  const entry = (address: string) => decision.entries.find((e) => e.address === address)!;
  const record = (address: string) => decision.state.peers.find((p) => p.address === address)!;
  return { decision, entry, record };
}

/** An established peer: good rating, positive BMA and score. */
function veteran(address: string, round: number, patch: Partial<PeerRecord> = {}): PeerRecord {
  return { ...newPeerRecord(address, 0, gauntletConfigWith()), mu: 30, sigma: 3, bma: 0.5, score: 10.5, lastSubmitted: round - 1, lastEvaluated: round - 1, recent: '++++', submitted: 10, aggregated: 10, ...patch };
}

describe('decideRound: proof of data, match, final score', () => {
  it('scores, rates and aggregates the evaluated; the better update rates higher; F = ordinal · BMA', () => {
    const [a, b] = P;
    const { decision, entry, record } = decide({ submit: [a, b], evaluate: { [a]: losses(0.01, 0.02), [b]: losses(0.002, 0.001) } });
    expect(entry(a)).toMatchObject({ status: 'evaluated', score: expect.closeTo(0.01, 12), ownImprovement: expect.closeTo(0.02, 12), indicator: 1, aggregated: true, reason: null });
    expect(entry(b)).toMatchObject({ status: 'evaluated', indicator: -1, aggregated: true });
    expect(record(a).mu).toBeGreaterThan(25);
    expect(record(b).mu).toBeLessThan(25);
    expect(record(a).bma).toBeCloseTo(0.05, 15);
    expect(record(b).bma).toBeCloseTo(-0.05, 15);
    // 0.05 < 0.10 is gated to 0 (no warm-up by default), so F = 0 for both.
    expect(record(a).score).toBe(0);
    expect(decision.weights).toEqual([]);
    expect(decision.aggregated).toEqual([a, b].sort());
    expect(decision.state.round).toBe(31);
    expect(record(a)).toMatchObject({ submitted: 1, aggregated: 1, lastSubmitted: 30, lastEvaluated: 30, firstRound: 30 });
  });

  it('an established peer that keeps proving its data earns F = ordinal · BMA and the whole payout', () => {
    const [a, b] = P;
    const { entry, record, decision } = decide({
      peers: [veteran(a, 30)],
      submit: [a, b],
      evaluate: { [a]: losses(0.01, 0.02), [b]: losses(0.005, 0.001) },
    });
    const r = record(a);
    expect(r.bma).toBeCloseTo(0.95 * 0.5 + 0.05, 15);
    expect(r.score).toBeCloseTo(ordinal(r) * r.bma, 12);
    expect(entry(a).finalScore).toBe(r.score);
    expect(decision.weights).toEqual([{ address: a, rank: 1, weight: 1, score: r.score }]);
    expect(entry(a).weight).toBe(1);
    expect(entry(b).weight).toBe(0);
  });

  it('proof of data is judged against the consensus step on the same windows', () => {
    const [a, b] = P;
    // Own data improved more than random (o − s = 0.01), but an update not trained on it did as well
    // (own windows easier by 0.01 for the consensus step too): not proven.
    const easyOwn = { ...losses(0.01, 0.02), lossReferenceRandom: 2 * (1 - 0.01), lossReferenceOwn: 2 * (1 - 0.02) };
    expect(decide({ submit: [a, b], evaluate: { [a]: easyOwn, [b]: losses(0.01, 0.02) } }).entry(a).indicator).toBe(-1);
    // Beyond the consensus step's advantage: proven.
    const beyond = { ...losses(0.01, 0.03), lossReferenceRandom: 2 * (1 - 0.01), lossReferenceOwn: 2 * (1 - 0.015) };
    expect(decide({ submit: [a, b], evaluate: { [a]: beyond, [b]: losses(0.01, 0.02) } }).entry(a).indicator).toBe(1);
    // A consensus step that made a loss non-finite falls back to SPEC's o > s.
    const broken = { ...losses(0.01, 0.02), lossReferenceOwn: Infinity };
    expect(decide({ submit: [a, b], evaluate: { [a]: broken, [b]: losses(0.01, 0.02) } }).entry(a)).toMatchObject({ status: 'evaluated', indicator: 1 });
  });

  it('an update that does not lower the random-batch loss is never aggregated, however well rated', () => {
    const [a, b] = P;
    const { entry } = decide({ peers: [veteran(a, 30)], submit: [a, b], evaluate: { [a]: losses(-0.001, 0.01), [b]: losses(0, 0) } });
    expect(entry(a)).toMatchObject({ aggregated: false, reason: 'not-improving' });
    expect(entry(b)).toMatchObject({ aggregated: false, reason: 'not-improving', indicator: -1 }); // an empty update
  });

  it('a non-finite loss is invalid: −99 in the match, a positive score → 0, never aggregated', () => {
    const [a, b] = P;
    const { entry, record } = decide({
      peers: [veteran(a, 30)],
      submit: [a, b],
      evaluate: { [a]: { ...losses(0, 0), lossAfterRandom: NaN }, [b]: losses(0.01, 0.02) },
    });
    expect(entry(a)).toMatchObject({ status: 'invalid', aggregated: false, reason: 'invalid', finalScore: 0, penalties: ['invalid'] });
    expect(record(a).mu).toBeLessThan(30);
    expect(record(a).recent).toBe('++++-');
  });
});

describe("decideRound: the relay's failures never penalise", () => {
  it('an evaluation that timed out: no match, no penalty, status relay-failure', () => {
    const [a, b] = P;
    const before = veteran(a, 30);
    const { entry, record } = decide({ peers: [before], submit: [a, b], evaluate: { [a]: { error: 'no result within 5000 ms' }, [b]: losses(0.01, 0.02) } });
    expect(entry(a).status).toBe('relay-failure');
    expect(entry(a).penalties).toEqual([]);
    expect(record(a)).toMatchObject({ mu: before.mu, sigma: before.sigma, bma: before.bma, score: before.score, recent: before.recent, lastEvaluated: 29 });
    // Not evaluated this round but holding a positive score: still aggregated.
    expect(entry(a).aggregated).toBe(true);
  });

  it('a newcomer not evaluated this round is not aggregated (unproven) and not penalised', () => {
    const [a, b] = P;
    const { entry, record } = decide({ submit: [a, b], evaluate: { [b]: losses(0.01, 0.02) } });
    expect(entry(a)).toMatchObject({ status: 'not-drawn', aggregated: false, reason: 'unproven', finalScore: 0 });
    expect(record(a)).toMatchObject({ mu: 25, bma: 0, submitted: 1, aggregated: 0 });
  });
});

describe('decideRound: penalties (SPEC §2.6)', () => {
  it('drawn but missing: −99 in the match, BMA and score ×0.75', () => {
    const [a, b, c] = P;
    const { record } = decide({ peers: [veteran(a, 30)], submit: [b, c], evaluate: { [b]: losses(0.01, 0.02), [c]: losses(0.005, 0.001) }, missing: [a] });
    expect(record(a).bma).toBeCloseTo(0.375, 15);
    expect(record(a).mu).toBeLessThan(30);
    expect(record(a).score).toBeCloseTo(10.5 * 0.75, 12);
  });

  it('out of the active set: ×0.75 per round, full reset after more than 3 rounds', () => {
    const [a, b] = P;
    const cfg = gauntletConfigWith({ selection: { topG: 1, reserves: 0 } });
    const top = veteran(b, 30, { score: 99 }); // holds the one top-G slot, so a is not "skipped"
    expect(decide({ config: cfg, peers: [veteran(a, 28, { lastSubmitted: 27 }), top], submit: [b] }).record(a).score).toBeCloseTo(10.5 * 0.75, 12);
    const gone = decide({ config: cfg, peers: [veteran(a, 30, { lastSubmitted: 26 }), top], submit: [b] }).record(a);
    expect(gone).toMatchObject({ mu: 25, sigma: 25 / 3, bma: 0, score: 0, recent: '', submitted: 10 });
  });

  it('selected but skipped: ×0.75, then ×0.5, then 0 on consecutive misses', () => {
    const [a, b] = P;
    let peer = veteran(a, 30);
    const factors: number[] = [];
    for (let round = 30; round < 33; round++) {
      const before = peer.score;
      peer = decide({ round, peers: [{ ...peer, lastSubmitted: Math.max(peer.lastSubmitted, round - 1) }], submit: [b], evaluate: { [b]: losses(0.01, 0.02) } }).record(a);
      factors.push(peer.score / before);
    }
    expect(factors[0]).toBeCloseTo(0.75, 12);
    expect(factors[1]).toBeCloseTo(0.5, 12);
    expect(factors[2]).toBe(0);
  });

  it('more than half of the last 8 evaluations negative: ×0.25', () => {
    const [a, b, c] = P;
    const { entry, record } = decide({
      peers: [veteran(a, 30, { recent: '+-+-+-+' })],
      submit: [a, b, c],
      evaluate: { [a]: losses(-0.001, 0.01), [b]: losses(0.01, 0.02), [c]: losses(0.02, 0.03) },
    });
    const r = record(a);
    expect(r.recent).toBe('+-+-+-+-');
    // F was recomputed this round, then quartered: 4 of 8 is not more than half...
    expect(entry(a).penalties).toEqual([]);
    const worse = decide({
      peers: [veteran(a, 30, { recent: '--+-+-+' })],
      submit: [a, b, c],
      evaluate: { [a]: losses(-0.001, 0.01), [b]: losses(0.01, 0.02), [c]: losses(0.02, 0.03) },
    });
    // ...5 of 8 is.
    expect(worse.record(a).recent).toBe('--+-+-+-');
    expect(worse.entry(a).penalties).toEqual(['negative-majority']);
    const unpenalised = ordinal(worse.record(a)) * worse.record(a).bma;
    expect(worse.record(a).score).toBeCloseTo(0.25 * unpenalised, 12);
  });

  it('3 negative in a row: excluded from aggregation until a positive one', () => {
    const [a, b, c] = P;
    const others = { [b]: losses(0.01, 0.02), [c]: losses(0.02, 0.03) };
    const streak = decide({ peers: [veteran(a, 30, { negativeStreak: 2 })], submit: [a, b, c], evaluate: { ...others, [a]: losses(-0.001, 0.01) } });
    expect(streak.record(a).negativeStreak).toBe(3);
    // Still excluded while not evaluated (a positive score alone does not lift it).
    const next = decide({ round: 31, peers: [streak.record(a)], submit: [a, b, c], evaluate: others });
    expect(next.entry(a)).toMatchObject({ status: 'not-drawn', aggregated: false, reason: 'negative-streak', penalties: ['negative-streak'] });
    const lifted = decide({ round: 32, peers: [next.record(a)], submit: [a, b, c], evaluate: { ...others, [a]: losses(0.001, 0.01) } });
    expect(lifted.record(a).negativeStreak).toBe(0);
    expect(lifted.entry(a).aggregated).toBe(true);
  });

  it('negative rules are suspended when even the best quarter scores negative (2nd best of 5 evaluated)', () => {
    const five = P.slice(0, 5);
    const evaluate = Object.fromEntries(five.map((a, i) => [a, losses(i === 0 ? 0.01 : -0.001 * i, 0.02)]));
    const { record, entry } = decide({ peers: [veteran(five[4], 30, { negativeStreak: 2, recent: '-------' })], submit: five, evaluate });
    expect(record(five[4])).toMatchObject({ negativeStreak: 2, recent: '-------' });
    expect(entry(five[4]).penalties).toEqual([]);
    expect(entry(five[4]).reason).toBe('not-improving'); // the never-aggregate-a-worse-update rule is not suspended
  });

  it('copies: ×0.5 at 0.4, reset at 0.5, reset and 20 rounds of quarantine at 0.6; only flagged in the grace period', () => {
    const [a, b, c, d, e] = P;
    const evaluate = { [a]: losses(0.01, 0.02), [b]: losses(0.01, 0.02), [c]: losses(0.01, 0.02), [d]: losses(0.01, 0.02) };
    const peers = [veteran(b, 30), veteran(c, 30), veteran(d, 30)];
    const findings = { [b]: { overlap: 0.45, with: a }, [c]: { overlap: 0.55, with: a }, [d]: { overlap: 0.6, with: a }, [e]: { overlap: 0.39, with: a } };
    const { entry, record } = decide({ peers, submit: [a, b, c, d, e], evaluate: { ...evaluate, [e]: losses(0.01, 0.02) }, findings });
    const { [b]: _halved, ...others } = findings;
    const fresh = decide({ peers, submit: [a, b, c, d, e], evaluate: { ...evaluate, [e]: losses(0.01, 0.02) }, findings: others }).record(b).score;
    expect(entry(b).penalties).toEqual(['copy-halved']);
    expect(record(b).score).toBeCloseTo(fresh * 0.5, 12);
    expect(entry(b).aggregated).toBe(true);
    expect(entry(c)).toMatchObject({ penalties: ['copy-reset'], aggregated: false, reason: 'copy', finalScore: 0 });
    expect(record(c)).toMatchObject({ mu: 25, bma: 0, quarantinedUntil: 0 });
    expect(entry(d)).toMatchObject({ penalties: ['copy-reset', 'copy-quarantined'], aggregated: false, reason: 'copy' });
    expect(record(d).quarantinedUntil).toBe(51);
    expect(entry(e).penalties).toEqual([]);
    expect(entry(d)).toMatchObject({ overlap: 0.6, overlapWith: a });
    // A quarantined address stays out of evaluation and aggregation.
    const later = decide({ round: 40, peers: [record(d)], submit: [d, a], evaluate: { [a]: losses(0.01, 0.02) }, quarantined: [d] });
    expect(later.entry(d)).toMatchObject({ status: 'quarantined', aggregated: false, reason: 'quarantined' });
    // In the grace period (round < graceRounds, 2 by default): flagged, no penalty.
    const grace = decide({ round: 1, peers: [veteran(d, 1)], submit: [a, d], evaluate: { [a]: losses(0.01, 0.02), [d]: losses(0.01, 0.02) }, findings });
    expect(grace.entry(d)).toMatchObject({ penalties: ['copy-suspect'], aggregated: true });
  });
});

describe('decideRound: selection and Gauntlet off', () => {
  it('the top G by score with reserves replacing missing ones', () => {
    const cfg = gauntletConfigWith({ selection: { topG: 2, reserves: 1 } });
    const [a, b, c, d] = P;
    const peers = [veteran(a, 30, { score: 40 }), veteran(b, 30, { score: 30 }), veteran(c, 30, { score: 20 }), veteran(d, 30, { score: 10 })];
    // a is missing (top 2): the reserve c replaces it; d is beyond G + reserves.
    const { decision, entry, record } = decide({ config: cfg, peers, submit: [b, c, d] });
    expect(decision.aggregated).toEqual([b, c].sort());
    expect(entry(d)).toMatchObject({ aggregated: false, reason: 'not-selected' });
    expect(record(a).skipStreak).toBe(1);
    expect(record(a).score).toBeCloseTo(40 * 0.75, 12);
  });

  it('Gauntlet off: everything aggregated, nobody evaluated, credit by accepted submissions', () => {
    const [a, b] = P;
    const cfg = gauntletConfigWith({ enabled: false });
    const { decision, entry } = decide({ config: cfg, peers: [veteran(a, 30, { submitted: 3 })], submit: [a, b] });
    expect(decision.aggregated).toEqual([a, b].sort());
    expect(entry(b)).toMatchObject({ status: 'disabled', aggregated: true });
    expect(decision.weights.map((w) => [w.address, w.weight])).toEqual([
      [a, 0.8],
      [b, 0.2],
    ]);
  });
});
