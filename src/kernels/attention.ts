// Kernel descriptions and dispatch helpers for shaders/attention.wgsl: causal
// multi-head self-attention, forward and backward (llm.c layout: inp holds
// [q | k | v] per position, preatt and att are kept for backward). Forward and
// backward are two dispatches each, to be run in order. Reference twin:
// src/reference/attention.ts. Dimension letters: B batch, T positions,
// C channels, NH heads (head size hs = C / NH).
import source from '../../shaders/attention.wgsl?raw';
import { GpuValidationError } from '../gpu/errors.ts';
import { workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

/** Invocations per workgroup; no barriers, so only occupancy cares (64: two NVIDIA warps, one AMD wave64). */
const WORKGROUP_SIZE = 64;

const kernel = (entryPoint: string, bindings: KernelSpec['bindings']): KernelSpec => ({
  name: entryPoint,
  file: 'attention.wgsl',
  source,
  entryPoint,
  bindings,
  constants: { WORKGROUP_SIZE },
});

// out, preatt, att, inp, params
const forwardBindings = ['write', 'write', 'write', 'read', 'uniform'] as const;
// dinp, dpreatt, datt, inp, params, dout, att
const backwardBindings = ['write', 'write', 'write', 'read', 'uniform', 'read', 'read'] as const;

export const attentionForwardScoresKernel = kernel('attention_forward_scores', forwardBindings);
export const attentionForwardValuesKernel = kernel('attention_forward_values', forwardBindings);
export const attentionBackwardScoresKernel = kernel('attention_backward_scores', backwardBindings);
export const attentionBackwardInputsKernel = kernel('attention_backward_inputs', backwardBindings);

export const attentionKernels: readonly KernelSpec[] = [
  attentionForwardScoresKernel,
  attentionForwardValuesKernel,
  attentionBackwardScoresKernel,
  attentionBackwardInputsKernel,
];

/** Workgroups for one invocation per item; past the device's limit the launch wraps into y. */
const invocationGroups = (ctx: GpuContext, items: number) =>
  workgroupGrid(items, WORKGROUP_SIZE, ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension);

function checkShape(B: number, T: number, C: number, NH: number): void {
  if (!(B >= 1 && T >= 1 && NH >= 1 && C >= NH && C % NH === 0)) {
    throw new GpuValidationError(`attention: need B, T ≥ 1 and C a positive multiple of NH (B=${B} T=${T} C=${C} NH=${NH})`);
  }
}

const shapeUniform = (B: number, T: number, C: number, NH: number) => [{ u32: B }, { u32: T }, { u32: C }, { u32: NH }];

export interface AttentionForwardBuffers {
  out: Binding; // (B, T, C)
  preatt: Binding; // (B, NH, T, T); entries t2 > t are written as 0
  att: Binding; // (B, NH, T, T); entries t2 > t are written as 0
  inp: Binding; // (B, T, 3C) = [q | k | v]
}

/** out = causal softmax(q·kᵀ/√hs)·v per head; preatt and att are kept for backward. */
export async function prepareAttentionForward(
  ctx: GpuContext,
  { out, preatt, att, inp }: AttentionForwardBuffers,
  B: number,
  T: number,
  C: number,
  NH: number,
): Promise<PreparedDispatch[]> {
  checkShape(B, T, C, NH);
  const buffers = [out, preatt, att, inp];
  const uniform = shapeUniform(B, T, C, NH);
  return Promise.all([
    ctx.prepare(attentionForwardScoresKernel, buffers, invocationGroups(ctx, B * NH * T), uniform),
    ctx.prepare(attentionForwardValuesKernel, buffers, invocationGroups(ctx, B * T * C), uniform),
  ]);
}

export interface AttentionBackwardBuffers {
  dinp: Binding; // (B, T, 3C); accumulated (+=) in all three thirds
  dpreatt: Binding; // (B, NH, T, T); scratch gradient, accumulated: pass zeros unless adding
  datt: Binding; // (B, NH, T, T); scratch gradient, accumulated: pass zeros unless adding
  dout: Binding; // (B, T, C)
  inp: Binding; // (B, T, 3C), as given to forward
  att: Binding; // (B, NH, T, T), as written by forward
}

/** datt += v·dout, dpreatt += softmax backward (per row), then dinp (q, k, v) += their gradients. */
export async function prepareAttentionBackward(
  ctx: GpuContext,
  { dinp, dpreatt, datt, dout, inp, att }: AttentionBackwardBuffers,
  B: number,
  T: number,
  C: number,
  NH: number,
): Promise<PreparedDispatch[]> {
  checkShape(B, T, C, NH);
  const buffers = [dinp, dpreatt, datt, inp, dout, att];
  const uniform = shapeUniform(B, T, C, NH);
  return Promise.all([
    ctx.prepare(attentionBackwardScoresKernel, buffers, invocationGroups(ctx, B * NH * T), uniform),
    ctx.prepare(attentionBackwardInputsKernel, buffers, invocationGroups(ctx, B * T * 3 * C), uniform),
  ]);
}
