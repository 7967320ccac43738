// Plain-TypeScript twin of shaders/layernorm.wgsl: LayerNorm over the last
// dimension C, port of layernorm_forward/layernorm_backward in karpathy/llm.c
// train_gpt2.c (biased variance, eps 1e-5, mean and rstd cached for backward).
// Sums run in float64 (JS numbers) so the oracle is tighter than any kernel.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

export const LAYERNORM_EPS = 1e-5;

/** out = (inp − mean) · rstd · weight + bias, per (b, t) row; stores mean and rstd. */
export function layernormForward(
  out: Floats, // (B, T, C)
  mean: Floats, // (B, T)
  rstd: Floats, // (B, T)
  inp: Floats, // (B, T, C)
  weight: Floats, // (C)
  bias: Floats, // (C)
  B: number,
  T: number,
  C: number,
): void {
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * C;
    let m = 0;
    for (let i = 0; i < C; i++) m += inp[x + i];
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) {
      const d = inp[x + i] - m;
      v += d * d;
    }
    v /= C;
    const s = 1 / Math.sqrt(v + LAYERNORM_EPS);
    for (let i = 0; i < C; i++) out[x + i] = (inp[x + i] - m) * s * weight[i] + bias[i];
    mean[bt] = m;
    rstd[bt] = s;
  }
}

/**
 * dinp += (dnorm − mean(dnorm) − norm · mean(dnorm · norm)) · rstd, with
 * dnorm = weight · dout and norm = (inp − mean) · rstd;
 * dweight += Σ_bt norm · dout; dbias += Σ_bt dout.
 */
export function layernormBackward(
  dinp: Floats, // (B, T, C)
  dweight: Floats, // (C)
  dbias: Floats, // (C)
  dout: Floats, // (B, T, C)
  inp: Floats, // (B, T, C)
  weight: Floats, // (C)
  mean: Floats, // (B, T)
  rstd: Floats, // (B, T)
  B: number,
  T: number,
  C: number,
): void {
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * C;
    const m = mean[bt];
    const s = rstd[bt];
    // Two reductions first, as in llm.c: they couple every element of the row.
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i] - m) * s;
      const dnorm = weight[i] * dout[x + i];
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i] - m) * s;
      const dnorm = weight[i] * dout[x + i];
      dbias[i] += dout[x + i];
      dweight[i] += norm * dout[x + i];
      dinp[x + i] += (dnorm - dnormMean - norm * dnormNormMean) * s;
    }
  }
}
