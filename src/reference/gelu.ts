// Plain-TypeScript twin of shaders/gelu.wgsl: GELU, tanh approximation
// (Hendrycks & Gimpel 2016, as in GPT-2), port of gelu_forward/gelu_backward
// in karpathy/llm.c train_gpt2.c. Backward accumulates into dinp.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

const GELU_SCALING_FACTOR = Math.sqrt(2 / Math.PI);

/** out = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 x³))). */
export function geluForward(
  out: Floats, // (N)
  inp: Floats, // (N)
  N: number,
): void {
  for (let i = 0; i < N; i++) {
    const x = inp[i];
    const cube = 0.044715 * x * x * x;
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALING_FACTOR * (x + cube)));
  }
}

/** dinp += gelu'(inp) · dout. */
export function geluBackward(
  dinp: Floats, // (N)
  inp: Floats, // (N)
  dout: Floats, // (N)
  N: number,
): void {
  for (let i = 0; i < N; i++) {
    const x = inp[i];
    const cube = 0.044715 * x * x * x;
    const tanhOut = Math.tanh(GELU_SCALING_FACTOR * (x + cube));
    // sech² written as 1 − tanh², which cannot overflow the way 1/cosh² can.
    const sech2 = 1 - tanhOut * tanhOut;
    const localGrad = 0.5 * (1 + tanhOut) + x * 0.5 * sech2 * GELU_SCALING_FACTOR * (1 + 3 * 0.044715 * x * x);
    dinp[i] += localGrad * dout[i];
  }
}
