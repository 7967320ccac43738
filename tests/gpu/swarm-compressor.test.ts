// The volunteer's two round compressors (src/swarm/compressor.ts) on Dawn
// (SwiftShader), and the rule that picks one (src/swarm/compression-path.ts):
//   - GpuRoundCompressor and CpuRoundCompressor give the same payload bytes
//     and the same residual bits over rounds of the nano layout, whether
//     θ_local is on the GPU (a trainer's buffer, read in place) or only on the
//     host; restore() (a refused update back into e), residual() and load()
//     agree bit for bit too;
//   - measureCompressionPaths times both paths, checks their bytes agree, and
//     picks the faster (the GPU on a tie); pickCompressionPath is that rule;
//     createRoundCompressor builds what was picked.
import { describe, expect, it } from 'vitest';
import { encodeUpdate } from '../../src/compress/codec.ts';
import { defaultCompressConfig } from '../../src/compress/sparseloco.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { buildLayout } from '../../src/model/layout.ts';
import { mulberry32 } from '../../src/model/random.ts';
import { adapterIdentity } from '../../src/gpu/device.ts';
import { createRoundCompressor, measureCompressionPaths, pickCompressionPath } from '../../src/swarm/compression-path.ts';
import { CpuRoundCompressor, GpuRoundCompressor } from '../../src/swarm/compressor.ts';
import type { LocalParams } from '../../src/swarm/trainer.ts';
import { gpuContext } from './gpu-context.ts';

const layout = buildLayout(GPT_PRESETS.nano);
const P = layout.size;
const config = defaultCompressConfig;
const BETA = 0.95;

function round(seed: number, global: Float32Array): Float32Array {
  const random = mulberry32(seed);
  return global.map((v) => Math.fround(v - 2e-3 * (random() * 2 - 1)));
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('round compressors: GPU and CPU, the same bits', () => {
  for (const where of ['gpu buffer', 'host only'] as const) {
    it(`gives the same payloads and residuals over rounds (θ_local: ${where}), and restores and loads alike`, async () => {
      const ctx = await gpuContext();
      const gpu = await GpuRoundCompressor.create(ctx, P, layout.tensors, config, BETA);
      const cpu = new CpuRoundCompressor(P, layout.tensors, config, BETA);
      const random = mulberry32(1);
      let global: Float32Array = Float32Array.from({ length: P }, () => 0.02 * (random() * 2 - 1));
      const localBuffer = ctx.createBuffer('test.local', P * 4);
      try {
        for (let r = 0; r < 3; r++) {
          const local = round(100 + r, global);
          ctx.write(localBuffer, local);
          const onGpu: LocalParams = { read: async () => local, gpuBuffer: where === 'gpu buffer' ? localBuffer : null };
          const onHost: LocalParams = { read: async () => local, gpuBuffer: null };
          const a = await gpu.compress(global, onGpu);
          const b = await cpu.compress(global, onHost);
          expect(encodeUpdate(a, layout.tensors, config), `round ${r}`).toEqual(encodeUpdate(b, layout.tensors, config));
          expect(sameBits(await gpu.residual(), await cpu.residual()), `residual after round ${r}`).toBe(true);
          if (r === 1) {
            // Refused: both put it back.
            await gpu.restore(a);
            await cpu.restore(b);
            expect(sameBits(await gpu.residual(), await cpu.residual()), 'residual after restore').toBe(true);
          }
          global = local;
        }
        const saved = await cpu.residual();
        const fresh = await GpuRoundCompressor.create(ctx, P, layout.tensors, config, BETA);
        fresh.load(saved);
        expect(sameBits(await fresh.residual(), saved)).toBe(true);
        fresh.destroy();
        expect(gpu.path).toBe('gpu');
        expect(cpu.path).toBe('cpu');
      } finally {
        gpu.destroy();
        localBuffer.destroy();
      }
    });
  }
});

describe('compression path: measured once, faster wins', () => {
  it('pickCompressionPath takes the faster, the GPU on a tie, the CPU when the GPU failed', () => {
    expect(pickCompressionPath(10, 20)).toBe('gpu');
    expect(pickCompressionPath(20, 10)).toBe('cpu');
    expect(pickCompressionPath(15, 15)).toBe('gpu');
    expect(pickCompressionPath(null, 1e9)).toBe('cpu');
  });

  it('measures both paths on this adapter and reports what it picked and why', async () => {
    const ctx = await gpuContext();
    const measured = await measureCompressionPaths(ctx, layout.tensors, P, config, BETA, { rounds: 2, now: () => 42 });
    expect(measured.adapter).toBe(adapterIdentity(ctx.gpu.adapter));
    expect(measured.parameterCount).toBe(P);
    expect(measured.measuredAt).toBe(42);
    expect(measured.gpuMs).toBeGreaterThan(0); // the GPU path ran and gave the reference's bytes
    expect(measured.cpuMs).toBeGreaterThan(0);
    expect(measured.path).toBe(pickCompressionPath(measured.gpuMs, measured.cpuMs));
    expect(measured.reason).toContain(`${measured.gpuMs!.toFixed(1)} ms on the GPU`);
    console.log(`compression path on ${measured.adapter}: ${measured.path} — ${measured.reason}`);

    for (const path of ['gpu', 'cpu'] as const) {
      const { compressor, problem } = await createRoundCompressor(path, ctx, layout.tensors, P, config, BETA);
      expect(compressor.path).toBe(path);
      expect(problem).toBeNull();
      compressor.destroy();
    }
  });
});
