// Kernel descriptions and dispatch helpers for SparseLoCo on the GPU
// (shaders/error-feedback.wgsl, shaders/top-k.wgsl, shaders/remove-sent.wgsl),
// and the chunk table they share. Reference twins, same semantics:
//   error_feedback  ↔ errorFeedback   e ← β·e + (θ_global − θ_local)
//   top_k_chunks    ↔ topKChunks      per chunk, chunkKeep positions of largest |e|, ties → lower index
//                     (+ checkResidual's range test, + dense tensors copied whole)
//   remove_sent     ↔ removeSent      e ← e − dequantized(sent)
// all in src/compress/sparseloco.ts. Quantization statistics have no kernel:
// the host computes them with the reference's quantize2bit from the read-back
// selected values (see sparseloco-gpu.ts for the split).
//
// Dimension letters: P floats in the flat parameter buffers, N values selected
// over all tensors in one round (Σ sparseCount, plus every value of a dense
// tensor), K chunks in the table (every tensor cut into chunkSize pieces).
import { ELEMENTWISE_WORKGROUP_SIZE, divUp, workgroupGrid, type Binding, type GpuContext, type PreparedDispatch } from '../gpu/runtime.ts';
import { errorFeedbackKernel, removeSentKernel, topKChunksKernel } from '../kernels/sparseloco.ts';
import type { TensorManifest } from './manifest.ts';
import { chunkKeep, tensorMode, type CompressConfig, type TensorMode } from './sparseloco.ts';

export { errorFeedbackKernel, removeSentKernel, sparselocoKernels, topKChunksKernel } from '../kernels/sparseloco.ts';

// ---------------------------------------------------------------------------
// The chunk table

/** u32 words per chunk record (struct Chunk in top-k.wgsl and remove-sent.wgsl). */
export const CHUNK_WORDS = 8;
/** status[chunk] when the chunk is within range. */
export const STATUS_OK = 0xffffffff;
/** remove_sent modes (Chunk.mode). */
const MODE_SUBTRACT = 0;
const MODE_CLEAR = 1;

/** Where one tensor's selected values sit among the N of a round. */
export interface TensorSlot {
  mode: TensorMode;
  out: number; // first of its slots
  n: number; // values it sends: sparseCount(size), or size for a dense mode
  firstChunk: number; // its first record in the table
  chunkCount: number;
}

export interface ChunkTable {
  records: Uint32Array; // (K, CHUNK_WORDS)
  chunkCount: number; // K
  selected: number; // N
  slots: TensorSlot[]; // one per manifest tensor, manifest order
}

/**
 * Cuts every tensor into contiguous chunks of config.chunkSize values (the
 * reference's geometry), in manifest order, so chunk records, their output
 * slots and the range check's "first bad position" all follow manifest order.
 * A dense tensor's chunks keep their whole length.
 */
export function buildChunkTable(manifest: TensorManifest, config: CompressConfig): ChunkTable {
  const slots: TensorSlot[] = [];
  const records: number[] = [];
  let out = 0;
  manifest.forEach((entry, t) => {
    const mode = tensorMode(entry, config);
    const firstChunk = records.length / CHUNK_WORDS;
    const tensorOut = out;
    for (let start = 0; start < entry.size; start += config.chunkSize) {
      const length = Math.min(config.chunkSize, entry.size - start);
      const keep = mode === 'sparse' ? chunkKeep(length, config) : length;
      records.push(entry.offset + start, length, keep, out, start, t, mode === 'dense-float32' ? MODE_CLEAR : MODE_SUBTRACT, 0);
      out += keep;
    }
    slots.push({ mode, out: tensorOut, n: out - tensorOut, firstChunk, chunkCount: records.length / CHUNK_WORDS - firstChunk });
  });
  const chunkCount = records.length / CHUNK_WORDS;
  if (chunkCount + 2 * out > 2 ** 32 - 1) throw new RangeError(`chunk table: ${chunkCount} chunks and ${out} values overflow u32 slots`);
  return { records: Uint32Array.from(records), chunkCount, selected: out, slots };
}

/** Bytes of top_k_chunks' result: status (K), indices (N), value bits (N). */
export const selectionBytes = (table: ChunkTable): number => 4 * (table.chunkCount + 2 * table.selected);

/**
 * Bits of the largest float32 ≤ limit: for a float32 v, |v| ≤ limit exactly
 * when bits(|v|) ≤ this key, which is the reference's `v >= -limit && v <= limit`.
 */
