// grad_norm_partial + grad_norm_final against gradNorm / clipScale (float64
// oracle) on odd sizes, with clipping active and inactive, over split views,
// and a bitwise determinism check (same gradients → same bits of the norm),
// each under every reduction variant the device has (plain, subgroups).
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { reductionVariants } from './check-kernel.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { clipScale, gradNorm } from '../../src/reference/grad-norm.ts';
import {
  GRAD_NORM_RESULT_BYTES,
  gradNormLayout,
  gradNormPartialCount,
  prepareGradNorm,
  prepareGradNormSegments,
  setGradNormMaxNorm,
} from '../../src/kernels/grad-norm.ts';
import type { GpuContext } from '../../src/gpu/runtime.ts';

// f32 sums of squares in a fixed tree (≤ a few hundred sequential adds per
// lane) against a float64 sum: relative error of a few 1e-7 in practice.
const NORM_TOL = { atol: 0, rtol: 2e-6 };

/** Runs both passes on fresh buffers; returns [norm, clip_scale] and the partials as raw bits. */
async function runGradNorm(ctx: GpuContext, grads: Float32Array, maxNorm: number, maxPartials?: number) {
  const N = grads.length;
  const { partials: P } = gradNormLayout(N, maxPartials);
  const g = {
    grads: ctx.upload('grads', grads),
    partials: ctx.upload('partials', new Float32Array(P).fill(NaN)), // poisoned: every slot must be written
    result: ctx.upload('result', new Float32Array([NaN, NaN])),
  };
  const dispatches = await prepareGradNorm(ctx, g, N, maxNorm, maxPartials);
  await ctx.run(dispatches);
  const result = await ctx.readFloat32(g.result, 2);
  const partialBits = new Uint32Array(await ctx.read(g.partials, P * 4));
  ctx.release(dispatches);
  Object.values(g).forEach((b) => b.destroy());
  return { norm: result[0], clip: result[1], bits: new Uint32Array(result.buffer), partialBits };
}

describe('grad norm on WebGPU vs reference', () => {
  // [N, maxPartials]: odd sizes; 65537 gives 257 partials (pass 2 loops);
  // maxPartials 7 forces chunks of 37·256 (pass 1 loops within a workgroup).
  const CASES: [number, number | undefined][] = [
    [1, undefined],
    [1000, undefined],
    [65537, undefined],
    [65537, 7],
    [300001, undefined],
  ];
  for (const [N, maxPartials] of CASES) {
    it(`norm and clip scale, N=${N}${maxPartials ? ` maxPartials=${maxPartials}` : ''}, every variant`, async () => {
      for (const { ctx, label } of reductionVariants(await gpuContext())) {
        const grads = randomFloats(N, 100 + N, 0.01);
        const norm = gradNorm(grads, N);
        const tag = `N=${N}${maxPartials ? '/' + maxPartials : ''} ${label}`;

        // Clipping active: the threshold is below the norm.
        const maxNorm = norm / 3;
        const active = await runGradNorm(ctx, grads, maxNorm, maxPartials);
        expectClose(`grad_norm ${tag}`, [active.norm], [norm], NORM_TOL);
        expectClose(`clip_scale active ${tag}`, [active.clip], [clipScale(norm, maxNorm)], { atol: 0, rtol: 3e-6 });
        expect(active.clip).toBeLessThan(0.34);

        // Clipping inactive: exactly 1, as min(1, ·) gives in the reference.
        const inactive = await runGradNorm(ctx, grads, norm * 2 + 1, maxPartials);
        expect(clipScale(norm, norm * 2 + 1)).toBe(1);
        expect(inactive.clip).toBe(1);
        expect(inactive.norm).toBe(active.norm);
      }
    });
  }

  it('is bitwise deterministic: same gradients, fresh buffers, same bits; every variant', async () => {
    for (const { ctx } of reductionVariants(await gpuContext())) {
      const N = 200003;
      // Mixed magnitudes make the sum order-sensitive, so a non-fixed order would show.
      const grads = randomFloats(N, 7, 1);
      for (let i = 0; i < N; i += 97) grads[i] *= 1e4;
      const first = await runGradNorm(ctx, grads, 1);
      const second = await runGradNorm(ctx, grads, 1);
      expect(Array.from(second.bits)).toEqual(Array.from(first.bits));
      expect(Array.from(second.partialBits)).toEqual(Array.from(first.partialBits));
      expectClose('grad_norm mixed magnitudes', [first.norm], [gradNorm(grads, N)], NORM_TOL);
    }
  });

  it('zero gradients: norm 0, clip scale 1; maxNorm ≤ 0 disables clipping; every variant', async () => {
    for (const { ctx } of reductionVariants(await gpuContext())) {
      const zero = await runGradNorm(ctx, new Float32Array(777), 1);
      expect(zero.norm).toBe(0);
      expect(zero.clip).toBe(1);
      const disabled = await runGradNorm(ctx, randomFloats(777, 3, 10), 0);
      expect(disabled.norm).toBeGreaterThan(1);
      expect(disabled.clip).toBe(1);
    }
  });

  it('over two views of one buffer, and with a new threshold set in place; every variant', async () => {
    for (const { ctx } of reductionVariants(await gpuContext())) {
      const N = 1000;
      const split = 640; // 2560 bytes: a legal (256-byte aligned) binding offset
      const grads = randomFloats(N, 11, 0.1);
      const sizes = [split, N - split];
      const P = gradNormPartialCount(sizes);
      const buffer = ctx.upload('grads', grads);
      const partials = ctx.createBuffer('partials', P * 4);
      const result = ctx.createBuffer('result', GRAD_NORM_RESULT_BYTES);
      const dispatches = await prepareGradNormSegments(
        ctx,
        [
          { grads: { buffer, offset: 0, size: split * 4 }, N: split },
          { grads: { buffer, offset: split * 4, size: (N - split) * 4 }, N: N - split },
        ],
        partials,
        result,
        0.5,
      );
      await ctx.run(dispatches);
      const norm = gradNorm(grads, N);
      const [gpuNorm, gpuClip] = await ctx.readFloat32(result, 2);
      expectClose('grad_norm two views', [gpuNorm], [norm], NORM_TOL);
      expectClose('clip_scale two views', [gpuClip], [clipScale(norm, 0.5)], { atol: 0, rtol: 3e-6 });

      setGradNormMaxNorm(ctx, dispatches[dispatches.length - 1], P, norm / 10);
      await ctx.run(dispatches);
      const [, clipAfter] = await ctx.readFloat32(result, 2);
      expectClose('clip_scale after setGradNormMaxNorm', [clipAfter], [clipScale(norm, norm / 10)], { atol: 0, rtol: 3e-6 });
      ctx.release(dispatches);
      [buffer, partials, result].forEach((b) => b.destroy());
    }
  });
});
