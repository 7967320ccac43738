// Fused softmax + cross-entropy kernels against the reference twin: forward
// (probs, losses) and backward (dlogits, accumulated, per-row dlosses) on V
// below, at and above the workgroup size; logits of ±80 where naive exp
// overflows and probs[target] underflows to 0; bit-identical repeats; and the
// one-workgroup mean loss against a float64 mean.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { crossentropySoftmaxBackward, crossentropySoftmaxForward } from '../../src/reference/crossentropy.ts';
import {
  prepareCrossentropyBackward,
  prepareCrossentropyForward,
  prepareLossMean,
} from '../../src/kernels/crossentropy.ts';
import type { GpuContext } from '../../src/gpu/runtime.ts';

// [B, T, V]
const SHAPES: [number, number, number][] = [
  [1, 1, 256], // one row
  [2, 3, 256], // B > 1, the byte vocabulary
  [1, 5, 7], // V < workgroup size: most invocations idle
  [1, 3, 300], // V > workgroup size, not a multiple of it
  [4, 33, 256], // 132 rows
];

// float32 max/exp/sum over ≤ 300 terms against a float64 oracle.
const TOL = { atol: 1e-6, rtol: 1e-5 };

interface Case {
  B: number;
  T: number;
  V: number;
  logits: Float32Array; // (B, T, V)
  targets: Uint32Array; // (B, T)
  dlosses: Float32Array; // (B, T)
  dlogits0: Float32Array; // (B, T, V)
}

function makeCase(B: number, T: number, V: number, seed: number, logits = randomFloats(B * T * V, seed, 4)): Case {
  const targets = new Uint32Array(B * T);
  const pick = randomFloats(B * T, seed + 1, 1);
  for (let i = 0; i < targets.length; i++) targets[i] = Math.min(V - 1, Math.floor(((pick[i] + 1) / 2) * V));
  return {
    B,
    T,
    V,
    logits,
    targets,
    // Per-row weights, not one uniform scalar, so a kernel that mixes rows fails.
    dlosses: randomFloats(B * T, seed + 2, 1),
    dlogits0: randomFloats(B * T * V, seed + 3, 0.5),
  };
}

async function runGpu(ctx: GpuContext, c: Case) {
  const { B, T, V } = c;
  const g = {
    losses: ctx.upload('losses', new Float32Array(B * T).fill(7)),
    probs: ctx.upload('probs', new Float32Array(B * T * V).fill(7)),
    logits: ctx.upload('logits', c.logits),
    targets: ctx.upload('targets', c.targets),
    dlosses: ctx.upload('dlosses', c.dlosses),
    dlogits: ctx.upload('dlogits', c.dlogits0),
  };
  const forward = await prepareCrossentropyForward(ctx, g, B, T, V);
  const backward = await prepareCrossentropyBackward(ctx, g, B, T, V);
  await ctx.run([...forward, ...backward]);
  const result = {
    losses: await ctx.readFloat32(g.losses, B * T),
    probs: await ctx.readFloat32(g.probs, B * T * V),
    dlogits: await ctx.readFloat32(g.dlogits, B * T * V),
  };
  ctx.release([...forward, ...backward]);
  Object.values(g).forEach((b) => b.destroy());
  return result;
}

function runReference(c: Case) {
  const { B, T, V } = c;
  const losses = new Float32Array(B * T);
  const probs = new Float32Array(B * T * V);
  crossentropySoftmaxForward(losses, probs, c.logits, c.targets, B, T, V);
  const dlogits = c.dlogits0.slice();
  crossentropySoftmaxBackward(dlogits, probs, c.targets, c.dlosses, B, T, V);
  return { losses, probs, dlogits };
}

