// OpenSkill ratings (Weng & Lin, "A Bayesian Approximation Method for Online
// Ranking", JMLR 2011), through the npm `openskill` package rather than by
// hand: the Plackett–Luce model, β = 7, τ = 0.1, μ0 = 25, σ0 = 25/3 (SPEC §2.4),
// as Templar's validator configures Python's openskill. One match per round
// among the scored submissions, each address its own team, ranked by score;
// a drawn but missing or invalid submission enters with missingScore (−99).
// ordinal = μ − 3σ (the package's ordinal with z = 3).
// Leaves out: who plays (round.ts).
import { ordinal as openskillOrdinal, rate } from 'openskill';
import type { GauntletConfig } from '../protocol/index.ts';

export interface Rating {
  mu: number;
  sigma: number;
}

export function initialRating(config: GauntletConfig): Rating {
  return { mu: config.rating.mu, sigma: config.rating.sigma };
}

export function ordinal(rating: Rating): number {
  return openskillOrdinal(rating);
}

/**
 * New ratings after one match: players[i] scored scores[i] (higher is better;
 * equal scores draw). Fewer than two players play no match: ratings unchanged.
 */
export function rateMatch(players: readonly Rating[], scores: readonly number[], config: GauntletConfig): Rating[] {
  if (players.length !== scores.length) throw new RangeError(`${players.length} players, ${scores.length} scores`);
  if (players.length < 2) return players.map((p) => ({ mu: p.mu, sigma: p.sigma }));
  const { beta, tau, mu, sigma } = config.rating;
  const teams = players.map((p) => [{ mu: p.mu, sigma: p.sigma }]);
  const rated = rate(teams, { score: [...scores], beta, tau, mu, sigma });
  return rated.map(([p]) => ({ mu: p.mu, sigma: p.sigma }));
}
