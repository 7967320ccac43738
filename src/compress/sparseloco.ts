// SparseLoCo compression, plain-TypeScript reference (SPEC §1, steps 3–5): error
// feedback, chunked top-k, 2-bit quantization, and removal of what was sent from
// the residual. This is the oracle for the GPU kernels, so every step is its own
// function with the semantics written down here:
//
//   errorFeedback   e ← β·e + (θ_global − θ_local)                 float32 per element
//   topKChunks      per chunk, the k_c positions of largest |e|     ties → lower index; radix select, linear time
//   quantize2bit    μ, σ (n−1), s = 1.5σ, q = clamp(floor(c/s + 2.5), 0, 3), L[b] = mean c in bin b
//   dequantize2bit  v = fround(L[q] + μ)                            float32 add, bit-exact everywhere
//   removeSent      e ← e − dequantized(sent)                        float32 per element
//
// Chunk geometry (SPEC §1.1 leaves it open): contiguous chunks of `chunkSize`
// values of each flattened (row-major) tensor, the running code's 64×64 blocks
// being no better for magnitude top-k and harder to index. A full chunk keeps
// `topK` values. The last, partial chunk of length L keeps
// k_L = min(L, ceil(topK·L / chunkSize)) — the same density as a full chunk,
// rounded up so every non-empty chunk sends at least one value; min(k, L) would
// send a 70-value tail at 64/70 density.
//
// 1-D tensors (biases, LayerNorm gains): `oneDimPolicy`, default dense 2-bit
// ('dense-quantized'). Measured on GPT-shaped manifests against top-k for them
// (docs/wire-format.md; tests/unit/compress-codec.test.ts prints the 1M case):
// dense float32, production's choice, adds 59% to a 10.8M-parameter model's
// payload and 153% to a 1.06M one (1-D tensors are 0.3–0.8% of the values but
// cost 32 bits each); dense 2-bit adds 3% and 8%. It still sends every
// coordinate every round — these few values steer the normalisation and bias
// of every layer — and EF keeps its quantization error like everywhere else.
//
// NaN/Inf: compress refuses a residual with a non-finite or absurdly large value
// (typed errors below) rather than rank NaN; a tab that hits this diverged and
// must reset its replica, and the relay would drop such a submission anyway.
//
// Numerics: reductions (μ, σ, bin means) accumulate in float64 here, like the
// other reference ops; a float32 GPU twin matches μ and L to rounding and its
// codes may differ only for values on a bin edge. Rounding is written
// floor(x + 0.5) because WGSL's round() is half-to-even.
//
// Leaves out: the wire format (codec.ts), aggregation (aggregate.ts).
// Source: SparseLoCo (Templar), SPEC.md §1.
import { checkManifest, type TensorManifest, type TensorManifestEntry } from './manifest.ts';

/** How 1-D tensors travel. */
export const ONE_DIM_POLICIES = ['dense-quantized', 'dense-float32', 'sparse'] as const;
export type OneDimPolicy = (typeof ONE_DIM_POLICIES)[number];
export type TensorMode = 'sparse' | 'dense-quantized' | 'dense-float32';

export interface CompressConfig {
  /** Values per chunk of a flattened tensor. 4096 = the running code's 64×64 blocks. At most 65536. */
  readonly chunkSize: number;
  /** Values kept per full chunk; even, ≥ 2. 64 = 1.56% density, production's setting. */
  readonly topK: number;
  /** Mode for tensors of rank 1; see the file header for the measurement behind the default. */
  readonly oneDimPolicy: OneDimPolicy;
  /**
   * Largest |value| a residual, μ or dequantized value may have. AdamW moves a
   * parameter by at most ~lr per step, so a round's Δ is ≲ H·lr and EF ≲ Δ/(1−β);
   * 1024 is orders of magnitude above that and far below float32 overflow, so a
   * sum of a few thousand of them stays finite.
   */
  readonly maxAbsValue: number;
}

