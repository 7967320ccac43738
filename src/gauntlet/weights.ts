// The payout vector (SPEC §2.6): addresses with a positive final score F,
// ranked by F (ties by address), get
//   ranks 1..G       topShare (75%) on a linear ramp, the first rampRatio (2) × the last;
//   ranks G+1..G+R   the rest (25%) geometrically, 0.5^i, each capped at half
//                    the smallest top-G weight;
// then everything is renormalised to 1 − burn (burn 0 by default). Nobody with
// F ≤ 0 is paid; with no positive score at all the vector is empty.
// (The running network burns a fixed share; older code used F²/ΣF².)
// Leaves out: the scores themselves (round.ts).
import type { GauntletConfig, WeightEntry } from '../protocol/index.ts';

export interface Scored {
  address: string;
  score: number;
}

/** Positive scores, best first; equal scores by address (code-unit order). */
export function rankByScore<T extends Scored>(peers: readonly T[]): T[] {
  return peers.filter((p) => p.score > 0).sort((a, b) => b.score - a.score || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

export function payoutWeights(peers: readonly Scored[], config: GauntletConfig): WeightEntry[] {
  const { topG, reserves } = config.selection;
  const { topShare, rampRatio, burn } = config.weights;
  const ranked = rankByScore(peers).slice(0, topG + reserves);
  const top = ranked.slice(0, topG);
  const rest = ranked.slice(topG);
  if (top.length === 0) return [];
  const n = top.length;
  const ramp = top.map((_, i) => (n === 1 ? 1 : rampRatio - ((rampRatio - 1) * i) / (n - 1)));
  const rampSum = ramp.reduce((a, b) => a + b, 0);
  const raw = ramp.map((r) => (topShare * r) / rampSum);
  if (rest.length > 0) {
    const cap = Math.min(...raw) / 2;
    const geometric = rest.map((_, i) => 0.5 ** i);
    const geometricSum = geometric.reduce((a, b) => a + b, 0);
    for (const g of geometric) raw.push(Math.min(cap, ((1 - topShare) * g) / geometricSum));
  }
  const total = raw.reduce((a, b) => a + b, 0);
  return ranked.map((p, i) => ({ address: p.address, rank: i + 1, weight: ((1 - burn) * raw[i]) / total, score: p.score }));
}
