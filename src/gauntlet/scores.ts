// The per-submission numbers of SPEC §2.4, as small pure functions:
//
//   s = (L_before_rand − L_after_rand) / L_before_rand        the LossScore
//   o = (L_before_own − L_after_own) / L_before_own           the same on the contributor's own batch
//   s_ref, o_ref: the same for the round's consensus step θ_ref (evaluation-job.ts)
//   b = +1 if o > 0 and o − s > o_ref − s_ref else −1         proof of data: own data improved, and more
//
// SPEC's b is +1 when o > s. Measured at this scale (docs/results.md), that
// comparison is decided by how easy the round's random windows happen to be
// (one shared batch of 512 tokens): peers that trained on other data passed
// it as often as honest ones. Subtracting what the consensus step gains on
// the same two batches removes that shared difficulty (and each own batch's
// own), leaving what the update gains on its own data beyond any update. And
// the update must improve its own data at all (o > 0): an empty update has
// o = s = 0, which would otherwise beat a consensus step that happens to
// favour the random batch.
//   BMA ← (1 − α)·BMA + α·b, from 0                           α = 0.05
//   gated BMA = 0 if BMA < gate after warm-up, else BMA       gate 0.10 from warmupRounds on
//   F = ordinal · max(0, gated BMA) · sync                    ordinal = μ − 3σ (ratings.ts)
//
// sync: the running network compares a few values of every tensor with the
// validator's copy (SPEC §2.3). Tessera binds every upload to the exact
// modelHash of the round's base model and refuses any other ('stale-model',
// 'model-hash-mismatch'), so every submission that reaches scoring is exactly
// in sync: sync = 1 (x = 0 steps behind).
// Leaves out: the ratings (ratings.ts) and penalties (round.ts).
import type { GauntletConfig } from '../protocol/index.ts';

/** Exactly in sync: the relay refuses any submission not trained from the round's model hash. */
export const SYNC = 1;

/** (before − after) / before: positive when the step lowered the loss. */
export function relativeImprovement(before: number, after: number): number {
  return (before - after) / before;
}

/**
 * b: +1 when the update improves its own data (o > 0) and its own-data
 * advantage (o − s) strictly beats the consensus step's on the same windows
 * (o_ref − s_ref). With o_ref = s_ref this is SPEC's o > s (plus o > 0).
 */
export function dataIndicator(score: number, ownImprovement: number, referenceScore = 0, referenceOwnImprovement = 0): 1 | -1 {
  return ownImprovement > 0 && ownImprovement - score > referenceOwnImprovement - referenceScore ? 1 : -1;
}

export function updateBma(bma: number, indicator: number, config: GauntletConfig): number {
  return (1 - config.bma.alpha) * bma + config.bma.alpha * indicator;
}

/** The BMA that enters F: below the gate it counts as 0 once the run is past its warm-up. */
export function gatedBma(bma: number, round: number, config: GauntletConfig): number {
  return round >= config.bma.warmupRounds && bma < config.bma.gate ? 0 : bma;
}

export function finalScore(ordinal: number, bma: number, round: number, config: GauntletConfig): number {
  return ordinal * Math.max(0, gatedBma(bma, round, config)) * SYNC;
}

/** A multiplicative decay with the floor of SPEC §2.6: below zeroBelow it is 0. */
export function decay(value: number, factor: number, config: GauntletConfig): number {
  const next = value * factor;
  return Math.abs(next) < config.penalties.zeroBelow ? 0 : next;
}
