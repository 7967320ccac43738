// Where an EvaluationJob runs. The relay and the simulator use WorkerEvaluator:
// a node:worker_threads worker, so the relay's event loop keeps answering
// while onnxruntime-web computes, and a deadline: what has not come back when
// it passes is the relay's failure (an 'error' outcome: never a penalty), the
// worker is terminated (wasm cannot be interrupted otherwise) and the next
// job starts a fresh one. InlineEvaluator runs the same job in this thread
// (the audit, tests). Both stream outcomes as trials finish.
//
// The job is a plain object of typed arrays (evaluation-job.ts), so another
// process could run it just as well (issue #13: scoring workers that take jobs
// from PostgreSQL).
// Leaves out: building the job (round.ts). Node-only (worker_threads).
import { Worker } from 'node:worker_threads';
import type { GptConfig } from '../model/config.ts';
import { jobTransferables, type EvaluationJob, type TrialOutcome } from './evaluation-job.ts';
import { prepareEvaluation, runEvaluationJob } from './evaluate.ts';
import type { WorkerReply, WorkerRequest } from './evaluation-worker.ts';

export interface GauntletEvaluator {
  /**
   * Every trial's outcome, in trial order, within `timeoutMs`: a trial not
   * measured by then (or lost to a crash) is an `error` outcome. Never rejects.
   */
  evaluate(job: EvaluationJob, timeoutMs: number, onOutcome?: (outcome: TrialOutcome) => void): Promise<TrialOutcome[]>;
  /** Starts whatever the first job would wait for (a worker, its modules, the model's session); optional, never fails. */
  prepare(model: GptConfig): void;
  close(): Promise<void>;
}

function fillMissing(job: EvaluationJob, got: Map<string, TrialOutcome>, why: string): TrialOutcome[] {
  return job.trials.map((t) => got.get(t.address) ?? { address: t.address, error: why });
}

/** In this thread: for the audit and tests (the deadline is checked between trials only). */
export class InlineEvaluator implements GauntletEvaluator {
  async evaluate(job: EvaluationJob, _timeoutMs: number, onOutcome?: (outcome: TrialOutcome) => void): Promise<TrialOutcome[]> {
    const got = new Map<string, TrialOutcome>();
    try {
      await runEvaluationJob(job, (outcome) => {
        got.set(outcome.address, outcome);
        onOutcome?.(outcome);
      });
    } catch (error) {
      return fillMissing(job, got, `evaluation failed: ${(error as Error).message}`);
    }
    return fillMissing(job, got, 'not evaluated');
  }

  prepare(model: GptConfig): void {
    prepareEvaluation(model).catch(() => {});
  }

  async close(): Promise<void> {}
}

/** In a worker thread with a deadline (see the file header). */
export class WorkerEvaluator implements GauntletEvaluator {
  private worker: Worker | null = null;
  private nextId = 1;

  private spawn(): Worker {
    // A plain-JavaScript entry that registers tsx, so the TypeScript worker loads under any parent (tsx CLI, vitest, node --import tsx).
    const worker = new Worker(new URL('./evaluation-worker.mjs', import.meta.url));
    worker.unref();
    return worker;
  }

  evaluate(job: EvaluationJob, timeoutMs: number, onOutcome?: (outcome: TrialOutcome) => void): Promise<TrialOutcome[]> {
    const worker = (this.worker ??= this.spawn());
    const id = this.nextId++;
    const got = new Map<string, TrialOutcome>();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (why: string | null, kill: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (kill) {
          if (this.worker === worker) this.worker = null;
          void worker.terminate();
        }
        resolve(fillMissing(job, got, why ?? 'not evaluated'));
      };
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== id) return;
        if (reply.type === 'outcome') {
          got.set(reply.outcome.address, reply.outcome);
          onOutcome?.(reply.outcome);
        } else if (reply.type === 'done') finish(null, false);
        else finish(`evaluation failed: ${reply.message}`, true);
      };
      const onError = (error: Error) => finish(`the evaluation worker crashed: ${error.message}`, true);
      const onExit = (code: number) => finish(`the evaluation worker exited (${code})`, true);
      const timer = setTimeout(() => finish(`no result within ${timeoutMs} ms`, true), timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      const request: WorkerRequest = { type: 'job', id, job };
      // The job's arrays were built for this call; moving them avoids a copy of θ.
      worker.postMessage(request, jobTransferables(job));
    });
  }

  prepare(model: GptConfig): void {
    const request: WorkerRequest = { type: 'prepare', model };
    (this.worker ??= this.spawn()).postMessage(request);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }
}
