// SparseLoCo reference semantics (src/compress/sparseloco.ts): error feedback,
// chunked top-k (ties, zeros, huge values, denormals, partial chunks) against a
// brute-force sort, the linear-time radix selection against the full-sort
// baseline on adversarial inputs (same positions, same payload bytes), 2-bit
// quantization against hand calculations, the NaN/range decision, and the EF
// identity e_new + dequant(sent) = β·e + Δ.
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../compare.ts';
import type { TensorManifestEntry } from '../../src/compress/manifest.ts';
import {
  InvalidUpdateError,
  NonFiniteResidualError,
  ResidualOutOfRangeError,
  CompressConfigError,
  checkCompressConfig,
  checkUpdate,
  chunkKeep,
  compress,
  decompress,
  defaultCompressConfig,
  dequantize2bit,
  errorFeedback,
  quantize2bit,
  removeSent,
  sparseCount,
  sparseLoCoStep,
  topKChunks,
  topKChunksBySort,
  type CompressConfig,
} from '../../src/compress/sparseloco.ts';
import { encodeUpdate } from '../../src/compress/codec.ts';

const small: CompressConfig = { ...defaultCompressConfig, chunkSize: 256, topK: 8 };

/** Brute force: sort a chunk by (|x| desc, index asc), keep the first k, return positions ascending. */
function bruteTopK(x: Float32Array, config: CompressConfig): number[] {
  const out: number[] = [];
  for (let start = 0; start < x.length; start += config.chunkSize) {
    const end = Math.min(x.length, start + config.chunkSize);
    const order: number[] = [];
    for (let i = start; i < end; i++) order.push(i);
    order.sort((a, b) => Math.abs(x[b]) - Math.abs(x[a]) || a - b);
    out.push(...order.slice(0, chunkKeep(end - start, config)).sort((a, b) => a - b));
  }
  return out;
}

function topK(x: Float32Array, config: CompressConfig): number[] {
  const indices = new Uint32Array(sparseCount(x.length, config));
  topKChunks(indices, x, config);
  return [...indices];
}

function manifestOf(...shapes: number[][]): TensorManifestEntry[] {
  let offset = 0;
  return shapes.map((shape, t) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name: `t${t}`, shape, offset, size };
    offset += size + 3; // gaps between views, as an aligned layout has
    return entry;
  });
}
const paramCount = (m: TensorManifestEntry[]) => m[m.length - 1].offset + m[m.length - 1].size;

describe('config and chunk geometry', () => {
  it('accepts the defaults and rejects odd k, k < 2, k > chunk and huge chunks', () => {
    checkCompressConfig(defaultCompressConfig);
    for (const bad of [{ topK: 63 }, { topK: 0 }, { topK: 1 }, { topK: 8192 }, { chunkSize: 65537 }, { maxAbsValue: NaN }]) {
      expect(() => checkCompressConfig({ ...defaultCompressConfig, ...bad })).toThrow(CompressConfigError);
    }
  });

  it('keeps k per full chunk and the same density, rounded up, in the tail', () => {
    const c = defaultCompressConfig;
    expect(chunkKeep(4096, c)).toBe(64);
    expect(chunkKeep(4095, c)).toBe(64); // 63.98 → 64
    expect(chunkKeep(4032, c)).toBe(63); // exactly 63
    expect(chunkKeep(70, c)).toBe(2); // 1.09 → 2
    expect(chunkKeep(64, c)).toBe(1);
    expect(chunkKeep(1, c)).toBe(1);
    expect(chunkKeep(0, c)).toBe(0);
    expect(sparseCount(4096 * 3 + 70, c)).toBe(3 * 64 + 2);
    expect(chunkKeep(3, { ...c, chunkSize: 4, topK: 4 })).toBe(3); // never more than the chunk holds
  });
});

