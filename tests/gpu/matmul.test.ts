// Every matmul entry point against its reference twin on a spread of shapes
// (odd sizes, a single row, tall-skinny, wide, K not a multiple of the slab,
// the aligned GPT shapes) under every tile of the tile search, each run twice
// bit for bit; every tile gives the same bits (each output adds its products
// in ascending k under every tile); the naive baseline; and the tile search
// itself: it rules out a tile that does not fit and picks a correct one.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { checkKernel, expectSameBits } from './check-kernel.ts';
import { randomFloats } from '../compare.ts';
import { matmulBackward, matmulForward } from '../../src/reference/matmul.ts';
import { DEFAULT_MATMUL_TILE, MATMUL_TILES, prepareMatmulBackward, prepareMatmulForward } from '../../src/kernels/matmul.ts';
import { searchMatmulTile, tileProblemOn } from '../../src/kernels/tile-search.ts';

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
const TILES = Object.keys(MATMUL_TILES);

describe('matmul on WebGPU vs reference', () => {
  for (const [BT, C, OC] of SHAPES) {
    it(`forward and backward, BT=${BT} C=${C} OC=${OC}, every tile`, async () => {
      const inp = randomFloats(BT * C, 1 + BT, 1);
      const weight = randomFloats(OC * C, 2 + C, 1);
      const bias = randomFloats(OC, 3 + OC, 1);
      const dout = randomFloats(BT * OC, 4, 1);
      for (const tile of TILES) {
        const ctx = (await gpuContext()).withChoices({ matmulTile: tile });
        const tag = `${BT}x${C}x${OC} ${tile}`;
        await checkKernel(ctx, {
          name: `matmul_forward ${tag}`,
          buffers: { out: BT * OC, inp, weight, bias },
          twin: (b) => matmulForward(b.out, inp, weight, bias, BT, C, OC),
          prepare: (ctx, g) => prepareMatmulForward(ctx, g, BT, C, OC),
          expect: { out: TOL },
        });
        await checkKernel(ctx, {
          name: `matmul_backward ${tag}`,
          // Gradients start non-zero: backward must accumulate, not overwrite.
          buffers: { dinp: randomFloats(BT * C, 5, 0.5), dweight: randomFloats(OC * C, 6, 0.5), dbias: randomFloats(OC, 7, 0.5), dout, inp, weight },
          twin: (b) => matmulBackward(b.dinp, b.dweight, b.dbias, dout, inp, weight, BT, C, OC),
          prepare: (ctx, g) => prepareMatmulBackward(ctx, g, BT, C, OC),
          expect: { dinp: TOL, dweight: TOL, dbias: TOL },
        });
      }
    });
  }

  it('every tile gives the same bits', async () => {
    const [BT, C, OC] = [70, 50, 90];
    const inp = randomFloats(BT * C, 21);
    const weight = randomFloats(OC * C, 22);
    const results = [];
    for (const tile of TILES) {
      const ctx = (await gpuContext()).withChoices({ matmulTile: tile });
      results.push(
        await checkKernel(ctx, {
          name: `matmul_forward ${tile}`,
          buffers: { out: BT * OC, inp, weight },
          twin: (b) => matmulForward(b.out, inp, weight, null, BT, C, OC),
          prepare: (ctx, g) => prepareMatmulForward(ctx, { ...g, bias: null }, BT, C, OC),
          expect: { out: TOL },
        }),
      );
    }
    for (const [i, result] of results.entries()) expectSameBits(`${TILES[i]} against ${TILES[0]}`, result.gpu.out, results[0].gpu.out);
  });

  it('the naive baseline agrees with the reference', async () => {
    const [BT, C, OC] = [37, 29, 41];
    const inp = randomFloats(BT * C, 11);
    const weight = randomFloats(OC * C, 12);
    await checkKernel(await gpuContext(), {
      name: 'matmul_naive_forward',
      buffers: { out: BT * OC, inp, weight },
      twin: (b) => matmulForward(b.out, inp, weight, null, BT, C, OC),
      prepare: (ctx, g) => prepareMatmulForward(ctx, { ...g, bias: null }, BT, C, OC, 'naive'),
      expect: { out: TOL },
    });
  });

  it('rejects an unknown tile name', async () => {
    const ctx = await gpuContext();
    const buffer = ctx.createBuffer('x', 16);
    expect(() => prepareMatmulForward(ctx, { out: buffer, inp: buffer, weight: buffer, bias: null }, 1, 1, 1, '1x1/1x1')).toThrow(RangeError);
    buffer.destroy();
  });
});

describe('matmul tile search', () => {
  it('times every tile that fits, checks it, and picks the fastest correct one', async () => {
    const ctx = await gpuContext();
    const steps: number[] = [];
    const result = await searchMatmulTile(ctx, { M: 96, K: 64, N: 256 }, { budgetMs: 200, onProgress: (done, total) => steps.push(done / total) });
    expect(result.timings.map((t) => t.tile)).toEqual(TILES);
    for (const timing of result.timings) {
      // Every candidate fits this adapter (the training floors), so every one was timed.
      expect(timing.problem).toBeNull();
      expect(timing.ms).toBeGreaterThan(0);
    }
    const fastest = Math.min(...result.timings.map((t) => t.ms!));
    expect(result.timings.find((t) => t.tile === result.tile)!.ms).toBe(fastest);
    expect(steps.at(-1)).toBe(1);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  });

  it('rules out a tile a device cannot run', () => {
    // Workgroups of at most 64 invocations cannot run the 16×16 tile; 8 KiB of workgroup memory fits only the 32-row tiles.
    expect(tileProblemOn({ maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 16384 }, '64x64/4x4')).toMatch(/invocations/);
    expect(tileProblemOn({ maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 16384 }, DEFAULT_MATMUL_TILE)).toBeNull();
    expect(tileProblemOn({ maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 6144 }, DEFAULT_MATMUL_TILE)).toMatch(/workgroup memory/);
    expect(tileProblemOn({ maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 6144 }, '32x32/4x4')).toBeNull();
  });

  it('checks the timed shape before searching', async () => {
    const ctx = await gpuContext();
    await expect(searchMatmulTile(ctx, { M: 0, K: 4, N: 4 })).rejects.toThrow(RangeError);
  });
});
