// The compression step a volunteer runs at the end of every inner loop
// (SPEC §1 steps 3–5), behind a small interface so the CPU reference used now
// can be swapped for the GPU kernels (src/compress/sparseloco-gpu.ts) without
// touching the round logic. The compressor owns the error-feedback residual
// e (float32, zero at first use, kept across rounds, never sent).
//
// restore() exists because a submission can be refused after compression
// (late, the round moved on, the relay was down): what was "sent" never
// reached the aggregate, so it goes back into e, and EF keeps carrying it.
// Leaves out: the wire codec (the caller encodes), persistence of e (the
// tab's storage layer saves residual() between sessions).
import type { TensorManifest } from '../compress/manifest.ts';
import {
  compress,
  decompress,
  errorFeedback,
  removeSent,
  type CompressConfig,
  type CompressedUpdate,
} from '../compress/sparseloco.ts';

export interface RoundCompressor {
  /** Shown in logs ("cpu-reference", "gpu", …). */
  readonly name: string;
  /** e ← β·e + (θ_global − θ_local); C = Q(TopK(e)); e ← e − decode(C). Returns C. */
  compress(
    globalParams: Float32Array, // (P) θ the round started from
    localParams: Float32Array, // (P) θ after the inner steps
  ): Promise<CompressedUpdate>;
  /** e ← e + decode(C): an update the relay did not take goes back into the residual. */
  restore(update: CompressedUpdate): Promise<void>;
  /** A copy of e (P), for persistence and tests. */
  residual(): Promise<Float32Array>;
  destroy(): void;
}

/** The plain-TypeScript reference path (src/compress/sparseloco.ts). */
export class CpuRoundCompressor implements RoundCompressor {
  readonly name = 'cpu-reference';
  private readonly e: Float32Array; // (P) error-feedback residual

  constructor(
    paramCount: number, // P: the layout's size, padding included
    private readonly manifest: TensorManifest,
    private readonly config: CompressConfig,
    private readonly beta: number,
  ) {
    this.e = new Float32Array(paramCount);
  }

  async compress(globalParams: Float32Array, localParams: Float32Array): Promise<CompressedUpdate> {
    errorFeedback(this.e, globalParams, localParams, this.beta);
    const update = compress(this.e, this.manifest, this.config);
    removeSent(this.e, update, this.manifest);
    return update;
  }

  async restore(update: CompressedUpdate): Promise<void> {
    decompress(update, this.manifest).forEach((contribution, t) => {
      const base = this.manifest[t].offset;
      if (contribution.kind === 'dense') {
        for (let i = 0; i < contribution.values.length; i++) this.e[base + i] = Math.fround(this.e[base + i] + contribution.values[i]);
      } else {
        for (let j = 0; j < contribution.indices.length; j++) {
          const i = base + contribution.indices[j];
          this.e[i] = Math.fround(this.e[i] + contribution.values[j]);
        }
      }
    });
  }

  async residual(): Promise<Float32Array> {
    return this.e.slice();
  }

  /** Replaces e with a saved residual (a tab resuming from its checkpoint). */
  load(residual: Float32Array): void {
    if (residual.length !== this.e.length) throw new RangeError(`a residual of ${residual.length} floats does not fit ${this.e.length}`);
    this.e.set(residual);
  }

  destroy(): void {}
}
