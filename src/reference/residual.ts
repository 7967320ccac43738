// Plain-TypeScript twin of shaders/residual.wgsl: the residual add, port of
// residual_forward/residual_backward in karpathy/llm.c train_gpt2.c.
// Backward accumulates into both inputs' gradients.

/** out = inp1 + inp2. */
export function residualForward(
  out: Float32Array, // (N)
  inp1: Float32Array, // (N)
  inp2: Float32Array, // (N)
  N: number,
): void {
  for (let i = 0; i < N; i++) out[i] = inp1[i] + inp2[i];
}

/** dinp1 += dout; dinp2 += dout. */
export function residualBackward(
  dinp1: Float32Array, // (N)
  dinp2: Float32Array, // (N)
  dout: Float32Array, // (N)
  N: number,
): void {
  for (let i = 0; i < N; i++) {
    dinp1[i] += dout[i];
    dinp2[i] += dout[i];
  }
}
