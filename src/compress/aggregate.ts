// Aggregation and the outer step (SPEC §1 steps 6–7, §1.5): the one module the
// relay and every tab use, so they compute the same θ(t) bit for bit.
//
//   per tensor:  v_r ← v_r · min(1, median_r ‖v_r‖ / (‖v_r‖ + 1e-8))   median-norm clip
//                ω_r = min(t_r, cap·median t) / median t                token weight (1 without tokens)
//                G_i = Σ_r ω_r·v_ri / Σ_{r∋i} ω_r    rule 'selected-mean' (default): over the replicas that selected i
//                G_i = Σ_r ω_r·v_ri / Σ_r ω_r        rule 'mean': over all R (v_ri = 0 where r did not select i)
//                skip the tensor if G has NaN/Inf (or leaves the wire bound)
//   θ ← θ − α·G, α = 2 by default (the run's outerLearningRate)
//
// Rule, by measurement (docs/results.md, "Aggregation rule"): the selected-
// replica mean (the running code's scatter-mean). With top-k at 1.6% density
// most selected coordinates are selected by one replica alone, so the paper's
// plain 1/R mean applies each replica's proposal at a fraction of its size —
// at R = 4 and equal tokens it ends 0.35–0.58 nats behind. The 1/R mean with
// a larger α recovers this at R = 4 but only for an α tuned to R (the
// aggregate of R agreeing replicas grows with α/R·R), while the selected-
// replica mean needs no tuning as R changes. Robustness: each replica's
// contribution is clipped to the median norm either way, so one bad replica
// moves θ by at most one honest update's norm (1/R of it under the 1/R mean);
// Gauntlet's selection (SPEC §2) is what keeps bad replicas out.
//
// Outer rate, by measurement (docs/results.md, "Tuning the outer rate at 60
// rounds"): SPEC's α = 1 left SparseLoCo 3.6 % behind DiLoCo after 60 rounds
// of nano (2.478 vs 2.392); α 1.5, 2 and 3 end at 2.450, 2.422 and 2.423,
// and α 2 also starts fastest without the round-10 bump of α 3. DiLoCo's
// outer Nesterov momentum plays the same part. α = 2 is a power of two, so
// fl32(α·G) stays exact and the outer step keeps its single rounding.
//
// Token weights: a time-boxed round's submissions report different tokens
// (steps·B·T); ω gives a replica that trained more a larger share, capped at
// `tokenCap` times the median so that no single fast device dominates, and a
// replica that trained little a small one. Equal tokens give ω = 1 exactly,
// which leaves every factor and divisor — and so the bits — as without weights.
//
// Median: the lower middle of the sorted norms for even R, as torch.median in
// the running code (the more conservative choice for R = 2).
//
// Determinism: submissions are sorted by their id (UTF-16 code-unit order, no
// locale) and added into a float32 accumulator in that order, one tensor at a
// time; norms and clip factors are float64 computations in a fixed order. The
// same set of submissions therefore gives the same bits in any arrival order,
// on any machine; the per-coordinate weight sums (selected-mean) are float64
// sums in the same order. The union of selected positions is published as a
// sparse aggregate (codec.ts, float or 2-bit), and relay and tabs apply what
// the published bytes decode to.
//
// Leaves out: which submissions are accepted (relay scoring), decoding (codec.ts).
import { aggregateMode, aggregateValueLimit, type AggregateTensor, type AggregateUpdate } from './codec.ts';
import { checkManifest, type TensorManifest } from './manifest.ts';
import {
  checkCompressConfig,
  checkUpdate,
  decompressTensor,
  type CompressConfig,
  type CompressedUpdate,
  type TensorContribution,
} from './sparseloco.ts';

/** One accepted submission; id is canonical and unique per round (e.g. the payload hash in hex). */
export interface Submission {
  readonly id: string;
  readonly update: CompressedUpdate;
  /** Tokens the submission was trained on (innerSteps·B·T of its signed header); drives token weighting. */
  readonly tokens?: number;
}

/**
 * How one coordinate's contributions become G (see the file header):
 *   'mean'           G_i = Σ_r ω_r·v_ri / Σ_r ω_r        over every aggregated replica (v_ri = 0 where r did not select i)
 *   'selected-mean'  G_i = Σ_r ω_r·v_ri / Σ_{r∋i} ω_r    over the replicas that selected i
 */
