// The compression step a volunteer runs at the end of every inner loop
// (SPEC §1 steps 3–5), behind one interface with two implementations that
// give the same update bits and the same residual:
//   CpuRoundCompressor  the plain-TypeScript reference (src/compress/sparseloco.ts);
//                       reads θ_local back from the GPU first
//   GpuRoundCompressor  the WGSL kernels (src/compress/sparseloco-gpu.ts); e
//                       lives on the GPU and θ_local is read in place
// Which one a volunteer runs is measured per adapter (compression-path.ts).
// The compressor owns the error-feedback residual e (float32, zero at first
// use, kept across rounds, never sent).
//
// restore() exists because a submission can be refused after compression
// (late, the round moved on, the relay was down): what was "sent" never
// reached the aggregate, so it goes back into e, and EF keeps carrying it.
// Leaves out: the wire codec (the caller encodes), persistence of e (the
// tab's storage layer saves residual() between sessions and load()s it back).
import type { GpuContext } from '../gpu/runtime.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import { SparseLoCoGpu } from '../compress/sparseloco-gpu.ts';
import {
  compress,
  decompress,
  errorFeedback,
  removeSent,
  type CompressConfig,
  type CompressedUpdate,
} from '../compress/sparseloco.ts';
import type { LocalParams } from './trainer.ts';

export type CompressionPath = 'gpu' | 'cpu';

export interface RoundCompressor {
  readonly path: CompressionPath;
  /** e ← β·e + (θ_global − θ_local); C = Q(TopK(e)); e ← e − decode(C). Returns C. */
  compress(
    globalParams: Float32Array, // (P) θ the round started from
    local: LocalParams, // (P) θ after the inner steps
  ): Promise<CompressedUpdate>;
  /** e ← e + decode(C): an update the relay did not take goes back into the residual. */
  restore(update: CompressedUpdate): Promise<void>;
  /** A copy of e (P), for persistence and tests. */
  residual(): Promise<Float32Array>;
  /** Replaces e with a saved residual (a tab resuming from its checkpoint). (P) */
  load(residual: Float32Array): void;
  destroy(): void;
}

/** e += decode(update), float32 per element: restore()'s arithmetic, shared by both paths. */
function addBack(e: Float32Array, update: CompressedUpdate, manifest: TensorManifest): void {
  decompress(update, manifest).forEach((contribution, t) => {
    const base = manifest[t].offset;
    if (contribution.kind === 'dense') {
      for (let i = 0; i < contribution.values.length; i++) e[base + i] = Math.fround(e[base + i] + contribution.values[i]);
    } else {
      for (let j = 0; j < contribution.indices.length; j++) {
        const i = base + contribution.indices[j];
        e[i] = Math.fround(e[i] + contribution.values[j]);
      }
    }
  });
}

/** The plain-TypeScript reference path (src/compress/sparseloco.ts). */
export class CpuRoundCompressor implements RoundCompressor {
  readonly path = 'cpu';
  private readonly e: Float32Array; // (P) error-feedback residual

  constructor(
    paramCount: number, // P: the layout's size, padding included
    private readonly manifest: TensorManifest,
    private readonly config: CompressConfig,
    private readonly beta: number,
  ) {
    this.e = new Float32Array(paramCount);
  }

  async compress(globalParams: Float32Array, local: LocalParams): Promise<CompressedUpdate> {
    errorFeedback(this.e, globalParams, await local.read(), this.beta);
    const update = compress(this.e, this.manifest, this.config);
    removeSent(this.e, update, this.manifest);
    return update;
  }

  async restore(update: CompressedUpdate): Promise<void> {
    addBack(this.e, update, this.manifest);
  }

  async residual(): Promise<Float32Array> {
    return this.e.slice();
  }

  load(residual: Float32Array): void {
    if (residual.length !== this.e.length) throw new RangeError(`a residual of ${residual.length} floats does not fit ${this.e.length}`);
    this.e.set(residual);
  }

  destroy(): void {}
}

/**
 * SparseLoCoGpu as a round compressor. Per round the host uploads θ_global
 * (the trainer overwrote its copy on the GPU) and reads back only the
 * selection (~8 bytes per sent value). restore() is rare (a refusal): it
 * reads e back, adds on the host with the reference's arithmetic and writes
 * it again, so both paths give the same bits.
 */
export class GpuRoundCompressor implements RoundCompressor {
  readonly path = 'gpu';

  private constructor(
    private readonly ctx: GpuContext,
    private readonly sparseLoCo: SparseLoCoGpu,
    private readonly manifest: TensorManifest,
    private readonly globalParams: GPUBuffer, // (P) θ at the start of the round
    private localCopy: GPUBuffer | null, // (P) θ_local, only for a trainer that keeps it off the GPU
  ) {}

  static async create(ctx: GpuContext, paramCount: number, manifest: TensorManifest, config: CompressConfig, beta: number): Promise<GpuRoundCompressor> {
    const sparseLoCo = await SparseLoCoGpu.create(ctx, manifest, paramCount, { config, beta });
    try {
      const globalParams = await ctx.guardMemory('allocating the compressor\'s copy of θ', () => ctx.createBuffer('compressor.global-params', paramCount * 4));
      return new GpuRoundCompressor(ctx, sparseLoCo, manifest, globalParams, null);
    } catch (error) {
      sparseLoCo.destroy();
      throw error;
    }
  }

  async compress(globalParams: Float32Array, local: LocalParams): Promise<CompressedUpdate> {
    this.ctx.write(this.globalParams, globalParams);
    let localBuffer = local.gpuBuffer;
    if (!localBuffer) {
      this.localCopy ??= this.ctx.createBuffer('compressor.local-params', globalParams.byteLength);
      this.ctx.write(this.localCopy, await local.read());
      localBuffer = this.localCopy;
    }
    return this.sparseLoCo.compress(this.globalParams, localBuffer);
  }

  async restore(update: CompressedUpdate): Promise<void> {
    const e = await this.sparseLoCo.readResidual();
    addBack(e, update, this.manifest);
    this.sparseLoCo.writeResidual(e);
  }

  residual(): Promise<Float32Array> {
    return this.sparseLoCo.readResidual();
  }

  load(residual: Float32Array): void {
    this.sparseLoCo.writeResidual(residual);
  }

  destroy(): void {
    this.sparseLoCo.destroy();
    this.globalParams.destroy();
    this.localCopy?.destroy();
  }
}
