// Every matmul entry point against its reference twin on a spread of shapes:
// odd sizes, a single row, tall-skinny, wide, K not a multiple of the tile,
// and the aligned GPT shapes the kernel is tuned for.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { matmulBackward, matmulForward } from '../../src/reference/matmul.ts';
import {
  matmulNaiveForwardKernel,
  prepareMatmulBackward,
  prepareMatmulForward,
} from '../../src/kernels/matmul.ts';

// [BT, C, OC]
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 64, 64],
  [3, 5, 7],
  [17, 33, 65],
  [64, 64, 64],
  [128, 64, 192],
  [1, 256, 17],
  [257, 3, 2],
  [200, 8, 1],
  [96, 100, 48],
  [130, 130, 130],
  [64, 128, 256],
];

// float32 sums of ≤ 256 products of values in [-1, 1] against a float64 oracle.
const TOL = { atol: 2e-5, rtol: 2e-5 };

describe('matmul on WebGPU vs reference', () => {
  for (const [BT, C, OC] of SHAPES) {
    it(`forward and backward, BT=${BT} C=${C} OC=${OC}`, async () => {
      const ctx = await gpuContext();
      const inp = randomFloats(BT * C, 1 + BT, 1);
      const weight = randomFloats(OC * C, 2 + C, 1);
      const bias = randomFloats(OC, 3 + OC, 1);
      const dout = randomFloats(BT * OC, 4, 1);
      // Gradients start non-zero: backward must accumulate, not overwrite.
      const dinp0 = randomFloats(BT * C, 5, 0.5);
      const dweight0 = randomFloats(OC * C, 6, 0.5);
      const dbias0 = randomFloats(OC, 7, 0.5);

      const out = new Float32Array(BT * OC);
      matmulForward(out, inp, weight, bias, BT, C, OC);
      const dinp = dinp0.slice();
      const dweight = dweight0.slice();
      const dbias = dbias0.slice();
      matmulBackward(dinp, dweight, dbias, dout, inp, weight, BT, C, OC);

      const g = {
        out: ctx.createBuffer('out', out.byteLength),
        inp: ctx.upload('inp', inp),
        weight: ctx.upload('weight', weight),
        bias: ctx.upload('bias', bias),
        dout: ctx.upload('dout', dout),
        dinp: ctx.upload('dinp', dinp0),
        dweight: ctx.upload('dweight', dweight0),
        dbias: ctx.upload('dbias', dbias0),
      };
      const forward = await prepareMatmulForward(ctx, g, BT, C, OC);
      const backward = await prepareMatmulBackward(ctx, g, BT, C, OC);
      await ctx.run([forward, ...backward]);

      const tag = `${BT}x${C}x${OC}`;
      expectClose(`matmul_forward ${tag}`, await ctx.readFloat32(g.out, BT * OC), out, TOL);
      expectClose(`matmul_backward_input ${tag}`, await ctx.readFloat32(g.dinp, BT * C), dinp, TOL);
      expectClose(`matmul_backward_weight ${tag}`, await ctx.readFloat32(g.dweight, OC * C), dweight, TOL);
      expectClose(`matmul_backward_bias ${tag}`, await ctx.readFloat32(g.dbias, OC), dbias, TOL);
      ctx.release([forward, ...backward]);
      Object.values(g).forEach((b) => b.destroy());
    });
  }

  it('forward without bias, and the naive baseline, agree with the reference', async () => {
    const ctx = await gpuContext();
    const [BT, C, OC] = [37, 29, 41];
    const inp = randomFloats(BT * C, 11);
    const weight = randomFloats(OC * C, 12);
    const expected = new Float32Array(BT * OC);
    matmulForward(expected, inp, weight, null, BT, C, OC);
    const out = ctx.createBuffer('out', expected.byteLength);
    const buffers = { out, inp: ctx.upload('inp', inp), weight: ctx.upload('weight', weight), bias: null };
    await ctx.run([await prepareMatmulForward(ctx, buffers, BT, C, OC)]);
    expectClose('matmul_forward no bias', await ctx.readFloat32(out, BT * OC), expected, TOL);
    ctx.write(out, new Float32Array(BT * OC));
    await ctx.run([await prepareMatmulForward(ctx, buffers, BT, C, OC, matmulNaiveForwardKernel)]);
    expectClose('matmul_naive_forward', await ctx.readFloat32(out, BT * OC), expected, TOL);
  });

  it('is bit-deterministic across runs', async () => {
    const ctx = await gpuContext();
    const [BT, C, OC] = [70, 50, 90];
    const g = {
      dinp: ctx.createBuffer('dinp', BT * C * 4),
      dweight: ctx.createBuffer('dweight', OC * C * 4),
      dbias: ctx.createBuffer('dbias', OC * 4),
      dout: ctx.upload('dout', randomFloats(BT * OC, 21)),
      inp: ctx.upload('inp', randomFloats(BT * C, 22)),
      weight: ctx.upload('weight', randomFloats(OC * C, 23)),
    };
    const backward = await prepareMatmulBackward(ctx, g, BT, C, OC);
    const results: Uint32Array[] = [];
    for (let run = 0; run < 2; run++) {
      for (const buffer of [g.dinp, g.dweight, g.dbias]) ctx.write(buffer, new Float32Array(buffer.size / 4));
      await ctx.run(backward);
      results.push(new Uint32Array(await ctx.read(g.dweight)));
    }
    expect(results[0]).toEqual(results[1]);
  });
});
