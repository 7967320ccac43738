// What the shared model writes, written by the relay: one sample per model
// version (GET /api/sample), continuing a fixed prompt at a fixed temperature
// with the seed the version gives, so every screen shows the same text for the
// same model and a version is written once however many screens ask. The
// relay already runs onnxruntime for its evaluation; writing here means the
// demo screen and the dashboard download no inference engine (a 14 MB wasm)
// to show a sentence. SAMPLE_BYTES forward passes of the nano model take a
// few hundred milliseconds on one wasm thread; one sample is written at a time.
// Leaves out: rendering (the page decides what is printable: readable-text.ts).
import * as ort from 'onnxruntime-web';
import { SAMPLE_BYTES, type SampleBody } from '../protocol/index.ts';
import { TextSampler } from '../sample/text-sampler.ts';
import type { GptConfig } from '../model/config.ts';
import type { CurrentModel } from './model-files.ts';

export const SAMPLE_PROMPT = 'The ';
export const SAMPLE_TEMPERATURE = 0.8;

function hex(bytes: Uint8Array): string {
  let out = '0x';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export class SampleWriter {
  private latest: { version: number; body: Promise<SampleBody> } | null = null;
  /** Writes run one after another: a burst of versions never runs several models at once. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: GptConfig,
    private readonly current: () => CurrentModel,
  ) {}

  /** The current version's sample (written on the first request for it). */
  sample(): Promise<SampleBody> {
    const model = this.current();
    if (this.latest?.version === model.version) return this.latest.body;
    const body = this.queue.then(() => this.write(model));
    this.queue = body.catch(() => undefined);
    this.latest = { version: model.version, body };
    body.catch(() => {
      if (this.latest?.body === body) this.latest = null; // the next request tries again
    });
    return body;
  }

  private async write(model: CurrentModel): Promise<SampleBody> {
    const sampler = await TextSampler.create(ort, this.config, model.params);
    try {
      const bytes = await sampler.generate(SAMPLE_PROMPT, { maxNewBytes: SAMPLE_BYTES, temperature: SAMPLE_TEMPERATURE, seed: model.version });
      return { version: model.version, modelHash: model.modelHash, prompt: SAMPLE_PROMPT, temperature: SAMPLE_TEMPERATURE, continuation: hex(bytes) };
    } finally {
      await sampler.release();
    }
  }
}