export const defaultCompressConfig: CompressConfig = {
  chunkSize: 4096,
  topK: 64,
  oneDimPolicy: 'dense-quantized',
  maxAbsValue: 1024,
};

/** β of SPEC §1 step 3. */
export const DEFAULT_EF_BETA = 0.95;

export const MAX_CHUNK_SIZE = 65536;

/** A configuration no encoder or decoder may use; `field` names the CompressConfig member. */
export class CompressConfigError extends Error {
  constructor(
    readonly field: keyof CompressConfig,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The residual holds NaN or ±Inf: training diverged; reset the replica instead of sending. */
export class NonFiniteResidualError extends Error {
  constructor(
    readonly tensor: string,
    readonly index: number,
    readonly value: number,
  ) {
    super(`error-feedback residual of ${tensor} is ${value} at ${index}; training diverged — reset this replica`);
    this.name = new.target.name;
  }
}

/** The residual holds a value beyond maxAbsValue: no honest round produces it; reset the replica. */
export class ResidualOutOfRangeError extends Error {
  constructor(
    readonly tensor: string,
    readonly index: number,
    readonly value: number,
    readonly limit: number,
  ) {
    super(`error-feedback residual of ${tensor} is ${value} at ${index}, beyond ±${limit}; reset this replica`);
    this.name = new.target.name;
  }
}

/** An in-memory update that breaks its own invariants (a bug in whoever built it). */
export class InvalidUpdateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export function checkCompressConfig(config: CompressConfig): void {
  const { chunkSize, topK, oneDimPolicy, maxAbsValue } = config;
  if (!Number.isInteger(chunkSize) || chunkSize < 2 || chunkSize > MAX_CHUNK_SIZE) {
    throw new CompressConfigError('chunkSize', `chunkSize ${chunkSize} must be an integer in [2, ${MAX_CHUNK_SIZE}]`);
  }
  if (!Number.isInteger(topK) || topK < 2 || topK % 2 !== 0 || topK > chunkSize) {
    throw new CompressConfigError('topK', `topK ${topK} must be even, ≥ 2 and ≤ chunkSize ${chunkSize}`);
  }
  if (!ONE_DIM_POLICIES.includes(oneDimPolicy)) {
    throw new CompressConfigError('oneDimPolicy', `unknown oneDimPolicy ${String(oneDimPolicy)}`);
  }
  if (!(maxAbsValue > 0 && maxAbsValue <= 1e30)) {
    throw new CompressConfigError('maxAbsValue', `maxAbsValue ${maxAbsValue} must be in (0, 1e30]`);
  }
}

/** The mode a tensor travels in under this config. */
export function tensorMode(entry: TensorManifestEntry, config: CompressConfig): TensorMode {
  return entry.shape.length === 1 ? config.oneDimPolicy : 'sparse';
}

// ---------------------------------------------------------------------------
// Chunk geometry

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Values kept in a chunk of `length` values: topK for a full chunk, the same density rounded up for the tail. */
export function chunkKeep(length: number, config: CompressConfig): number {
  if (length >= config.chunkSize) return config.topK;
  return Math.min(length, Math.floor((config.topK * length + config.chunkSize - 1) / config.chunkSize));
}

/** Values a sparse tensor of `size` values sends: Σ over its chunks of chunkKeep. */
export function sparseCount(size: number, config: CompressConfig): number {
  const full = Math.floor(size / config.chunkSize);
  return full * config.topK + chunkKeep(size - full * config.chunkSize, config);
}

// ---------------------------------------------------------------------------
// Step 3: error feedback

/** e ← β·e + (θ_global − θ_local), every operation rounded to float32. */
export function errorFeedback(
  e: Float32Array, // (P) residual, updated in place
  globalParams: Float32Array, // (P) θ at the start of the round
  localParams: Float32Array, // (P) θ after the inner steps
  beta: number,
): void {
  const n = e.length;
  if (globalParams.length !== n || localParams.length !== n) {
    throw new RangeError(`errorFeedback: lengths ${n}, ${globalParams.length}, ${localParams.length} differ`);
  }
  const b = Math.fround(beta);
  for (let i = 0; i < n; i++) {
    const delta = Math.fround(globalParams[i] - localParams[i]);
    e[i] = Math.fround(b * e[i]) + delta;
  }
}

// ---------------------------------------------------------------------------
// Step 4a: chunked top-k

/** A chunked top-k selection: topKChunks, or the full-sort baseline topKChunksBySort (same output). */
export type ChunkSelection = (
  indices: Uint32Array, // (sparseCount(size)) out
  x: Float32Array, // (size) one tensor of the residual
  config: CompressConfig,
) => void;

/**
 * For each chunk of x, writes the positions (tensor-relative, ascending) of its
 * chunkKeep values of largest |x| into indices; ties go to the lower position.
 * x must be finite (compress checks).
 *
 * Linear time per chunk: the k-th largest magnitude t is found by a radix
 * select on the float32 bits of |x| (for finite non-negative floats, bit order
 * is value order; −0 and +0 share the bits 0), most significant byte first:
 * each pass histograms the candidates' current byte, keeps the bucket holding
 * the k-th largest, and compacts those candidates for the next pass (at most
 * 4 passes, the first over the chunk, the others over its survivors).
 * Then one pass keeps every |x| > t, and |x| == t in index order until k —
 * the same tie rule, hence the same positions, as sorting (topKChunksBySort).
 * Why radix: `npm run bench -- compress` times whole CPU rounds with it
 * (cpu_ms) and with the sort (cpu_sort_ms); a median-of-3 quickselect, tried
 * on the same 4096-value chunks (k = 64), was 2–3× slower than the radix
 * select and is quadratic on adversarial inputs, where radix stays linear.
 */
export function topKChunks(
  indices: Uint32Array, // (sparseCount(size)) out
  x: Float32Array, // (size) one tensor of the residual
  config: CompressConfig,
): void {
  const histogram = new Uint32Array(256);
  selectByThreshold(indices, x, config, (magnitudes, k) => kthLargestBits(magnitudes, k, histogram));
}

/**
 * The selection as it was first written, kept as the baseline (the compress
 * bench's cpu_sort_ms, and the equality tests of topKChunks): the k-th
 * largest magnitude comes from sorting a float copy of the chunk's
 * magnitudes. O(n log n) per chunk.
 */
export function topKChunksBySort(
  indices: Uint32Array, // (sparseCount(size)) out
  x: Float32Array, // (size) one tensor of the residual
  config: CompressConfig,
): void {
  const sorted = new Float32Array(Math.min(x.length, config.chunkSize));
  const bitsOf = new Float32Array(1); // the threshold's float32 bits, through a Uint32Array view
  selectByThreshold(indices, x, config, (magnitudes, k) => {
    const chunk = sorted.subarray(0, magnitudes.length);
    chunk.set(new Float32Array(magnitudes.buffer, magnitudes.byteOffset, magnitudes.length));
    chunk.sort();
    const threshold = chunk[chunk.length - k];
    let above = 0;
    for (let i = chunk.length - k + 1; i < chunk.length; i++) if (chunk[i] > threshold) above++;
    bitsOf[0] = threshold;
    return { threshold: new Uint32Array(bitsOf.buffer)[0], ties: k - above };
  });
}

/** Where a chunk's k-th largest magnitude lies: its float32 bits, and how many of the top k equal it. */
type KthLargest = (
  magnitudes: Uint32Array, // (length) the chunk's |x| as float32 bits; may be reordered
  k: number,
) => { threshold: number; ties: number };

/**
 * Per chunk: finds the threshold, then keeps every |x| above it and the
 * first `ties` values equal to it, in index order (the tie rule).
 */
function selectByThreshold(indices: Uint32Array, x: Float32Array, config: CompressConfig, kthLargest: KthLargest): void {
  const size = x.length;
  const bits = new Uint32Array(x.buffer, x.byteOffset, size); // x's float32 bits
  const magnitudes = new Uint32Array(Math.min(size, config.chunkSize));
  let out = 0;
  for (let start = 0; start < size; start += config.chunkSize) {
    const length = Math.min(config.chunkSize, size - start);
    const chunk = magnitudes.subarray(0, length);
    for (let i = 0; i < length; i++) chunk[i] = bits[start + i] & 0x7fffffff;
    const { threshold, ties } = kthLargest(chunk, chunkKeep(length, config));
    let wanted = ties;
    for (let i = 0; i < length; i++) {
      const magnitude = bits[start + i] & 0x7fffffff;
      if (magnitude > threshold || (magnitude === threshold && wanted-- > 0)) indices[out++] = start + i;
    }
  }
  if (out !== indices.length) throw new InvalidUpdateError(`topKChunks: wrote ${out} of ${indices.length} indices`);
}

/**
 * Radix select: the k-th largest of `magnitudes` (1 ≤ k ≤ length) as
 * `threshold`, and `ties`, how many values equal to it the top k hold (the
 * rest of the k are strictly larger). Reorders magnitudes.
 */
function kthLargestBits(
  magnitudes: Uint32Array, // (length) bits, overwritten
  k: number,
  histogram: Uint32Array, // (256) scratch
): { threshold: number; ties: number } {
  let count = magnitudes.length;
  let threshold = 0;
  let wanted = k; // how many of the current candidates still belong to the top k
  for (let shift = 24; shift >= 0; shift -= 8) {
    histogram.fill(0);
    for (let i = 0; i < count; i++) histogram[(magnitudes[i] >>> shift) & 255]++;
    let bucket = 255;
    while (histogram[bucket] < wanted) wanted -= histogram[bucket--];
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const value = magnitudes[i];
      if (((value >>> shift) & 255) === bucket) magnitudes[kept++] = value;
    }
    count = kept;
    threshold = (threshold | (bucket << shift)) >>> 0;
  }
  return { threshold, ties: wanted };
}

// ---------------------------------------------------------------------------
// Step 4b: 2-bit quantization (SPEC §1.3)

export interface Quantization {
  /** μ, rounded to float32. */
  mean: number;
  /** L[0..3]: mean of the centred values in each bin, 0 for an empty bin. (4) */
  lut: Float32Array;
}

/**
 * Quantizes n values to 2-bit codes. Guards: n = 0 gives μ = 0, L = 0; n = 1 or
 * σ = 0 (all values equal) has no scale, so every code is 2 and L[2] keeps the
 * mean residual (what float32 rounding of μ left over).
 */
export function quantize2bit(
  codes: Uint8Array, // (n) out, each 0..3
  values: Float32Array, // (n)
): Quantization {
  const n = values.length;
  const lut = new Float32Array(4);
  if (n === 0) return { mean: 0, lut };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = Math.fround(sum / n);
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const c = values[i] - mean;
    squares += c * c;
  }
  const scale = n > 1 ? 1.5 * Math.sqrt(squares / (n - 1)) : 0;
  const binSum = [0, 0, 0, 0];
  const binCount = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const c = values[i] - mean;
    let q = 2;
    if (scale > 0) {
      q = Math.floor(c / scale + 2.5);
      q = q < 0 ? 0 : q > 3 ? 3 : q;
    }
    codes[i] = q;
    binSum[q] += c;
    binCount[q]++;
  }
  for (let b = 0; b < 4; b++) lut[b] = binCount[b] > 0 ? binSum[b] / binCount[b] : 0;
  return { mean, lut };
}

