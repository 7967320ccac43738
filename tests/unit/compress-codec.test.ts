// Wire codec v1 (src/compress/codec.ts, docs/wire-format.md): round trips in
// every mode, canonical bytes, the worked example of the format document byte
// for byte, one payload per decoder error, and bits/param on a GPT-shaped
// 1M-parameter manifest for each 1-D policy (printed; the 1-D policy choice in
// sparseloco.ts rests on these numbers).
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../compare.ts';
import { manifestDigest, type TensorManifestEntry } from '../../src/compress/manifest.ts';
import { BitWriter } from '../../src/compress/rice-code.ts';
import {
  CodecError,
  decodeAggregate,
  decodeUpdate,
  encodeUpdate,
  type CodecErrorCode,
} from '../../src/compress/codec.ts';
import {
  InvalidUpdateError,
  compress,
  defaultCompressConfig,
  sparseCount,
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

/** GPT-2-style layout: tied embeddings, per layer LN, qkv, proj, LN, fc, fcproj with biases. */
function gptManifest(C: number, L: number, V = 256, T = 256): TensorManifestEntry[] {
  const shapes: [string, number[]][] = [['wte', [V, C]], ['wpe', [T, C]]];
  for (let l = 0; l < L; l++) {
    shapes.push(
      [`h${l}.ln1.w`, [C]], [`h${l}.ln1.b`, [C]], [`h${l}.attn.qkv.w`, [3 * C, C]], [`h${l}.attn.qkv.b`, [3 * C]],
      [`h${l}.attn.proj.w`, [C, C]], [`h${l}.attn.proj.b`, [C]], [`h${l}.ln2.w`, [C]], [`h${l}.ln2.b`, [C]],
      [`h${l}.mlp.fc.w`, [4 * C, C]], [`h${l}.mlp.fc.b`, [4 * C]], [`h${l}.mlp.proj.w`, [C, 4 * C]], [`h${l}.mlp.proj.b`, [C]],
    );
  }
  shapes.push(['lnf.w', [C]], ['lnf.b', [C]]);
  let offset = 0;
  return shapes.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name, shape, offset, size };
    offset += Math.ceil(size / 64) * 64;
    return entry;
  });
}

function expectSameUpdate(actual: CompressedUpdate, expected: CompressedUpdate): void {
  expect(actual.tensors.length).toBe(expected.tensors.length);
  expected.tensors.forEach((e, t) => {
    const a = actual.tensors[t];
    expect(a.mode).toBe(e.mode);
    if (e.mode === 'dense-float32' && a.mode === 'dense-float32') {
      expect(Buffer.from(a.values.buffer, a.values.byteOffset, a.values.byteLength)).toEqual(
        Buffer.from(e.values.buffer, e.values.byteOffset, e.values.byteLength),
      );
    } else if (e.mode !== 'dense-float32' && a.mode !== 'dense-float32') {
      expect(Object.is(a.mean, Math.fround(e.mean))).toBe(true);
      expect([...a.lut]).toEqual([...e.lut]);
      expect([...a.codes]).toEqual([...e.codes]);
      if (e.mode === 'sparse' && a.mode === 'sparse') expect([...a.indices]).toEqual([...e.indices]);
    }
  });
}

function codeOf(run: () => unknown): CodecErrorCode | 'ok' {
  try {
    run();
    return 'ok';
  } catch (error) {
    if (error instanceof CodecError) return error.code;
    throw error;
  }
}

describe('round trip', () => {
  const manifest = manifestOf([64, 64], [70, 70], [1, 1], [3, 5], [300], [1], [0, 4], [4096, 3]);
  const P = paramCount(manifest);
  const configs: CompressConfig[] = [defaultCompressConfig, { ...defaultCompressConfig, chunkSize: 256, topK: 8 }, { ...defaultCompressConfig, chunkSize: 2, topK: 2 }];

  it('decodes exactly what was encoded, and re-encodes to the same bytes, in every mode', () => {
    for (const base of configs) {
      for (const oneDimPolicy of ['dense-quantized', 'dense-float32', 'sparse'] as const) {
        const config = { ...base, oneDimPolicy };
        const e = randomFloats(P, 1, 0.02);
        e[manifest[0].offset + 5] = -0; // sign of zero survives dense float32
        const update = compress(e, manifest, config);
        const bytes = encodeUpdate(update, manifest, config);
        const decoded = decodeUpdate(bytes, manifest, config);
        expectSameUpdate(decoded, update);
        expect(encodeUpdate(decoded, manifest, config)).toEqual(bytes);
        expect([...bytes.subarray(0, 4)]).toEqual([0x54, 0x53, 0x4c, 0x43]);
      }
    }
  });

  it('decodes from a view into a larger buffer at an odd offset', () => {
    const update = compress(randomFloats(P, 2, 0.02), manifest, defaultCompressConfig);
    const bytes = encodeUpdate(update, manifest, defaultCompressConfig);
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 3);
    expectSameUpdate(decodeUpdate(padded.subarray(3, 3 + bytes.length), manifest, defaultCompressConfig), update);
  });

  it('the encoder refuses updates the decoder would reject', () => {
    const config = { ...defaultCompressConfig, chunkSize: 256, topK: 8 };
    const update = compress(randomFloats(P, 3, 0.02), manifest, config);
    const edits: ((u: CompressedUpdate) => void)[] = [
      (u) => u.tensors[0].mode === 'sparse' && (u.tensors[0].indices[1] = u.tensors[0].indices[0]), // duplicate
      (u) => u.tensors[0].mode === 'sparse' && (u.tensors[0].mean = NaN),
      (u) => u.tensors[0].mode === 'sparse' && (u.tensors[0].mean = 5000),
      (u) => {
        const t = u.tensors[2]; // [1, 1]: one value, code 2, bins 0, 1, 3 unused
        if (t.mode === 'sparse') t.lut[0] = -1;
      },
    ];
    for (const edit of edits) {
      const bad = structuredClone(update);
      edit(bad);
      expect(() => encodeUpdate(bad, manifest, config)).toThrow(InvalidUpdateError);
    }
  });
});