describe('errorFeedback', () => {
  it('computes β·e + (θ_global − θ_local) by hand', () => {
    const e = new Float32Array([1, 2, -4]);
    errorFeedback(e, new Float32Array([0.5, 1, 0]), new Float32Array([0.25, 2, 1]), 0.5);
    expect([...e]).toEqual([0.75, 0, -3]);
  });

  it('rounds every operation to float32', () => {
    const n = 1000;
    const e = randomFloats(n, 1, 0.1);
    const g = randomFloats(n, 2);
    const l = randomFloats(n, 3);
    const expected = e.map((v, i) => Math.fround(Math.fround(Math.fround(0.95) * v) + Math.fround(g[i] - l[i])));
    errorFeedback(e, g, l, 0.95);
    expect([...e]).toEqual([...expected]);
  });
});

describe('topKChunks', () => {
  it('matches a brute-force sort on random data with many repeated magnitudes', () => {
    for (const [seed, size] of [[1, 256], [2, 1000], [3, 4096 + 70], [4, 5]] as const) {
      // Quantize to a few levels so ties at the threshold are common.
      const x = randomFloats(size, seed).map((v) => Math.round(v * 4) / 4);
      for (const config of [small, defaultCompressConfig]) expect(topK(x, config)).toEqual(bruteTopK(x, config));
    }
  });

  it('picks by magnitude with signs and breaks ties toward the lower index', () => {
    const x = new Float32Array(256);
    x[10] = -5;
    x[200] = 4;
    x[3] = 1;
    x[4] = -1;
    x[5] = 1;
    x[250] = 1;
    x[100] = -3;
    x[101] = 2;
    x[7] = -1;
    // 8 slots: -5, 4, -3, 2, then four of the five |1|s — the lowest indices 3, 4, 5, 7, not 250.
    expect(topK(x, small)).toEqual([3, 4, 5, 7, 10, 100, 101, 200]);
  });

  it('takes the lowest indices when a chunk is all equal, all zero or ±0', () => {
    const equal = new Float32Array(256).map((_, i) => (i % 2 ? 1 : -1));
    expect(topK(equal, small)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(topK(new Float32Array(256), small)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const signedZeros = new Float32Array(256).map((_, i) => (i % 2 ? 0 : -0));
    expect(topK(signedZeros, small)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('fills with the lowest-index zeros when a chunk has fewer than k non-zeros', () => {
    const x = new Float32Array(256);
    x[100] = 1e-3;
    x[255] = -2;
    expect(topK(x, small)).toEqual([0, 1, 2, 3, 4, 5, 100, 255]);
  });

  it('orders float32 denormals correctly and ranks them above zero', () => {
    const x = new Float32Array(256);
    const tiny = 1.401298464324817e-45; // smallest float32 denormal
    for (let i = 0; i < 8; i++) x[20 + i] = (i + 1) * tiny * (i % 2 ? -1 : 1);
    x[30] = 1e-40;
    expect(x[21]).not.toBe(0);
    expect(topK(x, small)).toEqual([21, 22, 23, 24, 25, 26, 27, 30]); // 1·tiny (index 20) is the smallest
  });

  it('handles float32 extremes', () => {
    const x = new Float32Array(256);
    x[9] = -3.4028234663852886e38;
    x[8] = 3.4e38;
    x[7] = 1e-30;
    expect(topK(x, small)).toEqual([0, 1, 2, 3, 4, 7, 8, 9]);
  });

  it('treats each chunk on its own, including the partial tail', () => {
    const x = new Float32Array(256 + 40); // tail of 40 keeps ceil(8·40/256) = 2
    x[0] = 9; // chunk 0's largest does not crowd out chunk 1
    x[290] = 0.5;
    x[260] = -0.25;
    x[270] = 0.125;
    const picked = topK(x, small);
    expect(picked.length).toBe(10);
    expect(picked.slice(8)).toEqual([260, 290]);
  });
});

describe('topKChunks (radix select) vs topKChunksBySort (the full-sort baseline)', () => {
  const bitsToFloat = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
  const select = (fn: typeof topKChunks, x: Float32Array, config: CompressConfig) => {
    const indices = new Uint32Array(sparseCount(x.length, config));
    fn(indices, x, config);
    return [...indices];
  };
  const expectSame = (x: Float32Array, config: CompressConfig, label: string) =>
    expect(select(topKChunks, x, config), `${label}, chunk ${config.chunkSize}, k ${config.topK}`).toEqual(select(topKChunksBySort, x, config));

  /** Inputs built to hit each radix pass, its bucket edges and the tie rule, and the sort/quickselect worst cases. */
  function adversarial(n: number): [string, Float32Array][] {
    const ramp = Array.from({ length: n }, (_, i) => i);
    const cases: [string, Float32Array][] = [
      ['all equal, alternating signs', Float32Array.from(ramp, (i) => (i % 2 ? 0.5 : -0.5))],
      ['all +0 and −0', Float32Array.from(ramp, (i) => (i % 3 ? 0 : -0))],
      ['ascending', Float32Array.from(ramp, (i) => i + 1)],
      ['descending', Float32Array.from(ramp, (i) => n - i)],
      ['organ pipe', Float32Array.from(ramp, (i) => Math.min(i, n - 1 - i))],
      ['sawtooth of 7', Float32Array.from(ramp, (i) => (i % 7) * (i % 2 ? -1 : 1))],
      // Same top three bytes: only the last pass tells them apart (and the threshold sits inside one bucket).
      ['differ in the low byte', bitsToFloat(ramp.map((i) => 0x3f800000 | (i * 37) % 256))],
      ['differ in byte 1 only', bitsToFloat(ramp.map((i) => 0x3f800000 | (((i * 11) % 256) << 8)))],
      ['differ in byte 2 only', bitsToFloat(ramp.map((i) => 0x3f000000 | (((i * 13) % 128) << 16)))],
      // Many exact copies of the k-th largest: the ties decide, lowest index first.
      ['a plateau at the threshold', Float32Array.from(ramp, (i) => (i % 5 === 0 ? 2 : i % 5 === 1 ? -1 : 1))],
      ['denormals, zeros and ±0', bitsToFloat(ramp.map((i) => (i % 4 === 0 ? 0x80000000 : i % 4 === 1 ? 0 : (i * 977) % 0x800000 | (i % 2 ? 0x80000000 : 0))))],
      ['float32 extremes', Float32Array.from(ramp, (i) => (i % 3 === 0 ? 3.4028234663852886e38 : i % 3 === 1 ? -3.4028234663852886e38 : 1e-38))],
      ['one huge value among zeros', Float32Array.from(ramp, (i) => (i === n >> 1 ? -1e30 : 0))],
      ['few distinct levels', Float32Array.from(ramp, (i) => [0.25, -0.25, 0.5, 0][(i * 2654435761) % 4 >>> 0] ?? 0)],
    ];
    return cases;
  }

  it('picks the same positions on adversarial chunks, for full and tail chunks and every k', () => {
    const configs: CompressConfig[] = [
      small,
      defaultCompressConfig,
      { ...defaultCompressConfig, chunkSize: 64, topK: 2 }, // smallest k
      { ...defaultCompressConfig, chunkSize: 16, topK: 16 }, // k = the whole chunk
      { ...defaultCompressConfig, chunkSize: 4096, topK: 512 },
    ];
    for (const n of [1, 2, 3, 17, 256, 4096, 4096 + 70, 3 * 4096 + 1]) {
      for (const [label, x] of adversarial(n)) for (const config of configs) expectSame(x, config, `${label} (n ${n})`);
    }
  });

  it('picks the same positions on random data, smooth and quantized to a few levels', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const size = 1 + ((seed * 7919) % 9000);
      const smooth = randomFloats(size, seed);
      const levels = smooth.map((v) => Math.round(v * 8) / 8);
      for (const config of [small, defaultCompressConfig]) {
        expectSame(smooth, config, `random seed ${seed}`);
        expectSame(levels, config, `levels seed ${seed}`);
      }
    }
  });

  it('gives byte-identical payloads and residuals to the sort baseline over rounds', () => {
    const manifest = manifestOf([300, 64], [64], [4096 + 70, 2], [40]);
    const P = paramCount(manifest);
    const withRadix = new Float32Array(P);
    const withSort = new Float32Array(P);
    let theta = randomFloats(P, 1);
    for (let round = 0; round < 4; round++) {
      // A round's Δ quantized coarsely, so ties at each chunk's threshold are common.
      const step = randomFloats(P, 100 + round);
      const local = theta.map((v, i) => v - Math.round(step[i] * 16) / 1024);
      const a = encodeUpdate(sparseLoCoStep(withRadix, theta, local, manifest, defaultCompressConfig, 0.95, topKChunks), manifest, defaultCompressConfig);
      const b = encodeUpdate(sparseLoCoStep(withSort, theta, local, manifest, defaultCompressConfig, 0.95, topKChunksBySort), manifest, defaultCompressConfig);
      expect(a, `round ${round}`).toEqual(b);
      expect(new Uint32Array(withRadix.buffer)).toEqual(new Uint32Array(withSort.buffer));
      theta = local;
    }
  });
});

describe('quantize2bit', () => {
  it('matches the hand calculation with all four bins', () => {
    // c = [-9, -3, 0×11, 2, 1, 9] + μ=1; Σc = 0, Σc² = 176, σ = √(176/15) = 3.42540, s = 1.5σ = 5.13809.
    // c/s + 2.5: -9 → 0.748 → 0; -3 → 1.916 → 1; 0 → 2.5 → 2; 2 → 2.889 → 2; 1 → 2.695 → 2; 9 → 4.25 → 3 (clamped).
    const c = [-9, -3, ...new Array(11).fill(0), 2, 1, 9];
    const values = new Float32Array(c.map((v) => v + 1));
    const codes = new Uint8Array(values.length);
    const { mean, lut } = quantize2bit(codes, values);
    expect(mean).toBe(1);
    expect([...codes]).toEqual([0, 1, ...new Array(13).fill(2), 3]);
    expect([...lut]).toEqual([-9, -3, Math.fround(3 / 13), 9]); // bin 2: (0·11 + 2 + 1) / 13
    const out = new Float32Array(values.length);
    dequantize2bit(out, codes, mean, lut);
    expect([out[0], out[1], out[2], out[15]]).toEqual([-8, -2, Math.fround(Math.fround(3 / 13) + 1), 10]);
  });

  it('leaves bins empty as zero', () => {
    // c = [-3, -1, 0, 1, 3], σ = √5, s = 3.354: codes [1, 2, 2, 2, 3], bin 0 empty.
    const codes = new Uint8Array(5);
    const { mean, lut } = quantize2bit(codes, new Float32Array([-3, -1, 0, 1, 3]));
    expect(mean).toBe(0);
    expect([...codes]).toEqual([1, 2, 2, 2, 3]);
    expect([...lut]).toEqual([0, -3, 0, 3]);
  });

  it('guards n = 0, n = 1 and σ = 0', () => {
    expect(quantize2bit(new Uint8Array(0), new Float32Array(0))).toEqual({ mean: 0, lut: new Float32Array(4) });
    const one = new Uint8Array(1);
    const q1 = quantize2bit(one, new Float32Array([5]));
    expect([q1.mean, ...q1.lut, one[0]]).toEqual([5, 0, 0, 0, 0, 2]);
    const same = new Uint8Array(3);
    const tenth = Math.fround(0.1);
    const q3 = quantize2bit(same, new Float32Array([tenth, tenth, tenth]));
    expect(q3.mean).toBe(tenth);
    expect([...same]).toEqual([2, 2, 2]);
    const out = new Float32Array(3);
    dequantize2bit(out, same, q3.mean, q3.lut);
    expect([...out]).toEqual([tenth, tenth, tenth]);
    for (const v of [q1.mean, ...q1.lut, q3.mean, ...q3.lut]) expect(Number.isFinite(v)).toBe(true);
  });

  it('has bounded reconstruction error relative to σ on Gaussian-like data', () => {
    const values = randomFloats(5000, 9).map((v, i) => v + randomFloats(1, i + 100)[0]);
    const codes = new Uint8Array(values.length);
    const { mean, lut } = quantize2bit(codes, values);
    const out = new Float32Array(values.length);
    dequantize2bit(out, codes, mean, lut);
    let err = 0;
    let variance = 0;
    for (let i = 0; i < values.length; i++) {
      err += (out[i] - values[i]) ** 2;
      variance += (values[i] - mean) ** 2;
    }
    const relative = err / variance;
    console.log(`2-bit quantization: relative squared error ${relative.toFixed(4)}`);
    expect(relative).toBeLessThan(0.2); // 4 levels on a unimodal distribution: ~0.1
  });
});

describe('compress', () => {
  const manifest = manifestOf([64, 64], [70, 70], [1, 1], [3, 5], [300], [1], [0, 4]);
  const P = paramCount(manifest);

  it('refuses NaN, ±Inf and values beyond maxAbsValue, naming the tensor and position', () => {
    for (const [bad, type] of [
      [NaN, NonFiniteResidualError],
      [Infinity, NonFiniteResidualError],
      [-Infinity, NonFiniteResidualError],
      [2000, ResidualOutOfRangeError],
    ] as const) {
      const e = randomFloats(P, 5, 0.01);
      e[manifest[1].offset + 17] = bad;
      let thrown: unknown;
      try {
        compress(e, manifest, defaultCompressConfig);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(type);
      expect(thrown).toMatchObject({ tensor: 't1', index: 17 });
    }
    // Padding between views is not part of any tensor and is ignored.
    const e = randomFloats(P, 5, 0.01);
    e[manifest[0].offset + manifest[0].size] = NaN;
    expect(() => compress(e, manifest, defaultCompressConfig)).not.toThrow();
  });

  it('sends the configured mode per tensor and exactly chunkKeep values per chunk', () => {
    const e = randomFloats(P, 6, 0.01);
    for (const oneDimPolicy of ['dense-quantized', 'dense-float32', 'sparse'] as const) {
      const config = { ...small, oneDimPolicy };
      const update = compress(e, manifest, config);
      checkUpdate(update, manifest, config);
      expect(update.tensors.map((t) => t.mode)).toEqual([
        'sparse', 'sparse', 'sparse', 'sparse', oneDimPolicy, oneDimPolicy, 'sparse',
      ]);
      const t1 = update.tensors[1];
      if (t1.mode !== 'sparse') throw new Error('unreachable');
      expect(t1.indices.length).toBe(19 * 8 + 2); // 4900 = 19·256 + 36 → 2 in the tail
      expect([...t1.indices]).toEqual(bruteTopK(e.subarray(manifest[1].offset, manifest[1].offset + 4900), config));
    }
  });

  it('checkUpdate rejects wrong counts, disorder, duplicates and wrong modes', () => {
    const e = randomFloats(P, 7, 0.01);
    const update = compress(e, manifest, small);
    const clone = () => structuredClone(update);
    const u1 = clone();
    if (u1.tensors[0].mode === 'sparse') u1.tensors[0].indices[1] = u1.tensors[0].indices[0];
    expect(() => checkUpdate(u1, manifest, small)).toThrow(InvalidUpdateError);
    const u2 = clone();
    if (u2.tensors[0].mode === 'sparse') u2.tensors[0].indices[7] = 300; // belongs to chunk 1
    expect(() => checkUpdate(u2, manifest, small)).toThrow(InvalidUpdateError);
    const u3 = clone();
    if (u3.tensors[0].mode === 'sparse') u3.tensors[0].codes[0] = 4;
    expect(() => checkUpdate(u3, manifest, small)).toThrow(InvalidUpdateError);
    expect(() => checkUpdate(update, manifest, { ...small, oneDimPolicy: 'sparse' })).toThrow(InvalidUpdateError);
    expect(() => checkUpdate(update, manifest, { ...small, topK: 10 })).toThrow(InvalidUpdateError);
  });

  it('keeps the EF identity e_new + dequant(sent) = β·e + Δ', () => {
    for (const oneDimPolicy of ['dense-quantized', 'dense-float32', 'sparse'] as const) {
      const config = { ...small, oneDimPolicy };
      const e = randomFloats(P, 8, 0.05);
      const g = randomFloats(P, 9);
      const l = g.map((v, i) => v - 0.01 * randomFloats(1, 1000 + i)[0]);
      const expected = e.slice();
      errorFeedback(expected, g, l, 0.95);
      const update = sparseLoCoStep(e, g, l, manifest, config, 0.95);
      const sent = new Float32Array(P);
      decompress(update, manifest).forEach((c, t) => {
        const base = manifest[t].offset;
        if (c.kind === 'dense') sent.set(c.values, base);
        else c.indices.forEach((i, j) => (sent[base + i] = c.values[j]));
      });
      let worst = 0;
      for (let i = 0; i < P; i++) {
        if (sent[i] === 0) {
          expect(e[i]).toBe(expected[i]); // not sent: untouched
        } else {
          // One float32 rounding in e ← e − d.
          const slack = 2 ** -23 * Math.max(Math.abs(expected[i]), Math.abs(sent[i]));
          worst = Math.max(worst, Math.abs(e[i] + sent[i] - expected[i]) / slack);
          expect(Math.abs(e[i] + sent[i] - expected[i])).toBeLessThanOrEqual(slack);
        }
      }
      if (oneDimPolicy === 'dense-float32') {
        for (const t of [4, 5]) for (let i = 0; i < manifest[t].size; i++) expect(e[manifest[t].offset + i]).toBe(0);
      }
      console.log(`EF identity (${oneDimPolicy}): worst error ${worst.toFixed(3)} float32 roundings`);
    }
  });

  it('removeSent shrinks the residual where it sent', () => {
    const e = randomFloats(P, 10, 0.05);
    const before = e.slice();
    const update = compress(e, manifest, small);
    removeSent(e, update, manifest);
    const t0 = manifest[0];
    let normBefore = 0;
    let normAfter = 0;
    for (let i = 0; i < t0.size; i++) {
      normBefore += before[t0.offset + i] ** 2;
      normAfter += e[t0.offset + i] ** 2;
    }
    expect(normAfter).toBeLessThan(normBefore);
  });

  it('makes a replicated quadratic converge through EF + top-k + 2-bit over rounds', () => {
    // R replicas each step halfway toward their own noisy optimum; the global
    // model must approach the mean optimum although each round sends 1/8 of the values.
    const m = manifestOf([32, 64], [64]);
    const n = paramCount(m);
    const config: CompressConfig = { ...defaultCompressConfig, chunkSize: 64, topK: 8 };
    const center = randomFloats(n, 11);
    const R = 4;
    const optima = Array.from({ length: R }, (_, r) => center.map((v, i) => v + 0.1 * randomFloats(1, 5000 + r * n + i)[0]));
    const target = center.map((_, i) => optima.reduce((s, o) => s + o[i], 0) / R);
    const theta = new Float32Array(n);
    const residuals = Array.from({ length: R }, () => new Float32Array(n));
    const distance = () => Math.sqrt(theta.reduce((s, v, i) => s + (v - target[i]) ** 2, 0));
    const start = distance();
    for (let round = 0; round < 60; round++) {
      const sent = new Float32Array(n);
      for (let r = 0; r < R; r++) {
        const local = theta.map((v, i) => v + 0.5 * (optima[r][i] - v));
        const update = sparseLoCoStep(residuals[r], theta, local, m, config);
        decompress(update, m).forEach((c, t) => {
          const base = m[t].offset;
          if (c.kind === 'dense') c.values.forEach((v, i) => (sent[base + i] += v / R));
          else c.indices.forEach((i, j) => (sent[base + i] += c.values[j] / R));
        });
      }
      for (let i = 0; i < n; i++) theta[i] -= sent[i];
    }
    console.log(`quadratic: distance ${start.toFixed(3)} → ${distance().toFixed(4)} after 60 rounds`);
    // The floor (~5%) is the jitter from replicas sending different coordinates of their differing Δ.
    expect(distance()).toBeLessThan(0.1 * start);
  });
});
