// Plain-TypeScript twin of shaders/encoder.wgsl: token + position embedding,
// port of encoder_forward/encoder_backward in karpathy/llm.c train_gpt2.c.
// Backward accumulates (+=) into dwte and dwpe; a token that appears several
// times in the batch adds its gradient several times, in (b, t) order.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

/** out[b,t,:] = wte[inp[b,t],:] + wpe[t,:]. */
export function encoderForward(
  out: Floats, // (B, T, C)
  inp: Int32Array | Uint32Array, // (B, T) token ids < V
  wte: Floats, // (V, C)
  wpe: Floats, // (maxT, C), maxT >= T
  B: number,
  T: number,
  C: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const w = inp[b * T + t] * C;
      const p = t * C;
      for (let i = 0; i < C; i++) out[o + i] = wte[w + i] + wpe[p + i];
    }
  }
}

/** dwte[inp[b,t],:] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:]. */
export function encoderBackward(
  dwte: Floats, // (V, C)
  dwpe: Floats, // (maxT, C)
  dout: Floats, // (B, T, C)
  inp: Int32Array | Uint32Array, // (B, T)
  B: number,
  T: number,
  C: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const w = inp[b * T + t] * C;
      const p = t * C;
      for (let i = 0; i < C; i++) {
        const d = dout[o + i];
        dwte[w + i] += d;
        dwpe[p + i] += d;
      }
    }
  }
}
