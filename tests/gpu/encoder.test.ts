// Token + position embedding on WebGPU against its reference twin: forward,
// and backward accumulating onto non-zero gradients, with tokens repeated
// within and across sequences (dwte rows summed from several positions), odd
// channel counts, T=1, B=1, a small vocabulary, T < maxT, and the 2-D fold.
// Backward is checked bit for bit twice over: against the reference (the
// kernel adds each token's positions from its bucket list in the same (b, t)
// order, one float32 add at a time) and against a second run of itself.
// The bucket list itself (tokenBuckets) is unit-tested in
// tests/unit/kernel-plumbing.test.ts.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { checkKernel } from './check-kernel.ts';
import { randomFloats } from '../compare.ts';
import { encoderBackward, encoderForward } from '../../src/reference/encoder.ts';
import { prepareEncoderBackward, prepareEncoderForward, tokenBuckets } from '../../src/kernels/encoder.ts';

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
  // (V + T)·C = 2376 invocations: 10 workgroups of 256 folded into 3 × 4 (two idle).
  { B: 2, T: 8, C: 9, V: 256, maxT: 8, distinct: 4, maxWorkgroupsX: 3 },
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
      await checkKernel(ctx, {
        name: `encoder_forward ${tag}`,
        buffers: { out: B * T * C, inp, wte, wpe },
        twin: (b) => encoderForward(b.out, inp, wte, wpe, B, T, C),
        prepare: (ctx, g) => prepareEncoderForward(ctx, g, B, T, C, maxWorkgroupsX),
        expect: { out: EXACT },
      });
      await checkKernel(ctx, {
        name: `encoder_backward ${tag}`,
        // Gradients start non-zero: backward accumulates. Rows t ≥ T of dwpe must keep their values.
        buffers: { dwte: randomFloats(V * C, 5, 0.5), dwpe: randomFloats(maxT * C, 6, 0.5), dout: randomFloats(B * T * C, 4 + B, 1), buckets: tokenBuckets(inp, V) },
        twin: (b) => encoderBackward(b.dwte, b.dwpe, b.dout, inp, B, T, C),
        prepare: (ctx, g) => prepareEncoderBackward(ctx, g, B, T, C, V, maxWorkgroupsX),
        expect: { dwte: EXACT, dwpe: EXACT },
      });
    });
  }

  it('backward over the nano preset\'s batch of real text shape (B=4, T=64, C=64, V=256), bit for bit', async () => {
    const [B, T, C, V] = [4, 64, 64, 256];
    // Bytes of English: a few tokens (space, e, t) fill large buckets, most stay empty.
    const text = 'The quick brown fox jumps over the lazy dog; the dog sleeps on.  '.repeat(8);
    const inp = Uint32Array.from({ length: B * T }, (_, i) => text.charCodeAt(i % text.length));
    await checkKernel(await gpuContext(), {
      name: 'encoder_backward text',
      buffers: { dwte: V * C, dwpe: T * C, dout: randomFloats(B * T * C, 77, 1), buckets: tokenBuckets(inp, V) },
      twin: (b) => encoderBackward(b.dwte, b.dwpe, b.dout, inp, B, T, C),
      prepare: (ctx, g) => prepareEncoderBackward(ctx, g, B, T, C, V),
      expect: { dwte: EXACT, dwpe: EXACT },
    });
  });

  it('rejects a zero dimension before binding anything', async () => {
    const ctx = await gpuContext();
    const buffer = ctx.createBuffer('x', 16);
    const buffers = { out: buffer, inp: buffer, wte: buffer, wpe: buffer, dwte: buffer, dwpe: buffer, dout: buffer, buckets: buffer };
    expect(() => prepareEncoderForward(ctx, buffers, 1, 0, 4)).toThrow(RangeError);
    expect(() => prepareEncoderBackward(ctx, buffers, 1, 1, 4, 0)).toThrow(RangeError);
    buffer.destroy();
  });
});
