// Who is evaluated in a round (SPEC §2.4), as a pure function of the state
// before the round, the round's submitters and the round seed:
//
//   candidates  addresses in the active set that are not quarantined: every
//               submitter of this round, and every address whose last
//               submission is at most penalties.activeRounds rounds old
//               (drawn without a submission, it counts as missing)
//   bins        with at least binMinCandidates candidates, they are sorted by
//               ordinal (best first, ties by address) and cut into ratingBins
//               contiguous bins of near-equal size; one bin is drawn; with
//               fewer, all candidates form one bin
//   draw        within the bin, up to maxSubmissions addresses without
//               replacement, each with weight 1 + rounds since it was last
//               evaluated (never evaluated: rounds since its first submission,
//               counting this one), by weighted random sampling with keys
//               ln(u)/w, the largest keys winning (Efraimidis & Spirakis,
//               "Weighted random sampling with a reservoir", IPL 2006)
//
// Randomness: one SplitMix64 stream (src/data/sampler.ts) seeded with the
// second 8-byte word of the round seed: first the bin (next() mod bins), then
// one u = (⌊next() / 2^11⌋ + 1) / 2^53 ∈ (0, 1] per member of the bin in
// address order. Anyone with the state and the round's submissions draws the
// same addresses.
// Leaves out: evaluating them (evaluate.ts) and what follows (round.ts).
import { SplitMix64 } from '../data/sampler.ts';
import type { GauntletConfig, GauntletState, HexHash, PeerRecord } from '../protocol/index.ts';
import { seedWord } from './assigned-data.ts';
import { ordinal } from './ratings.ts';

export interface RoundPlan {
  round: number;
  seed: HexHash;
  /** Active, not quarantined, ascending. */
  candidates: string[];
  /** Drawn for evaluation, in draw order (largest key first). */
  drawn: string[];
  /** Drawn and submitted: evaluated. */
  evaluate: string[];
  /** Drawn without a submission this round. */
  missing: string[];
  /** Submitters under a copy quarantine (excluded from evaluation and aggregation). */
  quarantined: string[];
}

const byAddress = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function isQuarantined(record: PeerRecord | undefined, round: number): boolean {
  return record !== undefined && record.quarantinedUntil > round;
}

/** True while an address without a submission this round still counts as active. */
export function isActive(record: PeerRecord, round: number, config: GauntletConfig): boolean {
  return round - record.lastSubmitted <= config.penalties.activeRounds;
}

/** Draw weight 1 + rounds since the last evaluation (or since the first submission, this round included). */
export function drawWeight(record: PeerRecord | undefined, round: number): number {
  if (!record) return 2;
  return 1 + (record.lastEvaluated >= 0 ? round - record.lastEvaluated : round - record.firstRound + 1);
}

/** A u in (0, 1] from the stream: 53 random bits, never 0 so ln(u) is finite. */
function unitInterval(rng: SplitMix64): number {
  return (Number(rng.next() >> 11n) + 1) / 2 ** 53;
}

export function planRound(state: GauntletState, round: number, submitters: readonly string[], seed: HexHash, config: GauntletConfig): RoundPlan {
  const records = new Map(state.peers.map((p) => [p.address, p]));
  const submitted = new Set(submitters);
  const quarantined = [...submitted].filter((a) => isQuarantined(records.get(a), round)).sort(byAddress);
  const candidateSet = new Set<string>();
  for (const address of submitted) if (!isQuarantined(records.get(address), round)) candidateSet.add(address);
  for (const p of state.peers) if (isActive(p, round, config) && !isQuarantined(p, round)) candidateSet.add(p.address);
  const candidates = [...candidateSet].sort(byAddress);

  const rng = new SplitMix64(seedWord(seed, 1));
  const { ratingBins, binMinCandidates, maxSubmissions } = config.evaluation;
  let pool = candidates;
  if (candidates.length >= binMinCandidates && ratingBins > 1) {
    const rated = candidates
      .map((address) => {
        const r = records.get(address);
        return { address, ordinal: r ? ordinal(r) : ordinal({ mu: config.rating.mu, sigma: config.rating.sigma }) };
      })
      .sort((a, b) => b.ordinal - a.ordinal || byAddress(a.address, b.address));
    const bin = Number(rng.next() % BigInt(ratingBins));
    const from = Math.floor((bin * rated.length) / ratingBins);
    const to = Math.floor(((bin + 1) * rated.length) / ratingBins);
    pool = rated
      .slice(from, to)
      .map((r) => r.address)
      .sort(byAddress);
  }
  const keyed = pool.map((address) => ({ address, key: Math.log(unitInterval(rng)) / drawWeight(records.get(address), round) }));
  keyed.sort((a, b) => b.key - a.key || byAddress(a.address, b.address));
  const drawn = keyed.slice(0, maxSubmissions).map((k) => k.address);
  return {
    round,
    seed,
    candidates,
    drawn,
    evaluate: drawn.filter((a) => submitted.has(a)),
    missing: drawn.filter((a) => !submitted.has(a)),
    quarantined,
  };
}
