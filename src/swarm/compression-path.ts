// Which compressor a volunteer runs on this adapter, GPU or CPU, decided by
// measuring both once (issue #15: the CPU path is the fallback where it is
// faster, as on a software adapter, or where the GPU path fails).
//
// The measurement runs what a round costs on each path, from the same
// synthetic round (θ_global, and θ_local on the GPU as a trainer leaves it):
//   gpu  upload θ_global, then SparseLoCoGpu (EF, top-k, read back the
//        selection, quantize, remove sent)
//   cpu  read θ_local back, then the reference (EF, radix top-k, quantize,
//        remove sent)
// one warm-up round each — whose payloads must be byte-identical, else the
// GPU path counts as failed — then the median of `rounds` timed rounds.
// Rule (pickCompressionPath): the faster path; a tie goes to the GPU, which
// leaves the CPU to the page. The tab keeps the result in its settings,
// keyed by adapter identity and model size, so it measures once per adapter
// and model; the headless volunteer measures at every start.
// Leaves out: where the result is kept (the caller), re-measuring when a
// browser update changes a driver (clearing local data forgets it).
import { encodeUpdate } from '../compress/codec.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import type { CompressConfig } from '../compress/sparseloco.ts';
import { adapterIdentity } from '../gpu/device.ts';
import type { GpuContext } from '../gpu/runtime.ts';
import { mulberry32 } from '../model/random.ts';
import { CpuRoundCompressor, GpuRoundCompressor, type CompressionPath, type RoundCompressor } from './compressor.ts';
import type { LocalParams } from './trainer.ts';

export interface CompressionMeasurement {
  adapter: string; // adapterIdentity()
  parameterCount: number; // P of the model measured
  gpuMs: number | null; // median ms per round; null when the GPU path failed
  cpuMs: number;
  path: CompressionPath;
  reason: string; // why this path, in words (shown on the dashboard)
  measuredAt: number; // ms since the epoch
}

/** The rule: the faster path; equal times go to the GPU. */
export function pickCompressionPath(gpuMs: number | null, cpuMs: number): CompressionPath {
  return gpuMs !== null && gpuMs <= cpuMs ? 'gpu' : 'cpu';
}

/** Median of a few timings (ms). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

export interface MeasureOptions {
  /** Timed rounds per path after the warm-up (default 3). */
  rounds?: number;
  now?: () => number;
}

/** Measures both paths on a synthetic round of this model's size; never throws for a failing GPU path. */
export async function measureCompressionPaths(
  ctx: GpuContext,
  manifest: TensorManifest,
  paramCount: number, // P
  config: CompressConfig,
  beta: number,
  options: MeasureOptions = {},
): Promise<CompressionMeasurement> {
  const rounds = options.rounds ?? 3;
  const random = mulberry32(0x5eed);
  const global = Float32Array.from({ length: paramCount }, () => 0.02 * (random() * 2 - 1)); // (P) θ_global
  const localHost = global.map((v) => v - 1e-3 * (random() * 2 - 1)); // (P) θ_local after a round
  const localBuffer = ctx.upload('measure.local-params', localHost);
  const local: LocalParams = { read: () => ctx.readFloat32(localBuffer, paramCount), gpuBuffer: localBuffer };
  const timeRound = async (compressor: RoundCompressor): Promise<number> => {
    const started = performance.now();
    await compressor.compress(global, local);
    return performance.now() - started;
  };
  try {
    const cpu = new CpuRoundCompressor(paramCount, manifest, config, beta);
    const cpuPayload = encodeUpdate(await cpu.compress(global, local), manifest, config);
    const cpuTimes: number[] = [];
    for (let i = 0; i < rounds; i++) cpuTimes.push(await timeRound(cpu));
    const cpuMs = median(cpuTimes);

    let gpuMs: number | null = null;
    let failure: string | null = null;
    let gpu: GpuRoundCompressor | null = null;
    try {
      gpu = await GpuRoundCompressor.create(ctx, paramCount, manifest, config, beta);
      const gpuPayload = encodeUpdate(await gpu.compress(global, local), manifest, config);
      if (gpuPayload.length !== cpuPayload.length || gpuPayload.some((byte, i) => byte !== cpuPayload[i])) {
        failure = 'the GPU path gave other bytes than the reference';
      } else {
        const gpuTimes: number[] = [];
        for (let i = 0; i < rounds; i++) gpuTimes.push(await timeRound(gpu));
        gpuMs = median(gpuTimes);
      }
    } catch (error) {
      failure = `the GPU path failed: ${(error as Error).message}`;
    } finally {
      gpu?.destroy();
    }
    const path = pickCompressionPath(gpuMs, cpuMs);
    const reason =
      failure ?? `${path === 'gpu' ? 'the GPU' : 'the CPU'} is faster here (${gpuMs!.toFixed(1)} ms on the GPU, ${cpuMs.toFixed(1)} ms on the CPU per round)`;
    return { adapter: adapterIdentity(ctx.gpu.adapter), parameterCount: paramCount, gpuMs, cpuMs, path, reason, measuredAt: (options.now ?? Date.now)() };
  } finally {
    localBuffer.destroy();
  }
}

/**
 * The compressor of the chosen path. A GPU compressor that cannot be built
 * (out of memory, an adapter that refuses the kernels) falls back to the CPU,
 * which gives the same bytes; `problem` then says why.
 */
export async function createRoundCompressor(
  path: CompressionPath,
  ctx: GpuContext,
  manifest: TensorManifest,
  paramCount: number,
  config: CompressConfig,
  beta: number,
): Promise<{ compressor: RoundCompressor; problem: string | null }> {
  let problem: string | null = null;
  if (path === 'gpu') {
    try {
      return { compressor: await GpuRoundCompressor.create(ctx, paramCount, manifest, config, beta), problem };
    } catch (error) {
      problem = `the GPU compressor could not be built (${(error as Error).message}); compressing on the CPU`;
    }
  }
  return { compressor: new CpuRoundCompressor(paramCount, manifest, config, beta), problem };
}
