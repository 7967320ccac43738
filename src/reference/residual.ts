// Plain-TypeScript twin of shaders/residual.wgsl: the residual add, port of
// residual_forward/residual_backward in karpathy/llm.c train_gpt2.c.
// Backward accumulates into both inputs' gradients.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

/** out = inp1 + inp2. */
export function residualForward(
  out: Floats, // (N)
  inp1: Floats, // (N)
  inp2: Floats, // (N)
  N: number,
): void {
  for (let i = 0; i < N; i++) out[i] = inp1[i] + inp2[i];
}

/** dinp1 += dout; dinp2 += dout. */
export function residualBackward(
  dinp1: Floats, // (N)
  dinp2: Floats, // (N)
  dout: Floats, // (N)
  N: number,
): void {
  for (let i = 0; i < N; i++) {
    dinp1[i] += dout[i];
    dinp2[i] += dout[i];
  }
}
