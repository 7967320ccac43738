// One round of Gauntlet (SPEC §2), the code the relay and the simulator both
// run: plan who is evaluated, measure, then decide — ratings, proof of data,
// copy penalties, who is aggregated, and the payout vector — as a pure
// function of (state before, round inputs, measured losses).
//
//   scoreRound     plan (plan.ts) → copy findings (overlap.ts) → job
//                  (evaluation-job.ts) → evaluator (a worker, with a deadline)
//                  → decideRound
//   decideRound    pure and synchronous; the audit reruns it with the relay's
//                  published losses and must get the same bytes
//
// decideRound, step by step (every loop in address order):
//  1. records for first-time submitters (rating μ0/σ0, BMA 0, score 0).
//  2. each drawn submitter: 'relay-failure' if the evaluator gave no losses
//     (no penalty, no match), 'invalid' if a loss is not finite or not
//     positive, else 'evaluated' with s, o and b (scores.ts; b against the
//     round's consensus step).
//  3. negative rules are suspended this round if even the best quarter's
//     last score is negative: the suspendRank-th best of maxSubmissions
//     (5th of 20), i.e. the ⌈n·5/20⌉-th best of the n evaluated.
//  4. one OpenSkill match: evaluated by s, invalid and drawn-but-missing with
//     missingScore; ≥ 2 players, else no match.
//  5. evaluated: BMA ← update, F ← ordinal·max(0, gated BMA)·sync; unless
//     suspended, its sign joins `recent` and the streak; more than half of
//     `recent` negative: F ×negativeFactor ('negative-majority').
//     invalid: a positive F → 0 ('invalid'), counts as negative.
//     drawn but missing: BMA ×decay (its F decays in step 8).
//  6. copies (after graceRounds): overlap ≥ quarantineAt: reset and
//     quarantine; ≥ resetAt: reset; ≥ halveAt: a positive F ×0.5. During the
//     grace period an overlap ≥ halveAt is only flagged ('copy-suspect').
//  7. selection: the active, unquarantined addresses ranked by F (then
//     address); walking the first topG + reserves ranks, a submission is
//     aggregated if eligible, until topG are; an address in the first topG
//     ranks without a submission is 'skipped'. Eligible: not quarantined, not
//     copy-reset, evaluated with s > 0 — an update that does not lower the
//     random-batch loss is never aggregated — or not evaluated this round but
//     holding a positive F, and not on a negative streak (unless suspended).
//  8. absent addresses: more than activeRounds rounds without a submission:
//     full reset; skipped: a positive F × skipFactors[streak]; otherwise a
//     positive F ×decay.
//  9. counters, then the payout vector (weights.ts) over every address.
// Gauntlet off (config.enabled false): every submission is aggregated, no
// one is evaluated, and the payout is each address's share of all accepted
// submissions so far (the credit the relay gave before Gauntlet).
// Leaves out: aggregation and the outer step (the caller, with aggregate.ts),
// signing the receipt (the relay), persistence.
import type { TensorManifest } from '../compress/manifest.ts';
import type { CompressConfig, CompressedUpdate } from '../compress/sparseloco.ts';
import type { GptConfig } from '../model/config.ts';
import { PENALTIES } from '../protocol/index.ts';
import type {
  EvaluationStatus,
  ExclusionReason,
  GauntletConfig,
  GauntletState,
  HexHash,
  Penalty,
  PeerRecord,
  ReceiptEntry,
  WeightEntry,
} from '../protocol/index.ts';
import { ownWindows, randomWindows, roundSeed } from './assigned-data.ts';
import type { EvaluationJob, TrialLosses, TrialOutcome } from './evaluation-job.ts';
import { aggregateDelta, trialDeltas } from './evaluation-job.ts';
import { aggregateUpdates } from '../compress/aggregate.ts';
import type { GauntletEvaluator } from './evaluator.ts';
import { copyFindings, type CopyFinding } from './overlap.ts';
import { isActive, isQuarantined, planRound, type RoundPlan } from './plan.ts';
import { initialRating, ordinal, rateMatch } from './ratings.ts';
import { dataIndicator, decay, finalScore, relativeImprovement, updateBma } from './scores.ts';
import { payoutWeights } from './weights.ts';

export interface RoundSubmission {
  address: string;
  payloadHash: HexHash;
  receivedAt: number;
  update: CompressedUpdate;
  /** Inner steps its signed header claims (the relay checked them against the run's step range). */
  steps: number;
}

