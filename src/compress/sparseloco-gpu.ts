// SparseLoCo steps 3–5 on the GPU (SPEC §1): what a tab runs at the end of its
// inner loop. Same result as sparseLoCoStep in sparseloco.ts — the same
// CompressedUpdate (so encodeUpdate gives the same bytes) and the same residual
// bits — with the residual e living on the GPU and never read back whole.
//
// The split, per round:
//   GPU   error_feedback   e ← β·e + (θ_global − θ_local) over the flat buffers
//   GPU   top_k_chunks     per chunk: keep positions (ascending) and their values;
//                          checkResidual's range test; dense tensors copied whole
//   read  status (K) + indices (N) + values (N): 8 bytes per sent value (a dense
//         tensor's trivial indices included) plus 4 per chunk — ~1.6% of the
//         parameters plus the 1-D tensors, the values the payload is made of
//   CPU   quantize2bit     μ, σ, codes and the bin means, per tensor, with the
//                          reference function itself (float64 sums)
//   GPU   remove_sent      e ← e − fround(L[q] + μ) at the sent positions
// Computing the statistics on the host makes the codes identical to the
// reference's by construction (an f32 GPU reduction would differ from the
// float64 one for values on a bin edge), costs O(N) host work on data already
// read back, and needs no extra GPU reduction passes.
//
// Errors: a residual with NaN/±Inf or |e| > maxAbsValue throws the reference's
// NonFiniteResidualError / ResidualOutOfRangeError with the same tensor and
// position (the first in manifest order). As in sparseLoCoStep, e has already
// had β·e + Δ applied when that happens: the replica must reset anyway.
//
// Denormals: the selection compares float bits and is exact for them; the two
// arithmetic steps (β·e + Δ, e − v) may have denormal inputs or results flushed
// to zero where the device does so (WGSL allows it; SwiftShader does). Only
// residual values below 1.2e-38 can differ from the reference, which no
// training round produces; tests/gpu/compress-sparseloco.test.ts pins this down.
//
// Ordering: remove_sent is submitted, not awaited. Everything later on the
// same device queue (the next round, readResidual, a checkpoint copy) sees the
// updated e.
//
// Leaves out: the wire format (codec.ts), aggregation (aggregate.ts), and
// persistence of e (readResidual/writeResidual give the storage layer its bytes).
import type { Binding, GpuContext, PreparedDispatch } from '../gpu/runtime.ts';
import { checkManifest, type TensorManifest } from './manifest.ts';
import {
  DEFAULT_EF_BETA,
  NonFiniteResidualError,
  ResidualOutOfRangeError,
  checkCompressConfig,
  defaultCompressConfig,
  quantize2bit,
  type CompressConfig,
  type CompressedTensor,
  type CompressedUpdate,
} from './sparseloco.ts';
import {
  CHUNK_WORDS,
  STATUS_OK,
  buildChunkTable,
  codeWords,
  prepareErrorFeedback,
  prepareRemoveSent,
  prepareTopKChunks,
  selectionBytes,
  type ChunkTable,
  type GridOptions,
} from './sparseloco-kernels-gpu.ts';

export interface SparseLoCoGpuOptions extends GridOptions {
  config?: CompressConfig;
  /** β of the error feedback; SPEC §1 step 3. */
  beta?: number;
}

/** compress() was called again before the previous call finished. */
export class CompressBusyError extends Error {
  constructor() {
    super('SparseLoCoGpu.compress is already running; await the previous round first');
    this.name = new.target.name;
  }
}

export class SparseLoCoGpu {
  readonly config: CompressConfig;
  readonly beta: number;
  readonly table: ChunkTable;
  /** e, the error-feedback residual. (P) */
  readonly residual: GPUBuffer;
  private readonly chunks: GPUBuffer; // (K, CHUNK_WORDS)
  private readonly selection: GPUBuffer; // (K + 2N) u32
  private readonly staging: GPUBuffer; // MAP_READ copy of selection
  private readonly codes: GPUBuffer; // (⌈N / 16⌉) u32
  private readonly tables: GPUBuffer; // (tensors, 4) f32
  private readonly codeWords: Uint32Array; // host copy of codes
  private readonly tableValues: Float32Array; // host copy of tables
  private topK!: PreparedDispatch;
  private removeSent!: PreparedDispatch;
  private errorFeedback: { globalParams: Binding; localParams: Binding; dispatch: PreparedDispatch } | null = null;
  private busy = false;

