// Kernel description and dispatch helpers for shaders/adamw.wgsl: one AdamW
// step over the flat parameter buffer, gradients scaled on the fly by the clip
// scale that grad_norm_final left on the GPU. Reference twin:
// src/reference/adamw.ts (adamwUpdate; its Float32Array decay mask becomes one
// bit per parameter here, see packDecayMask).
// Dimension letters: N parameters.
import source from '../../shaders/adamw.wgsl?raw';
import { ELEMENTWISE_WORKGROUP_SIZE, divUp, workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch, type UniformField } from '../gpu/runtime.ts';

export const adamwUpdateKernel: KernelSpec = {
  name: 'adamw_update',
  file: 'adamw.wgsl',
  source,
  entryPoint: 'adamw_update',
  bindings: ['write', 'read', 'write', 'write', 'read', 'read', 'uniform'],
  constants: { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP_SIZE },
};

export const adamwKernels: readonly KernelSpec[] = [adamwUpdateKernel];

export interface AdamwHyperparameters {
  lr: number; // this step's learning rate (the schedule lives in training)
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number; // applied where the decay mask bit is set
}

export interface AdamwBuffers {
  params: Binding; // (N)
  grads: Binding; // (N), read only
  m: Binding; // (N)
  v: Binding; // (N)
  decayMask: Binding; // (⌈(maskOffset + N) / 32⌉) u32, from packDecayMask
  gradNorm: Binding; // { norm, clip_scale } from prepareGradNorm's result (only clip_scale is read)
}

export interface AdamwOptions {
  /** Bit of decayMask that belongs to element 0 of these views (when running over a slice). */
  maskOffset?: number;
  /** Cap on workgroups along x; lower than the device limit only to exercise the 2-D layout in tests. */
  maxWorkgroupsX?: number;
}

/** u32 words of a decay mask covering `bits` parameters. */
export const decayMaskWords = (bits: number): number => Math.max(1, divUp(bits, 32));

/** The per-element mask of adamwUpdate (non-zero = decay), one bit per parameter, little-endian within each u32. */
export function packDecayMask(
  mask: ArrayLike<number>, // (N)
  N = mask.length,
): Uint32Array {
  const words = new Uint32Array(decayMaskWords(N));
  for (let i = 0; i < N; i++) if (mask[i] !== 0) words[i >>> 5] |= 1 << (i & 31);
  return words;
}

/** The uniform for step t (1-based): bias corrections 1 − βᵗ are computed here, in float64. */
export function adamwUniform(N: number, hyper: AdamwHyperparameters, t: number, maskOffset = 0): UniformField[] {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`adamw: step t = ${t} must be a positive integer`);
  return [
    { u32: N },
    { u32: maskOffset },
    { f32: hyper.lr },
    { f32: hyper.beta1 },
    { f32: hyper.beta2 },
    { f32: hyper.eps },
    { f32: hyper.weightDecay },
    { f32: 1 - Math.pow(hyper.beta1, t) },
    { f32: 1 - Math.pow(hyper.beta2, t) },
  ];
}

/** params, m, v ← one AdamW step at step t with gradients grads · clip_scale. */
export function prepareAdamwUpdate(
  ctx: GpuContext,
  { params, grads, m, v, decayMask, gradNorm }: AdamwBuffers,
  N: number,
  hyper: AdamwHyperparameters,
  t: number,
  { maskOffset = 0, maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension }: AdamwOptions = {},
): Promise<PreparedDispatch> {
  return ctx.prepare(
    adamwUpdateKernel,
    [params, grads, m, v, decayMask, gradNorm],
    workgroupGrid(N, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX),
    adamwUniform(N, hyper, t, maskOffset),
  );
}

/** Per-step update of a prepared dispatch (new t, new lr): one 36-byte uniform write. */
export function setAdamwStep(
  ctx: GpuContext,
  dispatch: PreparedDispatch,
  N: number,
  hyper: AdamwHyperparameters,
  t: number,
  maskOffset = 0,
): void {
  ctx.setUniform(dispatch, adamwUniform(N, hyper, t, maskOffset));
}
