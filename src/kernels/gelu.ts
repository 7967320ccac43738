// Kernel descriptions and dispatch helpers for shaders/gelu.wgsl: GELU (tanh
// approximation, as in GPT-2 and llm.c) and its backward (accumulating).
// Reference twin: src/reference/gelu.ts. Dimension letters: N elements
// (B*T*4C in the MLP).
import source from '../../shaders/gelu.wgsl?raw';
import type { Binding, GpuContext, KernelSpec, PreparedDispatch } from '../gpu/runtime.ts';
import { ELEMENTWISE_WORKGROUP_SIZE, linearWorkgroups } from './fill.ts';

export const geluForwardKernel: KernelSpec = {
  name: 'gelu_forward',
  file: 'gelu.wgsl',
  source,
  entryPoint: 'gelu_forward',
  bindings: ['write', 'read', 'uniform'],
};

export const geluBackwardKernel: KernelSpec = {
  name: 'gelu_backward',
  file: 'gelu.wgsl',
  source,
  entryPoint: 'gelu_backward',
  bindings: ['write', 'read', 'read', 'uniform'],
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
  return ctx.prepare(geluForwardKernel, [out, inp], linearWorkgroups(N, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [{ u32: N }]);
}

/** dinp += gelu'(inp) · dout. */
export function prepareGeluBackward(
  ctx: GpuContext,
  { dinp, inp, dout }: GeluBackwardBuffers,
  N: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  return ctx.prepare(geluBackwardKernel, [dinp, inp, dout], linearWorkgroups(N, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: N },
  ]);
}
