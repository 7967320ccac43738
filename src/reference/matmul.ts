// Plain-TypeScript twin of shaders/matmul.wgsl (llm.c convention):
//   out(BT, OC) = inp(BT, C) · weight(OC, C)ᵀ + bias(OC)
// Backward accumulates into dinp, dweight and dbias. float32 storage,
// accumulation in float64 for the oracle (a looser oracle would hide kernel
// bugs behind rounding).

/** out (BT, OC) = inp (BT, C) · weight (OC, C)ᵀ + bias (OC). bias may be null. */
export function matmulForward(
  out: Float32Array, // (BT, OC)
  inp: Float32Array, // (BT, C)
  weight: Float32Array, // (OC, C)
  bias: Float32Array | null, // (OC)
  BT: number,
  C: number,
  OC: number,
): void {
  for (let bt = 0; bt < BT; bt++) {
    const row = bt * C;
    for (let o = 0; o < OC; o++) {
      const w = o * C;
      let sum = bias ? bias[o] : 0;
      for (let i = 0; i < C; i++) sum += inp[row + i] * weight[w + i];
      out[bt * OC + o] = sum;
    }
  }
}

/** dinp += dout · weight; dweight += doutᵀ · inp; dbias += Σ_bt dout. dbias may be null. */
export function matmulBackward(
  dinp: Float32Array, // (BT, C)
  dweight: Float32Array, // (OC, C)
  dbias: Float32Array | null, // (OC)
  dout: Float32Array, // (BT, OC)
  inp: Float32Array, // (BT, C)
  weight: Float32Array, // (OC, C)
  BT: number,
  C: number,
  OC: number,
): void {
  for (let bt = 0; bt < BT; bt++) {
    for (let i = 0; i < C; i++) {
      let sum = 0;
      for (let o = 0; o < OC; o++) sum += dout[bt * OC + o] * weight[o * C + i];
      dinp[bt * C + i] += sum;
    }
  }
  for (let o = 0; o < OC; o++) {
    for (let i = 0; i < C; i++) {
      let sum = 0;
      for (let bt = 0; bt < BT; bt++) sum += dout[bt * OC + o] * inp[bt * C + i];
      dweight[o * C + i] += sum;
    }
    if (dbias) {
      let sum = 0;
      for (let bt = 0; bt < BT; bt++) sum += dout[bt * OC + o];
      dbias[o] += sum;
    }
  }
}
