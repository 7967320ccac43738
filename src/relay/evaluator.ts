// Held-out loss of the global model, measured by the relay after every outer
// step with onnxruntime-web on the CPU (wasm) — the project's independent
// forward pass (src/onnx/gpt-graph.ts), so the number the dashboard shows does
// not depend on any volunteer's GPU or on our WGSL kernels.
//
// Loss = mean over the fixed validation windows (validationBatches: evenly
// spaced, the same every time) of the cross-entropy of the next byte,
// computed from ORT's logits as log Σ exp(z) − z[target] in float64.
//
// One wasm thread: the relay shares its machine, and a bounded evaluation
// (a few windows) takes milliseconds for nano. It runs on the relay's event
// loop; a large preset with many windows would want a worker thread.
// Leaves out: sampling text (the tab does that with the same graph).
import * as ort from 'onnxruntime-web';
import { validationBatches } from '../data/sampler.ts';
import type { GptConfig } from '../model/config.ts';
import { crossEntropy } from '../onnx/cross-entropy.ts';
import { buildGptOnnx } from '../onnx/gpt-graph.ts';
import type { HexHash } from '../protocol/index.ts';

export interface Evaluator {
  /**
   * Mean validation cross-entropy (nats per byte) of θ. `model` names θ's
   * version and hash, for an evaluator that fetches θ from the store itself
   * (QueuedEvaluator: a scoring worker reads the checkpoint's blob).
   */
  evaluate(params: Float32Array, model: { version: number; modelHash: HexHash }): Promise<number>;
}

export interface EvaluationSettings {
  batchSize: number; // B
  seqLen: number; // T
  batches: number;
}

export class OrtEvaluator implements Evaluator {
  constructor(
    private readonly config: GptConfig,
    private readonly validation: Uint8Array, // held-out bytes
    private readonly settings: EvaluationSettings,
  ) {
    ort.env.wasm.numThreads = 1;
  }

  async evaluate(params: Float32Array): Promise<number> {
    const { batchSize: B, seqLen: T, batches } = this.settings;
    const session = await ort.InferenceSession.create(buildGptOnnx(this.config, params), { executionProviders: ['wasm'] });
    try {
      let total = 0;
      const list = validationBatches(this.validation, B, T, batches);
      for (const batch of list) {
        const tokens = new ort.Tensor('int64', BigInt64Array.from(batch.inputs, (x) => BigInt(x)), [B, T]);
        const result = await session.run({ tokens });
        total += crossEntropy(result.logits.data as Float32Array, batch.targets, this.config.vocabSize);
      }
      return total / list.length;
    } finally {
      await session.release();
    }
  }
}