/** Everything a round's scoring reads besides the state. */
export interface RoundInput {
  config: GauntletConfig;
  runSeed: HexHash;
  round: number;
  /** The model the round trained from: θ(version) and its hash. */
  version: number;
  modelHash: HexHash;
  params: Float32Array; // (layout.size)
  model: GptConfig;
  manifest: TensorManifest;
  compression: CompressConfig;
  outerLearningRate: number;
  /** The run's inner loop: H steps of B windows of T bytes. */
  innerSteps: number;
  batchSize: number;
  seqLen: number;
  /** The run's training bytes (assigned and random windows come from them). */
  data: Uint8Array;
  submissions: RoundSubmission[];
}

/** The measured part of a round: what decideRound needs besides the state and the submissions. */
export interface RoundMeasurements {
  plan: RoundPlan;
  findings: Map<string, CopyFinding>;
  /** Losses per evaluated address, or the evaluator's error (the relay's failure). */
  outcomes: Map<string, TrialLosses | { error: string }>;
}

export interface RoundDecision {
  state: GauntletState;
  /** One per submission, ascending address, weight filled in. */
  entries: ReceiptEntry[];
  /** Addresses aggregated, ascending. */
  aggregated: string[];
  weights: WeightEntry[];
}

const byAddress = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function newPeerRecord(address: string, round: number, config: GauntletConfig): PeerRecord {
  const { mu, sigma } = initialRating(config);
  return {
    address,
    mu,
    sigma,
    bma: 0,
    score: 0,
    firstRound: round,
    lastSubmitted: round,
    lastEvaluated: -1,
    recent: '',
    negativeStreak: 0,
    skipStreak: 0,
    quarantinedUntil: 0,
    submitted: 0,
    aggregated: 0,
  };
}

export function initialGauntletState(): GauntletState {
  return { format: 1, round: 0, peers: [] };
}

/** Rating, BMA, score and the negative history back to a newcomer's. Counters and quarantine stay. */
function reset(record: PeerRecord, config: GauntletConfig): void {
  Object.assign(record, { ...initialRating(config), bma: 0, score: 0, recent: '', negativeStreak: 0, skipStreak: 0 });
}

/** A positive score times `factor` (with the 1e-4 floor); penalties never touch scores ≤ 0. */
function penalise(record: PeerRecord, factor: number, config: GauntletConfig): void {
  if (record.score > 0) record.score = decay(record.score, factor, config);
}

/** The round's plan and job: the deterministic half of scoreRound, before any loss is measured. */
export function prepareRound(
  state: GauntletState,
  input: RoundInput,
): { plan: RoundPlan; findings: Map<string, CopyFinding>; job: EvaluationJob; overlapMs: number } {
  const { config, submissions } = input;
  if (state.round !== input.round) throw new RangeError(`the Gauntlet state is for round ${state.round}, not ${input.round}`);
  const seed = roundSeed(input.runSeed, input.round, input.modelHash, submissions.map((s) => s.payloadHash));
  const submitters = submissions.map((s) => s.address);
  const plan = config.enabled
    ? planRound(state, input.round, submitters, seed, config)
    : { round: input.round, seed, candidates: [], drawn: [], evaluate: [], missing: [], quarantined: [] };
  const overlapStart = performance.now();
  const findings = config.enabled ? copyFindings(submissions, input.manifest, input.compression) : new Map<string, CopyFinding>();
  const overlapMs = performance.now() - overlapStart;
  const job = evaluationJob(input, plan.evaluate, seed, config.evaluation);
  return { plan, findings, job, overlapMs };
}

/**
 * The evaluation job for `evaluate` (addresses) under the given settings: the
 * random windows of the round seed, each trial's own windows (over the steps
 * its header claims) and delta, and the consensus step θ_ref. The relay's
 * close and the simulator's probe of other settings build it here alike.
 */
