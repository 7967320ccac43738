// The relay's held-out loss measured by scoring workers instead of in the
// relay process: each evaluation is a 'validation-loss' job on the run's
// queue (scoring-queue.ts) naming θ's checkpoint blob, which the close wrote
// before its commit; a worker reads it, checks its hash, measures, answers.
// A job no worker finishes within `timeoutMs` is abandoned and the loss of
// that version stays unknown (the loss is advisory; the round is not held up).
// Leaves out: the measurement (scoring-worker.ts runs OrtEvaluator).
import type { HexHash } from '../protocol/index.ts';
import { checkpointKey } from './blob-store.ts';
import type { RunConfig } from './config.ts';
import type { Evaluator } from './evaluator.ts';
import type { ScoringQueue } from './scoring-queue.ts';
import type { ValidationLossInput } from './scoring-worker.ts';

export class QueuedEvaluator implements Evaluator {
  constructor(
    private readonly queue: ScoringQueue,
    private readonly config: RunConfig,
    private readonly timeoutMs: number,
  ) {}

  async evaluate(_params: Float32Array, model: { version: number; modelHash: HexHash }): Promise<number> {
    const input: ValidationLossInput = {
      model: this.config.model,
      evaluation: this.config.evaluation,
      checkpointKey: checkpointKey(model.version, model.modelHash),
      modelHash: model.modelHash,
      valSha256: this.config.data.valSha256,
    };
    const id = await this.queue.enqueue('validation-loss', model.version, input);
    const outcome = (await this.queue.outcomes([id], Date.now() + this.timeoutMs)).get(id)!;
    if ('error' in outcome) throw new Error(outcome.error);
    return (outcome.result as { loss: number }).loss;
  }
}
