// Kernel descriptions and dispatch helpers for shaders/crossentropy.wgsl:
// softmax fused with the cross-entropy loss (forward, backward) and the mean
// loss as one float; the forward's subgroup variant is
// shaders/crossentropy-subgroups.wgsl, chosen per context
// (ctx.choices.subgroups). Reference twin: src/reference/crossentropy.ts.
// Dimension letters: B batch, T positions, V vocabulary (256, byte-level).
import source from '../../shaders/crossentropy.wgsl?raw';
import subgroupSource from '../../shaders/crossentropy-subgroups.wgsl?raw';
import { GpuValidationError } from '../gpu/errors.ts';
import { workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

/** Invocations per workgroup of the per-row forward and the per-element backward; no barriers. */
const WORKGROUP_SIZE = 64;
/** loss_mean's single workgroup: a power of two for its tree, the floor of maxComputeInvocationsPerWorkgroup. */
const MEAN_WORKGROUP_SIZE = 256;
const constants = { WORKGROUP_SIZE, MEAN_WORKGROUP_SIZE };

const plain = (entryPoint: string, bindings: KernelSpec['bindings']): KernelSpec => ({
  name: entryPoint,
  file: 'crossentropy.wgsl',
  source,
  entryPoint,
  bindings,
  constants,
});

// losses, probs, logits, targets, params
const forwardBindings = ['write', 'write', 'read', 'read', 'uniform'] as const;

export interface CrossentropyKernels {
  forward: KernelSpec;
  backward: KernelSpec;
  lossMean: KernelSpec;
  /** Lanes per row of forward (1: one invocation per row). */
  lanesPerRow: number;
}

/** The entry points a context compiles: forward by subgroups when ctx.choices.subgroups, else the plain ones. */
export function crossentropyKernels(ctx: GpuContext): CrossentropyKernels {
  const subgroupSize = ctx.choices.subgroups ? ctx.gpu.subgroupSize : null;
  return {
    forward:
      subgroupSize === null
        ? plain('crossentropy_forward', forwardBindings)
        : {
            name: 'crossentropy_forward_subgroups',
            file: 'crossentropy-subgroups.wgsl',
            source: subgroupSource,
            entryPoint: 'crossentropy_forward',
            bindings: forwardBindings,
            constants: { WORKGROUP_SIZE: subgroupSize },
          },
    // dlogits, probs, dlosses, targets, params
    backward: plain('crossentropy_backward', ['write', 'read', 'read', 'read', 'uniform']),
    // mean, losses, params
    lossMean: plain('loss_mean', ['write', 'read', 'uniform']),
    lanesPerRow: subgroupSize ?? 1,
  };
}

const maxX = (ctx: GpuContext) => ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension;

function checkShape(B: number, T: number, V: number): void {
  if (!(B >= 1 && T >= 1 && V >= 1)) throw new GpuValidationError(`crossentropy: need B, T, V ≥ 1 (B=${B} T=${T} V=${V})`);
}

export interface CrossentropyForwardBuffers {
  losses: Binding; // (B, T)
  probs: Binding; // (B, T, V)
  logits: Binding; // (B, T, V)
  targets: Binding; // (B, T) u32, each < V
}

/** probs = softmax(logits) per (b, t); losses = −log probs[target]. One dispatch: an invocation (or a subgroup) per row. */
export async function prepareCrossentropyForward(
  ctx: GpuContext,
  { losses, probs, logits, targets }: CrossentropyForwardBuffers,
  B: number,
  T: number,
  V: number,
): Promise<PreparedDispatch[]> {
  checkShape(B, T, V);
  const kernels = crossentropyKernels(ctx);
  const grid = kernels.lanesPerRow === 1 ? workgroupGrid(B * T, WORKGROUP_SIZE, maxX(ctx)) : workgroupGrid(B * T, 1, maxX(ctx));
  return [await ctx.prepare(kernels.forward, [losses, probs, logits, targets], grid, [{ u32: B * T }, { u32: V }])];
}

export interface CrossentropyBackwardBuffers {
  dlogits: Binding; // (B, T, V); accumulated (+=)
  probs: Binding; // (B, T, V), as written by forward
  targets: Binding; // (B, T) u32
  dlosses: Binding; // (B, T); 1/(B·T) each for the mean loss
}

/** dlogits += (probs − onehot(targets))·dlosses. One dispatch. */
export async function prepareCrossentropyBackward(
  ctx: GpuContext,
  { dlogits, probs, targets, dlosses }: CrossentropyBackwardBuffers,
  B: number,
  T: number,
  V: number,
): Promise<PreparedDispatch[]> {
  checkShape(B, T, V);
  const grid = workgroupGrid(B * T * V, WORKGROUP_SIZE, maxX(ctx));
  return [await ctx.prepare(crossentropyKernels(ctx).backward, [dlogits, probs, dlosses, targets], grid, [{ u32: B * T }, { u32: V }])];
}

export interface LossMeanBuffers {
  mean: Binding; // (1)
  losses: Binding; // (B, T)
}

/** mean = Σ losses / (B·T), summed in one fixed order (one workgroup). One dispatch. */
export async function prepareLossMean(ctx: GpuContext, { mean, losses }: LossMeanBuffers, B: number, T: number): Promise<PreparedDispatch[]> {
  checkShape(B, T, 1);
  return [await ctx.prepare(crossentropyKernels(ctx).lossMean, [mean, losses], [1], [{ u32: B * T }])];
}
