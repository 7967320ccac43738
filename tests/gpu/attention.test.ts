// Causal self-attention kernels against the reference twin: forward (out,
// preatt, att) and backward (dinp, dpreatt, datt) on shapes covering T = 1,
// odd T, T above the workgroup size, NH = 1, head sizes not a multiple of 4,
// B > 1, and a launch large enough to wrap into a second dispatch dimension;
// large scores that overflow exp without the max subtraction; masked entries
// written as 0; gradients accumulated; bit-identical results on repeated runs.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { attentionBackward, attentionForward } from '../../src/reference/attention.ts';
import { prepareAttentionBackward, prepareAttentionForward } from '../../src/kernels/attention.ts';
import type { GpuContext } from '../../src/gpu/runtime.ts';

// [B, T, C, NH]
const SHAPES: [number, number, number, number][] = [
  [1, 1, 4, 1], // T = 1: a single unmasked score
  [1, 7, 12, 3], // odd T, hs = 4
  [2, 5, 6, 2], // B > 1, hs = 3 (not a multiple of 4)
  [1, 9, 16, 1], // NH = 1
  [2, 13, 20, 4], // hs = 5
  [1, 70, 8, 2], // T > 64: rows span several workgroups
  [1, 3, 80, 1], // hs = 80
  [1, 16, 128, 2], // hs = 64, the largest preset head
];

// float32 dot products of ≤ 80 terms and sums of ≤ 70 terms against a float64
// oracle; exp on SwiftShader is within a few ulp.
const FORWARD_TOL = { atol: 1e-5, rtol: 1e-4 };
const BACKWARD_TOL = { atol: 2e-5, rtol: 2e-4 };

interface Case {
  B: number;
  T: number;
  C: number;
  NH: number;
  inp: Float32Array; // (B, T, 3C)
  dout: Float32Array; // (B, T, C)
  dinp0: Float32Array; // (B, T, 3C)
  dpreatt0: Float32Array; // (B, NH, T, T)
  datt0: Float32Array; // (B, NH, T, T)
}

function makeCase(B: number, T: number, C: number, NH: number, seed: number, inpScale = 1): Case {
  const TT = B * NH * T * T;
  return {
    B,
    T,
    C,
    NH,
    inp: randomFloats(B * T * 3 * C, seed, inpScale),
    dout: randomFloats(B * T * C, seed + 1, 1),
    // Gradients start non-zero: backward must accumulate, and must leave the
    // masked entries (t2 > t) of dpreatt and datt as they were.
    dinp0: randomFloats(B * T * 3 * C, seed + 2, 0.5),
    dpreatt0: randomFloats(TT, seed + 3, 0.1),
    datt0: randomFloats(TT, seed + 4, 0.1),
  };
}

/** Run forward then backward on the GPU; preatt/att start as garbage so the masked zeros are checked. */
async function runGpu(ctx: GpuContext, c: Case) {
  const { B, T, C, NH } = c;
  const TT = B * NH * T * T;
  const garbage = new Float32Array(TT).fill(7);
  const g = {
    out: ctx.createBuffer('out', B * T * C * 4),
    preatt: ctx.upload('preatt', garbage),
    att: ctx.upload('att', garbage),
    inp: ctx.upload('inp', c.inp),
    dout: ctx.upload('dout', c.dout),
    dinp: ctx.upload('dinp', c.dinp0),
    dpreatt: ctx.upload('dpreatt', c.dpreatt0),
    datt: ctx.upload('datt', c.datt0),
  };
  const forward = await prepareAttentionForward(ctx, g, B, T, C, NH);
  const backward = await prepareAttentionBackward(ctx, g, B, T, C, NH);
  await ctx.run([...forward, ...backward]);
  const result = {
    out: await ctx.readFloat32(g.out, B * T * C),
    preatt: await ctx.readFloat32(g.preatt, TT),
    att: await ctx.readFloat32(g.att, TT),
    dinp: await ctx.readFloat32(g.dinp, B * T * 3 * C),
    dpreatt: await ctx.readFloat32(g.dpreatt, TT),
    datt: await ctx.readFloat32(g.datt, TT),
  };
  ctx.release([...forward, ...backward]);
  Object.values(g).forEach((b) => b.destroy());
  return result;
}