  private constructor(
    readonly ctx: GpuContext,
    readonly manifest: TensorManifest,
    /** P: floats in the flat parameter buffers (layout.size). */
    readonly paramCount: number,
    private readonly options: SparseLoCoGpuOptions,
  ) {
    this.config = options.config ?? defaultCompressConfig;
    this.beta = options.beta ?? DEFAULT_EF_BETA;
    checkCompressConfig(this.config);
    checkManifest(manifest, paramCount);
    this.table = buildChunkTable(manifest, this.config);
    const { selected: N } = this.table;
    this.residual = ctx.createBuffer('sparseloco.residual', paramCount * 4);
    this.chunks = ctx.upload('sparseloco.chunks', this.table.records.length ? this.table.records : new Uint32Array(CHUNK_WORDS));
    this.selection = ctx.createBuffer('sparseloco.selection', selectionBytes(this.table));
    this.staging = ctx.device.createBuffer({
      label: 'sparseloco.selection:readback',
      size: Math.max(16, selectionBytes(this.table)),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.codeWords = new Uint32Array(codeWords(N));
    this.tableValues = new Float32Array(4 * Math.max(1, manifest.length));
    this.codes = ctx.createBuffer('sparseloco.codes', this.codeWords.byteLength);
    this.tables = ctx.createBuffer('sparseloco.tables', this.tableValues.byteLength);
  }

  /**
   * Allocates e (zero), the chunk table and the readback buffers, and prepares
   * the dispatches. paramCount = the length of the flat parameter buffers.
   */
  static async create(
    ctx: GpuContext,
    manifest: TensorManifest,
    paramCount: number,
    options: SparseLoCoGpuOptions = {},
  ): Promise<SparseLoCoGpu> {
    const compressor = await ctx.guardMemory('allocating the SparseLoCo buffers', () => new SparseLoCoGpu(ctx, manifest, paramCount, options));
    await compressor.prepare();
    return compressor;
  }

  private async prepare(): Promise<void> {
    const { ctx, table, options } = this;
    this.topK = await prepareTopKChunks(ctx, { residual: this.residual, chunks: this.chunks, selection: this.selection }, table, this.config, options);
    this.removeSent = await prepareRemoveSent(
      ctx,
      { residual: this.residual, chunks: this.chunks, selection: this.selection, codes: this.codes, tables: this.tables },
      table,
      options,
    );
  }

  /** The error-feedback dispatch for this pair of buffers, prepared once per pair. */
  private async errorFeedbackFor(globalParams: Binding, localParams: Binding): Promise<PreparedDispatch> {
    const cached = this.errorFeedback;
    if (cached && cached.globalParams === globalParams && cached.localParams === localParams) return cached.dispatch;
    if (cached) this.ctx.release([cached.dispatch]);
    const dispatch = await prepareErrorFeedback(
      this.ctx,
      { residual: this.residual, globalParams, localParams },
      this.paramCount,
      this.beta,
      this.options,
    );
    this.errorFeedback = { globalParams, localParams, dispatch };
    return dispatch;
  }

  /**
   * Steps 3–5 for one round: e ← β·e + (θ_global − θ_local), the update
   * Q(TopK(e)) to send, and e ← e − dequantized(update).
   */
  async compress(
    globalParams: Binding, // (P) θ at the start of the round, kept by the caller
    localParams: Binding, // (P) θ after the inner steps (GptGpu.params)
  ): Promise<CompressedUpdate> {
    return this.round(globalParams, localParams);
  }

  /**
   * Steps 4–5 only, on e as it stands (compress of the reference followed by
   * removeSent): for a caller that updated e itself, e.g. after restoring a
   * checkpoint, and for testing the selection on exact residual bits.
   */
  compressResidual(): Promise<CompressedUpdate> {
    return this.round(null, null);
  }

  private async round(globalParams: Binding | null, localParams: Binding | null): Promise<CompressedUpdate> {
    if (this.busy) throw new CompressBusyError();
    this.busy = true;
    try {
      const dispatches = [this.topK];
      if (globalParams && localParams) dispatches.unshift(await this.errorFeedbackFor(globalParams, localParams));
      const data = await this.selectOnGpu(dispatches);
      await this.checkStatus(new Uint32Array(data, 0, this.table.chunkCount));
      const update = this.quantizeOnHost(data);
      this.ctx.write(this.codes, this.codeWords);
      this.ctx.write(this.tables, this.tableValues);
      this.ctx.submit([this.removeSent]);
      return update;
    } finally {
      this.busy = false;
    }
  }

  /** Runs the dispatches and reads back top_k_chunks' result. */
  private async selectOnGpu(dispatches: PreparedDispatch[]): Promise<ArrayBuffer> {
    const { ctx } = this;
    const bytes = selectionBytes(this.table);
    const encoder = ctx.device.createCommandEncoder();
    ctx.encode(encoder, dispatches);
    if (bytes > 0) encoder.copyBufferToBuffer(this.selection, 0, this.staging, 0, bytes);
    ctx.device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ, 0, Math.max(16, bytes));
    const data = this.staging.getMappedRange(0, Math.max(16, bytes)).slice(0, bytes);
    this.staging.unmap();
    ctx.throwUncaptured();
    return data;
  }

  /** Throws the reference's error for the first out-of-range value in manifest order. */
  private async checkStatus(status: Uint32Array): Promise<void> {
    let chunk = 0;
    while (chunk < status.length && status[chunk] === STATUS_OK) chunk++;
    if (chunk === status.length) return;
    const record = this.table.records.subarray(chunk * CHUNK_WORDS, (chunk + 1) * CHUNK_WORDS);
    const [start, , , , baseIndex, tensor] = record;
    const [value] = await this.ctx.readFloat32(this.residual, 1, start + status[chunk]);
    const name = this.manifest[tensor].name;
    const index = baseIndex + status[chunk];
    if (!Number.isFinite(value)) throw new NonFiniteResidualError(name, index, value);
    throw new ResidualOutOfRangeError(name, index, value, this.config.maxAbsValue);
  }

  /** The update from the selection, with the reference's quantize2bit; fills the host copies of codes and tables. */
  private quantizeOnHost(data: ArrayBuffer): CompressedUpdate {
    const { chunkCount: K, selected: N } = this.table;
    const indices = new Uint32Array(data, 4 * K, N); // (N) tensor-relative positions
    const values = new Float32Array(data, 4 * (K + N), N); // (N) e at those positions
    const words = this.codeWords;
    words.fill(0);
    const tensors: CompressedTensor[] = this.table.slots.map((slot, t) => {
      const { mode, out, n } = slot;
      if (mode === 'dense-float32') return { mode, values: values.slice(out, out + n) };
      const codes = new Uint8Array(n);
      const { mean, lut } = quantize2bit(codes, values.subarray(out, out + n));
      // dequantize2bit's table: one float32 addition per bin.
      const m = Math.fround(mean);
      for (let b = 0; b < 4; b++) this.tableValues[4 * t + b] = Math.fround(lut[b] + m);
      for (let j = 0; j < n; j++) {
        const slotIndex = out + j;
        words[slotIndex >>> 4] |= codes[j] << ((slotIndex & 15) * 2);
      }
      if (mode === 'dense-quantized') return { mode, codes, mean, lut };
      return { mode, indices: indices.slice(out, out + n), codes, mean, lut };
    });
    return { chunkSize: this.config.chunkSize, topK: this.config.topK, tensors };
  }

  /** Overwrite e (restoring a checkpoint, tests). (P) */
  writeResidual(e: Float32Array): void {
    if (e.length !== this.paramCount) throw new RangeError(`residual has ${e.length} floats, expected ${this.paramCount}`);
    this.ctx.write(this.residual, e);
  }

  /** e as a dense array, for checkpoints and tests — not part of a round. (P) */
  readResidual(): Promise<Float32Array> {
    return this.ctx.readFloat32(this.residual, this.paramCount);
  }

  /** e ← 0 (a fresh replica, or one that diverged). */
  resetResidual(): void {
    const encoder = this.ctx.device.createCommandEncoder();
    encoder.clearBuffer(this.residual);
    this.ctx.device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    const dispatches = [this.topK, this.removeSent, ...(this.errorFeedback ? [this.errorFeedback.dispatch] : [])];
    this.ctx.release(dispatches);
    for (const b of [this.residual, this.chunks, this.selection, this.staging, this.codes, this.tables]) b.destroy();
  }
}
