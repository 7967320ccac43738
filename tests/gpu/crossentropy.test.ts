// Fused softmax + cross-entropy kernels against the reference twin: forward
// (probs, losses) and backward (dlogits, accumulated, per-row dlosses) on V
// below, at and above the workgroup size; logits of ±80 where naive exp
// overflows and probs[target] underflows to 0; bit-identical repeats (the
// harness runs everything twice); and the one-workgroup mean loss against a
// float64 mean. The forward runs under every reduction variant the device has.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { checkKernel, reductionVariants } from './check-kernel.ts';
import { randomFloats } from '../compare.ts';
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

/** Forward and backward of one case under one variant through the harness (each run twice, bit for bit); the GPU's results. */
async function check(ctx: GpuContext, label: string, c: Case, tolerance = { probs: TOL, losses: TOL, dlogits: TOL }) {
  const { B, T, V } = c;
  const tag = `${B}x${T}x${V} ${label}`;
  // probs and losses start as garbage, so every slot must be written.
  const forward = await checkKernel(ctx, {
    name: `crossentropy_forward ${tag}`,
    buffers: { losses: new Float32Array(B * T).fill(7), probs: new Float32Array(B * T * V).fill(7), logits: c.logits, targets: c.targets },
    twin: (b) => crossentropySoftmaxForward(b.losses, b.probs, c.logits, c.targets, B, T, V),
    prepare: (ctx, g) => prepareCrossentropyForward(ctx, g, B, T, V),
    expect: { losses: tolerance.losses, probs: tolerance.probs },
  });
  // Backward from the reference's probs, so its check is independent of the forward's.
  const backward = await checkKernel(ctx, {
    name: `crossentropy_backward ${tag}`,
    buffers: { dlogits: c.dlogits0, probs: forward.twin.probs, dlosses: c.dlosses, targets: c.targets },
    twin: (b) => crossentropySoftmaxBackward(b.dlogits, b.probs, c.targets, c.dlosses, B, T, V),
    prepare: (ctx, g) => prepareCrossentropyBackward(ctx, g, B, T, V),
    expect: { dlogits: tolerance.dlogits },
  });
  return { losses: forward.gpu.losses, probs: forward.gpu.probs, dlogits: backward.gpu.dlogits };
}

describe('crossentropy on WebGPU vs reference', () => {
  SHAPES.forEach(([B, T, V], n) => {
    it(`forward and backward, B=${B} T=${T} V=${V}, every variant`, async () => {
      const c = makeCase(B, T, V, 10 * n + 3);
      for (const variant of reductionVariants(await gpuContext())) await check(variant.ctx, variant.label, c);
    });
  });

  it('handles logits of ±80 (exp overflows without the max; probs[target] underflows), every variant', async () => {
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
    for (const variant of reductionVariants(await gpuContext())) {
      // Losses near 160 carry float32 rounding of the logits' scale (80).
      const gpu = await check(variant.ctx, `(±80) ${variant.label}`, c, { probs: TOL, losses: { atol: 1e-4, rtol: 1e-6 }, dlogits: TOL });
      expect(gpu.losses.every(Number.isFinite)).toBe(true);
      expect(gpu.probs.every(Number.isFinite)).toBe(true);
      expect(gpu.losses[0]).toBeCloseTo(Math.log(V), 5);
      expect(gpu.losses[1]).toBeCloseTo(Math.log(V), 5);
      expect(gpu.losses[2]).toBeGreaterThan(150);
    }
  });

  it('wraps a launch past 65535 workgroups into y (backward over 4.2M elements)', async () => {
    // 64 invocations per workgroup: B·T·V > 65535·64 = 4 194 240 needs a second row of workgroups.
    const c = makeCase(1, 16400, 256, 4242);
    for (const variant of reductionVariants(await gpuContext())) await check(variant.ctx, variant.label, c);
  });

  for (const [B, T] of [
    [1, 1],
    [1, 7],
    [4, 256],
    [3, 1001],
  ]) {
    it(`loss_mean over B=${B} T=${T} matches a float64 mean and repeats bit for bit`, async () => {
      const losses = randomFloats(B * T, B * 1000 + T, 3).map((x) => x + 5.5);
      const expected = losses.reduce((sum, x) => sum + x, 0) / losses.length;
      await checkKernel(await gpuContext(), {
        name: `loss_mean ${B}x${T}`,
        buffers: { mean: new Float32Array([7]), losses },
        twin: (b) => (b.mean[0] = expected),
        prepare: (ctx, g) => prepareLossMean(ctx, g, B, T),
        expect: { mean: { atol: 0, rtol: 1e-6 } },
      });
    });
  }
});
