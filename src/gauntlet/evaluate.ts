// Runs an EvaluationJob (evaluation-job.ts) with onnxruntime-web on the CPU
// (wasm, one thread) — the project's independent forward pass
// (src/onnx/gpt-graph.ts), so no contributor's GPU and none of our WGSL
// kernels decide a score.
//
// One session per model shape, with the weights as graph inputs: a session
// costs more to create (~50 ms for nano here) than a forward of 16 windows
// (~20 ms), and Gauntlet needs one model per submission. Per job:
//   1 call   θ on the random windows                 → L_before_rand
//   1 call   θ_ref on the random windows             → L_ref_rand
//   ⌈n/64⌉   θ on every trial's own windows           → L_before_own_i
//   ⌈n/64⌉   θ_ref on every trial's own windows       → L_ref_own_i
//   1 call   per trial, θ'_i on random ‖ own windows  → L_after_rand_i, L_after_own_i
// Windows are split into calls of at most 64 (memory); a window's loss does
// not depend on its neighbours in a call, so the split changes nothing.
// Leaves out: threads and timeouts (evaluator.ts), choosing the trials (round.ts).
import * as ort from 'onnxruntime-web';
import type { GptConfig } from '../model/config.ts';
import { buildLayout } from '../model/layout.ts';
import { sequenceCrossEntropies } from '../onnx/cross-entropy.ts';
import { buildGptOnnx, gptWeights } from '../onnx/gpt-graph.ts';
import type { Windows } from './assigned-data.ts';
import { applyDelta, type EvaluationJob, type TrialOutcome } from './evaluation-job.ts';

/** Windows per ORT call at most. */
const MAX_WINDOWS_PER_CALL = 64;

const sessions = new Map<string, Promise<ort.InferenceSession>>();

function sessionFor(model: GptConfig): Promise<ort.InferenceSession> {
  const key = JSON.stringify(model);
  let session = sessions.get(key);
  if (!session) {
    ort.env.wasm.numThreads = 1;
    // The graph's bytes depend only on the shape when the weights are inputs; any θ of that shape builds it.
    const shapeOnly = new Float32Array(buildLayout(model).size);
    session = ort.InferenceSession.create(buildGptOnnx(model, shapeOnly, { weightsAsInputs: true }), { executionProviders: ['wasm'] });
    sessions.set(key, session);
  }
  return session;
}

/** Creates the model's session ahead of the first job (a worker's start-up is most of a first evaluation's time). */
export async function prepareEvaluation(model: GptConfig): Promise<void> {
  await sessionFor(model);
}

/** Per-window losses of θ on `windows`, in window order. */
async function windowLosses(session: ort.InferenceSession, model: GptConfig, params: Float32Array, windows: Windows[]): Promise<Float64Array> {
  const T = windows[0]?.seqLen ?? 0;
  const rows: Uint8Array[] = [];
  for (const w of windows) {
    if (w.seqLen !== T) throw new RangeError('windows of one call must share T');
    for (let i = 0; i < w.count; i++) rows.push(w.bytes.subarray(i * (T + 1), (i + 1) * (T + 1)));
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const w of gptWeights(model, params)) feeds[w.name] = new ort.Tensor('float32', w.data, w.dims);
  const losses = new Float64Array(rows.length);
  for (let from = 0; from < rows.length; from += MAX_WINDOWS_PER_CALL) {
    const chunk = rows.slice(from, from + MAX_WINDOWS_PER_CALL);
    const B = chunk.length;
    const tokens = new BigInt64Array(B * T); // (B, T)
    const targets = new Uint32Array(B * T); // (B, T)
    chunk.forEach((row, b) => {
      for (let t = 0; t < T; t++) {
        tokens[b * T + t] = BigInt(row[t]);
        targets[b * T + t] = row[t + 1];
      }
    });
    const result = await session.run({ ...feeds, tokens: new ort.Tensor('int64', tokens, [B, T]) });
    losses.set(sequenceCrossEntropies(result.logits.data as Float32Array, targets, B, T, model.vocabSize), from);
  }
  return losses;
}

/** Mean of a run of window losses, summed in order. */
function mean(values: Float64Array, from: number, count: number): number {
  let total = 0;
  for (let i = from; i < from + count; i++) total += values[i];
  return total / count;
}

/**
 * Every trial's four losses. `onOutcome` hears each trial as it finishes (a
 * worker streams them, so a timeout keeps what was done). A trial that throws
 * becomes an `error` outcome; the job goes on.
 */
export async function runEvaluationJob(job: EvaluationJob, onOutcome?: (outcome: TrialOutcome) => void): Promise<TrialOutcome[]> {
  const session = await sessionFor(job.model);
  const lossBeforeRandom = mean(await windowLosses(session, job.model, job.params, [job.random]), 0, job.random.count);
  const reference = applyDelta(job.params, job.reference);
  const lossReferenceRandom = mean(await windowLosses(session, job.model, reference, [job.random]), 0, job.random.count);
  const ownBefore = await windowLosses(session, job.model, job.params, job.trials.map((t) => t.own));
  const ownReference = await windowLosses(session, job.model, reference, job.trials.map((t) => t.own));
  const outcomes: TrialOutcome[] = [];
  let ownAt = 0;
  for (const trial of job.trials) {
    let outcome: TrialOutcome;
    try {
      const after = await windowLosses(session, job.model, applyDelta(job.params, trial.delta), [job.random, trial.own]);
      outcome = {
        address: trial.address,
        losses: {
          lossBeforeRandom,
          lossAfterRandom: mean(after, 0, job.random.count),
          lossBeforeOwn: mean(ownBefore, ownAt, trial.own.count),
          lossAfterOwn: mean(after, job.random.count, trial.own.count),
          lossReferenceRandom,
          lossReferenceOwn: mean(ownReference, ownAt, trial.own.count),
        },
      };
    } catch (error) {
      outcome = { address: trial.address, error: (error as Error).message };
    }
    ownAt += trial.own.count;
    outcomes.push(outcome);
    onOutcome?.(outcome);
  }
  return outcomes;
}
