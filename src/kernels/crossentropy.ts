// Kernel descriptions and dispatch helpers for shaders/crossentropy.wgsl:
// softmax fused with the cross-entropy loss (forward, backward) and the mean
// loss as one float. Reference twin: src/reference/crossentropy.ts.
// Dimension letters: B batch, T positions, V vocabulary (256, byte-level).
import source from '../../shaders/crossentropy.wgsl?raw';
import { GpuValidationError } from '../gpu/errors.ts';
import { divUp, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

export const crossentropyForwardKernel: KernelSpec = {
  name: 'crossentropy_forward',
  file: 'crossentropy.wgsl',
  source,
  entryPoint: 'crossentropy_forward',
  // losses, probs, logits, targets, params
  bindings: ['write', 'write', 'read', 'read', 'uniform'],
};

export const crossentropyBackwardKernel: KernelSpec = {
  name: 'crossentropy_backward',
  file: 'crossentropy.wgsl',
  source,
  entryPoint: 'crossentropy_backward',
  // dlogits, probs, dlosses, targets, params
  bindings: ['write', 'read', 'read', 'read', 'uniform'],
};

export const lossMeanKernel: KernelSpec = {
  name: 'loss_mean',
  file: 'crossentropy.wgsl',
  source,
  entryPoint: 'loss_mean',
  // mean, losses, params
  bindings: ['write', 'read', 'uniform'],
};

export const crossentropyKernels: readonly KernelSpec[] = [crossentropyForwardKernel, crossentropyBackwardKernel, lossMeanKernel];

const WORKGROUP_SIZE = 64; // crossentropy.wgsl's WORKGROUP_SIZE
const MAX_GROUPS_X = 65535;

/** Workgroups for one invocation per item; past 65535 groups the launch wraps into y. */
function invocationGroups(items: number): [number, number] {
  const groups = divUp(items, WORKGROUP_SIZE);
  return groups <= MAX_GROUPS_X ? [groups, 1] : [MAX_GROUPS_X, divUp(groups, MAX_GROUPS_X)];
}

function checkShape(B: number, T: number, V: number): void {
  if (!(B >= 1 && T >= 1 && V >= 1)) throw new GpuValidationError(`crossentropy: need B, T, V ≥ 1 (B=${B} T=${T} V=${V})`);
}

export interface CrossentropyForwardBuffers {
  losses: Binding; // (B, T)
  probs: Binding; // (B, T, V)
  logits: Binding; // (B, T, V)
  targets: Binding; // (B, T) u32, each < V
}

/** probs = softmax(logits) per (b, t); losses = −log probs[target]. One dispatch. */
export async function prepareCrossentropyForward(
  ctx: GpuContext,
  { losses, probs, logits, targets }: CrossentropyForwardBuffers,
  B: number,
  T: number,
  V: number,
): Promise<PreparedDispatch[]> {
  checkShape(B, T, V);
  return [await ctx.prepare(crossentropyForwardKernel, [losses, probs, logits, targets], invocationGroups(B * T), [{ u32: B * T }, { u32: V }])];
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
  return [await ctx.prepare(crossentropyBackwardKernel, [dlogits, probs, dlosses, targets], invocationGroups(B * T * V), [{ u32: B * T }, { u32: V }])];
}

export interface LossMeanBuffers {
  mean: Binding; // (1)
  losses: Binding; // (B, T)
}

/** mean = Σ losses / (B·T), summed in one fixed order (one workgroup). One dispatch. */
export async function prepareLossMean(ctx: GpuContext, { mean, losses }: LossMeanBuffers, B: number, T: number): Promise<PreparedDispatch[]> {
  checkShape(B, T, 1);
  return [await ctx.prepare(lossMeanKernel, [mean, losses], [1], [{ u32: B * T }])];
}
