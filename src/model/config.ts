// Model and inner-loop training configuration (nanoGPT-style: plain typed
// objects whose defaults carry their reason). The model is GPT-2's
// architecture (pre-LayerNorm, GELU, learned positions, tied input/output
// embeddings) over a byte vocabulary, so no tokenizer ships with the app.
// Leaves out: dropout (volunteer pre-training is data-rich and short per tab),
// the LR schedule function (src/train/schedule.ts) and data settings.

export interface GptConfig {
  vocabSize: number; // V: 256, one token per byte
  blockSize: number; // maxT: longest context; wpe has this many rows
  nLayer: number; // L: transformer blocks
  nHead: number; // NH: attention heads; C must divide by NH
  nEmbd: number; // C: channels
}

/** Bytes: no tokenizer to ship or to disagree about between tab and relay. */
export const BYTE_VOCAB_SIZE = 256;

/**
 * Named sizes, smallest first. Parameter counts (see layout.ts):
 * nano 120,576 · tiny 842,496 · small 4,870,144 · medium 25,613,312.
 */
export const GPT_PRESETS = {
  // Unit and GPU tests, CPU fallback: small enough that a float32 CPU forward
  // and backward take milliseconds and SwiftShader runs a step in seconds.
  nano: { vocabSize: BYTE_VOCAB_SIZE, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 64 },
  // Phones and integrated GPUs: under a million parameters, still learns
  // word shapes from bytes; head size 32.
  tiny: { vocabSize: BYTE_VOCAB_SIZE, blockSize: 128, nLayer: 4, nHead: 4, nEmbd: 128 },
  // Laptops with a recent integrated or entry discrete GPU: ~5M parameters,
  // a 20 MB float32 checkpoint, head size 32.
  small: { vocabSize: BYTE_VOCAB_SIZE, blockSize: 256, nLayer: 6, nHead: 8, nEmbd: 256 },
  // A good discrete GPU: ~26M parameters (100 MB float32), head size 64 like GPT-2.
  medium: { vocabSize: BYTE_VOCAB_SIZE, blockSize: 512, nLayer: 8, nHead: 8, nEmbd: 512 },
} as const satisfies Record<string, GptConfig>;

export type GptPresetName = keyof typeof GPT_PRESETS;

/** The preset names, smallest first (for command lines and parsers). */
export const GPT_PRESET_NAMES = Object.keys(GPT_PRESETS) as GptPresetName[];

/** A model shape or training setting no tab can run; `field` names the GptConfig or TrainConfig member. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Throws ConfigError unless the shape is one the model and kernels can run. */
export function validateGptConfig(config: GptConfig): void {
  const { nHead, nEmbd } = config;
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(name, `GptConfig.${name} must be a positive integer, got ${value}`);
  }
  if (nEmbd % nHead !== 0) throw new ConfigError('nHead', `GptConfig.nEmbd (${nEmbd}) must be divisible by nHead (${nHead})`);
}

/** Inner-loop (per-tab) training settings; SPEC.md §1 gives the reference values. */
export interface TrainConfig {
  batchSize: number; // B: sequences per step
  seqLen: number; // T: tokens per sequence, ≤ blockSize
  learningRate: number; // peak AdamW lr
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number; // decoupled; applied to matrices only (layout.ts decay flags)
  warmupSteps: number; // linear warmup from 0 to learningRate
  minLrFraction: number; // cosine decay floor, as a fraction of learningRate
  gradClip: number; // max global L2 norm of the gradient
}

/** Defaults for a given model; B and T small enough for a browser tab's step to stay interactive. */
export function defaultTrainConfig(model: GptConfig): TrainConfig {
  return {
    batchSize: 8, // 8 × T tokens per step: enough signal per step, memory fits a phone at nano/tiny
    seqLen: model.blockSize, // train on full contexts: the model is only as long-sighted as its training
    learningRate: 1e-3, // SparseLoCo's inner lr for small models (SPEC.md §1)
    beta1: 0.9, // SPEC.md §1 / GPT-2 practice
    beta2: 0.95, // lower than Adam's 0.999: steadier with small batches (SPEC.md §1, nanoGPT)
    eps: 1e-8, // Adam default; far below √v for any gradient that matters
    weightDecay: 0.1, // SPEC.md §1 / nanoGPT
    warmupSteps: 100, // avoids the large early Adam steps of a cold start (nanoGPT warms up too)
    minLrFraction: 0.1, // "cosine decay to 0.1×" (SPEC.md §1)
    gradClip: 1.0, // SPEC.md §1: clip at global norm 1.0
  };
}

/**
 * The largest single GPU buffer a training step of this shape allocates, in
 * bytes (gpt-gpu.ts): the flat parameters, one layer's attention scores
 * (B, NH, T, T), the logits (B, T, V) or one layer's MLP activations (B, T, 4C).
 */
export function largestTrainingBuffer(model: GptConfig, batchSize: number, seqLen: number): { name: string; bytes: number } {
  const { vocabSize: V, nHead: NH, nEmbd: C } = model;
  const candidates = [
    { name: 'attention scores (B, NH, T, T)', floats: batchSize * NH * seqLen * seqLen },
    { name: 'logits (B, T, V)', floats: batchSize * seqLen * V },
    { name: 'MLP activations (B, T, 4C)', floats: batchSize * seqLen * 4 * C },
  ];
  const largest = candidates.reduce((a, b) => (b.floats > a.floats ? b : a));
  return { name: largest.name, bytes: largest.floats * 4 };
}

/**
 * Throws ConfigError unless the training shape fits the model, and its
 * largest activation buffer fits `maxBufferBytes` (the binding size the GPU
 * runtime requires of every adapter it accepts, so any volunteer's GPU can
 * take the batch).
 */
export function validateTrainConfig(train: TrainConfig, model: GptConfig, maxBufferBytes = Infinity): void {
  if (!Number.isInteger(train.batchSize) || train.batchSize < 1) throw new ConfigError('batchSize', `batchSize must be a positive integer, got ${train.batchSize}`);
  if (!Number.isInteger(train.seqLen) || train.seqLen < 1 || train.seqLen > model.blockSize) {
    throw new ConfigError('seqLen', `seqLen must be an integer in 1..blockSize (${model.blockSize}), got ${train.seqLen}`);
  }
  if (!(train.learningRate > 0)) throw new ConfigError('learningRate', `learningRate must be positive, got ${train.learningRate}`);
  if (!(train.gradClip > 0)) throw new ConfigError('gradClip', `gradClip must be positive, got ${train.gradClip}`);
  const largest = largestTrainingBuffer(model, train.batchSize, train.seqLen);
  if (largest.bytes > maxBufferBytes) {
    throw new ConfigError(
      'batchSize',
      `batchSize ${train.batchSize} × seqLen ${train.seqLen} needs a ${largest.bytes}-byte buffer for the ${largest.name}; every GPU Tessera accepts guarantees only ${maxBufferBytes}`,
    );
  }
}
