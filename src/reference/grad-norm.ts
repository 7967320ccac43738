// Plain-TypeScript twin of the gradient-norm reduction and clipping in
// shaders/grad-norm.wgsl: global L2 norm over all parameters, then a scale
// that caps it at maxNorm (the clip_grad_norm_ rule nanoGPT uses; llm.c's
// gpt2_update takes the same grad_scale). The squares are summed in float64 so
// the oracle is tighter than any float32 kernel.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

/** √(Σ grads²), summed in float64. */
export function gradNorm(
  grads: Floats, // (N)
  N: number,
): number {
  let sum = 0;
  for (let i = 0; i < N; i++) sum += grads[i] * grads[i];
  return Math.sqrt(sum);
}

/** min(1, maxNorm / (norm + 1e-6)): 1 leaves gradients alone; the epsilon keeps a zero norm finite. */
export function clipScale(norm: number, maxNorm = 1): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/** grads *= s. */
export function scaleInPlace(
  grads: Floats, // (N)
  N: number,
  s: number,
): void {
  for (let i = 0; i < N; i++) grads[i] *= s;
}