// The worked example of docs/wire-format.md: one tensor [2, 8], chunk 16, k 2.
const exampleManifest = manifestOf([2, 8]);
const exampleConfig: CompressConfig = { ...defaultCompressConfig, chunkSize: 16, topK: 2 };

/** A single-tensor sparse payload for the example manifest, written field by field. */
function handPayload(p: {
  rice: number;
  gaps: number[];
  streamLength?: number;
  setBits?: number[]; // extra stream bits to set (padding)
  mean?: number;
  lut?: number[];
  codesByte?: number;
}): Uint8Array {
  const stream = new Uint8Array(16);
  const bits = new BitWriter(stream, 0);
  for (const gap of p.gaps) {
    bits.writeUnary(Math.floor(gap / 2 ** p.rice));
    bits.write(gap & (2 ** p.rice - 1), p.rice);
  }
  for (const b of p.setBits ?? []) stream[b >> 3] |= 1 << (b & 7);
  const streamLength = p.streamLength ?? Math.ceil(bits.bitsWritten / 8);
  const out = new Uint8Array(32 + 10 + streamLength + 20 + 1);
  const view = new DataView(out.buffer);
  out.set([0x54, 0x53, 0x4c, 0x43, 1, 0, 1, 0], 0);
  out.set(manifestDigest(exampleManifest), 8);
  view.setUint32(16, 1, true);
  view.setUint32(20, 16, true);
  view.setUint32(24, 2, true);
  view.setUint32(32, 16, true); // size
  out[36] = 0; // sparse
  out[37] = p.rice;
  view.setUint32(38, streamLength, true);
  out.set(stream.subarray(0, streamLength), 42);
  let at = 42 + streamLength;
  view.setFloat32(at, p.mean ?? 0.5, true);
  (p.lut ?? [0, -1, 0, 1]).forEach((v, b) => view.setFloat32(at + 4 + 4 * b, v, true));
  at += 20;
  out[at] = p.codesByte ?? 0x0d;
  return out;
}

describe('format v1, byte for byte', () => {
  it('encodes the documented example exactly', () => {
    const update: CompressedUpdate = {
      chunkSize: 16,
      topK: 2,
      tensors: [{ mode: 'sparse', indices: new Uint32Array([5, 12]), codes: new Uint8Array([1, 3]), mean: 0.5, lut: new Float32Array([0, -1, 0, 1]) }],
    };
    const bytes = encodeUpdate(update, exampleManifest, exampleConfig);
    const hex = Buffer.from(bytes).toString('hex');
    const digest = Buffer.from(manifestDigest(exampleManifest)).toString('hex');
    expect(hex).toBe(
      '54534c43' + '0100' + '01' + '00' + digest + '01000000' + '10000000' + '02000000' + '00' + '000000' +
        '10000000' + '00' + '02' + '01000000' + '95' + '0000003f' + '00000000' + '000080bf' + '00000000' + '0000803f' + '0d',
    );
    expect(bytes.length).toBe(64);
    expect(handPayload({ rice: 2, gaps: [5, 6] })).toEqual(bytes);
    const decoded = decodeUpdate(bytes, exampleManifest, exampleConfig);
    expectSameUpdate(decoded, update);
  });
});

