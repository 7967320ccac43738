// The GPU self-test: runs the WGSL matmul (forward and backward) on the tab's
// device and compares it with the plain-TypeScript reference. It proves,
// before any training, that this GPU computes what we expect. It runs in the
// Worker on the tab's one device, through the same pipeline cache as
// training, so the matmul pipelines it compiles are the ones training uses.
// Leaves out: the other kernels (tests/gpu/ checks every one against its
// reference; here one op, with odd sizes that exercise every bounds check,
// is enough to catch a broken driver).
import type { GpuContext } from '../gpu/runtime.ts';
import { prepareMatmulBackward, prepareMatmulForward } from '../kernels/matmul.ts';
import { mulberry32 } from '../model/random.ts';
import { matmulBackward, matmulForward } from '../reference/matmul.ts';
import type { SelfTestResult } from './protocol.ts';

/** Largest |GPU − reference| a check accepts: float32 sums of 45 products, reordered. */
const TOLERANCE = 1e-4;

function seeded(length: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => random() * 2 - 1);
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
  return worst;
}

export async function runSelfTest(ctx: GpuContext): Promise<SelfTestResult> {
  const t0 = performance.now();
  const [BT, C, OC] = [67, 45, 130]; // odd sizes on purpose: exercises every bounds check
  const inp = seeded(BT * C, 1); // (BT, C)
  const weight = seeded(OC * C, 2); // (OC, C)
  const bias = seeded(OC, 3); // (OC)
  const dout = seeded(BT * OC, 4); // (BT, OC)
  const out = new Float32Array(BT * OC);
  const dinp = new Float32Array(BT * C);
  const dweight = new Float32Array(OC * C);
  const dbias = new Float32Array(OC);
  matmulForward(out, inp, weight, bias, BT, C, OC);
  matmulBackward(dinp, dweight, dbias, dout, inp, weight, BT, C, OC);

  const g = {
    out: ctx.createBuffer('self-test.out', out.byteLength),
    inp: ctx.upload('self-test.inp', inp),
    weight: ctx.upload('self-test.weight', weight),
    bias: ctx.upload('self-test.bias', bias),
    dout: ctx.upload('self-test.dout', dout),
    dinp: ctx.createBuffer('self-test.dinp', dinp.byteLength),
    dweight: ctx.createBuffer('self-test.dweight', dweight.byteLength),
    dbias: ctx.createBuffer('self-test.dbias', dbias.byteLength),
  };
  try {
    const dispatches = [await prepareMatmulForward(ctx, g, BT, C, OC), ...(await prepareMatmulBackward(ctx, g, BT, C, OC))];
    await ctx.run(dispatches);
    const checks = [
      { name: 'matmul_forward', maxAbsError: maxAbs(await ctx.readFloat32(g.out, out.length), out) },
      { name: 'matmul_backward_input', maxAbsError: maxAbs(await ctx.readFloat32(g.dinp, dinp.length), dinp) },
      { name: 'matmul_backward_weight', maxAbsError: maxAbs(await ctx.readFloat32(g.dweight, dweight.length), dweight) },
      { name: 'matmul_backward_bias', maxAbsError: maxAbs(await ctx.readFloat32(g.dbias, dbias.length), dbias) },
    ].map((c) => ({ ...c, ok: c.maxAbsError <= TOLERANCE }));
    ctx.release(dispatches);
    return { ok: checks.every((c) => c.ok), checks, ms: performance.now() - t0 };
  } finally {
    Object.values(g).forEach((b) => b.destroy());
  }
}