export const AGGREGATION_RULES = ['mean', 'selected-mean'] as const;
export type AggregationRule = (typeof AGGREGATION_RULES)[number];

export interface AggregationOptions {
  rule: AggregationRule;
  /**
   * Token weighting: replica r weighs ω_r = min(t_r, cap·median(t)) / median(t),
   * t = the submissions' tokens. Equal tokens give ω = 1 exactly; one device
   * that trains far more counts at most `cap` times a median one.
   */
  tokenCap: number;
}

export const defaultAggregationOptions: AggregationOptions = { rule: 'selected-mean', tokenCap: 2 };

/** α of the outer step θ ← θ − α·G (applyAggregate) when a run does not set one: 2, by measurement (above; SPEC §1 says 1). */
export const DEFAULT_OUTER_LEARNING_RATE = 2;

/** The submissions cannot be aggregated (empty, duplicated ids): a bug in the caller. */
export class AggregateInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Guards the clip factor against a zero norm (as the running code). */
export const CLIP_EPSILON = 1e-8;

/** Code-unit order, the same in every JavaScript engine and locale. */
function compareIds(a: Submission, b: Submission): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** ‖v‖₂ in float64, summed in index order. */
export function l2Norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/** Lower median (element ⌊(R−1)/2⌋ of the ascending sort), like torch.median. */
export function lowerMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1];
}

/** Clip factor per contribution: min(1, median / (‖v‖ + 1e-8)). Norms must be finite. */
export function medianClipFactors(norms: readonly number[]): number[] {
  const median = lowerMedian(norms);
  return norms.map((norm) => Math.min(1, median / (norm + CLIP_EPSILON)));
}

/**
 * ω_r = min(t_r, cap·m) / m with m the lower median of the tokens (float64, so
 * the same on every machine). Tokens must be positive safe integers.
 */
export function tokenWeights(tokens: readonly number[], cap: number): number[] {
  if (!(cap >= 1)) throw new AggregateInputError(`token cap ${cap} must be ≥ 1`);
  for (const t of tokens) {
    if (!Number.isSafeInteger(t) || t < 1) throw new AggregateInputError(`tokens ${t} must be a positive integer`);
  }
  const median = lowerMedian(tokens);
  return tokens.map((t) => Math.min(t, cap * median) / median);
}

/**
 * Combines one tensor's contributions (already in canonical order) into G, or
 * 'skipped' if G is not finite. size = the tensor's length; weights = ω per
 * contribution (all 1 when absent).
 */
export function aggregateTensor(
  contributions: readonly TensorContribution[],
  size: number,
  mode: 'sparse' | 'dense',
  valueLimit: number,
  rule: AggregationRule = defaultAggregationOptions.rule,
  weights?: readonly number[],
): AggregateTensor {
  const norms = contributions.map((c) => l2Norm(c.values));
  if (!norms.every(Number.isFinite)) return { mode: 'skipped' };
  const factors = medianClipFactors(norms);
  const omega = weights ?? contributions.map(() => 1);
  const sum = new Float32Array(size); // (size) float32 accumulator
  const selected = mode === 'sparse' ? new Uint8Array(size) : null;
  // (size) Σ ω of the replicas that selected each coordinate, float64 in canonical order; only the selected-mean divides by it.
  const selectedWeight = rule === 'selected-mean' && mode === 'sparse' ? new Float64Array(size) : null;
  let totalWeight = 0;
  contributions.forEach((c, r) => {
    // ω = 1 leaves the factor untouched, so unweighted rounds keep their bits.
    const factor = factors[r] * omega[r];
    totalWeight += omega[r];
    if (c.kind === 'dense') {
      for (let i = 0; i < size; i++) sum[i] += Math.fround(c.values[i] * factor);
      if (selected) selected.fill(1);
      if (selectedWeight) for (let i = 0; i < size; i++) selectedWeight[i] += omega[r];
    } else {
      for (let j = 0; j < c.indices.length; j++) {
        const i = c.indices[j];
        sum[i] += Math.fround(c.values[j] * factor);
        if (selected) selected[i] = 1;
        if (selectedWeight) selectedWeight[i] += omega[r];
      }
    }
  });
  // NaN fails both comparisons, so this also catches non-finite values.
  const finite = (v: number): boolean => v >= -valueLimit && v <= valueLimit;
  if (!selected) {
    for (let i = 0; i < size; i++) {
      sum[i] = sum[i] / totalWeight;
      if (sum[i] === 0) sum[i] = 0; // a tiny negative mean rounds to −0; the wire has one zero (+0)
      if (!finite(sum[i])) return { mode: 'skipped' };
    }
    return { mode: 'dense', values: sum };
  }
  let n = 0;
  for (let i = 0; i < size; i++) n += selected[i];
  const indices = new Uint32Array(n);
  const values = new Float32Array(n);
  for (let i = 0, j = 0; i < size; i++) {
    if (!selected[i]) continue;
    indices[j] = i;
    values[j] = sum[i] / (selectedWeight ? selectedWeight[i] : totalWeight);
    if (values[j] === 0) values[j] = 0; // −0 → +0, as above
    if (!finite(values[j])) return { mode: 'skipped' };
    j++;
  }
  return { mode: 'sparse', indices, values };
}

