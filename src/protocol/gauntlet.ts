// The protocol-visible shapes of Gauntlet (SPEC §2), the relay's incentive
// mechanism: its configuration (published in GET /api/run), the per-address
// state it carries from round to round (GET /api/rounds/:r/state), the payout
// vector (GET /api/weights and one file per round) and the leaderboard
// (GET /api/leaderboard). Each has a strict validator for JSON from the network
// and, where a receipt binds it by hash, one canonical byte encoding:
//
//   canonical bytes = UTF-8 of JSON.stringify(value) with members in the order
//   this file builds them (canonicalState, canonicalWeights). ECMAScript fixes
//   how a number prints (the shortest string that reads back to the same
//   float64), so any engine gives the same bytes for the same values.
//   stateHash / weightsHash = BLAKE2b-256 of those bytes.
//
// The logic that fills these shapes lives in src/gauntlet/; the receipt that
// binds them is receipt.ts. Leaves out: HTTP routes (relay/server.ts).
import { payloadHash, hashToHex, type HexHash } from './header.ts';
import { address, array, bad, boolean, count, finite, object, u32, type JsonObject } from './json.ts';

// ------------------------------------------------------------------ config

/**
 * Gauntlet's settings, part of the run's configuration (written once; every
 * receipt depends on them). Defaults and their reasons: src/gauntlet/config.ts.
 */
export interface GauntletConfig {
  /** false: every accepted submission is aggregated and nobody is scored (the relay before Gauntlet). */
  enabled: boolean;
  evaluation: {
    /** Submissions evaluated per round at most (SPEC §2.4: 20). */
    maxSubmissions: number;
    /** Sequences of T tokens in the random batch and in each own batch (SPEC: 8). */
    sequences: number;
    /** θ' = θ − trialScale·α·clip(update) (SPEC: 0.2). */
    trialScale: number;
    /** Candidates are split into this many rating bins when there are at least binMinCandidates (SPEC: 5, 100). */
    ratingBins: number;
    binMinCandidates: number;
  };
  rating: {
    /** OpenSkill Plackett–Luce: β, τ, μ0, σ0 (SPEC: 7, 0.1, 25, 25/3). */
    beta: number;
    tau: number;
    mu: number;
    sigma: number;
    /** Score a drawn but missing or invalid submission enters the match with (SPEC: −99). */
    missingScore: number;
  };
  bma: {
    /** BMA ← (1−alpha)·BMA + alpha·b (SPEC: 0.05). */
    alpha: number;
    /** From round warmupRounds on, a BMA below gate counts as 0 (SPEC: 0.10). */
    gate: number;
    warmupRounds: number;
  };
  copy: {
    /** No overlap penalties before this round (SPEC: 20). */
    graceRounds: number;
    /** Overlap thresholds: score ×0.5, full reset, reset + quarantine (SPEC: 0.4, 0.5, 0.6). */
    halveAt: number;
    resetAt: number;
    quarantineAt: number;
    /** Rounds a quarantined address is excluded from evaluation and aggregation (SPEC: 20). */
    quarantineRounds: number;
  };
  penalties: {
    /** Rounds without a submission before an address leaves the active set with a full reset (SPEC: more than 3). */
    activeRounds: number;
    /** Factor per round out of the active set, and for a drawn but missing submission (score and BMA) (SPEC: 0.75). */
    decay: number;
    /** A decayed score or BMA below this becomes 0 (SPEC: 1e-4). */
    zeroBelow: number;
    /** Factors for 1, 2, 3… consecutive rounds selected but skipped (SPEC: 0.75, 0.5, 0). */
    skipFactors: number[];
    /** More than half of the last negativeWindow evaluations negative: ×negativeFactor (SPEC: 8, 0.25). */
    negativeWindow: number;
    negativeFactor: number;
    /** This many negative evaluations in a row: excluded from aggregation until a positive one (SPEC: 3). */
    negativeStreak: number;
    /** Negative rules are suspended when the round's suspendRank-th best score is negative (SPEC: 5). */
    suspendRank: number;
  };
  selection: {
    /** Aggregate the top G by score, with reserves that replace missing ones (SPEC: 20, 10). */
    topG: number;
    reserves: number;
  };
  weights: {
    /** The top G share topShare on a linear ramp (first = rampRatio × last); the reserves share the rest geometrically (SPEC: 0.75, 2). */
    topShare: number;
    rampRatio: number;
    /** Share of every payout burned (SPEC: the running network burns a fixed share; 0 here). */
    burn: number;
  };
}