/** out[i] = fround(L[codes[i]] + μ): one float32 addition, the same bits on every machine. */
export function dequantize2bit(
  out: Float32Array, // (n)
  codes: Uint8Array, // (n)
  mean: number,
  lut: Float32Array, // (4)
): void {
  const m = Math.fround(mean);
  const table = [Math.fround(lut[0] + m), Math.fround(lut[1] + m), Math.fround(lut[2] + m), Math.fround(lut[3] + m)];
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]];
}

// ---------------------------------------------------------------------------
// The update

export type CompressedTensor =
  | {
      mode: 'sparse';
      /** Tensor-relative positions, ascending; chunk c holds exactly chunkKeep of them. (n) */
      indices: Uint32Array;
      codes: Uint8Array; // (n)
      mean: number;
      lut: Float32Array; // (4)
    }
  | { mode: 'dense-quantized'; codes: Uint8Array /* (size) */; mean: number; lut: Float32Array /* (4) */ }
  | { mode: 'dense-float32'; values: Float32Array /* (size) */ };

/** One replica's compressed residual: one entry per manifest tensor, in manifest order. */
export interface CompressedUpdate {
  readonly chunkSize: number;
  readonly topK: number;
  readonly tensors: CompressedTensor[];
}

/** What a tensor of an update adds, dequantized: sparse (tensor-relative indices) or dense. */
export type TensorContribution =
  | { kind: 'sparse'; indices: Uint32Array /* (n) */; values: Float32Array /* (n) */ }
  | { kind: 'dense'; values: Float32Array /* (size) */ };