export function limitKey(limit: number): number {
  const f = new Float32Array([limit]);
  const bits = new Uint32Array(f.buffer);
  if (f[0] > limit) bits[0] -= 1;
  return bits[0];
}

export interface GridOptions {
  /** Cap on workgroups along x; lower than the device limit only to exercise the 2-D layout in tests. */
  maxWorkgroupsX?: number;
  /**
   * Cap on top_k_chunks' workgroups, which stride over the chunks. Default: one
   * per chunk. A software adapter (SwiftShader) pays per workgroup for the
   * barriers' fibers and wants a few (see softwareChunkWorkgroups).
   */
  maxChunkWorkgroups?: number;
}

/**
 * top_k_chunks' workgroup cap on a software adapter: SwiftShader on 2 cores,
 * tiny preset (238 chunks), best of 7: 1 → 415 ms, 4 → 325, 16 → 273, one per
 * chunk → 501 (a loaded machine; the trend held across runs).
 */
export const softwareChunkWorkgroups = 16;

/** Whether the adapter is a CPU emulation (SwiftShader, or a browser's fallback adapter). */
export function isSoftwareAdapter(ctx: GpuContext): boolean {
  return ctx.gpu.adapter.architecture === 'swiftshader' || ctx.gpu.adapter.isFallbackAdapter === true;
}

const maxX = (ctx: GpuContext, options: GridOptions) => options.maxWorkgroupsX ?? ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension;

// ---------------------------------------------------------------------------
// Dispatches

export interface ErrorFeedbackBuffers {
  residual: Binding; // (P) e, updated in place
  globalParams: Binding; // (P) θ at the start of the round
  localParams: Binding; // (P) θ after the inner steps
}

/** e ← β·e + (θ_global − θ_local) over P floats. */
export function prepareErrorFeedback(
  ctx: GpuContext,
  { residual, globalParams, localParams }: ErrorFeedbackBuffers,
  P: number,
  beta: number,
  options: GridOptions = {},
): Promise<PreparedDispatch> {
  return ctx.prepare(errorFeedbackKernel, [residual, globalParams, localParams], workgroupGrid(P, ELEMENTWISE_WORKGROUP_SIZE, maxX(ctx, options)), [
    { u32: P },
    { f32: beta },
    { u32: 0 },
  ]);
}

export interface TopKChunksBuffers {
  residual: Binding; // (P) e, read as float32 bits
  chunks: Binding; // (K, CHUNK_WORDS) the table's records
  selection: Binding; // (K + 2N) u32 out: status, tensor-relative indices, value bits
}

/** Every chunk's selection (and range status) into `selection`. */
export function prepareTopKChunks(
  ctx: GpuContext,
  { residual, chunks, selection }: TopKChunksBuffers,
  table: ChunkTable,
  config: CompressConfig,
  options: GridOptions = {},
): Promise<PreparedDispatch> {
  const K = table.chunkCount;
  const cap = options.maxChunkWorkgroups ?? (isSoftwareAdapter(ctx) ? softwareChunkWorkgroups : K);
  const workgroups = Math.min(K, cap);
  return ctx.prepare(topKChunksKernel, [residual, chunks, selection], workgroupGrid(workgroups, 1, maxX(ctx, options)), [
    { u32: K },
    { u32: K },
    { u32: K + table.selected },
    { u32: limitKey(config.maxAbsValue) },
  ]);
}

export interface RemoveSentBuffers {
  residual: Binding; // (P) e, updated in place
  chunks: Binding; // (K, CHUNK_WORDS)
  selection: Binding; // (K + 2N) top_k_chunks' result
  codes: Binding; // (⌈N / 16⌉) u32, 2-bit codes from packCodes
  tables: Binding; // (tensors, 4) f32: fround(L[b] + μ)
}

/** e ← e − dequantized(sent) at every selected position. */
export function prepareRemoveSent(
  ctx: GpuContext,
  { residual, chunks, selection, codes, tables }: RemoveSentBuffers,
  table: ChunkTable,
  options: GridOptions = {},
): Promise<PreparedDispatch> {
  const K = table.chunkCount;
  return ctx.prepare(removeSentKernel, [residual, chunks, selection, codes, tables], workgroupGrid(K, 1, maxX(ctx, options)), [
    { u32: K },
    { u32: K },
  ]);
}

/** u32 words holding N 2-bit codes. */
export const codeWords = (N: number): number => Math.max(1, divUp(N, 16));
