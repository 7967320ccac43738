// Formula fixtures for Gauntlet (SPEC §2): every score, the rating update, the
// payout ramp, the copy overlap, the evaluation draw and the assigned data,
// each against numbers worked out by hand (or, for openskill, pinned — see
// the comment there).
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { batchFor, SplitMix64 } from '../../src/data/sampler.ts';
import { compress, defaultCompressConfig, type CompressedUpdate } from '../../src/compress/sparseloco.ts';
import type { TensorManifest } from '../../src/compress/manifest.ts';
import { assignedWindows, ownWindows, randomWindows, roundSeed, type Windows } from '../../src/gauntlet/assigned-data.ts';
import { defaultGauntletConfig, gauntletConfigWith } from '../../src/gauntlet/config.ts';
import { copyFindings, updateOverlap } from '../../src/gauntlet/overlap.ts';
import { drawWeight, planRound } from '../../src/gauntlet/plan.ts';
import { ordinal, rateMatch } from '../../src/gauntlet/ratings.ts';
import { newPeerRecord } from '../../src/gauntlet/round.ts';
import { dataIndicator, decay, finalScore, gatedBma, relativeImprovement, updateBma } from '../../src/gauntlet/scores.ts';
import { payoutWeights } from '../../src/gauntlet/weights.ts';
import { samplerSeed } from '../../src/protocol/index.ts';
import { walletFor } from './relay-fixtures.ts';

const config = defaultGauntletConfig;
const RUN_SEED = `0x${'00'.repeat(31)}01` as const;
let A: string;
let B: string;
let C: string;

beforeAll(async () => {
  await cryptoWaitReady();
  [A, B, C] = [walletFor(0).address, walletFor(1).address, walletFor(2).address].sort();
});

describe('scores (SPEC §2.4)', () => {
  it('LossScore is the relative improvement; the indicator needs own data to beat random strictly, beyond the consensus step', () => {
    expect(relativeImprovement(4, 3)).toBe(0.25);
    expect(relativeImprovement(2, 2.5)).toBe(-0.25);
    expect(dataIndicator(0.01, 0.02)).toBe(1);
    expect(dataIndicator(0.01, 0.01)).toBe(-1); // an empty update: o = s = 0 → −1
    expect(dataIndicator(0.01, -0.5)).toBe(-1);
    // Against the consensus step: o − s must beat o_ref − s_ref.
    expect(dataIndicator(0.01, 0.02, 0.01, 0.02)).toBe(-1);
    expect(dataIndicator(0.01, 0.03, 0.01, 0.02)).toBe(1);
    expect(dataIndicator(-0.01, 0.0, 0.02, 0.035)).toBe(-1);
    // An empty update proves nothing, whatever the consensus step favours.
    expect(dataIndicator(0, 0, 0.02, 0.01)).toBe(-1);
    expect(dataIndicator(-0.02, -0.01)).toBe(-1);
  });

  it('BMA moves by α = 0.05 and needs three +1s in a row to pass the 0.10 gate', () => {
    let bma = 0;
    const path = [1, 1, 1].map((b) => (bma = updateBma(bma, b, config)));
    expect(path[0]).toBeCloseTo(0.05, 15);
    expect(path[1]).toBeCloseTo(0.0975, 15);
    expect(path[2]).toBeCloseTo(0.142625, 15);
    expect(updateBma(0.5, -1, config)).toBeCloseTo(0.425, 15);
    // Before a warm-up ends a small BMA counts; afterwards it is gated to 0 (the default has no warm-up).
    const warm = gauntletConfigWith({ bma: { warmupRounds: 20 } });
    expect(gatedBma(0.0975, 19, warm)).toBe(0.0975);
    expect(gatedBma(0.0975, 20, warm)).toBe(0);
    expect(gatedBma(0.142625, 20, warm)).toBe(0.142625);
    expect(gatedBma(0.0975, 0, config)).toBe(0);
  });

  it('F = ordinal · max(0, gated BMA) · sync, with sync = 1', () => {
    expect(finalScore(10, 0.5, 30, config)).toBe(5);
    expect(finalScore(10, -0.2, 30, config)).toBe(0);
    expect(finalScore(-4, 0.5, 30, config)).toBe(-2);
    expect(finalScore(10, 0.05, 30, config)).toBe(0); // gated
  });

  it('decay multiplies and drops below 1e-4 to 0', () => {
    expect(decay(1, 0.75, config)).toBe(0.75);
    expect(decay(1.2e-4, 0.75, config)).toBe(0);
  });
});

