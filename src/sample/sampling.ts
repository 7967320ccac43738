// Choosing the next byte from the model's logits: greedy (temperature 0) or
// softmax sampling at a temperature, with an injectable uniform random source
// so a seeded sampler gives the same text twice.
// Leaves out: top-k / nucleus truncation (a byte model has only 256 choices;
// temperature alone keeps samples readable at these sizes).

/** Index of the largest logit; the lowest index wins ties (deterministic). */
export function argmax(logits: Float32Array, offset = 0, length = logits.length - offset): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (logits[offset + i] > logits[offset + best]) best = i;
  return best;
}

/** Samples an index from softmax(logits / temperature); temperature 0 is greedy. random() in [0, 1). */
export function sampleLogits(logits: Float32Array, temperature: number, random: () => number, offset = 0, length = logits.length - offset): number {
  if (!(temperature > 0)) return argmax(logits, offset, length);
  let max = -Infinity;
  for (let i = 0; i < length; i++) max = Math.max(max, logits[offset + i]);
  const weights = new Float64Array(length);
  let total = 0;
  for (let i = 0; i < length; i++) {
    weights[i] = Math.exp((logits[offset + i] - max) / temperature);
    total += weights[i];
  }
  let target = random() * total;
  for (let i = 0; i < length; i++) {
    target -= weights[i];
    if (target < 0) return i;
  }
  return length - 1; // rounding left a sliver of mass: the last index takes it
}
