// Plain-TypeScript twin of shaders/crossentropy.wgsl: softmax over the
// vocabulary fused with the cross-entropy loss, after softmax_forward,
// crossentropy_forward and crossentropy_softmax_backward in karpathy/llm.c
// train_gpt2.c (without llm.c's padded vocabulary Vp: here V is exact).
// The loss is computed as log Σ exp(logits − max) − (logit[y] − max) in float64
// rather than −log(probs[y]) from the rounded float32 probability, so it stays
// accurate when probs[y] is tiny. Backward accumulates into dlogits.

// Float64Array is accepted too, so finite-difference tests can run free of
// float32 rounding; kernels' tests pass Float32Array.
type Floats = Float32Array | Float64Array;

/** probs = softmax(logits) per (b, t); losses[b,t] = −log probs[b,t,targets[b,t]]. */
export function crossentropySoftmaxForward(
  losses: Floats, // (B, T)
  probs: Floats, // (B, T, V)
  logits: Floats, // (B, T, V)
  targets: Int32Array | Uint32Array, // (B, T) values < V
  B: number,
  T: number,
  V: number,
): void {
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * V;
    let maxval = -Infinity;
    for (let i = 0; i < V; i++) if (logits[x + i] > maxval) maxval = logits[x + i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[x + i] - maxval);
    const inv = 1 / sum;
    for (let i = 0; i < V; i++) probs[x + i] = Math.exp(logits[x + i] - maxval) * inv;
    losses[bt] = Math.log(sum) - (logits[x + targets[bt]] - maxval);
  }
}

/** dlogits[b,t,i] += (probs[b,t,i] − 1[i = targets[b,t]]) · dlosses[b,t]. For the mean loss dlosses = 1/(B·T). */
export function crossentropySoftmaxBackward(
  dlogits: Floats, // (B, T, V)
  probs: Floats, // (B, T, V)
  targets: Int32Array | Uint32Array, // (B, T)
  dlosses: Floats, // (B, T)
  B: number,
  T: number,
  V: number,
): void {
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * V;
    const dloss = dlosses[bt];
    const y = targets[bt];
    for (let i = 0; i < V; i++) {
      const indicator = i === y ? 1 : 0;
      dlogits[x + i] += (probs[x + i] - indicator) * dloss;
    }
  }
}
