// The GPU tests' one harness (tinygrad's helper_test_op for a WGSL kernel):
// upload a case's buffers, run the dispatches, run the reference twin on copies
// of the same starting contents, compare every output with its tolerance, and
// run the dispatches again from the same start to require the same bits.
// A test file is then its cases. Also the variant contexts a kernel test runs
// under (plain and, where the device has them, subgroup reductions).
import { expect } from 'vitest';
import type { GpuContext, PreparedDispatch } from '../../src/gpu/runtime.ts';
import { expectClose, type ErrorStats } from '../compare.ts';

export interface Tolerance {
  atol: number;
  rtol: number;
}

type HostArray = Float32Array | Uint32Array;
type Buffers = Record<string, HostArray | number>;
/** A case's buffers as host arrays: a number becomes that many zero floats. */
type Arrays<B extends Buffers> = { [K in keyof B]: B[K] extends number ? Float32Array : B[K] };

export interface KernelCase<B extends Buffers> {
  /** Printed with every comparison. */
  name: string;
  /** Every buffer the dispatches bind, with its starting contents; a number is that many zero floats. */
  buffers: B;
  /** The reference twin, run on copies of the starting contents (it updates outputs in place). */
  twin: (arrays: Arrays<B>) => void;
  /** The dispatches under test, prepared on the uploaded buffers, run in order in one submit. */
  prepare: (ctx: GpuContext, buffers: Record<keyof B, GPUBuffer>) => Promise<PreparedDispatch | PreparedDispatch[]>;
  /** The buffers compared after the run, each with its tolerance against the twin. */
  expect: Partial<Record<keyof B, Tolerance>>;
  /** Run again from the same starting contents and require bit-identical outputs (default true). */
  deterministic?: boolean;
}

export interface KernelCheckResult<B extends Buffers> {
  /** What the GPU wrote into each compared buffer. */
  gpu: Record<keyof B, Float32Array>;
  /** What the twin computed for it. */
  twin: Arrays<B>;
  stats: Record<keyof B, ErrorStats>;
}

const copyOf = (value: HostArray | number): HostArray => (typeof value === 'number' ? new Float32Array(value) : value.slice());

/** Runs one case; throws (through expect) on the first mismatch. */
export async function checkKernel<B extends Buffers>(ctx: GpuContext, c: KernelCase<B>): Promise<KernelCheckResult<B>> {
  type N = keyof B & string;
  const names = Object.keys(c.buffers) as N[];
  const start = Object.fromEntries(names.map((n) => [n, copyOf(c.buffers[n])])) as Record<N, HostArray>;
  const twin = Object.fromEntries(names.map((n) => [n, start[n].slice()])) as Arrays<B>;
  c.twin(twin);

  const gpuBuffers = Object.fromEntries(names.map((n) => [n, ctx.upload(`${c.name}.${n}`, start[n])])) as Record<keyof B, GPUBuffer>;
  const prepared = await c.prepare(ctx, gpuBuffers);
  const dispatches = Array.isArray(prepared) ? prepared : [prepared];
  const compared = Object.keys(c.expect) as N[];
  const read = async () =>
    Object.fromEntries(await Promise.all(compared.map(async (n) => [n, await ctx.readFloat32(gpuBuffers[n], start[n].length)]))) as Record<keyof B, Float32Array>;
  try {
    await ctx.run(dispatches);
    const gpu = await read();
    const stats = {} as Record<keyof B, ErrorStats>;
    for (const n of compared) stats[n] = expectClose(`${c.name} ${n}`, gpu[n], twin[n] as HostArray, c.expect[n]!);
    if (c.deterministic ?? true) {
      for (const n of names) ctx.write(gpuBuffers[n], start[n]);
      await ctx.run(dispatches);
      const again = await read();
      for (const n of compared) expectSameBits(`${c.name} ${n}: a second run`, again[n], gpu[n]);
    }
    return { gpu, twin, stats };
  } finally {
    ctx.release(dispatches);
    names.forEach((n) => gpuBuffers[n].destroy());
  }
}

/** Fails with the first differing element unless both arrays hold the same bits (a loop: toEqual is slow on millions of elements). */
export function expectSameBits(name: string, actual: Float32Array, expected: Float32Array): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  expect(a.length, `${name}: length`).toBe(b.length);
  const first = a.findIndex((bits, i) => bits !== b[i]);
  expect(first === -1 ? 'same bits' : `element ${first}: ${actual[first]} vs ${expected[first]}`, name).toBe('same bits');
}

/**
 * The contexts a reduction kernel is tested under: plain, and subgroups when
 * the device has them (on one without, tests/gpu/kernels.test.ts checks that
 * the plain kernels are chosen).
 */
export function reductionVariants(ctx: GpuContext): { label: string; ctx: GpuContext }[] {
  const plain = { label: 'plain', ctx: ctx.withChoices({ subgroups: false }) };
  return ctx.gpu.subgroupSize === null ? [plain] : [plain, { label: `subgroups(${ctx.gpu.subgroupSize})`, ctx: ctx.withChoices({ subgroups: true }) }];
}
