// Kernel descriptions and dispatch helpers for shaders/layernorm.wgsl:
// LayerNorm over C (eps 1e-5) and its backward (accumulating, deterministic:
// dweight/dbias by fixed-order column reductions, see the shader's header).
// Reference twin: src/reference/layernorm.ts.
import source from '../../shaders/layernorm.wgsl?raw';
import { divUp, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';
import { linearWorkgroups } from './fill.ts';

const COLUMN_TILE = 32; // columns per dweight/dbias workgroup in layernorm_backward

export const layernormForwardKernel: KernelSpec = {
  name: 'layernorm_forward',
  file: 'layernorm.wgsl',
  source,
  entryPoint: 'layernorm_forward',
  bindings: ['write', 'write', 'write', 'read', 'read', 'read', 'uniform'],
};

export const layernormBackwardKernel: KernelSpec = {
  name: 'layernorm_backward',
  file: 'layernorm.wgsl',
  source,
  entryPoint: 'layernorm_backward',
  bindings: ['write', 'write', 'write', 'read', 'read', 'read', 'read', 'read', 'uniform'],
};

export const layernormKernels: readonly KernelSpec[] = [layernormForwardKernel, layernormBackwardKernel];

export interface LayernormForwardBuffers {
  out: Binding; // (B, T, C)
  mean: Binding; // (B, T), kept for backward
  rstd: Binding; // (B, T), kept for backward
  inp: Binding; // (B, T, C)
  weight: Binding; // (C)
  bias: Binding; // (C)
}

export interface LayernormBackwardBuffers {
  dinp: Binding; // (B, T, C), accumulated
  dweight: Binding; // (C), accumulated
  dbias: Binding; // (C), accumulated
  dout: Binding; // (B, T, C)
  inp: Binding; // (B, T, C)
  weight: Binding; // (C)
  mean: Binding; // (B, T) from the forward
  rstd: Binding; // (B, T) from the forward
}

function checkDims(what: string, dims: Record<string, number>): void {
  for (const [name, value] of Object.entries(dims)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what}: ${name} = ${value} must be a positive integer`);
  }
}

/** out = (inp − mean) · rstd · weight + bias per row; writes mean and rstd. One workgroup per row. */
export function prepareLayernormForward(
  ctx: GpuContext,
  { out, mean, rstd, inp, weight, bias }: LayernormForwardBuffers,
  B: number,
  T: number,
  C: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  checkDims('layernorm_forward', { B, T, C });
  return ctx.prepare(layernormForwardKernel, [out, mean, rstd, inp, weight, bias], linearWorkgroups(B * T, 1, maxWorkgroupsX), [
    { u32: B * T },
    { u32: C },
  ]);
}

/** dinp, dweight, dbias += the LayerNorm gradient. One workgroup per row plus one per 32 columns. */
export function prepareLayernormBackward(
  ctx: GpuContext,
  { dinp, dweight, dbias, dout, inp, weight, mean, rstd }: LayernormBackwardBuffers,
  B: number,
  T: number,
  C: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  checkDims('layernorm_backward', { B, T, C });
  return ctx.prepare(
    layernormBackwardKernel,
    [dinp, dweight, dbias, dout, inp, weight, mean, rstd],
    linearWorkgroups(B * T + divUp(C, COLUMN_TILE), 1, maxWorkgroupsX),
    [{ u32: B * T }, { u32: C }],
  );
}
