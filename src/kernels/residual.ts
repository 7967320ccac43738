// Kernel descriptions and dispatch helpers for shaders/residual.wgsl: the
// residual add and its backward (accumulating). Reference twin:
// src/reference/residual.ts. Dimension letters: N = B*T*C elements.
import source from '../../shaders/residual.wgsl?raw';
import { ELEMENTWISE_WORKGROUP_SIZE, workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

const constants = { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP_SIZE };

export const residualForwardKernel: KernelSpec = {
  name: 'residual_forward',
  file: 'residual.wgsl',
  source,
  entryPoint: 'residual_forward',
  bindings: ['write', 'read', 'read', 'uniform'],
  constants,
};

export const residualBackwardKernel: KernelSpec = {
  name: 'residual_backward',
  file: 'residual.wgsl',
  source,
  entryPoint: 'residual_backward',
  bindings: ['write', 'write', 'read', 'uniform'],
  constants,
};

export const residualKernels: readonly KernelSpec[] = [residualForwardKernel, residualBackwardKernel];

export interface ResidualForwardBuffers {
  out: Binding; // (N)
  inp1: Binding; // (N)
  inp2: Binding; // (N)
}

export interface ResidualBackwardBuffers {
  dinp1: Binding; // (N), accumulated; must not alias dinp2
  dinp2: Binding; // (N), accumulated
  dout: Binding; // (N)
}

/** out = inp1 + inp2. */
export function prepareResidualForward(
  ctx: GpuContext,
  { out, inp1, inp2 }: ResidualForwardBuffers,
  N: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  return ctx.prepare(residualForwardKernel, [out, inp1, inp2], workgroupGrid(N, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: N },
  ]);
}

/** dinp1 += dout; dinp2 += dout. */
export function prepareResidualBackward(
  ctx: GpuContext,
  { dinp1, dinp2, dout }: ResidualBackwardBuffers,
  N: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  return ctx.prepare(residualBackwardKernel, [dinp1, dinp2, dout], workgroupGrid(N, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: N },
  ]);
}