/** Throws if any value of a manifest view of e is non-finite or beyond config.maxAbsValue. */
export function checkResidual(e: Float32Array, manifest: TensorManifest, config: CompressConfig): void {
  const limit = config.maxAbsValue;
  for (const entry of manifest) {
    const end = entry.offset + entry.size;
    for (let i = entry.offset; i < end; i++) {
      const v = e[i];
      // One comparison on the hot path; NaN fails it too.
      if (!(v >= -limit && v <= limit)) {
        if (!Number.isFinite(v)) throw new NonFiniteResidualError(entry.name, i - entry.offset, v);
        throw new ResidualOutOfRangeError(entry.name, i - entry.offset, v, limit);
      }
    }
  }
}

/** Step 4: Q(TopK(e)) for every tensor. Pure: e is not changed (removeSent does step 5). */
export function compress(
  e: Float32Array, // (P) residual
  manifest: TensorManifest,
  config: CompressConfig = defaultCompressConfig,
  select: ChunkSelection = topKChunks,
): CompressedUpdate {
  checkCompressConfig(config);
  checkManifest(manifest, e.length);
  checkResidual(e, manifest, config);
  const tensors = manifest.map((entry) => compressTensor(e.subarray(entry.offset, entry.offset + entry.size), entry, config, select));
  return { chunkSize: config.chunkSize, topK: config.topK, tensors };
}

