// adamw_update (fed by grad_norm's clip scale on the GPU) against the
// reference chain gradNorm → clipScale → scaleInPlace → adamwUpdate, over
// steps t = 1..3 with a changing lr written through setAdamwStep, on odd
// sizes, with clipping active and inactive, a per-element decay mask, the
// 2-D workgroup layout (forced with a small x cap), and views of one buffer.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { errorStats, expectClose, randomFloats } from '../compare.ts';
import { adamwUpdate } from '../../src/reference/adamw.ts';
import { clipScale, gradNorm, scaleInPlace } from '../../src/reference/grad-norm.ts';
import { packDecayMask, prepareAdamwUpdate, setAdamwStep, type AdamwHyperparameters } from '../../src/kernels/adamw.ts';
import { GRAD_NORM_RESULT_BYTES, gradNormLayout, prepareGradNorm } from '../../src/kernels/grad-norm.ts';
import type { GpuContext } from '../../src/gpu/runtime.ts';

// Float32 moments and parameters against a float64-arithmetic twin that rounds
// at each store; the clip scale differs by ~1e-7 relative (f32 norm on the GPU).
const TOL = {
  params: { atol: 1e-6, rtol: 1e-6 },
  m: { atol: 1e-9, rtol: 1e-5 },
  v: { atol: 1e-12, rtol: 1e-5 },
};

const GRAD_SCALE = 0.05;
const hyperAt = (t: number): AdamwHyperparameters => ({
  lr: 1e-2 * (1 - 0.2 * (t - 1)), // changes every step: the uniform must follow
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
});

/** Half the elements decay (random), element 0 always does. */
function decayMaskFor(N: number, seed: number): Float32Array {
  const r = randomFloats(N, seed);
  const mask = r.map((x) => (x > 0 ? 1 : 0));
  mask[0] = 1;
  return mask;
}

async function readBack(ctx: GpuContext, buffer: GPUBuffer, N: number) {
  return ctx.readFloat32(buffer, N);
}

interface Case {
  N: number;
  clipping: boolean;
  maxWorkgroupsX?: number;
}

const CASES: Case[] = [
  { N: 1, clipping: true },
  { N: 1, clipping: false },
  { N: 1000, clipping: true },
  { N: 1000, clipping: false },
  { N: 65537, clipping: true },
  { N: 65537, clipping: false },
  // 2-D layouts: ⌈1000/256⌉ = 4 workgroups as 3 × 2; 257 as 7 × 37 (2 idle).
  { N: 1000, clipping: true, maxWorkgroupsX: 3 },
  { N: 65537, clipping: false, maxWorkgroupsX: 7 },
];