export function parseGauntletConfig(json: unknown, path = 'gauntlet'): GauntletConfig {
  const o = object(json, path);
  const part = (key: string): [JsonObject, string] => [object(o[key], `${path}.${key}`), `${path}.${key}`];
  const [evaluation, e] = part('evaluation');
  const [rating, r] = part('rating');
  const [bma, b] = part('bma');
  const [copy, c] = part('copy');
  const [penalties, p] = part('penalties');
  const [selection, s] = part('selection');
  const [weights, w] = part('weights');
  const share = (x: JsonObject, key: string, at: string) => finite(x, key, at, 0, 1);
  const threshold = (key: string) => finite(copy, key, c, 0, 1.000001);
  return {
    enabled: boolean(o, 'enabled', path),
    evaluation: {
      maxSubmissions: u32(evaluation, 'maxSubmissions', e),
      sequences: u32(evaluation, 'sequences', e, 1),
      trialScale: finite(evaluation, 'trialScale', e, 0, 100),
      ratingBins: u32(evaluation, 'ratingBins', e, 1),
      binMinCandidates: u32(evaluation, 'binMinCandidates', e, 1),
    },
    rating: {
      beta: finite(rating, 'beta', r, 1e-9),
      tau: finite(rating, 'tau', r, 0),
      mu: finite(rating, 'mu', r),
      sigma: finite(rating, 'sigma', r, 1e-9),
      missingScore: finite(rating, 'missingScore', r),
    },
    bma: { alpha: share(bma, 'alpha', b), gate: share(bma, 'gate', b), warmupRounds: u32(bma, 'warmupRounds', b) },
    copy: {
      graceRounds: u32(copy, 'graceRounds', c),
      halveAt: threshold('halveAt'),
      resetAt: threshold('resetAt'),
      quarantineAt: threshold('quarantineAt'),
      quarantineRounds: u32(copy, 'quarantineRounds', c),
    },
    penalties: {
      activeRounds: u32(penalties, 'activeRounds', p, 1),
      decay: share(penalties, 'decay', p),
      zeroBelow: finite(penalties, 'zeroBelow', p, 0),
      skipFactors: array(penalties.skipFactors, `${p}.skipFactors`, (v, at) => finite({ v }, 'v', at, 0, 1)),
      negativeWindow: u32(penalties, 'negativeWindow', p, 1),
      negativeFactor: share(penalties, 'negativeFactor', p),
      negativeStreak: u32(penalties, 'negativeStreak', p, 1),
      suspendRank: u32(penalties, 'suspendRank', p, 1),
    },
    selection: { topG: u32(selection, 'topG', s, 1), reserves: u32(selection, 'reserves', s) },
    weights: { topShare: share(weights, 'topShare', w), rampRatio: finite(weights, 'rampRatio', w, 1), burn: share(weights, 'burn', w) },
  };
}

/** What GET /api/run adds for Gauntlet: who signs the receipts, and the rules. */
export interface GauntletRunInfo {
  /** SS58 address of the relay's own key, which signs every round's receipt. */
  relayAddress: string;
  gauntlet: GauntletConfig;
}

/** The Gauntlet members of a run info (RunInfo's validator ignores them; this one requires them). */
export function parseGauntletRunInfo(json: unknown, path = 'run'): GauntletRunInfo {
  const o = object(json, path);
  return { relayAddress: address(o, 'relayAddress', path), gauntlet: parseGauntletConfig(o.gauntlet, `${path}.gauntlet`) };
}

// ------------------------------------------------------------------- state

