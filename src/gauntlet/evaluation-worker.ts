// The worker-thread side of WorkerEvaluator (evaluator.ts): takes jobs one at a
// time and streams each trial's outcome back as it finishes, then 'done'.
// Loaded through evaluation-worker.mjs (which registers tsx).
// Leaves out: deadlines (the parent terminates a worker that overruns).
import { parentPort } from 'node:worker_threads';
import type { GptConfig } from '../model/config.ts';
import { prepareEvaluation, runEvaluationJob } from './evaluate.ts';
import type { EvaluationJob, TrialOutcome } from './evaluation-job.ts';

export type WorkerRequest = { type: 'job'; id: number; job: EvaluationJob } | { type: 'prepare'; model: GptConfig };
export type WorkerReply =
  | { type: 'outcome'; id: number; outcome: TrialOutcome }
  | { type: 'done'; id: number }
  | { type: 'failed'; id: number; message: string };

if (parentPort) {
  const port = parentPort;
  let queue = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    if (request?.type === 'prepare') {
      queue = queue.then(() => prepareEvaluation(request.model)).catch(() => {});
      return;
    }
    if (request?.type !== 'job') return;
    queue = queue.then(async () => {
      try {
        await runEvaluationJob(request.job, (outcome) => port.postMessage({ type: 'outcome', id: request.id, outcome } satisfies WorkerReply));
        port.postMessage({ type: 'done', id: request.id } satisfies WorkerReply);
      } catch (error) {
        port.postMessage({ type: 'failed', id: request.id, message: (error as Error).message } satisfies WorkerReply);
      }
    });
  });
}
