// Gauntlet's evaluation job (src/gauntlet/evaluation-job.ts, a pure inputs →
// losses function) run by scoring workers (`npm run scorer`) instead of the
// relay's own worker thread: with --scoring workers the round's trials are
// split into up to `parts` 'gauntlet-trials' jobs on the run's PostgreSQL
// queue (scoring-queue.ts), so several workers measure one round at once.
// θ does not travel with the job: the job names θ's checkpoint blob (the
// round's base version, committed at the previous close) and its hash, and
// the worker checks what it reads against that hash; the windows and the
// sparse deltas travel in the job (v8-serialized into the blob store).
// Every part repeats the round's once-per-round losses (L_before_rand,
// L_ref_rand); they are the same function of the same bytes, so the parts
// agree bit for bit (tests/cluster/cluster-scoring.test.ts audits a round).
// What no worker finishes within the close's budget is the relay's failure:
// those trials come back as `error` outcomes, which Gauntlet never penalises
// and which the receipt names as not measured (src/gauntlet/round.ts).
// Leaves out: the measurement (scoring-worker.ts runs runEvaluationJob).
import type { GptConfig } from '../model/config.ts';
import type { GauntletEvaluator } from '../gauntlet/evaluator.ts';
import type { EvaluationJob, TrialOutcome } from '../gauntlet/evaluation-job.ts';
import { hashToHex, modelHash, type HexHash } from '../protocol/index.ts';
import type { ScoringQueue } from './scoring-queue.ts';

/** A 'gauntlet-trials' job: the evaluation job without θ, and where θ is. */
export interface GauntletTrialsInput {
  job: Omit<EvaluationJob, 'params'>;
  paramsKey: string;
  modelHash: HexHash;
}

/** Jobs per round by default: a round's trials measured by up to this many workers at once. */
export const DEFAULT_SCORING_PARTS = 4;

export class QueuedGauntletEvaluator implements GauntletEvaluator {
  constructor(
    private readonly queue: ScoringQueue,
    /** The blob key of a committed checkpoint with this model hash, or null (then θ is stored for the job). */
    private readonly locateParams: (hash: HexHash) => Promise<string | null>,
    /** At most this many jobs per round (the workers that can measure one round at once). */
    private readonly parts: number,
    /** The round being closed (the jobs' rows name it, for operators). */
    private readonly round: () => number,
  ) {}

  async evaluate(job: EvaluationJob, timeoutMs: number, onOutcome?: (outcome: TrialOutcome) => void): Promise<TrialOutcome[]> {
    const deadline = Date.now() + timeoutMs;
    const got = new Map<string, TrialOutcome>();
    const missing = (why: string) => job.trials.map((t) => got.get(t.address) ?? { address: t.address, error: why });
    if (job.trials.length === 0) return [];
    try {
      const hash = hashToHex(modelHash(job.params));
      const paramsKey = (await this.locateParams(hash)) ?? (await this.queue.storeBlob(new Uint8Array(job.params.buffer, job.params.byteOffset, job.params.byteLength)));
      const { params: _params, ...rest } = job;
      const count = Math.min(this.parts, job.trials.length);
      const size = Math.ceil(job.trials.length / count);
      const parts = new Map<string, EvaluationJob['trials']>();
      for (let i = 0; i < job.trials.length; i += size) {
        const trials = job.trials.slice(i, i + size);
        const input: GauntletTrialsInput = { job: { ...rest, trials }, paramsKey, modelHash: hash };
        parts.set(await this.queue.enqueue('gauntlet-trials', this.round(), input), trials);
      }
      await this.queue.outcomes([...parts.keys()], deadline, (id, outcome) => {
        const answers: TrialOutcome[] = 'result' in outcome ? (outcome.result as TrialOutcome[]) : parts.get(id)!.map((t) => ({ address: t.address, error: outcome.error }));
        for (const trial of answers) {
          got.set(trial.address, trial);
          onOutcome?.(trial);
        }
      });
    } catch (error) {
      return missing(`the scoring queue failed: ${(error as Error).message}`);
    }
    return missing(`no scoring worker measured it within ${timeoutMs} ms`);
  }

  /** Workers prepare their own sessions. */
  prepare(_model: GptConfig): void {}

  async close(): Promise<void> {}
}
