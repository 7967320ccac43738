// Plain-TypeScript twin of shaders/adamw.wgsl: one AdamW step over a flat
// parameter buffer, port of gpt2_update in karpathy/llm.c train_gpt2.c
// (Loshchilov & Hutter 2019, decoupled weight decay, bias-corrected moments).
// A per-element decay mask (1 = decay, 0 = none) keeps decay on matrices only
// (GPT-2 / nanoGPT practice: not on biases or LayerNorm gains), since all
// parameters live in one buffer and one pass covers them all.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

/**
 * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; m̂ = m/(1−β1ᵗ); v̂ = v/(1−β2ᵗ);
 * param −= lr · (m̂ / (√v̂ + eps) + weightDecay · mask · param).
 * t is the 1-based step count. decayMask null means decay everywhere (llm.c).
 */
export function adamwUpdate(
  params: Floats, // (N)
  grads: Floats, // (N)
  m: Floats, // (N) first moment, updated in place
  v: Floats, // (N) second moment, updated in place
  N: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  t: number,
  decayMask: Floats | null = null, // (N) 1 or 0 per element
): void {
  const beta1Correction = 1 - Math.pow(beta1, t);
  const beta2Correction = 1 - Math.pow(beta2, t);
  for (let i = 0; i < N; i++) {
    const g = grads[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // Bias correction reads the stored moments back, as a kernel would.
    const mHat = m[i] / beta1Correction;
    const vHat = v[i] / beta2Correction;
    const decay = decayMask ? decayMask[i] * weightDecay : weightDecay;
    params[i] -= lr * (mHat / (Math.sqrt(vHat) + eps) + decay * params[i]);
  }
}
