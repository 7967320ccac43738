// Kernel descriptions and dispatch helpers for shaders/layernorm.wgsl:
// LayerNorm over C (eps 1e-5) and its backward (accumulating, deterministic:
// one invocation per row, dweight/dbias by fixed-order block partials; the
// shader's header says why and what it measured), and its subgroup variant
// shaders/layernorm-subgroups.wgsl (one subgroup per row), chosen per context
// (ctx.choices.subgroups). Reference twin: src/reference/layernorm.ts.
//
// Backward is three dispatches sharing a partials buffer (2, K, C) that this
// module allocates once per (context, size) and never frees: it is small (K·C·8
// bytes, K = ⌈B·T/32⌉), and sharing is safe because WebGPU runs dispatches in
// order, so one backward's partials → reduce pair is done before the next one
// overwrites the buffer. Run the returned dispatches together and in order.
import source from '../../shaders/layernorm.wgsl?raw';
import subgroupSource from '../../shaders/layernorm-subgroups.wgsl?raw';
import { divUp, workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

/**
 * Invocations per workgroup of the plain entry points (one row or column
 * each): 64 = two NVIDIA warps, one AMD wave64. They use no barriers, so
 * SwiftShader does not care.
 */
const WORKGROUP_SIZE = 64;
/**
 * Rows per dweight/dbias partial sum: short enough for parallelism, long
 * enough that the partials buffer stays a small fraction of the activations.
 */
const ROWS_PER_BLOCK = 32;
const constants = { WORKGROUP_SIZE, ROWS_PER_BLOCK };

const forwardBindings = ['write', 'write', 'write', 'read', 'read', 'read', 'uniform'] as const;
const dinpBindings = ['write', 'read', 'read', 'read', 'read', 'read', 'uniform'] as const;

const plain = (entryPoint: string, bindings: KernelSpec['bindings']): KernelSpec => ({
  name: entryPoint,
  file: 'layernorm.wgsl',
  source,
  entryPoint,
  bindings,
  constants,
});

/** A subgroup-variant entry point: one workgroup of `subgroupSize` lanes per row. */
const withSubgroups = (entryPoint: string, bindings: KernelSpec['bindings'], subgroupSize: number): KernelSpec => ({
  name: `${entryPoint}_subgroups`,
  file: 'layernorm-subgroups.wgsl',
  source: subgroupSource,
  entryPoint,
  bindings,
  constants: { WORKGROUP_SIZE: subgroupSize },
});

export interface LayernormKernels {
  forward: KernelSpec;
  backwardDinp: KernelSpec;
  backwardPartials: KernelSpec;
  backwardReduce: KernelSpec;
  /** Lanes per row of forward and backwardDinp (1: one invocation per row). */
  lanesPerRow: number;
}

/** The entry points a context compiles: the subgroup rows when ctx.choices.subgroups, else the plain ones. */
export function layernormKernels(ctx: GpuContext): LayernormKernels {
  const subgroupSize = ctx.choices.subgroups ? ctx.gpu.subgroupSize : null;
  const backwardPartials = plain('layernorm_backward_partials', ['write', 'read', 'read', 'read', 'read', 'uniform']);
  const backwardReduce = plain('layernorm_backward_reduce', ['write', 'write', 'read', 'uniform']);
  if (subgroupSize === null) {
    return {
      forward: plain('layernorm_forward', forwardBindings),
      backwardDinp: plain('layernorm_backward_dinp', dinpBindings),
      backwardPartials,
      backwardReduce,
      lanesPerRow: 1,
    };
  }
  return {
    forward: withSubgroups('layernorm_forward', forwardBindings, subgroupSize),
    backwardDinp: withSubgroups('layernorm_backward_dinp', dinpBindings, subgroupSize),
    backwardPartials,
    backwardReduce,
    lanesPerRow: subgroupSize,
  };
}

/** Workgroups giving each of `rows` rows its lanes: one invocation (plain) or one workgroup (subgroups). */
const rowGrid = (kernels: LayernormKernels, rows: number, maxX: number) =>
  kernels.lanesPerRow === 1 ? workgroupGrid(rows, WORKGROUP_SIZE, maxX) : workgroupGrid(rows, 1, maxX);

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

/** out = (inp − mean) · rstd · weight + bias per row; writes mean and rstd. One invocation (or subgroup) per row. */
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
  const kernels = layernormKernels(ctx);
  return ctx.prepare(kernels.forward, [out, mean, rstd, inp, weight, bias], rowGrid(kernels, N, maxWorkgroupsX), [
    { u32: N },
    { u32: C },
    { u32: 0 },
  ]);
}

/**
 * dinp, dweight, dbias += the LayerNorm gradient, as three dispatches to run in
 * order: dinp (one invocation or subgroup per row), dweight/dbias partials over blocks of
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
  const kernels = layernormKernels(ctx);
  return Promise.all([
    ctx.prepare(kernels.backwardDinp, [dinp, dout, inp, weight, mean, rstd], rowGrid(kernels, N, maxWorkgroupsX), params),
    ctx.prepare(kernels.backwardPartials, [partials, dout, inp, mean, rstd], workgroupGrid(K * C, WORKGROUP_SIZE, maxWorkgroupsX), params),
    ctx.prepare(kernels.backwardReduce, [dweight, dbias, partials], workgroupGrid(C, WORKGROUP_SIZE, maxWorkgroupsX), params),
  ]);
}
