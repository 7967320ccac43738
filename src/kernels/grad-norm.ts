// Kernel descriptions and dispatch helpers for shaders/grad-norm.wgsl: the
// global L2 norm of the flat gradient buffer and the clip scale
// min(1, maxNorm / (norm + 1e-6)), left on the GPU for adamw_update to read.
// The subgroup variant (shaders/grad-norm-subgroups.wgsl) is chosen per context
// (ctx.choices.subgroups); both cut the gradients the same way.
// Reference twin: src/reference/grad-norm.ts (gradNorm, clipScale).
// Dimension letters: N gradients, P partial sums (one per pass-1 workgroup).
import source from '../../shaders/grad-norm.wgsl?raw';
import subgroupSource from '../../shaders/grad-norm-subgroups.wgsl?raw';
import { divUp, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch, type UniformField } from '../gpu/runtime.ts';

/** Invocations per workgroup of both passes and variants; a power of two for the plain tree. */
const WORKGROUP_SIZE = 256;

/**
 * Pass-1 workgroups to aim for: plenty to fill a large GPU, few enough that the
 * single pass-2 workgroup reads only 16 partials per lane.
 */
export const GRAD_NORM_MAX_PARTIALS = 4096;

/** Bytes of the result buffer: { norm: f32, clip_scale: f32 }. */
export const GRAD_NORM_RESULT_BYTES = 8;

export interface GradNormKernels {
  partial: KernelSpec;
  final: KernelSpec;
}

/** Both passes as a context compiles them: subgroup reductions when ctx.choices.subgroups. */
export function gradNormKernels(ctx: GpuContext): GradNormKernels {
  const subgroups = ctx.choices.subgroups;
  const kernel = (entryPoint: string): KernelSpec => ({
    name: subgroups ? `${entryPoint}_subgroups` : entryPoint,
    file: subgroups ? 'grad-norm-subgroups.wgsl' : 'grad-norm.wgsl',
    source: subgroups ? subgroupSource : source,
    entryPoint,
    bindings: ['read', 'write', 'uniform'],
    constants: { WORKGROUP_SIZE },
  });
  return { partial: kernel('grad_norm_partial'), final: kernel('grad_norm_final') };
}

/** How pass 1 cuts N gradients: contiguous ranges of `chunk` (a multiple of the workgroup size), one per partial. */
export interface GradNormLayout {
  chunk: number;
  partials: number; // P
}

/**
 * A function of N alone (and the cap), so the summation order, and hence the
 * bits of the norm, depend only on the gradients.
 */
export function gradNormLayout(N: number, maxPartials = GRAD_NORM_MAX_PARTIALS): GradNormLayout {
  if (!Number.isInteger(N) || N < 0) throw new RangeError(`gradNormLayout: N = ${N}`);
  if (!Number.isInteger(maxPartials) || maxPartials < 1) throw new RangeError(`gradNormLayout: maxPartials = ${maxPartials}`);
  const chunk = WORKGROUP_SIZE * Math.max(1, Math.ceil(N / (WORKGROUP_SIZE * maxPartials)));
  return { chunk, partials: Math.max(1, divUp(N, chunk)) };
}

/** One view of the gradients and how many floats it holds. */
export interface GradNormSegment {
  grads: Binding; // (N_s)
  N: number;
}

export interface GradNormBuffers {
  grads: Binding; // (N)
  partials: Binding; // (P) scratch, P = gradNormLayout(N).partials
  result: Binding; // { norm, clip_scale }: GRAD_NORM_RESULT_BYTES
}

function finalUniform(partials: number, maxNorm: number): UniformField[] {
  return [{ u32: 0 }, { u32: 0 }, { u32: 0 }, { u32: partials }, { f32: maxNorm }];
}

/**
 * result = { norm: ‖grads‖₂, clip_scale: min(1, maxNorm / (norm + 1e-6)) }.
 * maxNorm ≤ 0 disables clipping (clip_scale = 1). Returns [pass 1, pass 2],
 * to be encoded in this order (e.g. at the end of backward, before AdamW).
 */
export function prepareGradNorm(
  ctx: GpuContext,
  { grads, partials, result }: GradNormBuffers,
  N: number,
  maxNorm: number,
  maxPartials = GRAD_NORM_MAX_PARTIALS,
): Promise<PreparedDispatch[]> {
  return prepareGradNormSegments(ctx, [{ grads, N }], partials, result, maxNorm, maxPartials);
}

/** Partials needed by prepareGradNormSegments for these segment sizes. */
export function gradNormPartialCount(segmentSizes: readonly number[], maxPartials = GRAD_NORM_MAX_PARTIALS): number {
  return segmentSizes.reduce((sum, N) => sum + gradNormLayout(N, maxPartials).partials, 0);
}

/**
 * The norm over several views (for a flat buffer larger than one binding): one
 * pass 1 per view, each writing its own slice of `partials`, then one pass 2.
 */
export async function prepareGradNormSegments(
  ctx: GpuContext,
  segments: readonly GradNormSegment[],
  partials: Binding, // (P), P = gradNormPartialCount(sizes)
  result: Binding, // { norm, clip_scale }
  maxNorm: number,
  maxPartials = GRAD_NORM_MAX_PARTIALS,
): Promise<PreparedDispatch[]> {
  if (segments.length === 0) throw new RangeError('prepareGradNormSegments: no segments');
  const kernels = gradNormKernels(ctx);
  const dispatches: Promise<PreparedDispatch>[] = [];
  let offset = 0;
  for (const { grads, N } of segments) {
    const layout = gradNormLayout(N, maxPartials);
    dispatches.push(
      ctx.prepare(kernels.partial, [grads, partials], [layout.partials], [
        { u32: N },
        { u32: layout.chunk },
        { u32: offset },
        { u32: 0 },
        { f32: 0 },
      ]),
    );
    offset += layout.partials;
  }
  dispatches.push(ctx.prepare(kernels.final, [partials, result], [1], finalUniform(offset, maxNorm)));
  return Promise.all(dispatches);
}

/** Change the clipping threshold of a prepared pass 2 (the last dispatch returned above). */
export function setGradNormMaxNorm(ctx: GpuContext, final: PreparedDispatch, partials: number, maxNorm: number): void {
  ctx.setUniform(final, finalUniform(partials, maxNorm));
}