describe('OpenSkill Plackett–Luce (β 7, τ 0.1, μ0 25, σ0 25/3)', () => {
  // Pinned from openskill 5.0.1 (npm, the version in package.json) by running
  // rate([[{mu:25,sigma:25/3}], …], {beta:7, tau:0.1, score:[…]}) in Node 20;
  // Python's openskill is not reachable here. The two-player winner's values
  // were also derived by hand from Weng & Lin's Plackett–Luce update (below).
  it('a two-player match', () => {
    const r0 = { mu: 25, sigma: 25 / 3 };
    const [winner, loser] = rateMatch([r0, r0], [0.01, -0.02], config);
    expect(winner.mu).toBe(27.256209212552754);
    expect(loser.mu).toBe(22.743790787447246);
    expect(winner.sigma).toBe(8.166896460213735);
    expect(loser.sigma).toBe(8.166896460213735);
    expect(ordinal(winner)).toBeCloseTo(2.755519831911549, 12);
    expect(ordinal(loser)).toBeCloseTo(-1.7568985931939594, 12);
    // By hand: σ² ← σ0² + τ²; c = √(2(σ² + β²)); q = e^{μ/c}/(e^{μ/c}+e^{μ/c}) = ½;
    // μ' = μ + σ²/c·(1 − q); σ' = σ·√max(1 − σ²/c²·(σ/c)·q(1 − q), κ).
    const s2 = (25 / 3) ** 2 + 0.1 ** 2;
    const c = Math.sqrt(2 * (s2 + 49));
    expect(winner.mu).toBeCloseTo(25 + (s2 / c) * 0.5, 12);
    expect(winner.sigma).toBeCloseTo(Math.sqrt(s2) * Math.sqrt(1 - (s2 / c ** 2) * (Math.sqrt(s2) / c) * 0.25), 12);
  });

  it('a three-player match with a missing entry at −99, and a draw', () => {
    const r0 = { mu: 25, sigma: 25 / 3 };
    const rated = rateMatch([r0, { mu: 30, sigma: 5 }, r0], [0.003, 0.001, -99], config);
    expect(rated).toEqual([
      { mu: 27.755292617751184, sigma: 8.240938916587373 },
      { mu: 30.043359106757407, sigma: 4.97326457060729 },
      { mu: 22.12429623984806, sigma: 8.13118667027022 },
    ]);
    expect(rateMatch([r0, r0], [0, 0], config).map((r) => r.mu)).toEqual([25, 25]);
    // One player: no match.
    expect(rateMatch([r0], [1], config)).toEqual([r0]);
  });
});

