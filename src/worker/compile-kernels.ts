// The one place a Worker session compiles the tab's kernels, with progress for
// the page: src/kernels/tab-kernels.ts picks the variants for this device (the
// matmul tile from the IndexedDB cache, or a bounded search at the first start
// on this GPU) and compiles only what training dispatches, in parallel. The
// returned context shares the device's pipeline cache, so what the self-test
// (tab-device.ts) or the compression measurement already compiled is reused.
// Leaves out: which kernels exist (src/kernels/index.ts).
import type { GpuContext } from '../gpu/runtime.ts';
import { prepareTabKernels } from '../kernels/tab-kernels.ts';
import { kernelTuningCache, type TesseraDatabase } from '../storage/index.ts';
import type { SessionControl } from './session-control.ts';

/** The tab's training context: `ctx`'s pipeline cache with the variants chosen for the model shape (B·T, C). */
export async function compileKernels(ctx: GpuContext, control: SessionControl, shape: { BT: number; C: number }, db: TesseraDatabase | null): Promise<GpuContext> {
  control.progress('compiling-shaders', 0);
  const kernels = await prepareTabKernels(ctx, {
    shape,
    cache: kernelTuningCache(db),
    onProgress: ({ done, total, detail }) => control.progress('compiling-shaders', done / total, detail),
  });
  // The tile cache is an optimisation: the tab trains without it, and says so.
  if (kernels.cacheError) control.report(new Error(kernels.cacheError), false);
  return kernels.ctx;
}