/**
 * G for one round from the accepted submissions, in any order. Each update must
 * fit the manifest and config (decodeUpdate guarantees it; checked again here).
 */
export function aggregateUpdates(
  submissions: readonly Submission[],
  manifest: TensorManifest,
  config: CompressConfig,
  options: AggregationOptions = defaultAggregationOptions,
): AggregateUpdate {
  checkCompressConfig(config);
  checkManifest(manifest);
  if (submissions.length === 0) throw new AggregateInputError('no submissions to aggregate');
  const ordered = [...submissions].sort(compareIds);
  for (let r = 1; r < ordered.length; r++) {
    if (ordered[r].id === ordered[r - 1].id) throw new AggregateInputError(`submission ${ordered[r].id} appears twice`);
  }
  for (const s of ordered) checkUpdate(s.update, manifest, config);
  if (!AGGREGATION_RULES.includes(options.rule)) throw new AggregateInputError(`unknown aggregation rule ${String(options.rule)}`);
  const withTokens = ordered.filter((s) => s.tokens !== undefined).length;
  if (withTokens !== 0 && withTokens !== ordered.length) throw new AggregateInputError('some submissions carry tokens and some do not');
  const weights = withTokens ? tokenWeights(ordered.map((s) => s.tokens!), options.tokenCap) : undefined;
  const valueLimit = aggregateValueLimit(config);
  const tensors = manifest.map((entry, t) =>
    aggregateTensor(
      ordered.map((s) => decompressTensor(s.update.tensors[t])),
      entry.size,
      aggregateMode(entry, config),
      valueLimit,
      options.rule,
      weights,
    ),
  );
  return { contributorCount: ordered.length, tensors };
}

/**
 * The aggregate of a round that aggregated nothing (Gauntlet turned every
 * submission down): zero contributions, every tensor skipped, so applying it
 * leaves θ bit for bit and the round still makes a new model version.
 */
export function emptyAggregate(manifest: TensorManifest): AggregateUpdate {
  return { contributorCount: 0, tensors: manifest.map(() => ({ mode: 'skipped' as const })) };
}

/** Outer SGD step θ ← θ − α·G (float32), skipping skipped tensors. Returns the names of the skipped ones. */
export function applyAggregate(
  params: Float32Array, // (P) θ, updated in place
  aggregate: AggregateUpdate,
  manifest: TensorManifest,
  alpha = DEFAULT_OUTER_LEARNING_RATE,
): string[] {
  checkManifest(manifest, params.length);
  if (aggregate.tensors.length !== manifest.length) {
    throw new AggregateInputError(`aggregate has ${aggregate.tensors.length} tensors, manifest ${manifest.length}`);
  }
  const a = Math.fround(alpha);
  const skipped: string[] = [];
  manifest.forEach((entry, t) => {
    const tensor = aggregate.tensors[t];
    const base = entry.offset;
    if (tensor.mode === 'skipped') {
      skipped.push(entry.name);
    } else if (tensor.mode === 'dense') {
      for (let i = 0; i < entry.size; i++) params[base + i] -= Math.fround(a * tensor.values[i]);
    } else {
      for (let j = 0; j < tensor.indices.length; j++) params[base + tensor.indices[j]] -= Math.fround(a * tensor.values[j]);
    }
  });
  return skipped;
}
