// SparseLoCo on the GPU (src/compress/sparseloco-gpu.ts) against the CPU
// reference sparseLoCoStep (src/compress/sparseloco.ts): for random and
// adversarial residuals (ties, zeros, ±0, huge values, denormals, float32
// extremes, a tensor shorter than a chunk, a partial last chunk, an empty
// tensor, k = 2, every 1-D policy), the GPU must give the SAME update — indices,
// codes, μ and L bit for bit, hence identical encoded bytes — and the SAME
// residual bits after one and after three rounds. Also: the reference's typed
// errors for NaN/±Inf/out-of-range residuals at the same tensor and position,
// the 2-D workgroup grid, and the real model layout at the production config.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { randomFloats } from '../compare.ts';
import type { GpuContext } from '../../src/gpu/runtime.ts';
import type { TensorManifestEntry } from '../../src/compress/manifest.ts';
import {
  NonFiniteResidualError,
  ResidualOutOfRangeError,
  compress,
  defaultCompressConfig,
  removeSent,
  sparseLoCoStep,
  type CompressConfig,
  type CompressedUpdate,
} from '../../src/compress/sparseloco.ts';
import { encodeUpdate } from '../../src/compress/codec.ts';
import { SparseLoCoGpu } from '../../src/compress/sparseloco-gpu.ts';
import { buildChunkTable, limitKey, type GridOptions } from '../../src/compress/sparseloco-kernels-gpu.ts';
import { buildLayout } from '../../src/model/layout.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';

const small: CompressConfig = { ...defaultCompressConfig, chunkSize: 256, topK: 8 };
const kTwo: CompressConfig = { ...defaultCompressConfig, chunkSize: 256, topK: 2 };
const largest: CompressConfig = { ...defaultCompressConfig, chunkSize: 65536, topK: 1024 }; // MAX_CHUNK_SIZE: every tensor is one partial chunk
const POLICIES = ['dense-quantized', 'dense-float32', 'sparse'] as const;

/** Views with 3-float gaps between them (unaligned on purpose: the kernels bind whole buffers). */
function manifestOf(...shapes: number[][]): TensorManifestEntry[] {
  let offset = 0;
  return shapes.map((shape, t) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name: `t${t}`, shape, offset, size };
    offset += size + 3;
    return entry;
  });
}
const paramCount = (m: readonly TensorManifestEntry[]) => m[m.length - 1].offset + m[m.length - 1].size + 3;

// 4096 = 16 full chunks of 256; 4900 = 19 full + a tail of 36 (keeps 2, or 1 at k = 2);
// 15 values: one chunk shorter than a chunk; 300 and 1: 1-D; [0, 4]: no values at all.
const MANIFEST = manifestOf([64, 64], [70, 70], [3, 5], [300], [1], [0, 4], [1, 1]);
const P = paramCount(MANIFEST);

/** Positions where two float32 arrays differ bitwise (−0 ≠ +0); any two NaNs count as equal. */
function bitDifferences(a: Float32Array, b: Float32Array): number[] {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const out: number[] = [];
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) out.push(i);
  return out;
}

interface Replica {
  gpu: SparseLoCoGpu;
  cpuResidual: Float32Array;
}

async function replica(
  ctx: GpuContext,
  manifest: readonly TensorManifestEntry[],
  P: number,
  config: CompressConfig,
  e0: Float32Array,
  beta = 0.95,
  grid: GridOptions = {},
): Promise<Replica> {
  const gpu = await SparseLoCoGpu.create(ctx, manifest, P, { config, beta, ...grid });
  gpu.writeResidual(e0);
  return { gpu, cpuResidual: e0.slice() };
}

/** One round on both sides; asserts identical updates, bytes and residual bits. Returns the GPU update. */
/**
 * One round on both sides (steps 3–5, or 4–5 on e as written when `inputs` is
 * null); asserts identical updates, bytes and residual bits. Returns the GPU update.
 */
async function round(
  ctx: GpuContext,
  r: Replica,
  manifest: readonly TensorManifestEntry[],
  inputs: { global: Float32Array; local: Float32Array } | null,
  label: string,
): Promise<CompressedUpdate> {
  const { actual, expected, residual } = await bothSides(ctx, r, manifest, inputs);

  // Codes first: the brief's question is how many differ (must be 0).
  let codesDiffer = 0;
  let codesTotal = 0;
  expected.tensors.forEach((t, i) => {
    const a = actual.tensors[i];
    if (t.mode !== 'dense-float32' && a.mode !== 'dense-float32') {
      codesTotal += t.codes.length;
      for (let j = 0; j < Math.min(t.codes.length, a.codes.length); j++) if (t.codes[j] !== a.codes[j]) codesDiffer++;
    }
  });
  const residualDiffer = bitDifferences(residual, r.cpuResidual);
  console.log(`${label.padEnd(44)} codes ${codesDiffer}/${codesTotal} differ, residual bits ${residualDiffer.length}/${residual.length} differ`);
  expect(actual).toEqual(expected);
  const { config } = r.gpu;
  expect(encodeUpdate(actual, manifest, config)).toEqual(encodeUpdate(expected, manifest, config));
  expect(residualDiffer.slice(0, 5)).toEqual([]);
  return actual;
}

