// The evaluation of one round as a pure job: inputs → losses, with no relay
// state, so it can run in a worker thread (evaluator.ts), in another process
// (issue #13's scoring workers), or in an auditor's process, and give the same
// numbers. SPEC §2.4, for every submission i to evaluate:
//
//   θ'_i = θ − δ_i,  δ_i = trialScale·α · clip_i(decode(update_i))
//   L_before_rand = L(θ, random)            once per round
//   L_before_own  = L(θ, own_i)
//   L_after_rand  = L(θ'_i, random)
//   L_after_own   = L(θ'_i, own_i)
//   L_ref_rand    = L(θ_ref, random)        once per round
//   L_ref_own     = L(θ_ref, own_i)
//
// θ_ref = θ − trialScale·α·G is the trial step of the round's consensus: G =
// aggregateUpdates over every accepted submission (median-norm clip, 1/R
// mean), the aggregate the round would make if it took everything. It
// measures how easy to improve the random and the own windows are for an
// update that was not trained on them, so the proof of data (round.ts,
// scores.ts) can compare like with like.
//
// clip_i: the median-norm clip of SPEC §1.5 (src/compress/aggregate.ts) with
// the median over every accepted submission of the round, per tensor.
// Exact arithmetic (the audit reproduces it): δ = fround(scale · fround(v · factor)),
// θ'[j] = fround(θ[j] − δ[j]) in float32, for the tensor-relative index j of
// every sent value (dense 1-D tensors: every index).
//
// L(θ, windows) = mean over the windows (in order, float64) of the window's
// mean cross-entropy of the next byte over its T positions (float64 from
// onnxruntime-web's float32 logits, src/onnx/cross-entropy.ts). A window's
// logits do not depend on the other windows of the same ORT call
// (tests/unit/gauntlet-evaluate.test.ts checks it), so how windows are
// batched into calls does not change any loss.
// Leaves out: who is evaluated (plan.ts) and what the losses decide (round.ts).
import { decompressTensor, type CompressedUpdate } from '../compress/sparseloco.ts';
import { l2Norm, medianClipFactors } from '../compress/aggregate.ts';
import type { AggregateUpdate } from '../compress/codec.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import type { GptConfig } from '../model/config.ts';
import type { ReceiptEntry } from '../protocol/index.ts';
import type { Windows } from './assigned-data.ts';

/** θ' = θ − δ at these flat parameter positions. */
export interface SparseDelta {
  indices: Uint32Array; // (n) flat positions in the parameter buffer, ascending
  values: Float32Array; // (n) δ
}

export interface EvaluationTrial {
  address: string;
  own: Windows;
  delta: SparseDelta;
}

export interface EvaluationJob {
  model: GptConfig;
  params: Float32Array; // (layout.size) θ(v)
  random: Windows;
  /** θ_ref = θ − reference: the consensus trial step. */
  reference: SparseDelta;
  trials: EvaluationTrial[];
}

/** A trial's six losses, as the receipt publishes them. */
export type TrialLosses = Pick<ReceiptEntry, 'lossBeforeRandom' | 'lossAfterRandom' | 'lossBeforeOwn' | 'lossAfterOwn' | 'lossReferenceRandom' | 'lossReferenceOwn'>;

/** A trial's losses, or why the evaluator could not measure them (the relay's failure, never the contributor's). */
export type TrialOutcome = { address: string; losses: TrialLosses } | { address: string; error: string };

export interface ClippedSubmission {
  address: string;
  update: CompressedUpdate;
}

/**
 * δ_i for each of `evaluate`, clipped against the median norm over all of
 * `round` (every accepted submission) per tensor, scaled by trialScale·α.
 */
export function trialDeltas(
  round: readonly ClippedSubmission[],
  evaluate: readonly string[],
  manifest: TensorManifest,
  scale: number,
): Map<string, SparseDelta> {
  const position = new Map(round.map((s, i) => [s.address, i]));
  const picked = evaluate.map((address) => {
    const i = position.get(address);
    if (i === undefined) throw new RangeError(`${address} has no submission in this round`);
    return i;
  });
  const parts = picked.map(() => ({ indices: [] as number[], values: [] as number[] }));
  manifest.forEach((entry, t) => {
    const contributions = round.map((s) => decompressTensor(s.update.tensors[t]));
    const factors = medianClipFactors(contributions.map((c) => l2Norm(c.values)));
    picked.forEach((i, k) => {
      const c = contributions[i];
      const factor = factors[i];
      for (let j = 0; j < c.values.length; j++) {
        const index = c.kind === 'dense' ? j : c.indices[j];
        parts[k].indices.push(entry.offset + index);
        parts[k].values.push(Math.fround(scale * Math.fround(c.values[j] * factor)));
      }
    });
  });
  return new Map(evaluate.map((address, k) => [address, { indices: Uint32Array.from(parts[k].indices), values: Float32Array.from(parts[k].values) }]));
}

/** An aggregate as a trial step: fround(scale · G) at every position it sets (skipped tensors: none). */
export function aggregateDelta(aggregate: AggregateUpdate, manifest: TensorManifest, scale: number): SparseDelta {
  const indices: number[] = [];
  const values: number[] = [];
  manifest.forEach((entry, t) => {
    const tensor = aggregate.tensors[t];
    if (tensor.mode === 'skipped') return;
    for (let j = 0; j < tensor.values.length; j++) {
      indices.push(entry.offset + (tensor.mode === 'dense' ? j : tensor.indices[j]));
      values.push(Math.fround(scale * tensor.values[j]));
    }
  });
  return { indices: Uint32Array.from(indices), values: Float32Array.from(values) };
}

/** θ − δ in float32 (a new buffer). */
export function applyDelta(params: Float32Array, delta: SparseDelta): Float32Array {
  const out = params.slice();
  for (let j = 0; j < delta.indices.length; j++) out[delta.indices[j]] = Math.fround(out[delta.indices[j]] - delta.values[j]);
  return out;
}

/** Every array a job holds, for a zero-copy postMessage (the sender's copies become unusable). */
export function jobTransferables(job: EvaluationJob): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>([
    job.params.buffer as ArrayBuffer,
    job.random.bytes.buffer as ArrayBuffer,
    job.reference.indices.buffer as ArrayBuffer,
    job.reference.values.buffer as ArrayBuffer,
  ]);
  for (const t of job.trials) {
    buffers.add(t.own.bytes.buffer as ArrayBuffer);
    buffers.add(t.delta.indices.buffer as ArrayBuffer);
    buffers.add(t.delta.values.buffer as ArrayBuffer);
  }
  return [...buffers];
}

