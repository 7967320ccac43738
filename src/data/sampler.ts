// Which bytes a training step reads, as a pure function of (data, seed, step, B, T),
// so the relay or any peer can re-derive exactly the samples a volunteer was
// assigned (SPEC.md §2.1: a peer's data is fixed by a seed from (peer, round)).
// Runs unchanged in the browser and in Node: no Node imports, no global state.
//
// Random windows: each of the B rows starts at a uniformly drawn offset, from a
// SplitMix64 stream (Steele, Lea & Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014; constants as in Vigna's splitmix64.c) keyed by the
// seed and the step. BigInt keeps the 64-bit arithmetic exact in JavaScript; B
// draws per step make its cost irrelevant next to a training step.
// Validation windows are fixed and evenly spaced, so the validation loss is the
// same measurement at every evaluation.
// Left out: epochs / sampling without replacement (a window may repeat; with
// ~5.6 M start offsets that is rare and harmless), document-boundary masking.

const MASK_64 = (1n << 64n) - 1n;
/** 2^64 / φ, the SplitMix64 increment ("golden gamma"). */
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;

/** A seed: a non-negative integer below 2^64, as a number (safe integer) or a bigint. */
export type Seed = number | bigint;

/** The SplitMix64 output function (Stafford's "Mix13" variant): a bijection on 64-bit words. */
export function mix64(value: bigint): bigint {
  let z = value & MASK_64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
  return z ^ (z >> 31n);
}

/** SplitMix64 generator: state += γ, output mix64(state). Same sequence as the reference C code. */
export class SplitMix64 {
  private state: bigint;
  constructor(seed: Seed) {
    this.state = toUint64(seed, 'seed');
  }
  next(): bigint {
    this.state = (this.state + GOLDEN_GAMMA) & MASK_64;
    return mix64(this.state);
  }
}

function toUint64(value: Seed, name: string): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be a safe integer or a bigint, got ${value}`);
  }
  const big = BigInt(value);
  if (big < 0n || big > MASK_64) throw new RangeError(`${name} must lie in [0, 2^64), got ${big}`);
  return big;
}

function checkShape(data: Uint8Array, B: number, T: number): void {
  if (!Number.isSafeInteger(B) || B < 1) throw new RangeError(`B must be a positive integer, got ${B}`);
  if (!Number.isSafeInteger(T) || T < 1) throw new RangeError(`T must be a positive integer, got ${T}`);
  // A window reads T inputs plus one more byte for the last target.
  if (data.length < T + 1) throw new RangeError(`data has ${data.length} bytes; a window needs T + 1 = ${T + 1}`);
}

/**
 * Start offsets of the B windows of one step, each in [0, data.length − T − 1].
 * The stream for (seed, step) starts from mix64(seed) ⊕ mix64(step + γ): hashing
 * both keys first keeps neighbouring seeds and steps from sharing sequences.
 */
export function windowStarts(dataLength: number, seed: Seed, step: number, B: number, T: number): Uint32Array {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  const choices = BigInt(dataLength - T); // number of valid starts
  const generator = new SplitMix64(mix64(toUint64(seed, 'seed')) ^ mix64(BigInt(step) + GOLDEN_GAMMA));
  const starts = new Uint32Array(B); // (B,)
  // Plain modulo: its bias is below choices / 2^64 < 2^-32 for any corpus that fits a Uint8Array.
  for (let b = 0; b < B; b++) starts[b] = Number(generator.next() % choices);
  return starts;
}

export interface Batch {
  inputs: Uint32Array; // (B, T) token ids (bytes)
  targets: Uint32Array; // (B, T) the next byte after each input
}

/** Copies the windows at `starts` into a batch: targets are the inputs shifted left by one byte. */
export function batchFromStarts(data: Uint8Array, starts: Uint32Array, T: number): Batch {
  const B = starts.length;
  const inputs = new Uint32Array(B * T); // (B, T)
  const targets = new Uint32Array(B * T); // (B, T)
  for (let b = 0; b < B; b++) {
    const start = starts[b];
    if (start + T + 1 > data.length) throw new RangeError(`window ${b} at ${start} runs past the data (${data.length})`);
    inputs.set(data.subarray(start, start + T), b * T);
    targets.set(data.subarray(start + 1, start + T + 1), b * T);
  }
  return { inputs, targets };
}

/** The training batch of `step` for `seed`: a pure function of its arguments. */
export function batchFor(data: Uint8Array, seed: Seed, step: number, B: number, T: number): Batch {
  checkShape(data, B, T);
  return batchFromStarts(data, windowStarts(data.length, seed, step, B, T), T);
}

/**
 * `count` fixed validation batches whose count·B windows are spread evenly from the
 * first byte to the last (the first window starts at 0, the last ends at the end).
 */
export function validationBatches(data: Uint8Array, B: number, T: number, count: number): Batch[] {
  checkShape(data, B, T);
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  const windows = count * B;
  const lastStart = data.length - T - 1;
  const batches: Batch[] = [];
  for (let i = 0; i < count; i++) {
    const starts = new Uint32Array(B); // (B,)
    for (let b = 0; b < B; b++) {
      const w = i * B + b;
      starts[b] = windows === 1 ? 0 : Math.floor((w * lastStart) / (windows - 1));
    }
    batches.push(batchFromStarts(data, starts, T));
  }
  return batches;
}

/** Entropy of the byte histogram in nats: the loss per byte of the best context-free model. */
export function unigramEntropy(bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  const counts = new Float64Array(256);
  for (let i = 0; i < bytes.length; i++) counts[bytes[i]]++;
  let entropy = 0;
  // Fixed order over byte values: the same bytes always give the same bits.
  for (let v = 0; v < 256; v++) {
    if (counts[v] === 0) continue;
    const p = counts[v] / bytes.length;
    entropy -= p * Math.log(p);
  }
  return entropy;
}
