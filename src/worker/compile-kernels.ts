// The one place a Worker session compiles the tab's kernels (warming the
// device's pipeline cache before the first step), with progress for the page.
// Both sessions call it, so switching to a narrower or asynchronous compile
// (issue #15: only the kernels a tab runs) changes this one function.
// Leaves out: which kernels exist (src/kernels/index.ts).
import type { GpuContext } from '../gpu/runtime.ts';
import { compileAll } from '../kernels/index.ts';
import type { SessionControl } from './session-control.ts';

export async function compileKernels(ctx: GpuContext, control: SessionControl): Promise<void> {
  control.progress('compiling-shaders', 0);
  await compileAll(ctx, (done, total) => control.progress('compiling-shaders', done / total, `${done} of ${total} kernels`));
}
