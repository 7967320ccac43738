// Kernel descriptions and dispatch helpers for shaders/layernorm.wgsl:
// LayerNorm over C (eps 1e-5) and its backward (accumulating, deterministic:
// one invocation per row, dweight/dbias by fixed-order block partials; the
// shader's header says why and what it measured).
// Reference twin: src/reference/layernorm.ts.
//
// Backward is three dispatches sharing a partials buffer (2, K, C) that this
// module allocates once per (context, size) and never frees: it is small (K·C·8
// bytes, K = ⌈B·T/32⌉), and sharing is safe because WebGPU runs dispatches in
// order, so one backward's partials → reduce pair is done before the next one
// overwrites the buffer. Run the returned dispatches together and in order.
import source from '../../shaders/layernorm.wgsl?raw';
import { divUp, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';
import { linearWorkgroups } from './fill.ts';

/** Invocations per workgroup of every layernorm entry point (one row or column each). */
const WORKGROUP_SIZE = 64;
/** Rows summed per dweight/dbias partial in layernorm_backward_partials. */
const ROWS_PER_BLOCK = 32;
const constants = { WORKGROUP_SIZE, ROWS_PER_BLOCK };

export const layernormForwardKernel: KernelSpec = {
  name: 'layernorm_forward',
  file: 'layernorm.wgsl',
  source,
  entryPoint: 'layernorm_forward',
  bindings: ['write', 'write', 'write', 'read', 'read', 'read', 'uniform'],
  constants,
};

export const layernormBackwardDinpKernel: KernelSpec = {
  name: 'layernorm_backward_dinp',
  file: 'layernorm.wgsl',
  source,
  entryPoint: 'layernorm_backward_dinp',
  bindings: ['write', 'read', 'read', 'read', 'read', 'read', 'uniform'],
  constants,
};

export const layernormBackwardPartialsKernel: KernelSpec = {
  name: 'layernorm_backward_partials',
  file: 'layernorm.wgsl',
  source,
  entryPoint: 'layernorm_backward_partials',
  bindings: ['write', 'read', 'read', 'read', 'read', 'uniform'],
  constants,
};

export const layernormBackwardReduceKernel: KernelSpec = {
  name: 'layernorm_backward_reduce',
  file: 'layernorm.wgsl',
  source,
  entryPoint: 'layernorm_backward_reduce',
  bindings: ['write', 'write', 'read', 'uniform'],
  constants,
};

export const layernormKernels: readonly KernelSpec[] = [
  layernormForwardKernel,
  layernormBackwardDinpKernel,
  layernormBackwardPartialsKernel,
  layernormBackwardReduceKernel,
];

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

/** Row blocks of the dweight/dbias partial sums for B·T rows. */
export const layernormRowBlocks = (rows: number): number => divUp(rows, ROWS_PER_BLOCK);

const partialsByContext = new WeakMap<GpuContext, Map<number, GPUBuffer>>();

/** The shared partials buffer (2, K, C) of this context for this size (see the header). */
function partialsBuffer(ctx: GpuContext, K: number, C: number): GPUBuffer {
  let bySize = partialsByContext.get(ctx);
  if (!bySize) partialsByContext.set(ctx, (bySize = new Map()));
  const bytes = 2 * K * C * 4;
  let buffer = bySize.get(bytes);
  if (!buffer) bySize.set(bytes, (buffer = ctx.createBuffer(`layernorm_backward.partials(2,${K},${C})`, bytes)));
  return buffer;
}

/** out = (inp − mean) · rstd · weight + bias per row; writes mean and rstd. One invocation per row. */
export function prepareLayernormForward(
  ctx: GpuContext,
  { out, mean, rstd, inp, weight, bias }: LayernormForwardBuffers,
  B: number,
  T: number,
  C: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  checkDims('layernorm_forward', { B, T, C });
  const N = B * T;
  return ctx.prepare(layernormForwardKernel, [out, mean, rstd, inp, weight, bias], linearWorkgroups(N, WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: N },
    { u32: C },
    { u32: 0 },
  ]);
}

/**
 * dinp, dweight, dbias += the LayerNorm gradient, as three dispatches to run in
 * order: dinp (one invocation per row), dweight/dbias partials over blocks of
 * 32 rows (one invocation per block and column), and their fixed-order sum
 * (one invocation per column).
 */
export function prepareLayernormBackward(
  ctx: GpuContext,
  { dinp, dweight, dbias, dout, inp, weight, mean, rstd }: LayernormBackwardBuffers,
  B: number,
  T: number,
  C: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch[]> {
  checkDims('layernorm_backward', { B, T, C });
  const N = B * T;
  const K = layernormRowBlocks(N);
  const partials = partialsBuffer(ctx, K, C); // (2, K, C)
  const params = [{ u32: N }, { u32: C }, { u32: K }];
  return Promise.all([
    ctx.prepare(layernormBackwardDinpKernel, [dinp, dout, inp, weight, mean, rstd], linearWorkgroups(N, WORKGROUP_SIZE, maxWorkgroupsX), params),
    ctx.prepare(layernormBackwardPartialsKernel, [partials, dout, inp, mean, rstd], linearWorkgroups(K * C, WORKGROUP_SIZE, maxWorkgroupsX), params),
    ctx.prepare(layernormBackwardReduceKernel, [dweight, dbias, partials], linearWorkgroups(C, WORKGROUP_SIZE, maxWorkgroupsX), params),
  ]);
}
