// LayerNorm on WebGPU against its reference twin (float64 sums): forward
// (out, mean, rstd) and backward accumulating onto non-zero gradients, on
// channel counts around the kernels' 4-wide accumulators (C = 1, 3, 5, 33, 64,
// 130, 257, 512, 768), T=1, B=1, row counts around the 32-row dweight/dbias
// blocks and the 64-invocation workgroups (1 … 2000 rows, a partial last
// block), rows with a large mean (the two-pass variance), and the 2-D fold.
// Every case runs under each reduction variant the device has (plain, and the
// subgroup rows where the device has 'subgroups'). Both passes run twice from
// the same start and are compared bit for bit, and two backwards sharing the
// partials buffer run back to back in one submit.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { checkKernel, reductionVariants } from './check-kernel.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { layernormBackward, layernormForward } from '../../src/reference/layernorm.ts';
import { prepareLayernormBackward, prepareLayernormForward } from '../../src/kernels/layernorm.ts';

interface Shape {
  B: number;
  T: number;
  C: number;
  /** Added to every input, so rows have a mean far from 0. */
  offset?: number;
  maxWorkgroupsX?: number;
}

const SHAPES: Shape[] = [
  { B: 1, T: 1, C: 1 },
  { B: 1, T: 1, C: 3 },
  { B: 2, T: 3, C: 5 },
  { B: 1, T: 7, C: 33 },
  { B: 5, T: 1, C: 64 },
  { B: 4, T: 8, C: 130 },
  { B: 2, T: 3, C: 257 },
  { B: 4, T: 16, C: 64 },
  { B: 3, T: 11, C: 48, offset: 20 },
  { B: 1, T: 3, C: 512 },
  { B: 2, T: 2, C: 768, offset: 5 },
  // 32 and 96 rows: whole row blocks; 96 rows also fill 1.5 row workgroups.
  { B: 1, T: 32, C: 7 },
  { B: 3, T: 32, C: 9 },
  // 2000 rows: 62 full blocks + one of 16, 32 row workgroups, long dweight sums.
  { B: 4, T: 500, C: 5 },
  // 200 rows in 4 workgroups folded to 2 × 2; partials 7 · 40 = 280 in 5 folded to 2 × 3 (one idle).
  { B: 8, T: 25, C: 40, maxWorkgroupsX: 2 },
];

// Float32 kernels against float64 sums. mean/rstd/out: a row sum's rounding
// (at most 768 terms in four chains), relative. dinp: a difference of three
// O(rstd) terms. dweight/dbias: sums over up to 2000 rows of O(1) products in
// blocks of 32, whose rounding grows with the partial sums' size (√rows).
const FORWARD_TOL = { atol: 1e-5, rtol: 1e-5 };
const BACKWARD_TOL = { atol: 1e-5, rtol: 2e-5 };
const paramTolerance = (rows: number) => ({ atol: 1e-5 * Math.max(1, Math.sqrt(rows / 32)), rtol: 2e-5 });