/** What Gauntlet remembers about one address between rounds. */
export interface PeerRecord {
  address: string;
  /** OpenSkill rating: mean and standard deviation. */
  mu: number;
  sigma: number;
  /** Binary moving average of the proof-of-data indicator (SPEC §2.4). */
  bma: number;
  /** Final score F = ordinal · max(0, BMA) · sync, as penalties have left it. */
  score: number;
  /** Round of the first submission. */
  firstRound: number;
  /** Round of the latest submission. */
  lastSubmitted: number;
  /** Round of the latest evaluation; −1: never evaluated. */
  lastEvaluated: number;
  /** Signs of the latest evaluations, oldest first: '+' (score ≥ 0) or '−' written '-'; at most negativeWindow. */
  recent: string;
  /** Negative evaluations in a row (reset by a positive one). */
  negativeStreak: number;
  /** Rounds in a row selected for aggregation but without a submission. */
  skipStreak: number;
  /** First round this address may take part again after a copy quarantine; 0: not quarantined. */
  quarantinedUntil: number;
  /** Rounds with an accepted submission, and of those, rounds aggregated. */
  submitted: number;
  aggregated: number;
}

/** Every address Gauntlet has seen, as the input of round `round`. */
export interface GauntletState {
  format: 1;
  round: number;
  /** Ascending by address (code-unit order). */
  peers: PeerRecord[];
}

/** The state with members in canonical order (and nothing else). */
export function canonicalState(state: GauntletState): GauntletState {
  const peers = [...state.peers].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return {
    format: 1,
    round: state.round,
    peers: peers.map((p) => ({
      address: p.address,
      mu: p.mu,
      sigma: p.sigma,
      bma: p.bma,
      score: p.score,
      firstRound: p.firstRound,
      lastSubmitted: p.lastSubmitted,
      lastEvaluated: p.lastEvaluated,
      recent: p.recent,
      negativeStreak: p.negativeStreak,
      skipStreak: p.skipStreak,
      quarantinedUntil: p.quarantinedUntil,
      submitted: p.submitted,
      aggregated: p.aggregated,
    })),
  };
}

export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function stateHash(state: GauntletState): HexHash {
  return hashToHex(payloadHash(canonicalJsonBytes(canonicalState(state))));
}

export function parseGauntletState(json: unknown, path = 'state'): GauntletState {
  const o = object(json, path);
  if (o.format !== 1) bad(`${path}.format`, '1');
  const peers = array(o.peers, `${path}.peers`, (value, at) => {
    const e = object(value, at);
    const recent = e.recent;
    if (typeof recent !== 'string' || !/^[+-]{0,64}$/.test(recent)) bad(`${at}.recent`, 'at most 64 of + and -');
    return {
      address: address(e, 'address', at),
      mu: finite(e, 'mu', at),
      sigma: finite(e, 'sigma', at, 0),
      bma: finite(e, 'bma', at, -1, 1),
      score: finite(e, 'score', at),
      firstRound: u32(e, 'firstRound', at),
      lastSubmitted: u32(e, 'lastSubmitted', at),
      lastEvaluated: count(e, 'lastEvaluated', at, -1),
      recent,
      negativeStreak: u32(e, 'negativeStreak', at),
      skipStreak: u32(e, 'skipStreak', at),
      quarantinedUntil: u32(e, 'quarantinedUntil', at),
      submitted: u32(e, 'submitted', at),
      aggregated: u32(e, 'aggregated', at),
    };
  });
  for (let i = 1; i < peers.length; i++) {
    if (!(peers[i - 1].address < peers[i].address)) bad(`${path}.peers[${i}]`, 'addresses in strictly ascending order');
  }
  return { format: 1, round: u32(o, 'round', path), peers };
}

// ----------------------------------------------------------------- weights

/** One address's share of the payout after a round. */
export interface WeightEntry {
  address: string;
  /** 1 = the highest final score. */
  rank: number;
  /** Share of the payout, in [0, 1]; the weights and burn sum to 1. */
  weight: number;
  /** The final score F it was ranked by. */
  score: number;
}

/** The payout vector after round `round` (plain JSON, one file per round). */
export interface WeightsFile {
  round: number;
  /** Model version after the round. */
  version: number;
  /** Share burned (not paid to anyone). */
  burn: number;
  /** Ascending by rank. */
  weights: WeightEntry[];
}