async function bothSides(
  ctx: GpuContext,
  r: Replica,
  manifest: readonly TensorManifestEntry[],
  inputs: { global: Float32Array; local: Float32Array } | null,
) {
  const { config, beta } = r.gpu;
  let expected: CompressedUpdate;
  let actual: CompressedUpdate;
  if (inputs) {
    expected = sparseLoCoStep(r.cpuResidual, inputs.global, inputs.local, manifest, config, beta);
    const globalBuffer = ctx.upload('test.global', inputs.global);
    const localBuffer = ctx.upload('test.local', inputs.local);
    actual = await r.gpu.compress(globalBuffer, localBuffer);
    globalBuffer.destroy();
    localBuffer.destroy();
  } else {
    expected = compress(r.cpuResidual, manifest, config);
    removeSent(r.cpuResidual, expected, manifest);
    actual = await r.gpu.compressResidual();
  }
  return { actual, expected, residual: await r.gpu.readResidual() };
}

/** Δ = global − local of inner-loop size around parameters of unit scale. */
function roundInputs(P: number, seed: number): { global: Float32Array; local: Float32Array } {
  const global = randomFloats(P, seed);
  const step = randomFloats(P, seed + 1, 0.01);
  const local = global.map((v, i) => v - step[i]);
  return { global, local };
}