describe('payout weights (SPEC §2.6)', () => {
  it('top G on a linear 2:1 ramp sharing 75%, reserves geometric and capped, renormalised', () => {
    const cfg = gauntletConfigWith({ selection: { topG: 3, reserves: 2 } });
    const peers = [
      { address: 'e', score: 1 },
      { address: 'a', score: 5 },
      { address: 'b', score: 4 },
      { address: 'c', score: 3 },
      { address: 'd', score: 2 },
      { address: 'f', score: 0 },
      { address: 'g', score: -1 },
    ];
    const weights = payoutWeights(peers, cfg);
    // Ramp 2, 1.5, 1 (sum 4.5) × 0.75: 1/3, 1/4, 1/6. Reserves 0.25·(2/3, 1/3) = 1/6, 1/12,
    // capped at half of 1/6 = 1/12: 1/12, 1/12. Total 1/3+1/4+1/6+1/12+1/12 = 11/12.
    const expected = [1 / 3, 1 / 4, 1 / 6, 1 / 12, 1 / 12].map((w) => w / (11 / 12));
    expect(weights.map((w) => w.address)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(weights.map((w) => w.rank)).toEqual([1, 2, 3, 4, 5]);
    weights.forEach((w, i) => expect(w.weight).toBeCloseTo(expected[i], 15));
    expect(weights[0].weight / weights[2].weight).toBeCloseTo(2, 12);
    expect(weights.reduce((s, w) => s + w.weight, 0)).toBeCloseTo(1, 15);
  });

  it('one positive score takes everything; none gives an empty vector; burn is left out', () => {
    expect(payoutWeights([{ address: 'a', score: 2 }, { address: 'b', score: 0 }], config)).toEqual([{ address: 'a', rank: 1, weight: 1, score: 2 }]);
    expect(payoutWeights([{ address: 'a', score: 0 }], config)).toEqual([]);
    const burnt = payoutWeights([{ address: 'a', score: 2 }, { address: 'b', score: 1 }], gauntletConfigWith({ weights: { burn: 0.1 } }));
    expect(burnt.reduce((s, w) => s + w.weight, 0)).toBeCloseTo(0.9, 15);
  });
});

describe('copy overlap (SPEC §2.5)', () => {
  // One sparse tensor of 10 values in chunks of 4 (4, 4, 2), top-2: k = 2, 2, 1; plus a dense bias.
  const manifest: TensorManifest = [
    { name: 'w', shape: [2, 5], offset: 0, size: 10 },
    { name: 'b', shape: [3], offset: 16, size: 3 },
  ];
  const cfg = { ...defaultCompressConfig, chunkSize: 4, topK: 2 };
  const sparse = (indices: number[]): CompressedUpdate => ({
    chunkSize: 4,
    topK: 2,
    tensors: [
      { mode: 'sparse', indices: Uint32Array.from(indices), codes: new Uint8Array(indices.length), mean: 0, lut: new Float32Array(4) },
      { mode: 'dense-quantized', codes: new Uint8Array(3), mean: 0, lut: new Float32Array(4) },
    ],
  });

  it('averages |I ∩ J| / k over chunks, weighted by tensor size, sparse tensors only', () => {
    const a = sparse([0, 1, 4, 5, 8]);
    const b = sparse([0, 2, 4, 5, 9]);
    // chunk 0: {0,1}∩{0,2} = 1/2; chunk 1: 2/2; chunk 2: {8}∩{9} = 0 → (0.5 + 1 + 0) / 3.
    expect(updateOverlap(a, b, manifest, cfg)).toBeCloseTo(0.5, 15);
    expect(updateOverlap(a, a, manifest, cfg)).toBe(1);
    expect(updateOverlap(a, sparse([2, 3, 6, 7, 9]), manifest, cfg)).toBe(0);
  });

  it('charges the later arrival with its largest overlap', () => {
    const findings = copyFindings(
      [
        { address: B, receivedAt: 5, update: sparse([0, 1, 4, 5, 8]) },
        { address: A, receivedAt: 9, update: sparse([0, 1, 4, 5, 8]) },
        { address: C, receivedAt: 1, update: sparse([2, 3, 6, 7, 9]) },
      ],
      manifest,
      cfg,
    );
    expect(findings.get(C)).toEqual({ overlap: 0, with: '' });
    expect(findings.get(B)).toEqual({ overlap: 0, with: '' });
    expect(findings.get(A)?.with).toBe(B);
    expect(findings.get(A)?.overlap).toBeCloseTo(1, 14);
  });

  it('counting by position gives what merging every pair gives', () => {
    const layout: TensorManifest = [
      { name: 'w', shape: [64, 100], offset: 0, size: 6400 },
      { name: 'v', shape: [3000], offset: 6400, size: 3000 },
      { name: 'u', shape: [30, 70], offset: 9408, size: 2100 },
    ];
    const cfg = { ...defaultCompressConfig, chunkSize: 1024, topK: 32, oneDimPolicy: 'dense-quantized' as const };
    // A shared "signal" makes some positions popular, as honest peers' picks are; the rest is each peer's own noise.
    const signal = new SplitMix64(99);
    const common = Float32Array.from({ length: 11_520 }, () => (Number(signal.next() >> 11n) / 2 ** 53 - 0.5) * 2);
    const updates = Array.from({ length: 12 }, (_, r) => {
      const own = new SplitMix64(r + 1);
      const e = common.map((v) => v * (r % 3) * 0.3 + (Number(own.next() >> 11n) / 2 ** 53 - 0.5));
      return { address: `peer${String(r).padStart(2, '0')}`, receivedAt: 100 - r, update: compress(e, layout, cfg) };
    });
    updates.push({ ...updates[4], address: 'copy', receivedAt: 1000 });
    const findings = copyFindings(updates, layout, cfg);
    const arrival = [...updates].sort((x, y) => x.receivedAt - y.receivedAt);
    arrival.forEach((later, j) => {
      let best = 0;
      for (let i = 0; i < j; i++) best = Math.max(best, updateOverlap(arrival[i].update, later.update, layout, cfg));
      expect(findings.get(later.address)!.overlap).toBeCloseTo(best, 12);
    });
    expect(findings.get('copy')).toMatchObject({ with: 'peer04' });
    expect(findings.get('copy')!.overlap).toBeCloseTo(1, 12);
  });

  it('random top-64 picks of 4096 overlap by about 1/64', () => {
    const layout: TensorManifest = [{ name: 'w', shape: [256, 256], offset: 0, size: 65536 }];
    const random = (seed: number) => {
      const stream = new SplitMix64(seed);
      const e = Float32Array.from({ length: 65536 }, () => Number(stream.next() >> 11n) / 2 ** 53 - 0.5);
      return compress(e, layout, defaultCompressConfig);
    };
    const overlap = updateOverlap(random(1), random(2), layout, defaultCompressConfig);
    expect(overlap).toBeGreaterThan(0.005);
    expect(overlap).toBeLessThan(0.03);
  });
});

describe('assigned data and the round seed (SPEC §2.1)', () => {
  it("a contributor's windows are the batches its inner loop reads", () => {
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31 + (i >> 4)) & 0xff);
    const [H, Bs, T, version, round] = [3, 2, 16, 7, 4];
    const seed = samplerSeed(RUN_SEED, A, round);
    for (let i = 0; i < H; i++) {
      const batch = batchFor(data, seed, version * H + i, Bs, T);
      const windows = assignedWindows(data, RUN_SEED, round, A, version * H + i, Bs, T);
      for (let b = 0; b < Bs; b++) {
        const row = windows.bytes.subarray(b * (T + 1), (b + 1) * (T + 1));
        expect([...row.subarray(0, T)]).toEqual([...batch.inputs.subarray(b * T, (b + 1) * T)]);
        expect([...row.subarray(1)]).toEqual([...batch.targets.subarray(b * T, (b + 1) * T)]);
      }
    }
    // ownWindows spreads n = 4 of the H·B = 6 windows: w = 0, 1, 3, 4 → (step 0, row 0), (0, 1), (1, 1), (2, 0).
    const own = ownWindows(data, RUN_SEED, round, A, version, H, Bs, T, 4);
    const step = (i: number) => assignedWindows(data, RUN_SEED, round, A, version * H + i, Bs, T).bytes;
    const row = (bytes: Uint8Array, b: number) => [...bytes.subarray(b * (T + 1), (b + 1) * (T + 1))];
    expect([0, 1, 2, 3].map((j) => [...own.bytes.subarray(j * (T + 1), (j + 1) * (T + 1))])).toEqual([row(step(0), 0), row(step(0), 1), row(step(1), 1), row(step(2), 0)]);
    // Another address's data differs.
    expect([...ownWindows(data, RUN_SEED, round, B, version, H, Bs, T, 4).bytes]).not.toEqual([...own.bytes]);
  });

  it("a time-boxed contributor is judged on the steps its header claims: fewer or more than H", () => {
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31 + (i >> 4)) & 0xff);
    const [H, Bs, T, version, round] = [4, 2, 16, 3, 1];
    const step = (i: number) => assignedWindows(data, RUN_SEED, round, A, version * H + i, Bs, T).bytes;
    const row = (bytes: Uint8Array, b: number) => [...bytes.subarray(b * (T + 1), (b + 1) * (T + 1))];
    const rows = (w: Windows) => Array.from({ length: w.count }, (_, j) => row(w.bytes, j));
    // 1 step trained: both windows of step 0 only (n = 4 spreads over 1·B = 2 windows).
    expect(rows(ownWindows(data, RUN_SEED, round, A, version, H, Bs, T, 4, 1))).toEqual([row(step(0), 0), row(step(0), 0), row(step(0), 1), row(step(0), 1)]);
    // 8 steps (2·H): windows reach past step H − 1, into the steps only a fast tab trained.
    expect(rows(ownWindows(data, RUN_SEED, round, A, version, H, Bs, T, 4, 8))).toEqual([row(step(0), 0), row(step(2), 0), row(step(4), 0), row(step(6), 0)]);
    // Without a claim: the nominal H steps.
    expect(rows(ownWindows(data, RUN_SEED, round, A, version, H, Bs, T, 4))).toEqual(rows(ownWindows(data, RUN_SEED, round, A, version, H, Bs, T, 4, H)));
    expect(() => ownWindows(data, RUN_SEED, round, A, version, H, Bs, T, 4, 0)).toThrow(RangeError);
  });

  it('the round seed depends on every payload hash but not on their order', () => {
    const h = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as const;
    const model = h(99);
    const seed = roundSeed(RUN_SEED, 3, model, [h(1), h(2)]);
    expect(roundSeed(RUN_SEED, 3, model, [h(2), h(1)])).toBe(seed);
    expect(roundSeed(RUN_SEED, 3, model, [h(1), h(3)])).not.toBe(seed);
    expect(roundSeed(RUN_SEED, 4, model, [h(1), h(2)])).not.toBe(seed);
    expect(roundSeed(RUN_SEED, 3, h(98), [h(1), h(2)])).not.toBe(seed);
    const data = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
    expect(randomWindows(data, seed, 3, 8).bytes).toEqual(randomWindows(data, seed, 3, 8).bytes);
    expect(randomWindows(data, seed, 3, 8).bytes).not.toEqual(randomWindows(data, roundSeed(RUN_SEED, 4, model, [h(1)]), 3, 8).bytes);
  });
});

