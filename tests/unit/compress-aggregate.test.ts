// Aggregation and outer steps (src/compress/aggregate.ts, src/compress/diloco.ts):
// arrival-order independence to the bit (R = 7, 20 shuffles, through the wire
// both ways, under each rule, with and without token weights), median-norm
// clipping, the 1/R mean and the selected-replica mean by hand, token weights,
// non-finite tensors skipped, the aggregate codecs (float and 2-bit), and
// DiLoCo's mean + Nesterov step.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../compare.ts';
import type { TensorManifestEntry } from '../../src/compress/manifest.ts';
import {
  AGGREGATION_RULES,
  AggregateInputError,
  aggregateUpdates,
  applyAggregate,
  emptyAggregate,
  lowerMedian,
  medianClipFactors,
  tokenWeights,
  type AggregationOptions,
  type Submission,
} from '../../src/compress/aggregate.ts';
import {
  CodecError,
  decodeAggregate,
  decodeQuantizedAggregate,
  decodeUpdate,
  dequantizeAggregate,
  encodeAggregate,
  encodeQuantizedAggregate,
  encodeUpdate,
  quantizeAggregate,
  type AggregateUpdate,
} from '../../src/compress/codec.ts';
import { meanPseudoGradient, nesterovOuterStep, pseudoGradient } from '../../src/compress/diloco.ts';
import {
  compress,
  decompress,
  defaultCompressConfig,
  errorFeedback,
  type CompressConfig,
  type CompressedUpdate,
} from '../../src/compress/sparseloco.ts';