export function compressTensor(
  x: Float32Array, // (size) one tensor of the residual
  entry: TensorManifestEntry,
  config: CompressConfig,
  select: ChunkSelection = topKChunks,
): CompressedTensor {
  const mode = tensorMode(entry, config);
  if (mode === 'dense-float32') return { mode, values: x.slice() };
  if (mode === 'dense-quantized') {
    const codes = new Uint8Array(x.length);
    const { mean, lut } = quantize2bit(codes, x);
    return { mode, codes, mean, lut };
  }
  const n = sparseCount(x.length, config);
  const indices = new Uint32Array(n);
  select(indices, x, config);
  const selected = new Float32Array(n);
  for (let j = 0; j < n; j++) selected[j] = x[indices[j]];
  const codes = new Uint8Array(n);
  const { mean, lut } = quantize2bit(codes, selected);
  return { mode, indices, codes, mean, lut };
}

/** The dequantized values one compressed tensor adds. */
export function decompressTensor(tensor: CompressedTensor): TensorContribution {
  if (tensor.mode === 'dense-float32') return { kind: 'dense', values: tensor.values };
  const values = new Float32Array(tensor.codes.length);
  dequantize2bit(values, tensor.codes, tensor.mean, tensor.lut);
  if (tensor.mode === 'dense-quantized') return { kind: 'dense', values };
  return { kind: 'sparse', indices: tensor.indices, values };
}

