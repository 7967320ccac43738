// Text from a model's parameters: they become an ONNX graph
// (src/onnx/gpt-graph.ts) that onnxruntime-web runs on wasm, an implementation
// independent of our WGSL kernels, and bytes are drawn one at a time. The
// relay writes the shared model's samples with it (Node's build of
// onnxruntime-web), the page its standalone model's (the wasm-only build,
// loaded on demand): the caller passes the onnxruntime module it uses.
// Each new byte reruns the whole context (no KV cache): at the presets' sizes
// (≤ 512 bytes of context) that costs milliseconds per byte on wasm.
// Single-threaded wasm on purpose: sampling is occasional and small, and
// spawning wasm threads would compete with the training Worker for cores.
// Leaves out: streaming partial text to the UI (samples are short), and
// decoding: a byte model writes bytes, and the reader decides what is printable.
import type * as Ort from 'onnxruntime-web';
import type { GptConfig } from '../model/config.ts';
import { mulberry32 } from '../model/random.ts';
import { buildGptOnnx } from '../onnx/gpt-graph.ts';
import { sampleLogits } from './sampling.ts';

export interface GenerateOptions {
  maxNewBytes: number;
  temperature: number; // 0 = greedy
  seed: number;
}

/** The part of onnxruntime-web a sampler uses (its Node build and its wasm build both fit). */
export type OrtModule = Pick<typeof Ort, 'InferenceSession' | 'Tensor' | 'env'>;

export class TextSampler {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly config: GptConfig,
  ) {}

  static async create(ort: OrtModule, config: GptConfig, params: Float32Array): Promise<TextSampler> {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(buildGptOnnx(config, params), { executionProviders: ['wasm'] });
    return new TextSampler(ort, session, config);
  }

  /** Continues `prompt` by maxNewBytes bytes; returns only the continuation, as the bytes drawn. */
  async generate(prompt: string, options: GenerateOptions): Promise<Uint8Array> {
    const V = this.config.vocabSize;
    const tokens = Array.from(new TextEncoder().encode(prompt));
    if (tokens.length === 0) tokens.push(0x20); // a space: the model needs one byte of context
    const random = mulberry32(options.seed);
    const generated: number[] = [];
    for (let i = 0; i < options.maxNewBytes; i++) {
      const context = tokens.slice(-this.config.blockSize); // (T) with T ≤ blockSize
      const T = context.length;
      const input = new this.ort.Tensor('int64', BigInt64Array.from(context, BigInt), [1, T]);
      const { logits } = await this.session.run({ tokens: input }); // (1, T, V)
      const next = sampleLogits(logits.data as Float32Array, options.temperature, random, (T - 1) * V, V);
      logits.dispose();
      input.dispose();
      tokens.push(next);
      generated.push(next);
    }
    return Uint8Array.from(generated);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