export function canonicalWeights(file: WeightsFile): WeightsFile {
  return {
    round: file.round,
    version: file.version,
    burn: file.burn,
    weights: file.weights.map((w) => ({ address: w.address, rank: w.rank, weight: w.weight, score: w.score })),
  };
}

export function weightsHash(file: WeightsFile): HexHash {
  return hashToHex(payloadHash(canonicalJsonBytes(canonicalWeights(file))));
}

export function parseWeightsFile(json: unknown, path = 'weights'): WeightsFile {
  const o = object(json, path);
  return {
    round: u32(o, 'round', path),
    version: u32(o, 'version', path),
    burn: finite(o, 'burn', path, 0, 1),
    weights: array(o.weights, `${path}.weights`, (value, at) => {
      const e = object(value, at);
      return { address: address(e, 'address', at), rank: count(e, 'rank', at, 1), weight: finite(e, 'weight', at, 0, 1), score: finite(e, 'score', at) };
    }),
  };
}

// -------------------------------------------------------------- scoreboard

/** GET /api/leaderboard: Gauntlet's scoreboard, addresses by payout share, then by final score (the tokens board is GET /api/ledger). */
export interface ScoreboardRow {
  address: string;
  /** 1-based position in this list. */
  rank: number;
  /** Final score F. */
  score: number;
  /** Share of the latest payout vector. */
  weight: number;
  /** Rounds this address's submission was aggregated, and rounds it submitted. */
  rounds: number;
  submitted: number;
}

export interface Scoreboard {
  /** The round whose close produced these figures (−1 before the first). */
  round: number;
  rows: ScoreboardRow[];
}

export function parseScoreboard(json: unknown, path = 'scoreboard'): Scoreboard {
  const o = object(json, path);
  return {
    round: count(o, 'round', path, -1),
    rows: array(o.rows, `${path}.rows`, (value, at) => {
      const e = object(value, at);
      return {
        address: address(e, 'address', at),
        rank: count(e, 'rank', at, 1),
        score: finite(e, 'score', at),
        weight: finite(e, 'weight', at, 0, 1),
        rounds: count(e, 'rounds', at),
        submitted: count(e, 'submitted', at),
      };
    }),
  };
}

// ----------------------------------------------------- per-submission words

/** How a submission's evaluation went (receipt byte values in brackets). */
export const EVALUATION_STATUSES = [
  'not-drawn', // [0] the budget went to other candidates this round
  'evaluated', // [1] losses measured
  'relay-failure', // [2] the relay could not evaluate it (error, timeout): never a penalty
  'invalid', // [3] the trial step made the loss non-finite
  'quarantined', // [4] excluded from evaluation by a copy quarantine
  'disabled', // [5] Gauntlet is off for this run
] as const;
export type EvaluationStatus = (typeof EVALUATION_STATUSES)[number];

/** Why a submission was not aggregated (receipt byte values in brackets; 0 = it was). */
export const EXCLUSION_REASONS = [
  'quarantined', // [1] under a copy quarantine from an earlier round
  'copy', // [2] its indices overlap an earlier submission of this round beyond copy.resetAt
  'not-improving', // [3] evaluated: the trial step did not lower the random-batch loss
  'invalid', // [4] evaluated: the trial step made the loss non-finite
  'negative-streak', // [5] negativeStreak negative evaluations in a row
  'unproven', // [6] not evaluated this round, and no positive score yet
  'not-selected', // [7] outside the top G (and the reserves) by score
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

/** Penalties applied to a submission's address in the round (receipt bit positions in brackets). */
export const PENALTIES = [
  'copy-halved', // [0] overlap ≥ copy.halveAt: score ×0.5
  'copy-reset', // [1] overlap ≥ copy.resetAt: rating, BMA and score reset
  'copy-quarantined', // [2] overlap ≥ copy.quarantineAt: reset and quarantine
  'negative-majority', // [3] more than half of the recent evaluations negative: ×negativeFactor
  'negative-streak', // [4] excluded from aggregation until a positive evaluation
  'invalid', // [5] positive score → 0
  'copy-suspect', // [6] overlap beyond copy.halveAt during the grace period: recorded, not penalised
] as const;
export type Penalty = (typeof PENALTIES)[number];
