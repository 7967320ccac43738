// Plain-TypeScript twin of shaders/matmul.wgsl (llm.c convention):
//   out(BT, OC) = inp(BT, C) · weight(OC, C)ᵀ + bias(OC)
// Backward accumulates into dinp, dweight and dbias. float32 storage,
// accumulation in float64 for the oracle (a looser oracle would hide kernel
// bugs behind rounding).
//
// Every output is one float64 dot product summed in ascending order of its
// reduction index, exactly as the textbook triple loop does, so the bits do not
// depend on how the loops are arranged. They are arranged for speed because the
// simulator trains whole swarms on this model (src/sim/engine.ts): the backward
// first transposes its operands so every dot product reads two contiguous rows,
// and four output rows share each load of the other operand. That is 2–4×
// the naive loops on V8 (tests/unit/matmul-reference.test.ts checks the bits
// against the naive loops).
// Leaves out: blocking for caches larger shapes would need (the presets fit).

/**
 * out(M, N) = a(M, K) · b(N, K)ᵀ (+ bias(N)), or += when accumulating: each
 * out[m, n] is bias[n] (or 0) + Σ_k a[m, k]·b[n, k] in float64, k ascending,
 * then stored (or added to out) in float32.
 */
function dotRows(
  out: Float32Array, // (M, N)
  a: Float32Array, // (M, K)
  b: Float32Array, // (N, K)
  bias: Float32Array | null, // (N)
  M: number,
  K: number,
  N: number,
  accumulate: boolean,
): void {
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = m * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    for (let n = 0; n < N; n++) {
      const row = n * K;
      const first = bias ? bias[n] : 0;
      let s0 = first, s1 = first, s2 = first, s3 = first;
      for (let k = 0; k < K; k++) {
        const bk = b[row + k];
        s0 += a[a0 + k] * bk;
        s1 += a[a1 + k] * bk;
        s2 += a[a2 + k] * bk;
        s3 += a[a3 + k] * bk;
      }
      const o = m * N + n;
      if (accumulate) {
        out[o] += s0;
        out[o + N] += s1;
        out[o + 2 * N] += s2;
        out[o + 3 * N] += s3;
      } else {
        out[o] = s0;
        out[o + N] = s1;
        out[o + 2 * N] = s2;
        out[o + 3 * N] = s3;
      }
    }
  }
  for (; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) sum += a[m * K + k] * b[n * K + k];
      if (accumulate) out[m * N + n] += sum;
      else out[m * N + n] = sum;
    }
  }
}

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
  dotRows(out, inp, weight, bias, BT, C, OC, false);
}

/** (rows, cols) → (cols, rows). */
function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
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
  // dinp[bt, i] += Σ_o dout[bt, o]·weight[o, i]: rows of dout against rows of weightᵀ.
  dotRows(dinp, dout, transpose(weight, OC, C), null, BT, OC, C, true);
  // dweight[o, i] += Σ_bt dout[bt, o]·inp[bt, i]: rows of doutᵀ against rows of inpᵀ.
  const doutT = transpose(dout, BT, OC); // (OC, BT)
  dotRows(dweight, doutT, transpose(inp, BT, C), null, OC, BT, C, true);
  if (dbias) {
    for (let o = 0; o < OC; o++) {
      let sum = 0;
      for (let bt = 0; bt < BT; bt++) sum += doutT[o * BT + bt];
      dbias[o] += sum;
    }
  }
}
