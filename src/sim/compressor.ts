// The compressor a simulated SparseLoCo replica runs at the end of its inner
// loop (SPEC §1 steps 3–5): error feedback, chunked top-k + 2-bit quantization,
// and removal of what was sent from the residual. The simulator only sees the
// ReplicaCompressor interface, so the plain-TypeScript reference used here can
// be swapped for a GPU implementation without touching the round logic: the
// replica's end-of-round parameters are handed over as the GptGpu whose
// `params` buffer holds them, so a GPU compressor never needs a readback.
//
// Each compressor owns its replicas' EF residuals (float32, zero at first use,
// kept across rounds, never sent).
// Leaves out: the wire codec and aggregation (simulate.ts calls codec.ts and
// aggregate.ts on the returned update, exactly as a tab and the relay do).
import type { GptGpu } from '../model/gpt-gpu.ts';
import type { TensorManifest } from '../compress/manifest.ts';
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
   * e ← e − decode(C). θ_local is what `model.params` holds now. Returns C.
   */
  compress(replica: number, globalParams: Float32Array, model: GptGpu): Promise<CompressedUpdate>;
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

  async compress(replica: number, globalParams: Float32Array, model: GptGpu): Promise<CompressedUpdate> {
    const local = await model.readParams(); // (P)
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
