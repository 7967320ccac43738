// The shared model to take home: GET /api/model.json (a card naming the
// architecture, the version and its hash: protocol/api.ts ModelCard),
// /api/model.safetensors (src/model/safetensors.ts) and /api/model.onnx (the
// independent forward graph of src/onnx/gpt-graph.ts, weights inside). Files
// are built on the first request for a model version and kept until the next
// version (one model's worth of memory per format); a request during a close
// gets the version the relay holds at that moment, and the file names that
// version in its headers (the server adds ETag = the model hash).
// docs/model-download.md loads both in PyTorch and onnxruntime.
// Leaves out: older versions (the relay keeps checkpoints, not their exports).
import { buildLayout } from '../model/layout.ts';
import { gptSafetensors } from '../model/safetensors.ts';
import { buildGptOnnx } from '../onnx/gpt-graph.ts';
import type { HexHash, ModelCard } from '../protocol/index.ts';
import type { RunConfig } from './config.ts';

/** The model the relay holds now. */
export interface CurrentModel {
  version: number;
  modelHash: HexHash;
  params: Float32Array; // (layout.size) θ(version)
}

export const MODEL_FILE_PATHS = { safetensors: '/api/model.safetensors', onnx: '/api/model.onnx' } as const;

export function modelCard(config: RunConfig, model: Pick<CurrentModel, 'version' | 'modelHash'>): ModelCard {
  return {
    architecture: 'tessera-gpt',
    runId: config.runId,
    preset: config.preset,
    version: model.version,
    modelHash: model.modelHash,
    parameterCount: buildLayout(config.model).paramCount,
    config: {
      vocabSize: config.model.vocabSize,
      blockSize: config.model.blockSize,
      nLayer: config.model.nLayer,
      nHead: config.model.nHead,
      nEmbd: config.model.nEmbd,
      layerNormEpsilon: 1e-5,
      activation: 'gelu-tanh',
      tiedEmbeddings: true,
      weightLayout: 'out-in',
      tokenizer: 'bytes',
    },
    files: { ...MODEL_FILE_PATHS },
  };
}

export class ModelFiles {
  private cache: { version: number; safetensors?: Uint8Array; onnx?: Uint8Array } | null = null;

  constructor(
    private readonly config: RunConfig,
    private readonly current: () => CurrentModel,
  ) {}

  card(): ModelCard {
    return modelCard(this.config, this.current());
  }

  /** θ as safetensors, its metadata the card's fields (strings, as the format wants). */
  safetensors(): { model: CurrentModel; bytes: Uint8Array } {
    const model = this.current();
    const entry = this.entry(model.version);
    const card = modelCard(this.config, model);
    entry.safetensors ??= gptSafetensors(this.config.model, model.params, {
      format: 'pt',
      architecture: card.architecture,
      run_id: card.runId,
      preset: card.preset,
      version: String(card.version),
      model_hash: card.modelHash,
      config: JSON.stringify(card.config),
    });
    return { model, bytes: entry.safetensors };
  }

  /** θ as an ONNX model: tokens int64 (B, T) → logits float32 (B, T, 256). */
  onnx(): { model: CurrentModel; bytes: Uint8Array } {
    const model = this.current();
    const entry = this.entry(model.version);
    entry.onnx ??= buildGptOnnx(this.config.model, model.params);
    return { model, bytes: entry.onnx };
  }

  private entry(version: number): NonNullable<ModelFiles['cache']> {
    if (this.cache?.version !== version) this.cache = { version };
    return this.cache;
  }
}