describe('adamw_update on WebGPU vs reference', () => {
  for (const { N, clipping, maxWorkgroupsX } of CASES) {
    const tag = `N=${N} ${clipping ? 'clipped' : 'unclipped'}${maxWorkgroupsX ? ` x≤${maxWorkgroupsX}` : ''}`;
    it(`three steps, ${tag}`, async () => {
      const ctx = await gpuContext();
      const seed = N * 7 + (clipping ? 1 : 2) + (maxWorkgroupsX ?? 0);
      const params = randomFloats(N, seed, 1);
      const mask = decayMaskFor(N, seed + 1);
      const gradsAt = [1, 2, 3].map((t) => randomFloats(N, seed + 10 * t, GRAD_SCALE));
      const norms = gradsAt.map((grads) => gradNorm(grads, N));
      const maxNorm = clipping ? 0.3 * Math.min(...norms) : 10 * Math.max(...norms) + 1;

      const pRef = params.slice();
      const mRef = new Float32Array(N);
      const vRef = new Float32Array(N);
      const g = {
        params: ctx.upload('params', params),
        grads: ctx.createBuffer('grads', N * 4),
        m: ctx.upload('m', mRef),
        v: ctx.upload('v', vRef),
        decayMask: ctx.upload('decayMask', packDecayMask(mask, N)),
        partials: ctx.createBuffer('partials', gradNormLayout(N).partials * 4),
        gradNorm: ctx.createBuffer('gradNorm', GRAD_NORM_RESULT_BYTES),
      };
      const norm = await prepareGradNorm(ctx, { grads: g.grads, partials: g.partials, result: g.gradNorm }, N, maxNorm);
      const adamw = await prepareAdamwUpdate(ctx, g, N, hyperAt(1), 1, { maxWorkgroupsX });
      if (maxWorkgroupsX) {
        expect(adamw.workgroups[0]).toBeLessThanOrEqual(maxWorkgroupsX);
        if (N > 256 * maxWorkgroupsX) expect(adamw.workgroups[1]).toBeGreaterThan(1);
      }

      for (let t = 1; t <= 3; t++) {
        const hyper = hyperAt(t);
        const grads = gradsAt[t - 1];
        ctx.write(g.grads, grads);
        setAdamwStep(ctx, adamw, N, hyper, t);
        await ctx.run([...norm, adamw]);

        const scale = clipScale(norms[t - 1], maxNorm);
        if (clipping) expect(scale).toBeLessThan(0.31);
        else expect(scale).toBe(1);
        const clipped = grads.slice();
        scaleInPlace(clipped, N, scale);
        const pBefore = pRef.slice();
        adamwUpdate(pRef, clipped, mRef, vRef, N, hyper.lr, hyper.beta1, hyper.beta2, hyper.eps, hyper.weightDecay, t, mask);

        const pGpu = await readBack(ctx, g.params, N);
        expectClose(`adamw params t=${t} ${tag}`, pGpu, pRef, TOL.params);
        expectClose(`adamw m t=${t} ${tag}`, await readBack(ctx, g.m, N), mRef, TOL.m);
        expectClose(`adamw v t=${t} ${tag}`, await readBack(ctx, g.v, N), vRef, TOL.v);

        // The tolerance must be far below the effects under test, or the
        // comparison above could not catch a dropped mask or clip scale.
        if (N > 1) {
          const pDecayEverywhere = pBefore.slice();
          adamwUpdate(pDecayEverywhere, clipped, mRef.slice(), vRef.slice(), N, hyper.lr, hyper.beta1, hyper.beta2, hyper.eps, hyper.weightDecay, t, null);
          expect(errorStats(pDecayEverywhere, pRef).maxAbs).toBeGreaterThan(100 * TOL.params.atol);
        }
      }
      // AdamW reads the gradients and leaves them as they were (the clip is applied on the fly).
      const gradsAfter = await readBack(ctx, g.grads, N);
      expect(Array.from(new Uint32Array(gradsAfter.buffer))).toEqual(Array.from(new Uint32Array(gradsAt[2].buffer)));

      ctx.release([...norm, adamw]);
      Object.values(g).forEach((b) => b.destroy());
    });
  }

  it('packDecayMask sets bit i of word i/32 for each non-zero element', () => {
    const mask = new Float32Array(70);
    [0, 5, 31, 32, 69].forEach((i) => (mask[i] = 1));
    expect(Array.from(packDecayMask(mask))).toEqual([(1 | (1 << 5) | (1 << 31)) >>> 0, 1, 1 << 5]);
  });

  it('over two views of the buffers (maskOffset) gives the same bits as one dispatch', async () => {
    const ctx = await gpuContext();
    const N = 1000;
    const split = 640; // 2560 bytes: a legal binding offset; 640 = 20 mask words
    const params = randomFloats(N, 91, 1);
    const mask = decayMaskFor(N, 92);
    // Shift the mask so the views' bits are not word-aligned in the mask
    // buffer: element i's bit sits at i + 5, and the views pass maskOffset.
    const shift = 5;
    const shifted = new Float32Array(N + shift);
    shifted.set(mask, shift);
    const make = () => ({
      params: ctx.upload('params', params),
      grads: ctx.createBuffer('grads', N * 4),
      m: ctx.upload('m', new Float32Array(N)),
      v: ctx.upload('v', new Float32Array(N)),
      decayMask: ctx.upload('decayMask', packDecayMask(shifted)),
      gradNorm: ctx.upload('gradNorm', new Float32Array([0, 0.75])), // a fixed clip scale of 0.75
    });
    const whole = make();
    const split2 = make();
    const view = (buffer: GPUBuffer, from: number, to: number) => ({ buffer, offset: from * 4, size: (to - from) * 4 });
    const parts = (from: number, to: number) => ({
      params: view(split2.params, from, to),
      grads: view(split2.grads, from, to),
      m: view(split2.m, from, to),
      v: view(split2.v, from, to),
      decayMask: split2.decayMask,
      gradNorm: split2.gradNorm,
    });
    const one = await prepareAdamwUpdate(ctx, whole, N, hyperAt(1), 1, { maskOffset: shift });
    const first = await prepareAdamwUpdate(ctx, parts(0, split), split, hyperAt(1), 1, { maskOffset: shift });
    const second = await prepareAdamwUpdate(ctx, parts(split, N), N - split, hyperAt(1), 1, { maskOffset: shift + split });

    const pRef = params.slice();
    const mRef = new Float32Array(N);
    const vRef = new Float32Array(N);
    for (let t = 1; t <= 2; t++) {
      const grads = randomFloats(N, 93 + t, GRAD_SCALE);
      ctx.write(whole.grads, grads);
      ctx.write(split2.grads, grads);
      setAdamwStep(ctx, one, N, hyperAt(t), t, shift);
      setAdamwStep(ctx, first, split, hyperAt(t), t, shift);
      setAdamwStep(ctx, second, N - split, hyperAt(t), t, shift + split);
      await ctx.run([one, first, second]);
      const clipped = grads.slice();
      scaleInPlace(clipped, N, 0.75);
      const h = hyperAt(t);
      adamwUpdate(pRef, clipped, mRef, vRef, N, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, t, mask);
    }
    const pWhole = await readBack(ctx, whole.params, N);
    const pSplit = await readBack(ctx, split2.params, N);
    expectClose('adamw params, mask offset', pWhole, pRef, TOL.params);
    expect(Array.from(new Uint32Array(pSplit.buffer))).toEqual(Array.from(new Uint32Array(pWhole.buffer)));
    const vWhole = await readBack(ctx, whole.v, N);
    const vSplit = await readBack(ctx, split2.v, N);
    expect(Array.from(new Uint32Array(vSplit.buffer))).toEqual(Array.from(new Uint32Array(vWhole.buffer)));
    ctx.release([one, first, second]);
    [...Object.values(whole), ...Object.values(split2)].forEach((b) => b.destroy());
  });
});