function runReference(c: Case) {
  const { B, T, C, NH } = c;
  const TT = B * NH * T * T;
  const out = new Float32Array(B * T * C);
  const preatt = new Float32Array(TT);
  const att = new Float32Array(TT);
  attentionForward(out, preatt, att, c.inp, B, T, C, NH);
  const dinp = c.dinp0.slice();
  const dpreatt = c.dpreatt0.slice();
  const datt = c.datt0.slice();
  attentionBackward(dinp, dpreatt, datt, c.dout, c.inp, att, B, T, C, NH);
  return { out, preatt, att, dinp, dpreatt, datt };
}

type Results = Record<'out' | 'preatt' | 'att' | 'dinp' | 'dpreatt' | 'datt', Float32Array>;

function compare(tag: string, gpu: Results, ref: Results) {
  expectClose(`attention_forward out ${tag}`, gpu.out, ref.out, FORWARD_TOL);
  expectClose(`attention_forward preatt ${tag}`, gpu.preatt, ref.preatt, FORWARD_TOL);
  expectClose(`attention_forward att ${tag}`, gpu.att, ref.att, FORWARD_TOL);
  expectClose(`attention_backward datt ${tag}`, gpu.datt, ref.datt, BACKWARD_TOL);
  expectClose(`attention_backward dpreatt ${tag}`, gpu.dpreatt, ref.dpreatt, BACKWARD_TOL);
  expectClose(`attention_backward dinp ${tag}`, gpu.dinp, ref.dinp, BACKWARD_TOL);
}

describe('attention on WebGPU vs reference', () => {
  SHAPES.forEach(([B, T, C, NH], n) => {
    it(`forward and backward, B=${B} T=${T} C=${C} NH=${NH}`, async () => {
      const ctx = await gpuContext();
      const c = makeCase(B, T, C, NH, 100 * n + 1);
      compare(`${B}x${T}x${C}x${NH}`, await runGpu(ctx, c), runReference(c));
    });
  });

  it('stays finite and accurate when scores are in the hundreds', async () => {
    // hs = 16, |q|,|k| up to 12: scores up to 16·144/4 = 576, where exp
    // overflows float32 (> 88.7) unless the row max is subtracted first.
    const ctx = await gpuContext();
    const c = makeCase(2, 11, 32, 2, 77, 12);
    const ref = runReference(c);
    const maxScore = ref.preatt.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxScore).toBeGreaterThan(100);
    const gpu = await runGpu(ctx, c);
    for (const [name, values] of Object.entries(gpu)) {
      expect(values.every(Number.isFinite), `${name} finite`).toBe(true);
    }
    // Scores carry float32 error relative to their size (hundreds), which the
    // softmax turns into absolute error in att; hence looser bounds than above.
    expectClose('attention_forward preatt (large scores)', gpu.preatt, ref.preatt, { atol: 1e-4, rtol: 1e-5 });
    expectClose('attention_forward att (large scores)', gpu.att, ref.att, { atol: 1e-5, rtol: 1e-4 });
    expectClose('attention_forward out (large scores)', gpu.out, ref.out, { atol: 1e-4, rtol: 1e-4 });
    expectClose('attention_backward dinp (large scores)', gpu.dinp, ref.dinp, { atol: 1e-4, rtol: 1e-4 });
  });

  it('wraps a launch past 65535 workgroups into y (backward over 4.3M inputs)', async () => {
    // 64 invocations per workgroup: B·T·3C > 65535·64 = 4 194 240 needs a second row of workgroups.
    const ctx = await gpuContext();
    const c = makeCase(700, 2, 1024, 1, 31);
    compare('700x2x1024x1', await runGpu(ctx, c), runReference(c));
  });

  it('gives bit-identical results when run twice', async () => {
    const ctx = await gpuContext();
    const c = makeCase(2, 37, 24, 3, 555);
    const first = await runGpu(ctx, c);
    const second = await runGpu(ctx, c);
    for (const name of Object.keys(first) as (keyof typeof first)[]) {
      expect(new Uint32Array(second[name].buffer), name).toEqual(new Uint32Array(first[name].buffer));
    }
  });

  it('rejects shapes the kernel cannot run', async () => {
    const ctx = await gpuContext();
    const buffer = ctx.createBuffer('dummy', 16);
    const g = { out: buffer, preatt: buffer, att: buffer, inp: buffer };
    await expect(prepareAttentionForward(ctx, g, 1, 4, 10, 3)).rejects.toThrow(/multiple of NH/);
    buffer.destroy();
  });
});