export function evaluationJob(
  input: RoundInput,
  evaluate: readonly string[],
  seed: HexHash,
  settings: { trialScale: number; sequences: number },
): EvaluationJob {
  const sorted = [...input.submissions].sort((a, b) => byAddress(a.address, b.address));
  const scale = settings.trialScale * input.outerLearningRate;
  const deltas = trialDeltas(sorted, evaluate, input.manifest, scale);
  const reference =
    evaluate.length > 0
      ? aggregateDelta(aggregateUpdates(sorted.map((s) => ({ id: s.address, update: s.update })), input.manifest, input.compression), input.manifest, scale)
      : { indices: new Uint32Array(0), values: new Float32Array(0) };
  const n = settings.sequences;
  const T = input.seqLen;
  const stepsOf = new Map(sorted.map((s) => [s.address, s.steps]));
  return {
    model: input.model,
    params: input.params.slice(), // the job may be moved to a worker; θ stays here
    random: randomWindows(input.data, seed, n, T),
    reference,
    trials: evaluate.map((address) => ({
      address,
      own: ownWindows(input.data, input.runSeed, input.round, address, input.version, input.innerSteps, input.batchSize, T, n, stepsOf.get(address)!),
      delta: deltas.get(address)!,
    })),
  };
}

/**
 * Plans, evaluates (within timeoutMs: later results are the relay's failure)
 * and decides one round. The caller aggregates `decision.aggregated`.
 */
export async function scoreRound(
  state: GauntletState,
  input: RoundInput,
  evaluator: GauntletEvaluator,
  timeoutMs: number,
  onOutcome?: (outcome: TrialOutcome) => void,
): Promise<{ measurements: RoundMeasurements; decision: RoundDecision; timings: { overlapMs: number; evaluationMs: number } }> {
  const { plan, findings, job, overlapMs } = prepareRound(state, input);
  const outcomes = new Map<string, TrialLosses | { error: string }>();
  const evaluationStart = performance.now();
  if (job.trials.length > 0) {
    for (const o of await evaluator.evaluate(job, timeoutMs, onOutcome)) outcomes.set(o.address, 'losses' in o ? o.losses : { error: o.error });
  }
  const evaluationMs = performance.now() - evaluationStart;
  const measurements = { plan, findings, outcomes };
  return { measurements, decision: decideRound(state, input, measurements), timings: { overlapMs, evaluationMs } };
}

interface Verdict {
  status: EvaluationStatus;
  losses: TrialLosses | null;
  score: number;
  ownImprovement: number;
  indicator: -1 | 0 | 1;
  penalties: Set<Penalty>;
  reason: ExclusionReason | null;
  copyReset: boolean;
}