describe('SparseLoCoGpu vs sparseLoCoStep', () => {
  it('builds a chunk table in manifest order with the reference keep counts', () => {
    const table = buildChunkTable(MANIFEST, small);
    expect(table.chunkCount).toBe(16 + 20 + 1 + 2 + 1 + 0 + 1);
    expect(table.slots.map((s) => s.n)).toEqual([16 * 8, 19 * 8 + 2, 1, 300, 1, 0, 1]);
    expect(table.selected).toBe(16 * 8 + 19 * 8 + 2 + 1 + 300 + 1 + 0 + 1);
    // limitKey: 0.1 is not a float32; fround(0.1) > 0.1 must be refused, its predecessor kept.
    const tenth = new Float32Array([0.1]);
    expect(limitKey(0.1)).toBe(new Uint32Array(tenth.buffer)[0] - 1);
    expect(limitKey(1024)).toBe(0x44800000);
  });

  for (const [name, config] of [['chunk 256, k 8', small], ['chunk 256, k 2', kTwo], ['chunk 4096, k 64', defaultCompressConfig], ['chunk 65536, k 1024', largest]] as const) {
    for (const policy of config === largest ? (['dense-quantized'] as const) : POLICIES) {
      it(`random residual, ${name}, 1-D ${policy}`, async () => {
        const ctx = await gpuContext();
        const cfg = { ...config, oneDimPolicy: policy };
        const r = await replica(ctx, MANIFEST, P, cfg, randomFloats(P, 1, 0.05));
        await round(ctx, r, MANIFEST, roundInputs(P, 2), `random ${name} ${policy}`);
        r.gpu.destroy();
      });
    }
  }

  it('adversarial residuals: ties, zeros, ±0, equal magnitudes, denormals, huge and extreme values', async () => {
    const ctx = await gpuContext();
    // One 256-value chunk per pattern, in a [10, 256] tensor, plus a short tensor of ties.
    const manifest = manifestOf([10, 256], [5, 7], [40]);
    const P = paramCount(manifest);
    const e = new Float32Array(P);
    const chunk = (c: number) => e.subarray(c * 256, (c + 1) * 256);
    const tiny = 1.401298464324817e-45; // smallest float32 denormal
    // 0: many ties at a few levels (threshold inside a run of equal magnitudes).
    chunk(0).set(randomFloats(256, 3).map((v) => Math.round(v * 4) / 4));
    // 1: all zero. 2: ±0 alternating. 3: all equal magnitude, alternating sign.
    chunk(2).set(new Float32Array(256).map((_, i) => (i % 2 ? 0 : -0)));
    chunk(3).set(new Float32Array(256).map((_, i) => (i % 2 ? 0.5 : -0.5)));
    // 4: fewer non-zeros than k: zeros fill the rest, lowest positions first.
    chunk(4)[100] = 1e-3;
    chunk(4)[255] = -2;
    // 5: denormals of different sizes and signs, ranked above zero and among themselves.
    for (let i = 0; i < 12; i++) chunk(5)[20 + 17 * i] = (i + 1) * tiny * (i % 2 ? -1 : 1);
    chunk(5)[3] = 1e-40;
    chunk(5)[4] = -1.1754942106924411e-38; // largest denormal
    chunk(5)[5] = 1.1754943508222875e-38; // smallest normal
    // 6: huge values at and just inside the limit, with ordinary ones.
    chunk(6).set(randomFloats(256, 4, 0.01));
    chunk(6)[7] = 1024;
    chunk(6)[8] = -1024;
    chunk(6)[9] = 1023.9999389648438;
    // 7: magnitudes differing in the last mantissa bit only (the last radix digit decides).
    const base = new Uint32Array(1);
    const asFloat = new Float32Array(base.buffer);
    for (let i = 0; i < 256; i++) {
      base[0] = 0x3f800000 + (i % 5);
      chunk(7)[i] = asFloat[0] * (i % 3 ? 1 : -1);
    }
    // 8: float32 extremes of tiny magnitude next to ordinary values (one tie group spans all exponents).
    chunk(8).set(randomFloats(256, 5, 1e-30));
    // 9: random, as a control.
    chunk(9).set(randomFloats(256, 6));
    // Short tensor (35 values < one chunk): ties everywhere.
    e.subarray(manifest[1].offset, manifest[1].offset + 35).set(new Float32Array(35).map((_, i) => (i % 4) - 1.5));
    e.subarray(manifest[2].offset, manifest[2].offset + 40).set(randomFloats(40, 7));
    // Steps 4–5 on e as written: no arithmetic before the selection, so the
    // denormals reach the top-k intact whatever the adapter does with them.
    for (const [cfg, label] of [[small, 'k 8'], [kTwo, 'k 2']] as const) {
      const r = await replica(ctx, manifest, P, cfg, e);
      const update = await round(ctx, r, manifest, null, `adversarial ${label}`);
      r.gpu.destroy();
      if (update.tensors[0].mode !== 'sparse') throw new Error('unreachable');
      if (cfg === small) {
        const picked = [...update.tensors[0].indices];
        // Spot checks against the rule itself (the reference agrees, asserted above).
        expect(picked.slice(8, 16)).toEqual([256, 257, 258, 259, 260, 261, 262, 263]); // all zero
        expect(picked.slice(32, 40)).toEqual([1024, 1025, 1026, 1027, 1028, 1029, 1124, 1279]); // zeros fill up
      }
    }
  });

  it('error feedback on denormal residuals: exact, or flushed to zero where WGSL allows it', async () => {
    // e holds only denormals; Δ is an ordinary value at 3 of every 4 positions
    // and 0 elsewhere. β·e + Δ rounds to Δ wherever Δ ≠ 0, so only the Δ = 0
    // positions can show a device that flushes denormals (WGSL permits it;
    // SwiftShader does): there e stays fround(β·e) (reference) or becomes ±0.
    const ctx = await gpuContext();
    const manifest = manifestOf([4, 256]);
    const P = paramCount(manifest);
    const tiny = 1.401298464324817e-45;
    const e = new Float32Array(P).map((_, i) => (i + 1) * 1000 * tiny * (i % 3 ? 1 : -1));
    const global = randomFloats(P, 12).map((v, i) => (i % 4 === 0 ? 0 : v));
    const local = global.map((v, i) => (i % 4 === 0 ? 0 : v - 0.01 * ((i % 7) - 3)));
    const r = await replica(ctx, manifest, P, small, e);
    const { actual, expected, residual } = await bothSides(ctx, r, manifest, { global, local });
    r.gpu.destroy();
    expect(actual).toEqual(expected);
    const differ = bitDifferences(residual, r.cpuResidual);
    console.log(`denormal e: ${differ.length}/${P} residual values differ from the reference (flushed: ${differ.length > 0})`);
    for (const i of differ) {
      expect(Math.abs(r.cpuResidual[i])).toBeLessThan(1.1754943508222875e-38);
      expect(residual[i]).toBe(0);
    }
  });

  it('matches over three rounds with 2-D workgroup grids and workgroups striding over chunks', async () => {
    const ctx = await gpuContext();
    // Every dispatch 2-D (x ≤ 2); top_k_chunks with 3 workgroups (a 2 × 2 grid, one idle) for 41 chunks.
    for (const grid of [{ maxWorkgroupsX: 2, maxChunkWorkgroups: 3 }, { maxChunkWorkgroups: 1 }, { maxChunkWorkgroups: 1e6 }]) {
      const r = await replica(ctx, MANIFEST, P, small, new Float32Array(P), 0.95, grid);
      for (let t = 0; t < 3; t++) {
        await round(ctx, r, MANIFEST, roundInputs(P, 100 + 10 * t), `round ${t + 1} ${JSON.stringify(grid)}`);
      }
      r.gpu.destroy();
    }
  });

  it('matches on the nano model layout at the production config, over three rounds', async () => {
    const ctx = await gpuContext();
    const layout = buildLayout(GPT_PRESETS.nano);
    const r = await replica(ctx, layout.tensors, layout.size, defaultCompressConfig, new Float32Array(layout.size));
    for (let t = 0; t < 3; t++) {
      const { global, local } = roundInputs(layout.size, 200 + 10 * t);
      // The layout's padding is zero in θ, so Δ is zero there too.
      const padding = new Uint8Array(layout.size).fill(1);
      for (const v of layout.tensors) padding.fill(0, v.offset, v.offset + v.size);
      padding.forEach((p, i) => {
        if (p) global[i] = local[i] = 0;
      });
      await round(ctx, r, layout.tensors, { global, local }, `nano layout round ${t + 1}`);
    }
    r.gpu.destroy();
  });

  it('refuses NaN, ±Inf and out-of-range residuals with the reference error, tensor and position', async () => {
    const ctx = await gpuContext();
    const zero = new Float32Array(P);
    const cases: [string, (e: Float32Array) => void, object, string, number][] = [
      ['NaN', (e) => (e[MANIFEST[1].offset + 17] = NaN), NonFiniteResidualError, 't1', 17],
      ['Inf', (e) => (e[MANIFEST[1].offset + 4899] = Infinity), NonFiniteResidualError, 't1', 4899],
      ['-Inf in a dense tensor', (e) => (e[MANIFEST[3].offset + 299] = -Infinity), NonFiniteResidualError, 't3', 299],
      ['2000', (e) => (e[MANIFEST[2].offset + 3] = 2000), ResidualOutOfRangeError, 't2', 3],
      // Two bad values: the first in manifest order wins, as in checkResidual.
      [
        'first of several',
        (e) => {
          e[MANIFEST[3].offset + 1] = NaN;
          e[MANIFEST[1].offset + 300] = -1500;
          e[MANIFEST[1].offset + 299] = 1e30;
        },
        ResidualOutOfRangeError,
        't1',
        299,
      ],
    ];
    for (const [label, poison, type, tensor, index] of cases) {
      const e = randomFloats(P, 8, 0.01);
      poison(e);
      const errors: unknown[] = [];
      for (const run of [
        async () => sparseLoCoStep(e.slice(), zero, zero, MANIFEST, small, 1),
        async () => {
          const r = await replica(ctx, MANIFEST, P, small, e, 1);
          const buffer = ctx.upload('test.zero', zero);
          try {
            await r.gpu.compress(buffer, buffer);
          } finally {
            buffer.destroy();
            r.gpu.destroy();
          }
        },
      ]) {
        try {
          await run();
          errors.push(null);
        } catch (error) {
          errors.push(error);
        }
      }
      const [cpu, gpu] = errors;
      expect(cpu, label).toBeInstanceOf(type as never);
      expect(gpu, label).toBeInstanceOf(type as never);
      expect(gpu, label).toMatchObject({ tensor, index });
      expect((gpu as Error).message).toBe((cpu as Error).message);
    }
    // A value on the limit passes; the next float32 up does not; NaN in padding is ignored.
    const e = randomFloats(P, 9, 0.01);
    e[MANIFEST[0].offset] = 1024;
    e[MANIFEST[0].offset + MANIFEST[0].size] = NaN; // padding after t0
    const ok = await replica(ctx, MANIFEST, P, small, e, 1);
    await round(ctx, ok, MANIFEST, { global: zero, local: zero }, 'limit value and NaN padding');
    ok.gpu.destroy();
    e[MANIFEST[0].offset] = 1024.0001220703125;
    const bad = await replica(ctx, MANIFEST, P, small, e, 1);
    const buffer = ctx.upload('test.zero', zero);
    await expect(bad.gpu.compress(buffer, buffer)).rejects.toThrow(ResidualOutOfRangeError);
    buffer.destroy();
    bad.gpu.destroy();
  });
});