describe('layernorm on WebGPU vs reference', () => {
  for (const { B, T, C, offset = 0, maxWorkgroupsX } of SHAPES) {
    const tag = `B=${B} T=${T} C=${C}${offset ? ` offset=${offset}` : ''}`;
    it(`forward and backward, ${tag}, maxWorkgroupsX ${maxWorkgroupsX ?? 'device'}, every variant`, async () => {
      const N = B * T;
      const inp = randomFloats(N * C, 1 + N + C, 2).map((x) => x + offset);
      const weight = randomFloats(C, 2 + C, 1).map((x) => x + 1);
      const bias = randomFloats(C, 3 + C, 0.5);
      // Backward starts from the reference's own mean/rstd, so its check is independent of the forward's.
      const mean = new Float32Array(N);
      const rstd = new Float32Array(N);
      layernormForward(new Float32Array(N * C), mean, rstd, inp, weight, bias, B, T, C);
      for (const variant of reductionVariants(await gpuContext())) {
        await checkKernel(variant.ctx, {
          name: `layernorm_forward ${tag} ${variant.label}`,
          buffers: { out: N * C, mean: N, rstd: N, inp, weight, bias },
          twin: (b) => layernormForward(b.out, b.mean, b.rstd, inp, weight, bias, B, T, C),
          prepare: (ctx, g) => prepareLayernormForward(ctx, g, B, T, C, maxWorkgroupsX),
          // rstd is up to 1/√eps ≈ 316 (C = 1), so only its relative error means anything.
          expect: { out: FORWARD_TOL, mean: FORWARD_TOL, rstd: { atol: 0, rtol: 1e-5 } },
        });
        await checkKernel(variant.ctx, {
          name: `layernorm_backward ${tag} ${variant.label}`,
          // Gradients start non-zero: backward accumulates.
          buffers: { dinp: randomFloats(N * C, 5, 0.5), dweight: randomFloats(C, 6, 0.5), dbias: randomFloats(C, 7, 0.5), dout: randomFloats(N * C, 4 + N, 1), inp, weight, mean, rstd },
          twin: (b) => layernormBackward(b.dinp, b.dweight, b.dbias, b.dout, inp, weight, mean, rstd, B, T, C),
          prepare: (ctx, g) => prepareLayernormBackward(ctx, g, B, T, C, maxWorkgroupsX),
          expect: { dinp: BACKWARD_TOL, dweight: paramTolerance(N), dbias: paramTolerance(N) },
        });
      }
    });
  }

  it('two backwards of one shape share the partials buffer safely in one submit', async () => {
    const ctx = await gpuContext();
    const [B, T, C] = [2, 40, 12]; // 80 rows: 3 row blocks
    const N = B * T;
    const inp = randomFloats(N * C, 11, 2);
    const weight = randomFloats(C, 12, 1);
    const mean = new Float32Array(N);
    const rstd = new Float32Array(N);
    layernormForward(new Float32Array(N * C), mean, rstd, inp, weight, randomFloats(C, 13, 1), B, T, C);
    const shared = { inp: ctx.upload('inp', inp), weight: ctx.upload('weight', weight), mean: ctx.upload('mean', mean), rstd: ctx.upload('rstd', rstd) };
    const layers = [21, 22].map((seed) => {
      const dout = randomFloats(N * C, seed, 1);
      const expected = { dinp: new Float32Array(N * C), dweight: new Float32Array(C), dbias: new Float32Array(C) };
      layernormBackward(expected.dinp, expected.dweight, expected.dbias, dout, inp, weight, mean, rstd, B, T, C);
      const buffers = {
        dout: ctx.upload('dout', dout),
        dinp: ctx.createBuffer('dinp', N * C * 4),
        dweight: ctx.createBuffer('dweight', C * 4),
        dbias: ctx.createBuffer('dbias', C * 4),
      };
      return { expected, buffers };
    });
    const dispatches = await Promise.all(layers.map(({ buffers }) => prepareLayernormBackward(ctx, { ...shared, ...buffers }, B, T, C)));
    await ctx.run(dispatches.flat());
    for (const [i, { expected, buffers }] of layers.entries()) {
      expectClose(`shared partials, backward ${i} dinp`, await ctx.readFloat32(buffers.dinp, N * C), expected.dinp, BACKWARD_TOL);
      expectClose(`shared partials, backward ${i} dweight`, await ctx.readFloat32(buffers.dweight, C), expected.dweight, paramTolerance(N));
      expectClose(`shared partials, backward ${i} dbias`, await ctx.readFloat32(buffers.dbias, C), expected.dbias, paramTolerance(N));
    }
    ctx.release(dispatches.flat());
    [...Object.values(shared), ...layers.flatMap(({ buffers }) => Object.values(buffers))].forEach((b) => b.destroy());
  });

  it('rejects a zero dimension before binding anything', async () => {
    const ctx = await gpuContext();
    const x = ctx.createBuffer('x', 16);
    const buffers = { out: x, mean: x, rstd: x, inp: x, weight: x, bias: x, dinp: x, dweight: x, dbias: x, dout: x };
    expect(() => prepareLayernormForward(ctx, buffers, 1, 1, 0)).toThrow(RangeError);
    expect(() => prepareLayernormBackward(ctx, buffers, 0, 1, 4)).toThrow(RangeError);
    x.destroy();
  });
});
