// Kernel descriptions and dispatch helpers for shaders/encoder.wgsl: token +
// position embedding and its backward (accumulating, deterministic: one
// workgroup per output row, see the shader's header). Reference twin:
// src/reference/encoder.ts. Token ids are u32 (B, T).
import source from '../../shaders/encoder.wgsl?raw';
import type { Binding, GpuContext, KernelSpec, PreparedDispatch } from '../gpu/runtime.ts';
import { ELEMENTWISE_WORKGROUP_SIZE, linearWorkgroups } from './fill.ts';

export const encoderForwardKernel: KernelSpec = {
  name: 'encoder_forward',
  file: 'encoder.wgsl',
  source,
  entryPoint: 'encoder_forward',
  bindings: ['write', 'read', 'read', 'read', 'uniform'],
};

export const encoderBackwardKernel: KernelSpec = {
  name: 'encoder_backward',
  file: 'encoder.wgsl',
  source,
  entryPoint: 'encoder_backward',
  bindings: ['write', 'write', 'read', 'read', 'uniform'],
};

export const encoderKernels: readonly KernelSpec[] = [encoderForwardKernel, encoderBackwardKernel];

export interface EncoderForwardBuffers {
  out: Binding; // (B, T, C)
  inp: Binding; // (B, T) u32 token ids < V
  wte: Binding; // (V, C)
  wpe: Binding; // (maxT, C), maxT ≥ T
}

export interface EncoderBackwardBuffers {
  dwte: Binding; // (V, C), accumulated
  dwpe: Binding; // (maxT, C), accumulated (rows ≥ T untouched)
  dout: Binding; // (B, T, C)
  inp: Binding; // (B, T) u32 token ids < V
}

function checkDims(what: string, dims: Record<string, number>): void {
  for (const [name, value] of Object.entries(dims)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what}: ${name} = ${value} must be a positive integer`);
  }
}

/** out[b,t,:] = wte[inp[b,t],:] + wpe[t,:]. */
export function prepareEncoderForward(
  ctx: GpuContext,
  { out, inp, wte, wpe }: EncoderForwardBuffers,
  B: number,
  T: number,
  C: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  checkDims('encoder_forward', { B, T, C });
  return ctx.prepare(
    encoderForwardKernel,
    [out, inp, wte, wpe],
    linearWorkgroups(B * T * C, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX),
    [{ u32: B }, { u32: T }, { u32: C }],
  );
}

/** dwte[inp[b,t],:] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:]. V is the vocabulary size (rows of dwte). */
export function prepareEncoderBackward(
  ctx: GpuContext,
  { dwte, dwpe, dout, inp }: EncoderBackwardBuffers,
  B: number,
  T: number,
  C: number,
  V: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  checkDims('encoder_backward', { B, T, C, V });
  // One workgroup per row of dwte (V) and of dwpe (T).
  return ctx.prepare(encoderBackwardKernel, [dwte, dwpe, dout, inp], linearWorkgroups(V + T, 1, maxWorkgroupsX), [
    { u32: B },
    { u32: T },
    { u32: C },
    { u32: V },
  ]);
}
