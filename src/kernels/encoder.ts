// Kernel descriptions and dispatch helpers for shaders/encoder.wgsl: token +
// position embedding and its backward (accumulating, deterministic: one
// invocation per output element over a bucket list of the batch's positions
// by token, see the shader's header). Reference twin: src/reference/encoder.ts.
// Token ids are u32 (B, T).
import source from '../../shaders/encoder.wgsl?raw';
import { ELEMENTWISE_WORKGROUP_SIZE, workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

const constants = { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP_SIZE };

export const encoderForwardKernel: KernelSpec = {
  name: 'encoder_forward',
  file: 'encoder.wgsl',
  source,
  entryPoint: 'encoder_forward',
  bindings: ['write', 'read', 'read', 'read', 'uniform'],
  constants,
};

export const encoderBackwardKernel: KernelSpec = {
  name: 'encoder_backward',
  file: 'encoder.wgsl',
  source,
  entryPoint: 'encoder_backward',
  bindings: ['write', 'write', 'read', 'read', 'uniform'],
  constants,
};

export const encoderKernels: readonly KernelSpec[] = [encoderForwardKernel, encoderBackwardKernel];

/** u32 words of the bucket list for B·T tokens over a V-token vocabulary. */
export const tokenBucketWords = (BT: number, V: number): number => V + 1 + BT;

/**
 * The batch's positions grouped by token id, for encoder_backward: words
 * [0, V] are offsets (token v's positions are entries offsets[v] ..
 * offsets[v + 1] of the list), followed by the B·T positions, ascending within
 * each token (a stable counting sort, so the kernel adds in (b, t) order).
 */
export function tokenBuckets(
  inp: Uint32Array | Int32Array, // (B, T) token ids < V
  V: number,
  out: Uint32Array<ArrayBuffer> = new Uint32Array(tokenBucketWords(inp.length, V)), // (V + 1 + B·T)
): Uint32Array<ArrayBuffer> {
  if (out.length !== tokenBucketWords(inp.length, V)) throw new RangeError(`tokenBuckets: out holds ${out.length} words, need ${tokenBucketWords(inp.length, V)}`);
  out.fill(0, 0, V + 1);
  for (let i = 0; i < inp.length; i++) {
    const token = inp[i];
    if (!(token >= 0 && token < V)) throw new RangeError(`tokenBuckets: token ${token} at position ${i} is outside the vocabulary [0, ${V})`);
    out[token + 1]++;
  }
  for (let v = 0; v < V; v++) out[v + 1] += out[v];
  // Fill each bucket from its start, in position order; `next` walks the offsets.
  const next = out.slice(0, V);
  for (let i = 0; i < inp.length; i++) out[V + 1 + next[inp[i]]++] = i;
  return out;
}

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
  buckets: Binding; // (V + 1 + B·T) u32: tokenBuckets of the batch's (B, T) token ids
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
    workgroupGrid(B * T * C, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX),
    [{ u32: B }, { u32: T }, { u32: C }],
  );
}

/**
 * dwte[inp[b,t],:] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:], with the tokens
 * given as their bucket list (tokenBuckets). V is the vocabulary size (rows of dwte).
 */
export function prepareEncoderBackward(
  ctx: GpuContext,
  { dwte, dwpe, dout, buckets }: EncoderBackwardBuffers,
  B: number,
  T: number,
  C: number,
  V: number,
  maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension,
): Promise<PreparedDispatch> {
  checkDims('encoder_backward', { B, T, C, V });
  return ctx.prepare(encoderBackwardKernel, [dwte, dwpe, dout, buckets], workgroupGrid((V + T) * C, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: B },
    { u32: T },
    { u32: C },
    { u32: V },
  ]);
}
