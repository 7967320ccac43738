// The explicit lists of Tessera's WGSL kernels (tfjs-backend-webgpu style).
// Adding an op: one shader in shaders/, one description in
// src/kernels/<op>.ts, one line here, one test.
//
// Three lists, each as a given context compiles it (its KernelChoices pick
// the subgroup or plain reductions and the matmul tile):
//   trainingKernels  what a training step dispatches (src/model/gpt-gpu.ts);
//   tabKernels       what a tab compiles: training, plus SparseLoCo's kernels
//                    where the tab compresses on the GPU;
//   allKernels       everything in the tree, for tests and benches: also the
//                    naive matmul baseline and fill/scale, which no tab runs.
// Leaves out: compiling them (GpuContext.compile; the tab's start-up is
// src/kernels/tab-kernels.ts).
import type { GpuContext, KernelSpec } from '../gpu/runtime.ts';
import { adamwKernels } from './adamw.ts';
import { attentionKernels } from './attention.ts';
import { crossentropyKernels } from './crossentropy.ts';
import { encoderKernels } from './encoder.ts';
import { fillKernels } from './fill.ts';
import { geluKernels } from './gelu.ts';
import { gradNormKernels } from './grad-norm.ts';
import { layernormKernels } from './layernorm.ts';
import { matmulKernels, matmulNaiveForwardKernel } from './matmul.ts';
import { residualKernels } from './residual.ts';
import { sparselocoKernels } from './sparseloco.ts';

/** The kernels one training step dispatches (forward, backward, grad norm, AdamW). */
export function trainingKernels(ctx: GpuContext): KernelSpec[] {
  const layernorm = layernormKernels(ctx);
  const matmul = matmulKernels(ctx);
  const crossentropy = crossentropyKernels(ctx);
  const gradNorm = gradNormKernels(ctx);
  return [
    ...encoderKernels,
    layernorm.forward,
    layernorm.backwardDinp,
    layernorm.backwardPartials,
    layernorm.backwardReduce,
    matmul.forward,
    matmul.backwardInput,
    matmul.backwardWeight,
    matmul.backwardBias,
    ...attentionKernels,
    ...geluKernels,
    ...residualKernels,
    crossentropy.forward,
    crossentropy.backward,
    crossentropy.lossMean,
    gradNorm.partial,
    gradNorm.final,
    ...adamwKernels,
  ];
}

export interface TabKernelSet {
  /** The tab runs SparseLoCo's error feedback, top-k and residual update on the GPU. */
  gpuCompression?: boolean;
}

/** What a tab compiles: only the kernels it dispatches. */
export function tabKernels(ctx: GpuContext, { gpuCompression = false }: TabKernelSet = {}): KernelSpec[] {
  return [...trainingKernels(ctx), ...(gpuCompression ? sparselocoKernels : [])];
}

/** Every kernel in the tree under this context's choices (tests and benches). */
export function allKernels(ctx: GpuContext): KernelSpec[] {
  return [...tabKernels(ctx, { gpuCompression: true }), matmulNaiveForwardKernel, ...fillKernels];
}