/** The deterministic half (see the file header). Does not modify `state`. */
export function decideRound(
  state: GauntletState,
  input: Pick<RoundInput, 'config' | 'round' | 'version' | 'submissions'>,
  measurements: RoundMeasurements,
): RoundDecision {
  const { config, round } = input;
  const { plan, findings, outcomes } = measurements;
  const peers = new Map(state.peers.map((p) => [p.address, { ...p }]));
  const submissions = [...input.submissions].sort((a, b) => byAddress(a.address, b.address));
  const submitted = new Set(submissions.map((s) => s.address));
  // 1. newcomers
  for (const s of submissions) if (!peers.has(s.address)) peers.set(s.address, newPeerRecord(s.address, round, config));
  const verdicts = new Map<string, Verdict>();
  const quarantined = new Set(plan.quarantined);
  for (const s of submissions) {
    verdicts.set(s.address, {
      status: !config.enabled ? 'disabled' : quarantined.has(s.address) ? 'quarantined' : 'not-drawn',
      losses: null,
      score: 0,
      ownImprovement: 0,
      indicator: 0,
      penalties: new Set(),
      reason: null,
      copyReset: false,
    });
  }

  const aggregated: string[] = [];
  if (!config.enabled) {
    aggregated.push(...submissions.map((s) => s.address));
  } else {
    // 2. measurements → verdicts
    for (const address of [...plan.evaluate].sort(byAddress)) {
      const v = verdicts.get(address)!;
      const outcome = outcomes.get(address);
      if (!outcome || 'error' in outcome) {
        v.status = 'relay-failure';
        continue;
      }
      const { lossBeforeRandom, lossAfterRandom, lossBeforeOwn, lossAfterOwn, lossReferenceRandom, lossReferenceOwn } = outcome;
      const all = [lossBeforeRandom, lossAfterRandom, lossBeforeOwn, lossAfterOwn];
      if (!all.every(Number.isFinite) || !(lossBeforeRandom > 0) || !(lossBeforeOwn > 0)) {
        v.status = 'invalid';
        continue;
      }
      v.status = 'evaluated';
      v.losses = outcome;
      v.score = relativeImprovement(lossBeforeRandom, lossAfterRandom);
      v.ownImprovement = relativeImprovement(lossBeforeOwn, lossAfterOwn);
      // A consensus step that broke the loss says nothing about difficulty: SPEC's o > s then.
      const referenceScore = relativeImprovement(lossBeforeRandom, lossReferenceRandom);
      const referenceOwn = relativeImprovement(lossBeforeOwn, lossReferenceOwn);
      const usable = Number.isFinite(referenceScore) && Number.isFinite(referenceOwn);
      v.indicator = dataIndicator(v.score, v.ownImprovement, usable ? referenceScore : 0, usable ? referenceOwn : 0);
    }
    const evaluated = submissions.map((s) => verdicts.get(s.address)!).filter((v) => v.status === 'evaluated');
    // 3. suspension of the negative rules: SPEC's "5th best of 20" is the best quarter; with n evaluated,
    //    the ⌈n·suspendRank/maxSubmissions⌉-th best (at least the best, at most the suspendRank-th).
    const best = evaluated.map((v) => v.score).sort((a, b) => b - a);
    const { suspendRank } = config.penalties;
    const rank = Math.min(suspendRank, Math.max(1, Math.ceil((best.length * suspendRank) / Math.max(1, config.evaluation.maxSubmissions))));
    const suspended = best.length > 0 && best[Math.min(rank, best.length) - 1] < 0;
    // 4. one match
    const players: { address: string; score: number }[] = [];
    for (const s of submissions) {
      const v = verdicts.get(s.address)!;
      if (v.status === 'evaluated') players.push({ address: s.address, score: v.score });
      else if (v.status === 'invalid') players.push({ address: s.address, score: config.rating.missingScore });
    }
    for (const address of plan.missing) players.push({ address, score: config.rating.missingScore });
    players.sort((a, b) => byAddress(a.address, b.address));
    const rated = rateMatch(
      players.map((p) => peers.get(p.address)!),
      players.map((p) => p.score),
      config,
    );
    players.forEach((p, i) => Object.assign(peers.get(p.address)!, rated[i]));
    // 5. BMA, F, negative history
    const recordNegative = (record: PeerRecord, negative: boolean, v: Verdict | null) => {
      if (suspended) return;
      record.recent = (record.recent + (negative ? '-' : '+')).slice(-config.penalties.negativeWindow);
      record.negativeStreak = negative ? record.negativeStreak + 1 : 0;
      const negatives = [...record.recent].filter((c) => c === '-').length;
      if (negatives * 2 > record.recent.length && record.score > 0) {
        penalise(record, config.penalties.negativeFactor, config);
        v?.penalties.add('negative-majority');
      }
    };
    for (const s of submissions) {
      const v = verdicts.get(s.address)!;
      const record = peers.get(s.address)!;
      if (v.status === 'evaluated') {
        record.lastEvaluated = round;
        record.bma = updateBma(record.bma, v.indicator, config);
        record.score = finalScore(ordinal(record), record.bma, round, config);
        recordNegative(record, v.score < 0, v);
      } else if (v.status === 'invalid') {
        record.lastEvaluated = round;
        if (record.score > 0) {
          record.score = 0;
          v.penalties.add('invalid');
        }
        recordNegative(record, true, v);
      }
    }
    for (const address of plan.missing) {
      const record = peers.get(address)!;
      record.lastEvaluated = round;
      record.bma = decay(record.bma, config.penalties.decay, config);
    }
    // 6. copies
    for (const s of submissions) {
      const v = verdicts.get(s.address)!;
      const finding = findings.get(s.address);
      if (!finding || finding.overlap < config.copy.halveAt || v.status === 'quarantined') continue;
      const record = peers.get(s.address)!;
      if (round < config.copy.graceRounds) {
        v.penalties.add('copy-suspect');
      } else if (finding.overlap >= config.copy.resetAt) {
        reset(record, config);
        v.copyReset = true;
        v.penalties.add('copy-reset');
        if (finding.overlap >= config.copy.quarantineAt) {
          record.quarantinedUntil = round + 1 + config.copy.quarantineRounds;
          v.penalties.add('copy-quarantined');
        }
      } else {
        penalise(record, 0.5, config);
        v.penalties.add('copy-halved');
      }
    }
    // 7. selection
    const exclusion = (address: string): ExclusionReason | null => {
      const v = verdicts.get(address)!;
      const record = peers.get(address)!;
      if (v.status === 'quarantined') return 'quarantined';
      if (v.copyReset) return 'copy';
      if (v.status === 'invalid') return 'invalid';
      if (v.status === 'evaluated' && !(v.score > 0)) return 'not-improving';
      if (!suspended && record.negativeStreak >= config.penalties.negativeStreak) {
        v.penalties.add('negative-streak');
        return 'negative-streak';
      }
      if (v.status !== 'evaluated' && !(record.score > 0)) return 'unproven';
      return null;
    };
    const ranking = [...peers.values()]
      .filter((p) => !isQuarantined(p, round) && (submitted.has(p.address) || isActive(p, round, config)))
      .sort((a, b) => b.score - a.score || byAddress(a.address, b.address));
    const { topG, reserves } = config.selection;
    const skipped = new Set<string>();
    const ranked = new Set<string>();
    ranking.forEach((record, rank) => {
      if (!submitted.has(record.address)) {
        if (rank < topG) skipped.add(record.address);
        return;
      }
      ranked.add(record.address);
      const v = verdicts.get(record.address)!;
      v.reason = exclusion(record.address);
      if (v.reason === null && (rank >= topG + reserves || aggregated.length >= topG)) v.reason = 'not-selected';
      if (v.reason === null) aggregated.push(record.address);
    });
    // Submitters outside the ranking: quarantined before or by this round's copy check.
    for (const s of submissions) if (!ranked.has(s.address)) verdicts.get(s.address)!.reason = exclusion(s.address) ?? 'not-selected';
    // 8. absent addresses
    for (const record of peers.values()) {
      if (submitted.has(record.address)) {
        record.skipStreak = 0;
        continue;
      }
      if (round - record.lastSubmitted > config.penalties.activeRounds) {
        reset(record, config);
      } else if (skipped.has(record.address)) {
        record.skipStreak += 1;
        const factors = config.penalties.skipFactors;
        penalise(record, factors[Math.min(record.skipStreak, factors.length) - 1], config);
      } else {
        record.skipStreak = 0;
        penalise(record, config.penalties.decay, config);
      }
    }
  }

  // 9. counters and weights
  for (const s of submissions) {
    const record = peers.get(s.address)!;
    record.submitted += 1;
    record.lastSubmitted = round;
  }
  aggregated.sort(byAddress);
  for (const address of aggregated) peers.get(address)!.aggregated += 1;
  for (const s of submissions) {
    const v = verdicts.get(s.address)!;
    if (!aggregated.includes(s.address) && v.reason === null) v.reason = 'not-selected';
  }
  const records = [...peers.values()].sort((a, b) => byAddress(a.address, b.address));
  const weights = config.enabled ? payoutWeights(records, config) : creditWeights(records, config);
  const weightOf = new Map(weights.map((w) => [w.address, w.weight]));
  const entries: ReceiptEntry[] = submissions.map((s) => {
    const v = verdicts.get(s.address)!;
    const record = peers.get(s.address)!;
    const finding = findings.get(s.address) ?? { overlap: 0, with: '' };
    const losses = v.losses ?? { lossBeforeRandom: 0, lossAfterRandom: 0, lossBeforeOwn: 0, lossAfterOwn: 0, lossReferenceRandom: 0, lossReferenceOwn: 0 };
    return {
      address: s.address,
      payloadHash: s.payloadHash,
      receivedAt: s.receivedAt,
      status: v.status,
      ...losses,
      score: v.score,
      ownImprovement: v.ownImprovement,
      indicator: v.indicator,
      overlap: finding.overlap,
      overlapWith: finding.with,
      mu: record.mu,
      sigma: record.sigma,
      bma: record.bma,
      finalScore: record.score,
      penalties: PENALTIES.filter((p) => v.penalties.has(p)),
      aggregated: aggregated.includes(s.address),
      reason: aggregated.includes(s.address) ? null : v.reason,
      weight: weightOf.get(s.address) ?? 0,
    };
  });
  return { state: { format: 1, round: round + 1, peers: records }, entries, aggregated, weights };
}

/** Gauntlet off: each address's share of all accepted submissions so far, ranked by that count. */
function creditWeights(records: readonly PeerRecord[], config: GauntletConfig): WeightEntry[] {
  const total = records.reduce((sum, r) => sum + r.submitted, 0);
  if (total === 0) return [];
  return records
    .filter((r) => r.submitted > 0)
    .sort((a, b) => b.submitted - a.submitted || byAddress(a.address, b.address))
    .map((r, i) => ({ address: r.address, rank: i + 1, weight: ((1 - config.weights.burn) * r.submitted) / total, score: r.submitted }));
}
