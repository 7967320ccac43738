// Token + position embedding on WebGPU against its reference twin: forward,
// and backward accumulating onto non-zero gradients, with tokens repeated
// within and across sequences (dwte rows summed from several positions), odd
// channel counts, T=1, B=1, a small vocabulary, T < maxT, and the 2-D fold.
// Backward is checked bit for bit twice over: against the reference (the
// kernel adds in the same (b, t) order, one float32 add at a time) and
// against a second run of itself.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { expectClose, randomFloats } from '../compare.ts';
import { encoderBackward, encoderForward } from '../../src/reference/encoder.ts';
import { prepareEncoderBackward, prepareEncoderForward } from '../../src/kernels/encoder.ts';

interface Shape {
  B: number;
  T: number;
  C: number;
  V: number;
  maxT: number;
  /** Distinct token ids drawn from (few → many repeats). */
  distinct: number;
  maxWorkgroupsX?: number;
}

const SHAPES: Shape[] = [
  { B: 1, T: 1, C: 1, V: 256, maxT: 1, distinct: 256 },
  { B: 1, T: 1, C: 3, V: 256, maxT: 4, distinct: 256 },
  { B: 2, T: 3, C: 5, V: 256, maxT: 8, distinct: 2 },
  { B: 1, T: 16, C: 7, V: 256, maxT: 16, distinct: 3 },
  { B: 4, T: 1, C: 65, V: 256, maxT: 2, distinct: 2 },
  { B: 4, T: 16, C: 33, V: 256, maxT: 20, distinct: 256 },
  { B: 3, T: 5, C: 64, V: 17, maxT: 5, distinct: 17 },
  { B: 2, T: 8, C: 130, V: 256, maxT: 8, distinct: 5 },
  // V + T = 264 workgroups folded into 5 × 53 (one idle).
  { B: 2, T: 8, C: 9, V: 256, maxT: 8, distinct: 4, maxWorkgroupsX: 5 },
];

// Forward is one float32 add; backward repeats the reference's float32 adds in
// the same order. Both therefore exact.
const EXACT = { atol: 0, rtol: 0 };

function tokens(count: number, distinct: number, V: number, seed: number): Uint32Array {
  const u = randomFloats(count, seed, 1);
  // Spread the chosen ids over the vocabulary, so repeats land on rows other than 0.
  const stride = Math.max(1, Math.floor(V / distinct));
  return Uint32Array.from(u, (x) => (Math.floor(((x + 1) / 2) * distinct) % distinct) * stride % V);
}

describe('encoder on WebGPU vs reference', () => {
  for (const { B, T, C, V, maxT, distinct, maxWorkgroupsX } of SHAPES) {
    const tag = `B=${B} T=${T} C=${C} V=${V} maxT=${maxT}`;
    it(`forward and backward, ${tag}, ${distinct} distinct tokens, maxWorkgroupsX ${maxWorkgroupsX ?? 'device'}`, async () => {
      const ctx = await gpuContext();
      const inp = tokens(B * T, distinct, V, 1 + B * T + C);
      const wte = randomFloats(V * C, 2 + C, 1);
      const wpe = randomFloats(maxT * C, 3 + T, 1);
      const dout = randomFloats(B * T * C, 4 + B, 1);
      const dwte0 = randomFloats(V * C, 5, 0.5);
      const dwpe0 = randomFloats(maxT * C, 6, 0.5);

      const out = new Float32Array(B * T * C);
      encoderForward(out, inp, wte, wpe, B, T, C);
      const dwte = dwte0.slice();
      const dwpe = dwpe0.slice();
      encoderBackward(dwte, dwpe, dout, inp, B, T, C);

      const g = {
        out: ctx.createBuffer('out', out.byteLength),
        inp: ctx.upload('inp', inp),
        wte: ctx.upload('wte', wte),
        wpe: ctx.upload('wpe', wpe),
        dout: ctx.upload('dout', dout),
        dwte: ctx.upload('dwte', dwte0),
        dwpe: ctx.upload('dwpe', dwpe0),
      };
      const forward = await prepareEncoderForward(ctx, g, B, T, C, maxWorkgroupsX);
      const backward = await prepareEncoderBackward(ctx, g, B, T, C, V, maxWorkgroupsX);
      await ctx.run([forward, backward]);

      expectClose(`encoder_forward ${tag}`, await ctx.readFloat32(g.out, B * T * C), out, EXACT);
      const gpuDwte = await ctx.readFloat32(g.dwte, V * C);
      const gpuDwpe = await ctx.readFloat32(g.dwpe, maxT * C);
      expectClose(`encoder_backward dwte ${tag}`, gpuDwte, dwte, EXACT);
      // Rows t ≥ T of dwpe must keep their initial values.
      expectClose(`encoder_backward dwpe ${tag}`, gpuDwpe, dwpe, EXACT);

      // Determinism: the same backward from the same starting gradients, again.
      ctx.write(g.dwte, dwte0);
      ctx.write(g.dwpe, dwpe0);
      await ctx.run([backward]);
      expect(new Uint32Array((await ctx.readFloat32(g.dwte, V * C)).buffer)).toEqual(new Uint32Array(gpuDwte.buffer));
      expect(new Uint32Array((await ctx.readFloat32(g.dwpe, maxT * C)).buffer)).toEqual(new Uint32Array(gpuDwpe.buffer));

      ctx.release([forward, backward]);
      Object.values(g).forEach((b) => b.destroy());
    });
  }

  it('rejects a zero dimension before binding anything', async () => {
    const ctx = await gpuContext();
    const buffer = ctx.createBuffer('x', 16);
    const buffers = { out: buffer, inp: buffer, wte: buffer, wpe: buffer, dwte: buffer, dwpe: buffer, dout: buffer };
    expect(() => prepareEncoderForward(ctx, buffers, 1, 0, 4)).toThrow(RangeError);
    expect(() => prepareEncoderBackward(ctx, buffers, 1, 1, 4, 0)).toThrow(RangeError);
    buffer.destroy();
  });
});
