// Gauntlet's default settings, each with its reason (nanoGPT-style config as
// data). The shape is protocol-visible (src/protocol/gauntlet.ts: it travels in
// GET /api/run and every receipt depends on it); the numbers live here.
// SPEC §2 gives the constants of Templar's latest validator code; where this
// project measured a different choice for its own scale, the comment says so
// and docs/results.md has the table.
// Leaves out: the logic (round.ts and its helpers).
import { parseGauntletConfig, type GauntletConfig } from '../protocol/index.ts';

export const defaultGauntletConfig: GauntletConfig = {
  enabled: true,
  evaluation: {
    // SPEC §2.4: up to 20 peers per window. Also the close-time bound: an evaluation
    // of nano costs ~20–40 ms here (docs/relay.md), so 20 stay under a second.
    maxSubmissions: 20,
    // SPEC: 8 sequences (≈16k tokens at Templar's 2048). At the run's T (64 for nano)
    // that is 512 tokens per batch; docs/results.md compares 4, 8 and 16.
    sequences: 8,
    // SPEC: θ' = θ − 0.2·α·clip(Δ). Here 1 (the whole clipped update): in the simulator honest
    // updates scored positive at every scale from 0.05 to 1, random noise at 0.2 in 20–30% of
    // its evaluations but at 1 in 10–20% (larger steps expose its curvature cost; docs/results.md).
    trialScale: 1,
    ratingBins: 5,
    binMinCandidates: 100,
  },
  // OpenSkill Plackett–Luce as the running validator configures it.
  rating: { beta: 7, tau: 0.1, mu: 25, sigma: 25 / 3, missingScore: -99 },
  // α 0.05: a newcomer needs three +1s in a row (0.05·(1 + 0.95 + 0.95²) = 0.143) to pass the gate.
  // No warm-up: with the gate off for the first 20 rounds, peers whose proof of data is a
  // coin flip (copycats, wrong data) took 7% of the payout in a 10-round simulation
  // (docs/results.md); gated from round 0, an honest newcomer waits about three rounds.
  bma: { alpha: 0.05, gate: 0.1, warmupRounds: 0 },
  // Grace 2 rounds, not SPEC's 20 windows: honest nano peers overlap by 0.26 at most in
  // round 1, falling to 0.14 by round 10 (docs/results.md), far below 0.4; a 20-round
  // grace would let a copycat earn through a whole short demo run.
  copy: { graceRounds: 2, halveAt: 0.4, resetAt: 0.5, quarantineAt: 0.6, quarantineRounds: 20 },
  penalties: {
    activeRounds: 3,
    decay: 0.75,
    zeroBelow: 1e-4,
    skipFactors: [0.75, 0.5, 0],
    negativeWindow: 8,
    negativeFactor: 0.25,
    negativeStreak: 3,
    suspendRank: 5,
  },
  selection: { topG: 20, reserves: 10 },
  // No burn by default: a volunteer run has no emission to burn.
  weights: { topShare: 0.75, rampRatio: 2, burn: 0 },
};

/** A copy of the defaults with `overrides` merged one level deep (checkGauntletConfig validates it). */
export function gauntletConfigWith(overrides: GauntletOverrides = {}): GauntletConfig {
  const d = defaultGauntletConfig;
  return {
    enabled: overrides.enabled ?? d.enabled,
    evaluation: { ...d.evaluation, ...overrides.evaluation },
    rating: { ...d.rating, ...overrides.rating },
    bma: { ...d.bma, ...overrides.bma },
    copy: { ...d.copy, ...overrides.copy },
    penalties: { ...d.penalties, ...overrides.penalties, skipFactors: [...(overrides.penalties?.skipFactors ?? d.penalties.skipFactors)] },
    selection: { ...d.selection, ...overrides.selection },
    weights: { ...d.weights, ...overrides.weights },
  };
}

export type GauntletOverrides = { enabled?: boolean } & { [K in Exclude<keyof GauntletConfig, 'enabled'>]?: Partial<GauntletConfig[K]> };

/** Validates with the parser every client uses (a typo fails at start, naming the field), plus the orderings. */
export function checkGauntletConfig(config: GauntletConfig): GauntletConfig {
  const parsed = parseGauntletConfig(config, 'gauntlet');
  const { halveAt, resetAt, quarantineAt } = parsed.copy;
  if (!(halveAt <= resetAt && resetAt <= quarantineAt)) throw new RangeError('gauntlet.copy: halveAt ≤ resetAt ≤ quarantineAt');
  if (parsed.penalties.skipFactors.length === 0) throw new RangeError('gauntlet.penalties.skipFactors must not be empty');
  return parsed;
}
