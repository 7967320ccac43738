// GELU and residual kernels on WebGPU against their reference twins, forward
// and backward (backward accumulates onto non-zero gradients), over lengths
// around the workgroup size, and through the 2-D workgroup fold; each run
// twice, bit for bit.
import { describe, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { checkKernel } from './check-kernel.ts';
import { randomFloats } from '../compare.ts';
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
      await checkKernel(ctx, {
        name: `gelu_forward N=${N}`,
        buffers: { out: N, inp },
        twin: (b) => geluForward(b.out, inp, N),
        prepare: (ctx, g) => prepareGeluForward(ctx, g, N, maxWorkgroupsX),
        expect: { out: GELU_TOL },
      });
      await checkKernel(ctx, {
        name: `gelu_backward N=${N}`,
        // dinp starts non-zero: backward accumulates.
        buffers: { dinp: randomFloats(N, 30 + N, 0.5), inp, dout: randomFloats(N, 20 + N, 1) },
        twin: (b) => geluBackward(b.dinp, inp, b.dout, N),
        prepare: (ctx, g) => prepareGeluBackward(ctx, g, N, maxWorkgroupsX),
        expect: { dinp: GELU_TOL },
      });
    });
  }
});

describe('residual on WebGPU vs reference', () => {
  for (const [N, maxWorkgroupsX] of LENGTHS) {
    it(`forward and backward, N=${N}, maxWorkgroupsX ${maxWorkgroupsX ?? 'device'}`, async () => {
      const ctx = await gpuContext();
      const [inp1, inp2] = [randomFloats(N, 40 + N, 2), randomFloats(N, 50 + N, 2)];
      await checkKernel(ctx, {
        name: `residual_forward N=${N}`,
        buffers: { out: N, inp1, inp2 },
        twin: (b) => residualForward(b.out, inp1, inp2, N),
        prepare: (ctx, g) => prepareResidualForward(ctx, g, N, maxWorkgroupsX),
        expect: { out: RESIDUAL_TOL },
      });
      await checkKernel(ctx, {
        name: `residual_backward N=${N}`,
        buffers: { dinp1: randomFloats(N, 70 + N, 0.5), dinp2: randomFloats(N, 80 + N, 0.5), dout: randomFloats(N, 60 + N, 1) },
        twin: (b) => residualBackward(b.dinp1, b.dinp2, b.dout, N),
        prepare: (ctx, g) => prepareResidualBackward(ctx, g, N, maxWorkgroupsX),
        expect: { dinp1: RESIDUAL_TOL, dinp2: RESIDUAL_TOL },
      });
    });
  }
});
