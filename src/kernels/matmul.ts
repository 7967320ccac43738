// Kernel descriptions and dispatch helpers for shaders/matmul.wgsl (tiled)
// and shaders/matmul-naive.wgsl (the baseline). Reference twin:
// src/reference/matmul.ts. Dimension letters: BT rows, C inputs, OC outputs.
import matmulSource from '../../shaders/matmul.wgsl?raw';
import naiveSource from '../../shaders/matmul-naive.wgsl?raw';
import { divUp, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

const TILE = 64; // output tile edge of matmul.wgsl

const tiled = (entryPoint: string): KernelSpec => ({
  name: entryPoint,
  file: 'matmul.wgsl',
  source: matmulSource,
  entryPoint,
  bindings: ['write', 'read', 'read', 'read', 'uniform'],
});

export const matmulForwardKernel = tiled('matmul_forward');
export const matmulBackwardInputKernel = tiled('matmul_backward_input');
export const matmulBackwardWeightKernel = tiled('matmul_backward_weight');
export const matmulBackwardBiasKernel = tiled('matmul_backward_bias');
export const matmulNaiveForwardKernel: KernelSpec = {
  name: 'matmul_naive_forward',
  file: 'matmul-naive.wgsl',
  source: naiveSource,
  entryPoint: 'matmul_naive_forward',
  bindings: ['write', 'read', 'read', 'read', 'uniform'],
};

export const matmulKernels: readonly KernelSpec[] = [
  matmulForwardKernel,
  matmulBackwardInputKernel,
  matmulBackwardWeightKernel,
  matmulBackwardBiasKernel,
  matmulNaiveForwardKernel,
];

export interface MatmulForwardBuffers {
  out: Binding; // (BT, OC)
  inp: Binding; // (BT, C)
  weight: Binding; // (OC, C)
  bias: Binding | null; // (OC)
}

/** out = inp · weightᵀ + bias. A bias of null binds `weight` in its place, unused. */
export function prepareMatmulForward(
  ctx: GpuContext,
  { out, inp, weight, bias }: MatmulForwardBuffers,
  BT: number,
  C: number,
  OC: number,
  kernel: KernelSpec = matmulForwardKernel,
): Promise<PreparedDispatch> {
  const workgroups: [number, number] =
    kernel === matmulNaiveForwardKernel ? [divUp(OC, 16), divUp(BT, 16)] : [divUp(OC, TILE), divUp(BT, TILE)];
  return ctx.prepare(kernel, [out, inp, weight, bias ?? weight], workgroups, [
    { u32: BT },
    { u32: OC },
    { u32: C },
    { u32: bias ? 1 : 0 },
  ]);
}

export interface MatmulBackwardBuffers {
  dinp: Binding | null; // (BT, C); null when the input needs no gradient (e.g. nothing upstream)
  dweight: Binding; // (OC, C)
  dbias: Binding | null; // (OC)
  dout: Binding; // (BT, OC)
  inp: Binding; // (BT, C)
  weight: Binding; // (OC, C)
}

/** dinp += dout · weight; dweight += doutᵀ · inp; dbias += Σ_bt dout. */
export async function prepareMatmulBackward(
  ctx: GpuContext,
  { dinp, dweight, dbias, dout, inp, weight }: MatmulBackwardBuffers,
  BT: number,
  C: number,
  OC: number,
): Promise<PreparedDispatch[]> {
  const dispatches: Promise<PreparedDispatch>[] = [];
  if (dinp) {
    dispatches.push(
      ctx.prepare(matmulBackwardInputKernel, [dinp, dout, weight, weight], [divUp(C, TILE), divUp(BT, TILE)], [
        { u32: BT },
        { u32: C },
        { u32: OC },
        { u32: 0 },
      ]),
    );
  }
  dispatches.push(
    ctx.prepare(matmulBackwardWeightKernel, [dweight, dout, inp, inp], [divUp(C, TILE), divUp(OC, TILE)], [
      { u32: OC },
      { u32: C },
      { u32: BT },
      { u32: 0 },
    ]),
  );
  if (dbias) {
    dispatches.push(
      ctx.prepare(matmulBackwardBiasKernel, [dbias, dout, dout, dout], [divUp(OC, 64)], [
        { u32: BT },
        { u32: OC },
        { u32: 0 },
        { u32: 0 },
      ]),
    );
  }
  return Promise.all(dispatches);
}
