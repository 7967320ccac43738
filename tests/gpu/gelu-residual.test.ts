// GELU and residual kernels on WebGPU against their reference twins, forward
// and backward (backward accumulates onto non-zero gradients), over lengths
// around the workgroup size, and through the 2-D workgroup fold.
import { describe, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { geluBackward, geluForward } from '../../src/reference/gelu.ts';
import { residualBackward, residualForward } from '../../src/reference/residual.ts';
import { prepareGeluBackward, prepareGeluForward } from '../../src/kernels/gelu.ts';
import { prepareResidualBackward, prepareResidualForward } from '../../src/kernels/residual.ts';

// [N, maxWorkgroupsX (undefined = device limit)]
const LENGTHS: [number, number | undefined][] = [
  [1, undefined],
  [3, undefined],
  [255, undefined],
  [256, undefined],
  [257, undefined],
  [4 * 3 * 4 * 7, undefined], // B=4, T=3, 4C with C=7
  [5000, undefined],
  [5 * 256 + 1, 2], // 6 workgroups folded into 2 × 3
  [1000, 1], // a column of 4 workgroups
];

// Values the MLP never sees in practice but a lowered tanh/cosh can turn into
// NaN or inf: GELU must saturate cleanly (gelu(x) → x or 0, gelu' → 1 or 0).
const EXTREMES = [-100, -20, -10, -5, -1e-3, 0, 1e-3, 5, 10, 20, 100];

// GELU: float32 against a float64 oracle; the error is the WGSL tanh/exp's.
const GELU_TOL = { atol: 2e-6, rtol: 1e-5 };
// Residual: one float32 add per element, correctly rounded on every backend, so exact.
const RESIDUAL_TOL = { atol: 0, rtol: 0 };

describe('gelu on WebGPU vs reference', () => {
  for (const [N, maxWorkgroupsX] of LENGTHS) {
    it(`forward and backward, N=${N}, maxWorkgroupsX ${maxWorkgroupsX ?? 'device'}`, async () => {
      const ctx = await gpuContext();
      const inp = randomFloats(N, 10 + N, 4);
      inp.set(EXTREMES.slice(0, Math.min(N, EXTREMES.length)));
      const dout = randomFloats(N, 20 + N, 1);
      const dinp0 = randomFloats(N, 30 + N, 0.5);

      const out = new Float32Array(N);
      geluForward(out, inp, N);
      const dinp = dinp0.slice();
      geluBackward(dinp, inp, dout, N);

      const g = {
        out: ctx.createBuffer('out', N * 4),
        inp: ctx.upload('inp', inp),
        dout: ctx.upload('dout', dout),
        dinp: ctx.upload('dinp', dinp0),
      };
      const forward = await prepareGeluForward(ctx, g, N, maxWorkgroupsX);
      const backward = await prepareGeluBackward(ctx, g, N, maxWorkgroupsX);
      await ctx.run([forward, backward]);
      expectClose(`gelu_forward N=${N}`, await ctx.readFloat32(g.out, N), out, GELU_TOL);
      expectClose(`gelu_backward N=${N}`, await ctx.readFloat32(g.dinp, N), dinp, GELU_TOL);
      ctx.release([forward, backward]);
      Object.values(g).forEach((b) => b.destroy());
    });
  }
});

describe('residual on WebGPU vs reference', () => {
  for (const [N, maxWorkgroupsX] of LENGTHS) {
    it(`forward and backward, N=${N}, maxWorkgroupsX ${maxWorkgroupsX ?? 'device'}`, async () => {
      const ctx = await gpuContext();
      const inp1 = randomFloats(N, 40 + N, 2);
      const inp2 = randomFloats(N, 50 + N, 2);
      const dout = randomFloats(N, 60 + N, 1);
      const dinp10 = randomFloats(N, 70 + N, 0.5);
      const dinp20 = randomFloats(N, 80 + N, 0.5);

      const out = new Float32Array(N);
      residualForward(out, inp1, inp2, N);
      const dinp1 = dinp10.slice();
      const dinp2 = dinp20.slice();
      residualBackward(dinp1, dinp2, dout, N);

      const g = {
        out: ctx.createBuffer('out', N * 4),
        inp1: ctx.upload('inp1', inp1),
        inp2: ctx.upload('inp2', inp2),
        dout: ctx.upload('dout', dout),
        dinp1: ctx.upload('dinp1', dinp10),
        dinp2: ctx.upload('dinp2', dinp20),
      };
      const forward = await prepareResidualForward(ctx, g, N, maxWorkgroupsX);
      const backward = await prepareResidualBackward(ctx, g, N, maxWorkgroupsX);
      await ctx.run([forward, backward]);
      expectClose(`residual_forward N=${N}`, await ctx.readFloat32(g.out, N), out, RESIDUAL_TOL);
      expectClose(`residual_backward dinp1 N=${N}`, await ctx.readFloat32(g.dinp1, N), dinp1, RESIDUAL_TOL);
      expectClose(`residual_backward dinp2 N=${N}`, await ctx.readFloat32(g.dinp2, N), dinp2, RESIDUAL_TOL);
      ctx.release([forward, backward]);
      Object.values(g).forEach((b) => b.destroy());
    });
  }
});
