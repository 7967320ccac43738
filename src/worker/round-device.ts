// The GPU side of a swarm session, behind one small interface (RoundDevice)
// so the round loop can run in tier-1 tests without a GPU: the adapter's
// facts, its loss, and the trainer and compressor built on it.
//
// gpuRoundDevice is the real one, on the tab's device (tab-device.ts):
//   createTrainer      compile the kernels for the run's model shape
//                      (compile-kernels.ts: variants, tile search or its
//                      cached pick), build the GPU model with the run's
//                      inner-loop settings, paced
//   createCompressor   GPU or CPU compression, whichever measured faster on
//                      this adapter for this model size: measured once
//                      (src/swarm/compression-path.ts) and kept in the
//                      settings by adapter identity; a GPU compressor that
//                      cannot be built falls back to the CPU
// Leaves out: the round loop (swarm-run.ts).
import type { TensorManifest } from '../compress/manifest.ts';
import { adapterIdentity, type AdapterSummary } from '../gpu/device.ts';
import type { DeviceLostError } from '../gpu/errors.ts';
import { getSetting, setSetting, type TesseraDatabase } from '../storage/index.ts';
import { createRoundCompressor, measureCompressionPaths } from '../swarm/compression-path.ts';
import type { RoundCompressor } from '../swarm/compressor.ts';
import { gptConfigOf, type SwarmRunInfo } from '../protocol/index.ts';
import { GpuTrainer, type LocalTrainer, type Pace } from '../swarm/trainer.ts';
import { compileKernels } from './compile-kernels.ts';
import type { CompressionChoice } from './protocol.ts';
import type { SessionControl } from './session-control.ts';
import type { DeviceLease, TabDevice } from './tab-device.ts';

export interface RoundDevice {
  readonly adapter: AdapterSummary;
  /** Calls listener if the device is lost; returns the unsubscribe function. */
  onLost(listener: (error: DeviceLostError) => void): () => void;
  createTrainer(info: SwarmRunInfo, data: Uint8Array, pace: Pace): Promise<LocalTrainer>;
  createCompressor(info: SwarmRunInfo, manifest: TensorManifest, paramCount: number): Promise<{ compressor: RoundCompressor; choice: CompressionChoice }>;
}

export async function gpuRoundDevice(device: TabDevice, control: SessionControl, db: TesseraDatabase | null): Promise<RoundDevice> {
  const { gpu, ctx }: DeviceLease = await device.acquire();
  return {
    adapter: gpu.adapter,
    onLost: (listener) => device.onLost(listener),
    async createTrainer(info, data, pace) {
      const { batchSize, seqLen } = info.swarm.train;
      const training = await compileKernels(ctx, control, { BT: batchSize * seqLen, C: gptConfigOf(info.swarm).nEmbd }, db);
      control.progress('allocating-model', null);
      return GpuTrainer.create(training, info.swarm, data, { pace });
    },
    async createCompressor(info, manifest, paramCount) {
      const { compression, errorFeedbackBeta } = info.swarm;
      const key = `${adapterIdentity(gpu.adapter)} P=${paramCount}`;
      const kept = db ? await getSetting(db, 'compressionPaths').catch(() => ({}) as Record<string, never>) : {};
      let measured = kept[key] ?? null;
      if (!measured) {
        control.progress('measuring-compression', null, 'GPU and CPU, once on this GPU');
        const measurement = await measureCompressionPaths(ctx, manifest, paramCount, compression, errorFeedbackBeta);
        measured = { path: measurement.path, reason: measurement.reason, gpuMs: measurement.gpuMs, cpuMs: measurement.cpuMs, measuredAt: measurement.measuredAt };
        // Kept for the next visit; a failed write only means measuring again then.
        if (db) await setSetting(db, 'compressionPaths', { ...kept, [key]: measured }).catch((error: unknown) => control.report(error, false));
      }
      const { compressor, problem } = await createRoundCompressor(measured.path, ctx, manifest, paramCount, compression, errorFeedbackBeta);
      return { compressor, choice: { path: compressor.path, reason: problem ?? measured.reason, gpuMs: measured.gpuMs, cpuMs: measured.cpuMs } };
    },
  };
}
