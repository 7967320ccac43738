// fill and scale on WebGPU: the range is written, everything outside it is
// left alone, and grids larger than one row of workgroups (the 2-D fold) cover
// every element exactly once. The expectation is computed inline (no reference
// twin: fill is a copy, scale one float32 multiply per element).
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { prepareFill, prepareScale } from '../../src/kernels/fill.ts';

// [buffer length, start, count, maxWorkgroupsX (undefined = device limit)]
const RANGES: [number, number, number, number | undefined][] = [
  [1, 0, 1, undefined],
  [7, 0, 7, undefined],
  [1000, 3, 517, undefined],
  [1000, 999, 1, undefined],
  [1000, 10, 0, undefined], // empty range: nothing may change
  [4 * 256 + 9, 2, 4 * 256 + 7, 2], // 5 workgroups folded into 2 × 3, one of them idle
  [3000, 1, 2999, 1], // a column of 12 workgroups
];

describe('fill and scale on WebGPU', () => {
  for (const [length, start, count, maxWorkgroupsX] of RANGES) {
    it(`length ${length}, range [${start}, ${start + count}), maxWorkgroupsX ${maxWorkgroupsX ?? 'device'}`, async () => {
      const ctx = await gpuContext();
      const initial = randomFloats(length, 100 + length + start, 3);
      const tag = `${length}/${start}/${count}`;

      const value = -1.25;
      const filled = initial.slice();
      filled.fill(value, start, start + count);
      const fillBuffer = ctx.upload('fill', initial);
      const fill = await prepareFill(ctx, fillBuffer, count, value, { start, maxWorkgroupsX });
      await ctx.run([fill]);
      // A copy of one value: exact.
      expectClose(`fill ${tag}`, await ctx.readFloat32(fillBuffer, length), filled, { atol: 0, rtol: 0 });

      const factor = 0.3;
      const scaled = initial.slice();
      for (let i = start; i < start + count; i++) scaled[i] = Math.fround(initial[i] * Math.fround(factor));
      const scaleBuffer = ctx.upload('scale', initial);
      const scale = await prepareScale(ctx, scaleBuffer, count, factor, { start, maxWorkgroupsX });
      await ctx.run([scale]);
      // One correctly rounded float32 multiply per element; outside the range exact.
      expectClose(`scale ${tag}`, await ctx.readFloat32(scaleBuffer, length), scaled, { atol: 0, rtol: 1.2e-7 });

      ctx.release([fill, scale]);
      fillBuffer.destroy();
      scaleBuffer.destroy();
    });
  }

  it('zeroes a gradient view at a 256-byte-aligned binding offset, leaving its neighbours', async () => {
    const ctx = await gpuContext();
    const length = 64 + 100 + 50;
    const initial = randomFloats(length, 7, 1);
    const buffer = ctx.upload('grads', initial);
    // The view starts at element 64 (256 bytes) and is 100 elements long.
    const fill = await prepareFill(ctx, { buffer, offset: 256, size: 400 }, 100, 0);
    await ctx.run([fill]);
    const expected = initial.slice();
    expected.fill(0, 64, 164);
    const actual = await ctx.readFloat32(buffer, length);
    expectClose('fill view', actual, expected, { atol: 0, rtol: 0 });
    expect(actual.subarray(64, 164).every((x) => x === 0)).toBe(true);
    ctx.release([fill]);
    buffer.destroy();
  });

  it('rejects a negative or fractional range', async () => {
    const ctx = await gpuContext();
    const buffer = ctx.createBuffer('x', 16);
    expect(() => prepareFill(ctx, buffer, -1, 0)).toThrow(RangeError);
    expect(() => prepareScale(ctx, buffer, 2, 1, { start: 0.5 })).toThrow(RangeError);
    buffer.destroy();
  });
});
