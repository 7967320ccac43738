// The one explicit list of every WGSL kernel Tessera runs (tfjs-backend-webgpu
// style). Adding an op: one shader in shaders/, one description in
// src/kernels/<op>.ts, one line here, one test. `compileAll` warms the
// pipeline cache up front (the app shows it as "compiling shaders").
import type { GpuContext, KernelSpec } from '../gpu/runtime.ts';
import { adamwKernels } from './adamw.ts';
import { attentionKernels } from './attention.ts';
import { crossentropyKernels } from './crossentropy.ts';
import { encoderKernels } from './encoder.ts';
import { fillKernels } from './fill.ts';
import { geluKernels } from './gelu.ts';
import { gradNormKernels } from './grad-norm.ts';
import { layernormKernels } from './layernorm.ts';
import { matmulKernels } from './matmul.ts';
import { residualKernels } from './residual.ts';
import { sparselocoKernels } from './sparseloco.ts';

export const ALL_KERNELS: readonly KernelSpec[] = [
  ...encoderKernels,
  ...layernormKernels,
  ...matmulKernels,
  ...attentionKernels,
  ...geluKernels,
  ...residualKernels,
  ...crossentropyKernels,
  ...gradNormKernels,
  ...adamwKernels,
  ...fillKernels,
  ...sparselocoKernels,
];

/** Compile every kernel's pipeline; reports progress as (done, total). */
export async function compileAll(ctx: GpuContext, onProgress?: (done: number, total: number) => void): Promise<void> {
  let done = 0;
  await Promise.all(
    ALL_KERNELS.map(async (kernel) => {
      await ctx.pipeline(kernel);
      onProgress?.(++done, ALL_KERNELS.length);
    }),
  );
}