/** Every tensor's dequantized contribution, in manifest order. */
export function decompress(update: CompressedUpdate, manifest: TensorManifest): TensorContribution[] {
  if (update.tensors.length !== manifest.length) {
    throw new InvalidUpdateError(`update has ${update.tensors.length} tensors, manifest ${manifest.length}`);
  }
  return update.tensors.map(decompressTensor);
}

/** Step 5: e ← e − dequantized(sent), float32, so quantization error stays in the residual. */
export function removeSent(
  e: Float32Array, // (P) residual, updated in place
  update: CompressedUpdate,
  manifest: TensorManifest,
): void {
  const contributions = decompress(update, manifest);
  manifest.forEach((entry, t) => {
    const c = contributions[t];
    const base = entry.offset;
    if (c.kind === 'dense') {
      for (let i = 0; i < entry.size; i++) e[base + i] = Math.fround(e[base + i] - c.values[i]);
    } else {
      for (let j = 0; j < c.indices.length; j++) {
        const i = base + c.indices[j];
        e[i] = Math.fround(e[i] - c.values[j]);
      }
    }
  });
}

/** Steps 3–5 in one call, what a tab does at the end of its inner loop. Returns the update to send. */
export function sparseLoCoStep(
  e: Float32Array, // (P) residual, updated in place
  globalParams: Float32Array, // (P)
  localParams: Float32Array, // (P)
  manifest: TensorManifest,
  config: CompressConfig = defaultCompressConfig,
  beta: number = DEFAULT_EF_BETA,
  select: ChunkSelection = topKChunks,
): CompressedUpdate {
  errorFeedback(e, globalParams, localParams, beta);
  const update = compress(e, manifest, config, select);
  removeSent(e, update, manifest);
  return update;
}

/**
 * Throws InvalidUpdateError unless the update has this manifest's tensors in the
 * config's modes, with array lengths, index order, per-chunk counts and codes as
 * compress produces them. Values are not range-checked here (the codec does that).
 */
export function checkUpdate(update: CompressedUpdate, manifest: TensorManifest, config: CompressConfig): void {
  if (update.chunkSize !== config.chunkSize || update.topK !== config.topK) {
    throw new InvalidUpdateError(
      `update made with chunk ${update.chunkSize}/k ${update.topK}, config says ${config.chunkSize}/${config.topK}`,
    );
  }
  if (update.tensors.length !== manifest.length) {
    throw new InvalidUpdateError(`update has ${update.tensors.length} tensors, manifest ${manifest.length}`);
  }
  manifest.forEach((entry, t) => {
    const tensor = update.tensors[t];
    const fail = (why: string): never => {
      throw new InvalidUpdateError(`${entry.name}: ${why}`);
    };
    const mode = tensorMode(entry, config);
    if (tensor.mode !== mode) fail(`mode ${tensor.mode}, config says ${mode}`);
    if (tensor.mode === 'dense-float32') {
      if (tensor.values.length !== entry.size) fail(`${tensor.values.length} values, tensor has ${entry.size}`);
      return;
    }
    if (tensor.lut.length !== 4) fail('lookup table must have 4 entries');
    const n = tensor.mode === 'sparse' ? sparseCount(entry.size, config) : entry.size;
    if (tensor.codes.length !== n) fail(`${tensor.codes.length} codes, expected ${n}`);
    for (let j = 0; j < n; j++) if (tensor.codes[j] > 3) fail(`code ${tensor.codes[j]} at ${j}`);
    if (tensor.mode !== 'sparse') return;
    if (tensor.indices.length !== n) fail(`${tensor.indices.length} indices, expected ${n}`);
    let j = 0;
    for (let start = 0; start < entry.size; start += config.chunkSize) {
      const length = Math.min(config.chunkSize, entry.size - start);
      const keep = chunkKeep(length, config);
      let previous = start - 1;
      for (let m = 0; m < keep; m++, j++) {
        const index = tensor.indices[j];
        if (!(index > previous && index < start + length)) {
          fail(`index ${index} at ${j} is not ascending inside chunk [${start}, ${start + length})`);
        }
        previous = index;
      }
    }
  });
}
