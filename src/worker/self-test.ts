// In-page self-test: runs the WGSL matmul (forward and backward) on this
// tab's WebGPU device and compares it with the plain-TypeScript reference.
// It proves, before any training, that this GPU computes what we expect.
import { GpuContext } from '../gpu/runtime.ts';
import type { GpuDevice } from '../gpu/device.ts';
import { prepareMatmulBackward, prepareMatmulForward } from '../kernels/matmul.ts';
import { matmulBackward, matmulForward } from '../reference/matmul.ts';

export interface SelfTestResult {
  ok: boolean;
  checks: { name: string; maxAbsError: number; ok: boolean }[];
  ms: number;
}

function seeded(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
  return worst;
}

export async function runSelfTest(gpu: GpuDevice): Promise<SelfTestResult> {
  const t0 = performance.now();
  const ctx = new GpuContext(gpu);
  const [BT, C, OC] = [67, 45, 130]; // odd sizes on purpose: exercises every bounds check
  const inp = seeded(BT * C, 1);
  const weight = seeded(OC * C, 2);
  const bias = seeded(OC, 3);
  const dout = seeded(BT * OC, 4);
  const out = new Float32Array(BT * OC);
  const dinp = new Float32Array(BT * C);
  const dweight = new Float32Array(OC * C);
  const dbias = new Float32Array(OC);
  matmulForward(out, inp, weight, bias, BT, C, OC);
  matmulBackward(dinp, dweight, dbias, dout, inp, weight, BT, C, OC);

  const g = {
    out: ctx.createBuffer('out', out.byteLength),
    inp: ctx.upload('inp', inp),
    weight: ctx.upload('weight', weight),
    bias: ctx.upload('bias', bias),
    dout: ctx.upload('dout', dout),
    dinp: ctx.createBuffer('dinp', dinp.byteLength),
    dweight: ctx.createBuffer('dweight', dweight.byteLength),
    dbias: ctx.createBuffer('dbias', dbias.byteLength),
  };
  const dispatches = [
    await prepareMatmulForward(ctx, g, BT, C, OC),
    ...(await prepareMatmulBackward(ctx, g, BT, C, OC)),
  ];
  await ctx.run(dispatches);
  const tolerance = 1e-4;
  const checks = [
    { name: 'matmul_forward', maxAbsError: maxAbs(await ctx.readFloat32(g.out, out.length), out) },
    { name: 'matmul_backward_input', maxAbsError: maxAbs(await ctx.readFloat32(g.dinp, dinp.length), dinp) },
    { name: 'matmul_backward_weight', maxAbsError: maxAbs(await ctx.readFloat32(g.dweight, dweight.length), dweight) },
    { name: 'matmul_backward_bias', maxAbsError: maxAbs(await ctx.readFloat32(g.dbias, dbias.length), dbias) },
  ].map((c) => ({ ...c, ok: c.maxAbsError <= tolerance }));
  ctx.release(dispatches);
  Object.values(g).forEach((b) => b.destroy());
  return { ok: checks.every((c) => c.ok), checks, ms: performance.now() - t0 };
}
