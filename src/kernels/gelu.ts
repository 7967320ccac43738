// Kernel descriptions and dispatch helpers for shaders/gelu.wgsl: GELU (tanh
// approximation, as in GPT-2 and llm.c) and its backward (accumulating).
// Reference twin: src/reference/gelu.ts. Dimension letters: N elements
// (B*T*4C in the MLP).
import source from '../../shaders/gelu.wgsl?raw';
import { ELEMENTWISE_WORKGROUP_SIZE, workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

const constants = { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP_SIZE };

export const geluForwardKernel: KernelSpec = {
  name: 'gelu_forward',
  file: 'gelu.wgsl',
  source,
  entryPoint: 'gelu_forward',
  bindings: ['write', 'read', 'uniform'],
  constants,
};

export const geluBackwardKernel: KernelSpec = {
  name: 'gelu_backward',
  file: 'gelu.wgsl',
  source,
  entryPoint: 'gelu_backward',
  bindings: ['write', 'read', 'read', 'uniform'],
  constants,
};

export const geluKernels: readonly KernelSpec[] = [geluForwardKernel, geluBackwardKernel];

export interface GeluForwardBuffers {
  out: Binding; // (N)
  inp: Binding; // (N)
}

export interface GeluBackwardBuffers {
  dinp: Binding; // (N), accumulated
  inp: Binding; // (N), the forward input
  dout: Binding; // (N)
}

/** out = gelu(inp). */
export function prepareGeluForward(
  ctx: GpuContext,
  { out, inp }: GeluForwardBuffers,
  N: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  return ctx.prepare(geluForwardKernel, [out, inp], workgroupGrid(N, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [{ u32: N }]);
}

/** dinp += gelu'(inp) · dout. */
export function prepareGeluBackward(
  ctx: GpuContext,
  { dinp, inp, dout }: GeluBackwardBuffers,
  N: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  return ctx.prepare(geluBackwardKernel, [dinp, inp, dout], workgroupGrid(N, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: N },
  ]);
}