describe('decoder errors', () => {
  const manifest = manifestOf([64, 64]);
  const good = encodeUpdate(compress(randomFloats(4096, 4, 0.02), manifest, defaultCompressConfig), manifest, defaultCompressConfig);
  const edit = (f: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  const decode = (bytes: Uint8Array, m = manifest, c = defaultCompressConfig) => codeOf(() => decodeUpdate(bytes, m, c));

  it('checks the header', () => {
    expect(decode(good)).toBe('ok');
    expect(decode(edit((b) => (b[0] ^= 1)))).toBe('bad-magic');
    expect(decode(edit((b) => (b[4] = 2)))).toBe('unsupported-version');
    expect(decode(edit((b) => (b[6] = 2)))).toBe('wrong-kind');
    expect(codeOf(() => decodeAggregate(good, manifest, defaultCompressConfig))).toBe('wrong-kind');
    expect(decode(edit((b) => (b[7] = 1)))).toBe('reserved-bits');
    expect(decode(edit((b) => (b[30] = 1)))).toBe('reserved-bits');
    expect(decode(edit((b) => (b[8] ^= 0x80)))).toBe('manifest-mismatch');
    expect(decode(good, [{ ...manifest[0], name: 'other' }])).toBe('manifest-mismatch');
    expect(decode(edit((_, v) => v.setUint32(16, 2, true)))).toBe('manifest-mismatch');
    expect(decode(edit((_, v) => v.setUint32(32, 4095, true)))).toBe('manifest-mismatch'); // tensor size
    expect(decode(good, manifest, { ...defaultCompressConfig, topK: 32 })).toBe('config-mismatch');
    expect(decode(good, manifest, { ...defaultCompressConfig, chunkSize: 2048 })).toBe('config-mismatch');
    expect(decode(good, manifest, { ...defaultCompressConfig, oneDimPolicy: 'sparse' })).toBe('config-mismatch');
    expect(decode(edit((b) => (b[36] = 1)))).toBe('bad-mode');
  });

  it('checks lengths', () => {
    for (const length of [0, 3, 5, 31, 32, 36, 41, 60, good.length - 17, good.length - 1]) {
      expect(decode(good.subarray(0, length))).toBe('truncated');
    }
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(decode(longer)).toBe('trailing-bytes');
  });

  it('checks index streams', () => {
    expect(codeOf(() => decodeUpdate(handPayload({ rice: 2, gaps: [5, 6] }), exampleManifest, exampleConfig))).toBe('ok');
    const hand = (p: Parameters<typeof handPayload>[0]) => codeOf(() => decodeUpdate(handPayload(p), exampleManifest, exampleConfig));
    expect(hand({ rice: 3, gaps: [5, 6] })).toBe('non-canonical'); // decodes to the same indices, but r = 2 is the canonical choice
    expect(hand({ rice: 5, gaps: [5, 6] })).toBe('non-canonical'); // r beyond bitWidth(16) = 4
    expect(hand({ rice: 0, gaps: [0, 1] })).toBe('ok');
    expect(hand({ rice: 0, gaps: [0, 1], setBits: [7] })).toBe('non-canonical'); // padding bit
    expect(hand({ rice: 0, gaps: [0, 1], streamLength: 2 })).toBe('non-canonical'); // an extra stream byte
    expect(hand({ rice: 0, gaps: [5, 6], streamLength: 1 })).toBe('truncated'); // 13 bits in 1 byte
    expect(hand({ rice: 2, gaps: [5, 20] })).toBe('index-out-of-range'); // unary run past the chunk
    expect(hand({ rice: 2, gaps: [5, 10] })).toBe('index-out-of-range'); // 5 + 1 + 10 = 16 ≥ chunk end
    expect(hand({ rice: 2, gaps: [15, 0] })).toBe('index-out-of-range'); // no room left for the second index
    expect(hand({ rice: 2, gaps: [], streamLength: 0 })).toBe('truncated'); // no stream at all
    // Zero padding decodes as gap 0 (index 6), so a stream one index short is caught as non-canonical.
    expect(hand({ rice: 2, gaps: [5] })).toBe('non-canonical');
  });

  it('checks quantization parameters and codes', () => {
    const hand = (p: Omit<Parameters<typeof handPayload>[0], 'rice' | 'gaps'>) =>
      codeOf(() => decodeUpdate(handPayload({ rice: 2, gaps: [5, 6], ...p }), exampleManifest, exampleConfig));
    expect(hand({ mean: NaN })).toBe('non-finite');
    expect(hand({ mean: -Infinity })).toBe('non-finite');
    expect(hand({ lut: [0, -1, NaN, 1] })).toBe('non-finite');
    expect(hand({ mean: 2000 })).toBe('value-out-of-range');
    expect(hand({ lut: [0, -1, 0, 3000] })).toBe('value-out-of-range');
    expect(hand({ lut: [0, 0.5, 0, 1] })).toBe('value-out-of-range'); // bin 1 holds negative centred values
    expect(hand({ lut: [0, -1, 0, -0.5] })).toBe('value-out-of-range'); // bin 3 holds positive ones
    expect(hand({ lut: [-2, -1, 0, 1] })).toBe('non-canonical'); // bin 0 unused must be 0
    expect(hand({ codesByte: 0x8d })).toBe('non-canonical'); // bits after the two codes
    expect(hand({ codesByte: 0x0e })).toBe('non-canonical'); // codes [2, 3]: bin 1 now unused but L[1] = -1
    expect(hand({ codesByte: 0x05 })).toBe('non-canonical'); // codes [1, 1]: bin 3 unused but L[3] = 1
    // Zero has one encoding (+0): the same update with −0 in an unused bin, in a used bin's L or in μ is another byte string.
    expect(hand({ lut: [-0, -1, 0, 1] })).toBe('non-canonical');
    expect(hand({ lut: [0, -1, -0, 1] })).toBe('non-canonical');
    expect(hand({ mean: -0 })).toBe('non-canonical');
    expect(hand({ mean: 0 })).toBe('ok');
  });

  it('writes −0 as +0, so the +0 and −0 spellings of an update are one payload', () => {
    const withSign = (zero: number): CompressedUpdate => ({
      chunkSize: 16,
      topK: 2,
      tensors: [{ mode: 'sparse', indices: new Uint32Array([5, 12]), codes: new Uint8Array([1, 3]), mean: zero, lut: new Float32Array([zero, -1, zero, 1]) }],
    });
    const positive = encodeUpdate(withSign(0), exampleManifest, exampleConfig);
    expect(encodeUpdate(withSign(-0), exampleManifest, exampleConfig)).toEqual(positive);
    const decoded = decodeUpdate(positive, exampleManifest, exampleConfig).tensors[0];
    if (decoded.mode !== 'sparse') throw new Error('sparse expected');
    expect(Object.is(decoded.mean, 0) && Object.is(decoded.lut[0], 0) && Object.is(decoded.lut[2], 0)).toBe(true);
  });

  it('checks dense float32 values', () => {
    const m = manifestOf([8]);
    const config = { ...defaultCompressConfig, oneDimPolicy: 'dense-float32' as const };
    const bytes = encodeUpdate(compress(randomFloats(8, 5), m, config), m, config);
    const at = 32 + 5 + 4 * 3;
    const cases = [[NaN, 'non-finite'], [Infinity, 'non-finite'], [1025, 'value-out-of-range'], [-0, 'non-canonical'], [0, 'ok'], [1e-45, 'ok']] as const;
    for (const [value, code] of cases) {
      const b = bytes.slice();
      new DataView(b.buffer).setFloat32(at, value, true);
      expect(codeOf(() => decodeUpdate(b, m, config))).toBe(code);
    }
  });
});

describe('volume', () => {
  it('reports bits/param on a GPT-shaped 1M-parameter manifest for each 1-D policy', () => {
    const manifest = gptManifest(128, 5);
    const params = manifest.reduce((s, t) => s + t.size, 0);
    const oneDim = manifest.filter((t) => t.shape.length === 1).reduce((s, t) => s + t.size, 0);
    const e = randomFloats(paramCount(manifest), 7, 0.01);
    const sizes: Record<string, number> = {};
    for (const oneDimPolicy of ['sparse', 'dense-quantized', 'dense-float32'] as const) {
      const config = { ...defaultCompressConfig, oneDimPolicy };
      const bytes = encodeUpdate(compress(e, manifest, config), manifest, config);
      sizes[oneDimPolicy] = bytes.length;
      console.log(
        `${params} params (${oneDim} in 1-D tensors), 1-D ${oneDimPolicy.padEnd(15)}: ${bytes.length} bytes, ` +
          `${((bytes.length * 8) / params).toFixed(4)} bits/param, ${((params * 4) / bytes.length).toFixed(0)}× smaller than float32`,
      );
    }
    // Index cost per sent value with everything top-k: strip header, per-tensor fields and codes.
    const values = manifest.reduce((s, t) => s + sparseCount(t.size, defaultCompressConfig), 0);
    const fixed = 32 + manifest.length * (5 + 5 + 20) + manifest.reduce((s, t) => s + Math.ceil(sparseCount(t.size, defaultCompressConfig) / 4), 0);
    const indexBits = ((sizes.sparse - fixed) * 8) / values;
    console.log(`index stream: ${indexBits.toFixed(3)} bits per index (12-bit packing: 12; log2 C(4096,64)/64 ≈ 7.4)`);
    expect(indexBits).toBeLessThan(7.8);
    expect((sizes.sparse * 8) / params).toBeLessThan(0.17);
    expect((sizes['dense-quantized'] * 8) / params).toBeLessThan(0.185);
    expect(sizes['dense-float32']).toBeGreaterThan(sizes['dense-quantized']);
    expect(sizes['dense-quantized']).toBeGreaterThan(sizes.sparse);
  });
});