function manifestOf(...shapes: number[][]): TensorManifestEntry[] {
  let offset = 0;
  return shapes.map((shape, t) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name: `t${t}`, shape, offset, size };
    offset += Math.ceil(size / 64) * 64;
    return entry;
  });
}
const paramCount = (m: TensorManifestEntry[]) => m[m.length - 1].offset + m[m.length - 1].size;
const sha256 = (a: Float32Array | Uint8Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  const u = randomFloats(out.length, seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(((u[i] + 1) / 2) * (i + 1)) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('order independence', () => {
  const manifest = manifestOf([48, 64], [64], [100, 33], [64], [7, 7]);
  const P = paramCount(manifest);
  const config: CompressConfig = { ...defaultCompressConfig, chunkSize: 256, topK: 16 };
  const theta0 = randomFloats(P, 1);
  // Seven replicas: different residual scales so clipping bites, through the wire as a relay receives them.
  const payloads = Array.from({ length: 7 }, (_, r) => {
    const e = new Float32Array(P);
    errorFeedback(e, theta0, theta0.map((v, i) => v - randomFloats(1, 100 + r * P + i)[0] * 0.01 * (r + 1)), 0.95);
    return encodeUpdate(compress(e, manifest, config), manifest, config);
  });
  const submissions: Submission[] = payloads.map((bytes) => ({ id: sha256(bytes), update: decodeUpdate(bytes, manifest, config) }));

  function roundHash(subs: readonly Submission[], options?: AggregationOptions): { params: string; aggregate: string } {
    const aggregate = aggregateUpdates(subs, manifest, config, options);
    const bytes = encodeAggregate(aggregate, manifest, config);
    // The relay applies its in-memory aggregate; a tab applies the decoded bytes: same bits.
    const relayParams = theta0.slice();
    applyAggregate(relayParams, aggregate, manifest);
    const tabParams = theta0.slice();
    applyAggregate(tabParams, decodeAggregate(bytes, manifest, config), manifest);
    expect(sha256(tabParams)).toBe(sha256(relayParams));
    return { params: sha256(relayParams), aggregate: sha256(bytes) };
  }

  // Unequal tokens (a fast, a slow and five median devices), so the weights are not all 1.
  const weighted = submissions.map((s, r) => ({ ...s, tokens: [960, 64, 4096, 960, 960, 320, 960][r] }));
  const cases = AGGREGATION_RULES.flatMap((rule) => [
    { name: `${rule}`, subs: submissions, options: { rule, tokenCap: 2 } },
    { name: `${rule}, token-weighted`, subs: weighted, options: { rule, tokenCap: 2 } },
  ]);

  for (const { name, subs, options } of cases) {
    it(`gives bit-identical parameters for 20 arrival orders of R = 7 submissions (${name})`, () => {
      const hashes = new Set<string>();
      const aggregates = new Set<string>();
      for (let s = 0; s < 20; s++) {
        const { params, aggregate } = roundHash(shuffled(subs, 1000 + s), options);
        hashes.add(params);
        aggregates.add(aggregate);
      }
      console.log(`order independence (${name}): 20 shuffles → ${hashes.size} parameter hash, ${aggregates.size} aggregate hash`);
      expect(hashes.size).toBe(1);
      expect(aggregates.size).toBe(1);
      // The hash does depend on the set: leaving one submission out changes it.
      expect(roundHash(subs.slice(1), options).params).not.toBe([...hashes][0]);
    });
  }

  it('the rules and the weights change the result (each case above tests something of its own)', () => {
    const results = new Set(cases.map(({ subs, options }) => roundHash(subs, options).params));
    expect(results.size).toBe(cases.length);
  });

  it('would not without a canonical order (float32 addition is not associative here)', () => {
    const naive = new Set<string>();
    for (let s = 0; s < 20; s++) {
      const sum = new Float32Array(P);
      for (const { update } of shuffled(submissions, 1000 + s)) {
        decompress(update, manifest).forEach((c, t) => {
          const base = manifest[t].offset;
          if (c.kind === 'dense') c.values.forEach((v, i) => (sum[base + i] += v));
          else c.indices.forEach((i, j) => (sum[base + i] += c.values[j]));
        });
      }
      naive.add(sha256(sum));
    }
    console.log(`arrival-order float32 sums: ${naive.size} distinct results over 20 shuffles`);
    expect(naive.size).toBeGreaterThan(1);
  });

  it('rejects duplicate ids and an empty round', () => {
    expect(() => aggregateUpdates([submissions[0], { ...submissions[1], id: submissions[0].id }], manifest, config)).toThrow(AggregateInputError);
    expect(() => aggregateUpdates([], manifest, config)).toThrow(AggregateInputError);
  });

  it('an empty aggregate (nothing selected) round-trips and leaves θ bit for bit; zero contributors with values is refused', () => {
    const empty = emptyAggregate(manifest);
    const bytes = encodeAggregate(empty, manifest, config);
    expect(decodeAggregate(bytes, manifest, config)).toEqual(empty);
    const theta = randomFloats(P, 5);
    const after = theta.slice();
    applyAggregate(after, decodeAggregate(bytes, manifest, config), manifest, 1);
    expect(Buffer.from(after.buffer).equals(Buffer.from(theta.buffer))).toBe(true);
    const lying = aggregateUpdates(submissions.slice(0, 1), manifest, config);
    expect(() => encodeAggregate({ ...lying, contributorCount: 0 }, manifest, config)).toThrow(/zero contributions/);
    const forged = encodeAggregate(lying, manifest, config);
    new DataView(forged.buffer).setUint32(32, 0, true);
    expect(() => decodeAggregate(forged, manifest, config)).toThrow(/zero contributions/);
  });
});

/** An update for a one-tensor manifest whose values are given exactly (1-D, dense float32). */
function denseUpdate(values: number[]): CompressedUpdate {
  return { chunkSize: 4096, topK: 64, tensors: [{ mode: 'dense-float32', values: new Float32Array(values) }] };
}
const denseConfig: CompressConfig = { ...defaultCompressConfig, oneDimPolicy: 'dense-float32' };

describe('clipping and the mean rule', () => {
  it('uses the lower median, as torch.median', () => {
    expect(lowerMedian([3, 1, 2])).toBe(2);
    expect(lowerMedian([4, 1])).toBe(1);
    expect(lowerMedian([10, 2, 1, 3])).toBe(2);
    expect(medianClipFactors([1, 2, 10])).toEqual([1, 2 / (2 + 1e-8), 2 / (10 + 1e-8)]);
  });

  it('clips each contribution to the median norm, then takes the mean (dense: both rules alike)', () => {
    const m = manifestOf([3]);
    // Norms 1, 2, 10 → median 2: the third is scaled by 2/10, the others untouched.
    const subs = [denseUpdate([1, 0, 0]), denseUpdate([0, 2, 0]), denseUpdate([0, 6, 8])].map((update, r) => ({ id: `p${r}`, update }));
    const g = aggregateUpdates(subs, m, denseConfig);
    const t = g.tensors[0];
    if (t.mode !== 'dense') throw new Error(`mode ${t.mode}`);
    const clipped = 2 / (10 + 1e-8);
    const expected = [1 / 3, (2 * (2 / (2 + 1e-8)) + Math.fround(6 * clipped)) / 3, Math.fround(8 * clipped) / 3].map(Math.fround);
    expect([...t.values]).toEqual(expected);
    expect(t.values[1]).toBeCloseTo((2 + 1.2) / 3, 6);
  });

  it('the mean rule divides by R also where only one replica selected a coordinate', () => {
    const m = manifestOf([1, 8]);
    const config: CompressConfig = { ...defaultCompressConfig, chunkSize: 8, topK: 2 };
    const sparse = (indices: number[], codes: number[], mean: number, lut: number[]): CompressedUpdate => ({
      chunkSize: 8,
      topK: 2,
      tensors: [{ mode: 'sparse', indices: new Uint32Array(indices), codes: new Uint8Array(codes), mean, lut: new Float32Array(lut) }],
    });
    // Both dequantize to ±1 and have norm √2, so no clipping.
    const a = sparse([1, 5], [1, 3], 0, [0, -1, 0, 1]); // -1 at 1, +1 at 5
    const b = sparse([5, 6], [3, 3], 1, [0, 0, 0, 0]); // +1 at 5, +1 at 6 (σ = 0 guard: L = 0)
    b.tensors[0].mode === 'sparse' && b.tensors[0].codes.fill(2);
    const g = aggregateUpdates([{ id: 'b', update: b }, { id: 'a', update: a }], m, config, { rule: 'mean', tokenCap: 2 });
    expect(g.tensors[0]).toEqual({ mode: 'sparse', indices: new Uint32Array([1, 5, 6]), values: new Float32Array([-0.5, 1, 0.5]) });
    const theta = new Float32Array(8).fill(10);
    applyAggregate(theta, g, m, 0.5);
    expect([...theta]).toEqual([10, 10.25, 10, 10, 10, 9.5, 9.75, 10]);
  });

  it('writes a mean that rounds to zero from below as +0, the one zero of the wire format', () => {
    const m = manifestOf([2]);
    const tiny = 2 ** -149; // the smallest float32 subnormal
    // Sum −tiny over R = 2: the mean −tiny/2 rounds (to even) to zero, from below.
    const g = aggregateUpdates([{ id: 'x', update: denseUpdate([-3 * tiny, 1]) }, { id: 'y', update: denseUpdate([2 * tiny, 1]) }], m, denseConfig);
    const t = g.tensors[0];
    if (t.mode !== 'dense') throw new Error(`mode ${t.mode}`);
    expect(Object.is(t.values[0], 0)).toBe(true);
    // Encoded and decoded, the tab applies the same +0 the relay applies: θ = −0 stays −0 on both.
    const bytes = encodeAggregate(g, m, denseConfig);
    const theta = new Float32Array([-0, 0]);
    applyAggregate(theta, decodeAggregate(bytes, m, denseConfig), m, 1);
    const direct = new Float32Array([-0, 0]);
    applyAggregate(direct, g, m, 1);
    expect(Object.is(theta[0], -0) && Object.is(direct[0], -0)).toBe(true);
  });

  it('the selected-mean rule divides each coordinate by the replicas that selected it', () => {
    const m = manifestOf([1, 8]);
    const config: CompressConfig = { ...defaultCompressConfig, chunkSize: 8, topK: 2 };
    const a: CompressedUpdate = {
      chunkSize: 8,
      topK: 2,
      tensors: [{ mode: 'sparse', indices: new Uint32Array([1, 5]), codes: new Uint8Array([1, 3]), mean: 0, lut: new Float32Array([0, -1, 0, 1]) }],
    };
    const b: CompressedUpdate = {
      chunkSize: 8,
      topK: 2,
      tensors: [{ mode: 'sparse', indices: new Uint32Array([5, 6]), codes: new Uint8Array([2, 2]), mean: 1, lut: new Float32Array([0, 0, 0, 0]) }],
    };
    const subs = [{ id: 'b', update: b }, { id: 'a', update: a }];
    const g = aggregateUpdates(subs, m, config, { rule: 'selected-mean', tokenCap: 2 });
    // 1: a alone (−1); 5: both (+1, +1); 6: b alone (+1) — full strength where one replica selected.
    expect(g.tensors[0]).toEqual({ mode: 'sparse', indices: new Uint32Array([1, 5, 6]), values: new Float32Array([-1, 1, 1]) });
    // Tokens 100 and 300 with cap 2: ω = 1 and 2. Coordinate 5 is (1·1 + 2·1)/3, alone ones keep their value.
    const weightedSubs = [{ id: 'b', update: b, tokens: 300 }, { id: 'a', update: a, tokens: 100 }];
    const w = aggregateUpdates(weightedSubs, m, config, { rule: 'selected-mean', tokenCap: 2 });
    expect(w.tensors[0]).toEqual({ mode: 'sparse', indices: new Uint32Array([1, 5, 6]), values: new Float32Array([-1, 1, 1]) });
    // Under the mean rule the same weights divide by Σω = 3 everywhere: b's alone coordinate counts 2/3.
    const mean = aggregateUpdates(weightedSubs, m, config, { rule: 'mean', tokenCap: 2 });
    expect(mean.tensors[0]).toEqual({ mode: 'sparse', indices: new Uint32Array([1, 5, 6]), values: new Float32Array([-1 / 3, 1, 2 / 3]) });
  });

  it('token weights: ω = min(t, cap·median)/median, 1 for equal tokens, typed refusals', () => {
    expect(tokenWeights([960, 960, 960], 2)).toEqual([1, 1, 1]);
    expect(tokenWeights([100, 300], 2)).toEqual([1, 2]); // lower median 100
    expect(tokenWeights([64, 960, 4096], 2)).toEqual([64 / 960, 1, 2]);
    expect(tokenWeights([64, 960, 4096], 8)).toEqual([64 / 960, 1, 4096 / 960]);
    expect(() => tokenWeights([0, 10], 2)).toThrow(AggregateInputError);
    expect(() => tokenWeights([1.5, 10], 2)).toThrow(AggregateInputError);
    expect(() => tokenWeights([10, 10], 0.5)).toThrow(AggregateInputError);
    const m = manifestOf([2]);
    const subs = [{ id: 'x', update: denseUpdate([1, 0]), tokens: 10 }, { id: 'y', update: denseUpdate([0, 1]) }];
    expect(() => aggregateUpdates(subs, m, denseConfig)).toThrow(/some submissions carry tokens/);
    expect(() => aggregateUpdates(subs.slice(0, 1), m, denseConfig, { rule: 'median' as never, tokenCap: 2 })).toThrow(AggregateInputError);
  });

  it('with R = 2, the larger contribution is clipped to the smaller norm', () => {
    const m = manifestOf([2]);
    const g = aggregateUpdates([{ id: 'x', update: denseUpdate([3, 4]) }, { id: 'y', update: denseUpdate([1, 0]) }], m, denseConfig);
    const t = g.tensors[0];
    if (t.mode !== 'dense') throw new Error(`mode ${t.mode}`);
    expect(t.values[0]).toBeCloseTo((0.6 + 1) / 2, 6);
    expect(t.values[1]).toBeCloseTo(0.8 / 2, 6);
  });
});

describe('non-finite aggregates', () => {
  it('skips a tensor whose aggregate overflows or is NaN, applies the rest, and says which', () => {
    const m = manifestOf([4], [3], [2]);
    const huge = (v: number, second: number[]): CompressedUpdate => ({
      chunkSize: 4096,
      topK: 64,
      tensors: [
        { mode: 'dense-float32', values: new Float32Array([v, v, v, v]) },
        { mode: 'dense-float32', values: new Float32Array(second) },
        { mode: 'dense-float32', values: new Float32Array([NaN, 1]) },
      ],
    });
    // Decoded submissions cannot carry these (the codec bounds values); in-memory ones can, and must not poison θ.
    const subs = [huge(3e38, [1, 2, 3]), huge(3e38, [3, 2, 1]), huge(3e38, [2, 2, 2])].map((update, r) => ({ id: `${r}`, update }));
    const g = aggregateUpdates(subs, m, denseConfig);
    expect(g.tensors.map((t) => t.mode)).toEqual(['skipped', 'dense', 'skipped']);
    const theta = new Float32Array(paramCount(m)).fill(1);
    const skipped = applyAggregate(theta, g, m, 1);
    expect(skipped).toEqual(['t0', 't2']);
    expect([...theta.subarray(m[0].offset, m[0].offset + 4)]).toEqual([1, 1, 1, 1]);
    expect([...theta.subarray(m[1].offset, m[1].offset + 3)]).toEqual([-1, -1, -1]);
    const bytes = encodeAggregate(g, m, denseConfig);
    expect(decodeAggregate(bytes, m, denseConfig)).toEqual(g);
  });
});

describe('aggregate codec', () => {
  const m = manifestOf([16, 16], [16], [5, 5]);
  const config: CompressConfig = { ...defaultCompressConfig, chunkSize: 64, topK: 4 };
  const aggregate: AggregateUpdate = aggregateUpdates(
    [1, 2, 3].map((s) => ({ id: `${s}`, update: compress(randomFloats(paramCount(m), s), m, config) })),
    m,
    config,
  );
  const bytes = encodeAggregate(aggregate, m, config);
  const codeOf = (b: Uint8Array): string => {
    try {
      decodeAggregate(b, m, config);
      return 'ok';
    } catch (error) {
      if (error instanceof CodecError) return error.code;
      throw error;
    }
  };

  it('round-trips canonically', () => {
    const decoded = decodeAggregate(bytes, m, config);
    expect(decoded).toEqual(aggregate);
    expect(encodeAggregate(decoded, m, config)).toEqual(bytes);
    expect(bytes[6]).toBe(2); // kind: aggregate
    console.log(`aggregate of 3 on ${paramCount(m)} params: ${bytes.length} bytes`);
  });

  it('rejects zero contributors, counts beyond the tensor and a dense mode where sparse belongs', () => {
    const edit = (f: (v: DataView, b: Uint8Array) => void) => {
      const b = bytes.slice();
      f(new DataView(b.buffer), b);
      return codeOf(b);
    };
    expect(codeOf(bytes)).toBe('ok');
    expect(edit((v) => v.setUint32(32, 0, true))).toBe('bad-count');
    expect(edit((v) => v.setUint32(36 + 5, 257, true))).toBe('bad-count'); // first tensor: 256 values
    expect(edit((v) => v.setUint32(36 + 5, 0xffffffff, true))).toBe('bad-count');
    expect(edit((v) => v.setUint32(36 + 5, 256, true))).toBe('truncated'); // fits the tensor, not the bytes
    expect(edit((_, b) => (b[36 + 4] = 1))).toBe('bad-mode');
    expect(edit((_, b) => (b[36 + 4] = 3))).toBe('bad-mode');
  });

  it('refuses −0 among the values, and never encodes one (the relay applies the object, tabs the bytes)', () => {
    const dense = manifestOf([4]);
    const denseAggregate: AggregateUpdate = { contributorCount: 1, tensors: [{ mode: 'dense', values: new Float32Array([0.5, 0, 0.25, -1]) }] };
    const good = encodeAggregate(denseAggregate, dense, denseConfig);
    expect(decodeAggregate(good, dense, denseConfig)).toEqual(denseAggregate);
    const negativeZero = good.slice();
    new DataView(negativeZero.buffer).setFloat32(36 + 5 + 4, -0, true);
    expect(() => decodeAggregate(negativeZero, dense, denseConfig)).toThrow(expect.objectContaining({ code: 'non-canonical' }));
    const withNegativeZero: AggregateUpdate = { contributorCount: 1, tensors: [{ mode: 'dense', values: new Float32Array([0.5, -0, 0.25, -1]) }] };
    expect(() => encodeAggregate(withNegativeZero, dense, denseConfig)).toThrow(/−0/);
  });
});

describe('quantized aggregate codec (kind 3)', () => {
  const m = manifestOf([16, 16], [16], [5, 5]);
  const config: CompressConfig = { ...defaultCompressConfig, chunkSize: 64, topK: 4 };
  const aggregate = aggregateUpdates(
    [1, 2, 3].map((s) => ({ id: `${s}`, update: compress(randomFloats(paramCount(m), s), m, config) })),
    m,
    config,
    { rule: 'selected-mean', tokenCap: 2 },
  );
  const quantized = quantizeAggregate(aggregate, m, config);
  const bytes = encodeQuantizedAggregate(quantized, m, config);
  const codeOf = (b: Uint8Array): string => {
    try {
      decodeQuantizedAggregate(b, m, config);
      return 'ok';
    } catch (error) {
      if (error instanceof CodecError) return error.code;
      throw error;
    }
  };

  it('round-trips canonically, keeps the union of positions, and is smaller than the float aggregate', () => {
    const decoded = decodeQuantizedAggregate(bytes, m, config);
    expect(decoded).toEqual(quantized);
    expect(encodeQuantizedAggregate(decoded, m, config)).toEqual(bytes);
    expect(bytes[6]).toBe(3); // kind: quantized aggregate
    const applied = dequantizeAggregate(decoded);
    applied.tensors.forEach((t, i) => {
      const original = aggregate.tensors[i];
      expect(t.mode).toBe(original.mode);
      if (t.mode === 'sparse' && original.mode === 'sparse') expect(t.indices).toEqual(original.indices);
      // At most four distinct values per tensor, each the mean of the originals in its bin.
      if (t.mode !== 'skipped') expect(new Set(t.values).size).toBeLessThanOrEqual(4);
    });
    const float = encodeAggregate(aggregate, m, config);
    console.log(`aggregate of 3 on ${paramCount(m)} params: float ${float.length} bytes, 2-bit ${bytes.length} bytes`);
    expect(bytes.length).toBeLessThan(float.length);
  });

  it('is refused by the float decoder and refuses edits: kind, counts, modes, padding, unused bins', () => {
    expect(codeOf(bytes)).toBe('ok');
    expect(() => decodeAggregate(bytes, m, config)).toThrow(expect.objectContaining({ code: 'wrong-kind' }));
    expect(() => decodeQuantizedAggregate(encodeAggregate(aggregate, m, config), m, config)).toThrow(expect.objectContaining({ code: 'wrong-kind' }));
    const edit = (f: (v: DataView, b: Uint8Array) => void) => {
      const b = bytes.slice();
      f(new DataView(b.buffer), b);
      return codeOf(b);
    };
    expect(edit((v) => v.setUint32(32, 0, true))).toBe('bad-count');
    expect(edit((v) => v.setUint32(36 + 5, 257, true))).toBe('bad-count'); // first tensor: 256 values
    expect(edit((_, b) => (b[36 + 4] = 1))).toBe('bad-mode');
    expect(codeOf(bytes.subarray(0, bytes.length - 1))).not.toBe('ok');
    const extended = new Uint8Array(bytes.length + 1);
    extended.set(bytes);
    expect(codeOf(extended)).toBe('trailing-bytes');
  });
});

describe('DiLoCo outer step', () => {
  it('averages dense pseudo-gradients in id order, independent of arrival order', () => {
    const n = 5000;
    const theta = randomFloats(n, 1);
    const pgs = Array.from({ length: 5 }, (_, r) => {
      const delta = new Float32Array(n);
      pseudoGradient(delta, theta, theta.map((v, i) => v - 0.01 * randomFloats(1, 200 + r * n + i)[0] * (r + 1) ** 3));
      return { id: `replica-${r}`, delta };
    });
    const hashes = new Set<string>();
    for (let s = 0; s < 10; s++) {
      const mean = new Float32Array(n);
      meanPseudoGradient(mean, shuffled(pgs, 50 + s));
      hashes.add(sha256(mean));
      expect(mean[7]).toBeCloseTo(pgs.reduce((acc, p) => acc + p.delta[7], 0) / 5, 6);
    }
    expect(hashes.size).toBe(1);
  });

  it('follows torch SGD(nesterov=True, momentum=0.9, lr=0.7) over two rounds', () => {
    const theta = new Float32Array([1, -2]);
    const buffer = new Float32Array(2);
    const g1 = new Float32Array([0.5, -1]);
    const g2 = new Float32Array([0.25, 0.25]);
    nesterovOuterStep(theta, buffer, g1);
    // b1 = g1; θ1 = θ0 − 0.7·(g1 + 0.9·b1) = θ0 − 1.33·g1
    expect(theta[0]).toBeCloseTo(1 - 1.33 * 0.5, 6);
    expect(theta[1]).toBeCloseTo(-2 + 1.33, 6);
    nesterovOuterStep(theta, buffer, g2);
    // b2 = 0.9·b1 + g2; θ2 = θ1 − 0.7·(g2 + 0.9·b2)
    const b2 = [0.9 * 0.5 + 0.25, 0.9 * -1 + 0.25];
    expect(buffer[0]).toBeCloseTo(b2[0], 6);
    expect(theta[0]).toBeCloseTo(1 - 1.33 * 0.5 - 0.7 * (0.25 + 0.9 * b2[0]), 6);
    expect(theta[1]).toBeCloseTo(-2 + 1.33 - 0.7 * (0.25 + 0.9 * b2[1]), 6);
  });
});
