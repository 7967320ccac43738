// The compressor a simulated SparseLoCo replica runs at the end of its inner
// loop (SPEC §1 steps 3–5): error feedback, chunked top-k + 2-bit quantization,
// and removal of what was sent from the residual. The simulator only sees the
// ReplicaCompressor interface, so the plain-TypeScript reference used here can
// be swapped for a GPU implementation without touching the round logic: the
// replica's end-of-round parameters are handed over as the engine that holds
// them (engine.ts), so a GPU compressor on the GPU engine reads them from the
// model's `params` buffer without a readback.
//
// Each compressor owns its replicas' EF residuals (float32, zero at first use,
// kept across rounds, never sent). Two implementations:
//   CpuReplicaCompressor  the plain-TypeScript reference (sparseloco.ts)
//   GpuReplicaCompressor  SparseLoCoGpu (sparseloco-gpu.ts): one GPU residual
//                         buffer, each replica's residual swapped in and out
//                         through the CPU like the simulator's AdamW moments
// Both must give the same update bits (sparseloco-gpu.ts says so and
// tests/gpu/sim.test.ts checks it over whole runs).
// Leaves out: the wire codec and aggregation (simulate.ts calls codec.ts and
// aggregate.ts on the returned update, exactly as a tab and the relay do).
import type { GpuContext } from '../gpu/runtime.ts';
import { SparseLoCoGpu } from '../compress/sparseloco-gpu.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import { GpuReplicaEngine, type ReplicaEngine } from './engine.ts';
import {
  DEFAULT_EF_BETA,
  compress,
  errorFeedback,
  removeSent,
  type CompressConfig,
  type CompressedUpdate,
} from '../compress/sparseloco.ts';

export interface ReplicaCompressor {
  /** Shown in the simulator's output ("cpu-reference", "gpu", …). */
  readonly name: string;
  /**
   * Steps 3–5 for `replica`: e ← β·e + (θ_global − θ_local); C = Q(TopK(e));
   * e ← e − decode(C). θ_local is what the engine holds now. Returns C.
   */
  compress(replica: number, globalParams: Float32Array, engine: ReplicaEngine): Promise<CompressedUpdate>;
  /** Frees whatever the compressor holds (GPU buffers, residuals). */
  destroy(): void;
}

/** The reference path: reads θ_local back and runs src/compress/sparseloco.ts on the CPU. */
export class CpuReplicaCompressor implements ReplicaCompressor {
  readonly name = 'cpu-reference';
  private readonly residuals = new Map<number, Float32Array>(); // replica → (P) EF residual

  constructor(
    private readonly manifest: TensorManifest,
    private readonly config: CompressConfig,
    private readonly beta: number = DEFAULT_EF_BETA,
  ) {}

  async compress(replica: number, globalParams: Float32Array, engine: ReplicaEngine): Promise<CompressedUpdate> {
    const local = await engine.readLocalParams(); // (P)
    let residual = this.residuals.get(replica);
    if (!residual) {
      residual = new Float32Array(globalParams.length);
      this.residuals.set(replica, residual);
    }
    errorFeedback(residual, globalParams, local, this.beta);
    const update = compress(residual, this.manifest, this.config);
    removeSent(residual, update, this.manifest);
    return update;
  }

  /** A copy of one replica's residual (tests, diagnostics). */
  residual(replica: number): Float32Array | undefined {
    return this.residuals.get(replica)?.slice();
  }

  destroy(): void {
    this.residuals.clear();
  }
}

/** SparseLoCoGpu behind the same interface: e stays on the GPU during a compression. */
export class GpuReplicaCompressor implements ReplicaCompressor {
  readonly name = 'gpu';
  private readonly residuals = new Map<number, Float32Array>(); // replica → (P) EF residual while swapped out
  private resident = -1; // replica whose residual the GPU buffer holds; −1: none (buffer is zero)

  private constructor(
    private readonly ctx: GpuContext,
    private readonly compressor: SparseLoCoGpu,
    private readonly globalParams: GPUBuffer, // (P) θ at the start of the round
  ) {}

  static async create(
    ctx: GpuContext,
    manifest: TensorManifest,
    paramCount: number, // P: floats of the flat parameter buffer (layout.size)
    config: CompressConfig,
    beta: number = DEFAULT_EF_BETA,
  ): Promise<GpuReplicaCompressor> {
    const compressor = await SparseLoCoGpu.create(ctx, manifest, paramCount, { config, beta });
    return new GpuReplicaCompressor(ctx, compressor, ctx.createBuffer('sim.global-params', paramCount * 4));
  }

  async compress(replica: number, globalParams: Float32Array, engine: ReplicaEngine): Promise<CompressedUpdate> {
    if (!(engine instanceof GpuReplicaEngine)) throw new RangeError('the gpu compressor runs on the gpu engine only');
    if (this.resident !== replica) {
      if (this.resident >= 0) this.residuals.set(this.resident, await this.compressor.readResidual());
      const saved = this.residuals.get(replica);
      if (saved) this.compressor.writeResidual(saved);
      else this.compressor.resetResidual();
      this.resident = replica;
    }
    this.ctx.write(this.globalParams, globalParams);
    return this.compressor.compress(this.globalParams, engine.model.params);
  }

  /** A copy of one replica's residual (tests, diagnostics). */
  async residual(replica: number): Promise<Float32Array | undefined> {
    if (replica === this.resident) return this.compressor.readResidual();
    return this.residuals.get(replica)?.slice();
  }

  destroy(): void {
    this.compressor.destroy();
    this.globalParams.destroy();
    this.residuals.clear();
  }
}