describe('crossentropy on WebGPU vs reference', () => {
  SHAPES.forEach(([B, T, V], n) => {
    it(`forward and backward, B=${B} T=${T} V=${V}`, async () => {
      const ctx = await gpuContext();
      const c = makeCase(B, T, V, 10 * n + 3);
      const gpu = await runGpu(ctx, c);
      const ref = runReference(c);
      const tag = `${B}x${T}x${V}`;
      expectClose(`crossentropy_forward probs ${tag}`, gpu.probs, ref.probs, TOL);
      expectClose(`crossentropy_forward losses ${tag}`, gpu.losses, ref.losses, TOL);
      expectClose(`crossentropy_backward dlogits ${tag}`, gpu.dlogits, ref.dlogits, TOL);
    });
  });

  it('handles logits of ±80 (exp overflows without the max; probs[target] underflows)', async () => {
    const ctx = await gpuContext();
    const [B, T, V] = [2, 4, 256];
    const noise = randomFloats(B * T * V, 901, 1);
    const logits = noise.map((x) => (x >= 0 ? 80 : -80) + x * 0.5);
    // Row 0 and 1: all equal large logits (uniform probabilities, loss = ln V).
    logits.fill(80, 0, V);
    logits.fill(-80, V, 2 * V);
    const c = makeCase(B, T, V, 900, logits);
    // Rows 2..: aim targets at the smallest logit, so probs[target] ≈ e^-160 = 0
    // in float32 and only the log-sum-exp form of the loss is finite.
    for (let row = 2; row < B * T; row++) {
      let argmin = 0;
      for (let i = 1; i < V; i++) if (logits[row * V + i] < logits[row * V + argmin]) argmin = i;
      c.targets[row] = argmin;
    }
    const gpu = await runGpu(ctx, c);
    const ref = runReference(c);
    expect(gpu.losses.every(Number.isFinite)).toBe(true);
    expect(gpu.probs.every(Number.isFinite)).toBe(true);
    expect(gpu.losses[0]).toBeCloseTo(Math.log(V), 5);
    expect(gpu.losses[1]).toBeCloseTo(Math.log(V), 5);
    expect(gpu.losses[2]).toBeGreaterThan(150);
    // Losses near 160 carry float32 rounding of the logits' scale (80).
    expectClose('crossentropy_forward losses (±80)', gpu.losses, ref.losses, { atol: 1e-4, rtol: 1e-6 });
    expectClose('crossentropy_forward probs (±80)', gpu.probs, ref.probs, TOL);
    expectClose('crossentropy_backward dlogits (±80)', gpu.dlogits, ref.dlogits, TOL);
  });

  it('wraps a launch past 65535 workgroups into y (backward over 4.2M elements)', async () => {
    // 64 invocations per workgroup: B·T·V > 65535·64 = 4 194 240 needs a second row of workgroups.
    const ctx = await gpuContext();
    const [B, T, V] = [1, 16400, 256];
    const c = makeCase(B, T, V, 4242);
    const gpu = await runGpu(ctx, c);
    const ref = runReference(c);
    expectClose(`crossentropy_forward losses ${B}x${T}x${V}`, gpu.losses, ref.losses, TOL);
    expectClose(`crossentropy_backward dlogits ${B}x${T}x${V}`, gpu.dlogits, ref.dlogits, TOL);
  });

  it('gives bit-identical results when run twice', async () => {
    const ctx = await gpuContext();
    const c = makeCase(3, 17, 256, 444);
    const first = await runGpu(ctx, c);
    const second = await runGpu(ctx, c);
    for (const name of Object.keys(first) as (keyof typeof first)[]) {
      expect(new Uint32Array(second[name].buffer), name).toEqual(new Uint32Array(first[name].buffer));
    }
  });

  for (const [B, T] of [
    [1, 1],
    [1, 7],
    [4, 256],
    [3, 1001],
  ]) {
    it(`loss_mean over B=${B} T=${T} matches a float64 mean and repeats bit for bit`, async () => {
      const ctx = await gpuContext();
      const losses = randomFloats(B * T, B * 1000 + T, 3).map((x) => x + 5.5);
      const expected = losses.reduce((sum, x) => sum + x, 0) / losses.length;
      const g = { mean: ctx.upload('mean', new Float32Array([7])), losses: ctx.upload('losses', losses) };
      const dispatches = await prepareLossMean(ctx, g, B, T);
      await ctx.run(dispatches);
      const first = await ctx.readFloat32(g.mean, 1);
      await ctx.run(dispatches);
      const second = await ctx.readFloat32(g.mean, 1);
      expectClose(`loss_mean ${B}x${T}`, first, [expected], { atol: 0, rtol: 1e-6 });
      expect(new Uint32Array(second.buffer)).toEqual(new Uint32Array(first.buffer));
      ctx.release(dispatches);
      Object.values(g).forEach((b) => b.destroy());
    });
  }
});