describe('the evaluation draw (SPEC §2.4)', () => {
  it('weights 1 + rounds since the last evaluation; the budget caps the draw; the same inputs draw the same', () => {
    const seed = `0x${'ab'.repeat(32)}` as const;
    const old = { ...newPeerRecord(A, 0, config), lastEvaluated: 2, lastSubmitted: 9 };
    expect(drawWeight(old, 10)).toBe(9);
    expect(drawWeight(newPeerRecord(A, 10, config), 10)).toBe(2);
    expect(drawWeight(undefined, 10)).toBe(2);
    const state = { format: 1 as const, round: 10, peers: [old] };
    const cfg = gauntletConfigWith({ evaluation: { maxSubmissions: 2 } });
    const plan = planRound(state, 10, [B, C], seed, cfg);
    expect(plan.candidates).toEqual([A, B, C].sort());
    expect(plan.drawn).toHaveLength(2);
    expect(planRound(state, 10, [C, B], seed, cfg)).toEqual(plan);
    expect(new Set([...plan.evaluate, ...plan.missing])).toEqual(new Set(plan.drawn));
    // A (no submission, drawn or not) is never in `evaluate`.
    expect(plan.evaluate).not.toContain(A);
  });

  it('a heavier weight is drawn more often (10,000 seeds)', () => {
    const heavy = { ...newPeerRecord(A, 0, config), lastEvaluated: 0, lastSubmitted: 10 }; // weight 11
    const light = { ...newPeerRecord(B, 0, config), lastEvaluated: 10, lastSubmitted: 10 }; // weight 1
    const state = { format: 1 as const, round: 10, peers: [heavy, light].sort((x, y) => (x.address < y.address ? -1 : 1)) };
    const cfg = gauntletConfigWith({ evaluation: { maxSubmissions: 1 } });
    let heavyFirst = 0;
    for (let i = 0; i < 10_000; i++) {
      const seed = roundSeed(RUN_SEED, i, RUN_SEED, []); // hashes, like real round seeds
      if (planRound(state, 10, [A, B], seed, cfg).drawn[0] === A) heavyFirst++;
    }
    // P(heavy wins) = w_h / (w_h + w_l) = 11/12 for a two-item weighted draw.
    expect(heavyFirst / 10_000).toBeGreaterThan(0.89);
    expect(heavyFirst / 10_000).toBeLessThan(0.94);
  });

  it('quarantined submitters are neither candidates nor drawn', () => {
    const q = { ...newPeerRecord(A, 0, config), quarantinedUntil: 12 };
    const plan = planRound({ format: 1, round: 10, peers: [q] }, 10, [A, B], `0x${'01'.repeat(32)}`, config);
    expect(plan.quarantined).toEqual([A]);
    expect(plan.candidates).toEqual([B]);
    expect(plan.drawn).toEqual([B]);
  });
});
