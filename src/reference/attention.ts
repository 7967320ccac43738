// Plain-TypeScript twin of shaders/attention.wgsl: causal multi-head
// self-attention, port of attention_forward/attention_backward in
// karpathy/llm.c train_gpt2.c. The input is the qkv projection laid out as in
// llm.c: for each (b, t) a row of 3C floats = [q (C) | k (C) | v (C)], and head h
// owns columns h·hs .. h·hs+hs−1 of each third (hs = C / NH).
// Differences from llm.c, none of which change gradients: the softmax max starts
// from the first score instead of −10000, masked entries (t2 > t) of preatt are
// written as 0 (llm.c leaves them untouched), and the softmax backward uses the
// O(T) form dpre = att · (datt − Σ att·datt) instead of llm.c's O(T²) loop.
// Dot products and sums run in float64.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

/**
 * preatt[b,h,t,t2] = q[b,t,h]·k[b,t2,h] / √hs for t2 ≤ t (else 0);
 * att = softmax over t2 ≤ t (else 0); out[b,t,h] = Σ_t2 att · v[b,t2,h].
 */
export function attentionForward(
  out: Floats, // (B, T, C)
  preatt: Floats, // (B, NH, T, T)
  att: Floats, // (B, NH, T, T)
  inp: Floats, // (B, T, 3C)
  B: number,
  T: number,
  C: number,
  NH: number,
): void {
  const C3 = C * 3;
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = b * T * C3 + t * C3 + h * hs;
        const row = b * NH * T * T + h * T * T + t * T;
        // pass 1: scores and their max (t2 = 0 is never masked)
        let maxval = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = b * T * C3 + t2 * C3 + h * hs + C;
          let dot = 0;
          for (let i = 0; i < hs; i++) dot += inp[q + i] * inp[k + i];
          const val = dot * scale;
          preatt[row + t2] = val;
          if (val > maxval) maxval = val;
        }
        // pass 2: exponentials and their sum; uses the stored (float32) scores
        // so att is exactly the softmax of preatt.
        const expv = new Float64Array(t + 1);
        let expsum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          expv[t2] = Math.exp(preatt[row + t2] - maxval);
          expsum += expv[t2];
        }
        const expsumInv = expsum === 0 ? 0 : 1 / expsum;
        // pass 3: normalise; the causal mask is explicit zeros
        for (let t2 = 0; t2 < T; t2++) {
          if (t2 <= t) {
            att[row + t2] = expv[t2] * expsumInv;
          } else {
            att[row + t2] = 0;
            preatt[row + t2] = 0;
          }
        }
        // pass 4: weighted sum of values
        const o = b * T * C + t * C + h * hs;
        for (let i = 0; i < hs; i++) {
          let sum = 0;
          for (let t2 = 0; t2 <= t; t2++) sum += att[row + t2] * inp[b * T * C3 + t2 * C3 + h * hs + 2 * C + i];
          out[o + i] = sum;
        }
      }
    }
  }
}

/**
 * Accumulates into dinp (q, k and v thirds), dpreatt and datt, given dout.
 * datt and dpreatt are scratch gradients; like llm.c they accumulate too, so
 * pass zeroed buffers unless you mean to add.
 */
export function attentionBackward(
  dinp: Floats, // (B, T, 3C)
  dpreatt: Floats, // (B, NH, T, T)
  datt: Floats, // (B, NH, T, T)
  dout: Floats, // (B, T, C)
  inp: Floats, // (B, T, 3C)
  att: Floats, // (B, NH, T, T)
  B: number,
  T: number,
  C: number,
  NH: number,
): void {
  const C3 = C * 3;
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = b * T * C3 + t * C3 + h * hs;
        const row = b * NH * T * T + h * T * T + t * T;
        const o = b * T * C + t * C + h * hs;
        // backward of out = Σ att · v: into datt and dv
        for (let t2 = 0; t2 <= t; t2++) {
          const v = b * T * C3 + t2 * C3 + h * hs + 2 * C;
          const a = att[row + t2];
          let sum = 0;
          for (let i = 0; i < hs; i++) {
            sum += inp[v + i] * dout[o + i];
            dinp[v + i] += a * dout[o + i];
          }
          datt[row + t2] += sum;
        }
        // softmax backward: dpre[t3] = att[t3] · (datt[t3] − Σ_t2 att[t2] datt[t2])
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) dot += att[row + t2] * datt[row + t2];
        for (let t3 = 0; t3 <= t; t3++) dpreatt[row + t3] += att[row + t3] * (datt[row + t3] - dot);
        // backward of preatt = q·k · scale: into dq and dk
        for (let t2 = 0; t2 <= t; t2++) {
          const k = b * T * C3 + t2 * C3 + h * hs + C;
          const d = dpreatt[row + t2] * scale;
          for (let i = 0; i < hs; i++) {
            dinp[q + i] += inp[k + i] * d;
            dinp[k + i] += inp[q + i] * d;
          }
        }
      }
    }
  }
}
