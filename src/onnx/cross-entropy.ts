// Cross-entropy of the next byte from onnxruntime-web's logits, in float64:
// log Σ_v exp(z_v − max) + max − z[target] per position. Shared by the
// relay's held-out loss (src/relay/evaluator.ts) and Gauntlet's evaluation
// (src/gauntlet/evaluate.ts).
// Leaves out: running the graph (callers own their sessions).

/** Mean over (B·T) positions of log Σ_v exp(logits) − logits[target]. */
export function crossEntropy(
  logits: Float32Array, // (B, T, V)
  targets: Uint32Array, // (B, T)
  V: number,
): number {
  let total = 0;
  for (let p = 0; p < targets.length; p++) total += positionLoss(logits, p, targets[p], V);
  return total / targets.length;
}

/** Each sequence's mean over its T positions: (B). */
export function sequenceCrossEntropies(
  logits: Float32Array, // (B, T, V)
  targets: Uint32Array, // (B, T)
  B: number,
  T: number,
  V: number,
): Float64Array {
  const out = new Float64Array(B); // (B)
  for (let b = 0; b < B; b++) {
    let total = 0;
    for (let t = 0; t < T; t++) total += positionLoss(logits, b * T + t, targets[b * T + t], V);
    out[b] = total / T;
  }
  return out;
}

function positionLoss(logits: Float32Array, p: number, target: number, V: number): number {
  const row = p * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
  return max + Math.log(sum) - logits[row + target];
}
