// Text from the current model in the tab: the parameters become an ONNX graph
// (src/onnx/gpt-graph.ts) that onnxruntime-web runs on wasm, an implementation
// independent of our WGSL kernels, and bytes are drawn one at a time.
// Each new byte reruns the whole context (no KV cache): at the presets' sizes
// (≤ 512 bytes of context) that costs milliseconds per byte on wasm.
// Single-threaded wasm on purpose: sampling is occasional and small, and
// spawning wasm threads would compete with the training Worker for cores.
// Leaves out: streaming partial text to the UI (samples are short).
import * as ort from 'onnxruntime-web';
import type { GptConfig } from '../model/config.ts';
import { mulberry32 } from '../model/random.ts';
import { buildGptOnnx } from '../onnx/gpt-graph.ts';
import { sampleLogits } from './sampling.ts';

export interface GenerateOptions {
  maxNewBytes: number;
  temperature: number; // 0 = greedy
  seed: number;
}

export class TextSampler {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: GptConfig,
  ) {}

  static async create(config: GptConfig, params: Float32Array): Promise<TextSampler> {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(buildGptOnnx(config, params), { executionProviders: ['wasm'] });
    return new TextSampler(session, config);
  }

  /** Continues `prompt` by up to maxNewBytes bytes; returns only the continuation, decoded as UTF-8. */
  async generate(prompt: string, options: GenerateOptions): Promise<string> {
    const V = this.config.vocabSize;
    const tokens = Array.from(new TextEncoder().encode(prompt));
    if (tokens.length === 0) tokens.push(0x20); // a space: the model needs one byte of context
    const random = mulberry32(options.seed);
    const generated: number[] = [];
    for (let i = 0; i < options.maxNewBytes; i++) {
      const context = tokens.slice(-this.config.blockSize); // (T) with T ≤ blockSize
      const T = context.length;
      const input = new ort.Tensor('int64', BigInt64Array.from(context, BigInt), [1, T]);
      const { logits } = await this.session.run({ tokens: input }); // (1, T, V)
      const next = sampleLogits(logits.data as Float32Array, options.temperature, random, (T - 1) * V, V);
      logits.dispose();
      input.dispose();
      tokens.push(next);
      generated.push(next);
    }
    return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(generated));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
