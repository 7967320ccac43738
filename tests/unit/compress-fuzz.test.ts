// Fuzzes the wire decoders (src/compress/codec.ts) with mutated and random
// payloads: bit flips, byte edits, truncation, extension, insertion/deletion,
// splices of two payloads, random bytes (bare or behind a valid header), edits
// of every header and record field to boundary and random values, and other
// spellings of the same float (−0, NaN payloads, subnormals). Every
// payload must either decode to a valid update/aggregate that re-encodes to the
// very same bytes, or throw a CodecError — any other exception fails the test.
// The field offsets come from an independent walk of the layout in
// docs/wire-format.md, so the fuzzer also reaches fields deep in the payload.
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../compare.ts';
import { deleteByte, editBytes, extend, flipBits, insertByte, splice, truncate } from '../support/byte-mutations.ts';
import { rng, type Rng } from '../support/rng.ts';
import type { TensorManifestEntry } from '../../src/compress/manifest.ts';
import { aggregateUpdates } from '../../src/compress/aggregate.ts';
import {
  CodecError,
  decodeAggregate,
  decodeUpdate,
  encodeAggregate,
  encodeUpdate,
  type AggregateUpdate,
  type CodecErrorCode,
} from '../../src/compress/codec.ts';
import {
  checkUpdate,
  compress,
  defaultCompressConfig,
  sparseCount,
  tensorMode,
  type CompressConfig,
} from '../../src/compress/sparseloco.ts';

const ITERATIONS = 20_000;

const manifest: TensorManifestEntry[] = (() => {
  const shapes = [[16, 40], [300], [70, 7], [1, 1], [5], [0, 3], [33, 17], [1]];
  let offset = 0;
  return shapes.map((shape, t) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name: `t${t}`, shape, offset, size };
    offset += size + 1;
    return entry;
  });
})();
const P = manifest[manifest.length - 1].offset + manifest[manifest.length - 1].size;
const configs: CompressConfig[] = [
  { ...defaultCompressConfig, chunkSize: 64, topK: 4 },
  { ...defaultCompressConfig, chunkSize: 128, topK: 6, oneDimPolicy: 'dense-float32' },
];

type FieldType = 'u8' | 'u16' | 'u32' | 'f32' | 'bytes';
interface Field {
  at: number;
  width: number;
  type: FieldType;
  name: string;
}

/** The layout of a valid payload, walked from docs/wire-format.md (not from the codec). */
function walk(bytes: Uint8Array, kind: 'update' | 'aggregate', config: CompressConfig): Field[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [
    { at: 0, width: 4, type: 'bytes', name: 'magic' },
    { at: 4, width: 2, type: 'u16', name: 'version' },
    { at: 6, width: 1, type: 'u8', name: 'kind' },
    { at: 7, width: 1, type: 'u8', name: 'flags' },
    { at: 8, width: 8, type: 'bytes', name: 'digest' },
    { at: 16, width: 4, type: 'u32', name: 'tensor count' },
    { at: 20, width: 4, type: 'u32', name: 'chunk' },
    { at: 24, width: 4, type: 'u32', name: 'k' },
    { at: 28, width: 1, type: 'u8', name: 'policy' },
    { at: 29, width: 3, type: 'bytes', name: 'reserved' },
  ];
  let at = 32;
  if (kind === 'aggregate') {
    fields.push({ at, width: 4, type: 'u32', name: 'contributors' });
    at += 4;
  }
  const f32s = (n: number, name: string) => {
    for (let i = 0; i < n; i++) fields.push({ at: at + 4 * i, width: 4, type: 'f32', name: `${name}[${i}]` });
    at += 4 * n;
  };
  const stream = (name: string) => {
    fields.push({ at, width: 1, type: 'u8', name: `${name} rice` });
    fields.push({ at: at + 1, width: 4, type: 'u32', name: `${name} stream length` });
    const length = view.getUint32(at + 1, true);
    if (length > 0) fields.push({ at: at + 5, width: length, type: 'bytes', name: `${name} stream` });
    at += 5 + length;
  };
  for (const entry of manifest) {
    fields.push({ at, width: 4, type: 'u32', name: `${entry.name} size` });
    fields.push({ at: at + 4, width: 1, type: 'u8', name: `${entry.name} mode` });
    const mode = bytes[at + 4];
    at += 5;
    if (kind === 'update') {
      const tMode = tensorMode(entry, config);
      if (tMode === 'dense-float32') {
        f32s(entry.size, `${entry.name} values`);
        continue;
      }
      if (tMode === 'sparse') stream(entry.name);
      f32s(5, `${entry.name} mean,lut`);
      const n = tMode === 'sparse' ? sparseCount(entry.size, config) : entry.size;
      if (n > 0) fields.push({ at, width: Math.ceil(n / 4), type: 'bytes', name: `${entry.name} codes` });
      at += Math.ceil(n / 4);
    } else {
      if (mode === 2) continue; // skipped
      let count = entry.size;
      if (mode === 0) {
        fields.push({ at, width: 4, type: 'u32', name: `${entry.name} count` });
        count = view.getUint32(at, true);
        at += 4;
        stream(entry.name);
      }
      f32s(count, `${entry.name} values`);
    }
  }
  if (at !== bytes.length) throw new Error(`layout walk ended at ${at}, payload has ${bytes.length} bytes`);
  return fields;
}

interface Seed {
  kind: 'update' | 'aggregate';
  config: CompressConfig;
  bytes: Uint8Array;
  fields: Field[];
}

function makeSeeds(): Seed[] {
  const seeds: Seed[] = [];
  for (const config of configs) {
    const updates = [0.01, 1, 100].map((scale, s) => {
      const e = randomFloats(P, 10 + s, scale);
      if (s === 2) for (let i = 0; i < P; i += 3) e[i] = 0; // ties, zeros and the σ = 0 guard
      return compress(e, manifest, config);
    });
    for (const u of updates) {
      const bytes = encodeUpdate(u, manifest, config);
      seeds.push({ kind: 'update', config, bytes, fields: walk(bytes, 'update', config) });
    }
    const aggregate = aggregateUpdates(updates.map((update, r) => ({ id: `peer${r}`, update })), manifest, config);
    const withSkipped: AggregateUpdate = { ...aggregate, tensors: aggregate.tensors.map((t, i) => (i === 1 ? { mode: 'skipped' } : t)) };
    for (const a of [aggregate, withSkipped]) {
      const bytes = encodeAggregate(a, manifest, config);
      seeds.push({ kind: 'aggregate', config, bytes, fields: walk(bytes, 'aggregate', config) });
    }
  }
  return seeds;
}

const INTERESTING_INTS = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
const INTERESTING_FLOATS = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 1024, -1024, 1025, 2048, -2049, 4096, 1e30, -1e30, 3.4e38, 1e-45, 0.5, -0.5];

function editField(bytes: Uint8Array, field: Field, r: Rng): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (field.at + field.width > bytes.length) return;
  switch (field.type) {
    case 'u8':
    case 'u16':
    case 'u32': {
      const old = field.type === 'u8' ? bytes[field.at] : field.type === 'u16' ? view.getUint16(field.at, true) : view.getUint32(field.at, true);
      const choice = r.int(4);
      let v = choice === 0 ? r.pick(INTERESTING_INTS) : choice === 1 ? old + (r.next() < 0.5 ? 1 : -1) : choice === 2 ? old ^ (1 << r.int(field.width * 8)) : r.int(2 ** 32);
      const max = 2 ** (field.width * 8);
      v = ((v % max) + max) % max;
      if (field.type === 'u8') bytes[field.at] = v;
      else if (field.type === 'u16') view.setUint16(field.at, v, true);
      else view.setUint32(field.at, v, true);
      break;
    }
    case 'f32': {
      const choice = r.int(3);
      if (choice === 0) view.setFloat32(field.at, r.pick(INTERESTING_FLOATS), true);
      else if (choice === 1) view.setFloat32(field.at, (r.next() * 2 - 1) * 10 ** (r.int(8) - 4), true);
      else bytes[field.at + r.int(4)] ^= 1 << r.int(8);
      break;
    }
    case 'bytes': {
      const choice = r.int(3);
      if (choice === 0) bytes[field.at + r.int(field.width)] ^= 1 << r.int(8);
      else if (choice === 1) bytes.fill(r.pick([0, 0xff]), field.at, field.at + field.width);
      else for (let i = 0; i < field.width; i++) bytes[field.at + i] = r.int(256);
      break;
    }
  }
}

/**
 * Other spellings of a float: −0, NaNs with payload bits (quiet, signalling,
 * negative), subnormals. Written as raw bits, since a DataView may canonicalise
 * NaN payloads when given a number.
 */
const FLOAT_SPELLINGS = [0x80000000, 0x7fc00001, 0xffc00000, 0x7f800001, 0xff800001, 0x00000001, 0x80000001, 0x007fffff];

/** One mutated payload and the name of the mutation. */
function mutate(seed: Seed, seeds: Seed[], r: Rng): [string, Uint8Array] {
  const b = seed.bytes.slice();
  switch (r.int(12)) {
    case 11: {
      // A zero becomes −0, or any float another spelling: canonical means one byte string per content.
      const floats = seed.fields.filter((f) => f.type === 'f32');
      const view = new DataView(b.buffer);
      const zeros = floats.filter((f) => view.getUint32(f.at, true) === 0);
      const field = zeros.length > 0 && r.next() < 0.5 ? r.pick(zeros) : r.pick(floats);
      view.setUint32(field.at, r.pick(FLOAT_SPELLINGS), true);
      return ['float spellings', b];
    }
    case 0:
      return ['bit flips', flipBits(b, r)];
    case 1:
      return ['byte edits', editBytes(b, r)];
    case 2:
      return ['truncation', truncate(b, r)];
    case 3:
      return ['extension', extend(b, r, 32)];
    case 4:
      return ['random bytes', r.bytes(r.int(2 * b.length + 1))];
    case 5: {
      const keep = r.pick([4, 8, 16, 32, 36]);
      const out = r.bytes(keep + r.int(b.length));
      out.set(b.subarray(0, Math.min(keep, b.length)));
      return ['header + random body', out];
    }
    case 6:
    case 7: {
      const edits = 1 + r.int(3);
      for (let i = 0; i < edits; i++) editField(b, r.pick(seed.fields), r);
      return ['field edits', b];
    }
    case 8:
      return ['splice', splice(b, r.pick(seeds).bytes, r)];
    case 9:
      return ['byte insertion', insertByte(b, r)];
    default:
      return ['byte deletion', deleteByte(b, r)];
  }
}

/** Canonical form: what decodes must re-encode to the same bytes. (Buffer.equals: vitest's deep equality is slow here.) */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array, iteration: number): void {
  if (!Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))) {
    throw new Error(`iteration ${iteration}: accepted payload is not canonical\n${Buffer.from(expected).toString('hex')}`);
  }
}

describe('codec fuzz', () => {
  it(`${ITERATIONS} mutated and random payloads decode validly or throw a CodecError`, () => {
    const seeds = makeSeeds();
    const r = rng(20240601);
    const outcomes = new Map<string, number>();
    const byMutation = new Map<string, { valid: number; rejected: number }>();
    let valid = 0;
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const seed = r.pick(seeds);
      const [mutation, bytes] = mutate(seed, seeds, r);
      // Mostly the decoder the seed was made for; sometimes the other kind, or the other config.
      const kind = r.next() < 0.1 ? (seed.kind === 'update' ? 'aggregate' : 'update') : seed.kind;
      const config = r.next() < 0.05 ? r.pick(configs) : seed.config;
      let outcome: CodecErrorCode | 'valid';
      try {
        if (kind === 'update') {
          const update = decodeUpdate(bytes, manifest, config);
          checkUpdate(update, manifest, config);
          expectSameBytes(encodeUpdate(update, manifest, config), bytes, iteration);
        } else {
          const aggregate = decodeAggregate(bytes, manifest, config);
          expectSameBytes(encodeAggregate(aggregate, manifest, config), bytes, iteration);
        }
        // Independently of the encoder: an accepted payload spells no float as −0 (its zeros are +0).
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (const field of walk(bytes, kind, config)) {
          if (field.type === 'f32' && view.getUint32(field.at, true) === 0x80000000) {
            throw new Error(`iteration ${iteration} (${mutation}): accepted −0 at byte ${field.at} (${field.name})`);
          }
        }
        outcome = 'valid';
        valid++;
      } catch (error) {
        if (!(error instanceof CodecError)) {
          throw new Error(
            `iteration ${iteration} (${mutation}, ${kind}): ${String(error)}\npayload ${Buffer.from(bytes).toString('hex')}`,
          );
        }
        outcome = error.code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      const m = byMutation.get(mutation) ?? { valid: 0, rejected: 0 };
      if (outcome === 'valid') m.valid++;
      else m.rejected++;
      byMutation.set(mutation, m);
    }
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    console.log(`codec fuzz: ${total} payloads, ${valid} decoded to valid canonical updates, ${total - valid} rejected with a CodecError`);
    console.log('  by outcome:  ' + [...outcomes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', '));
    console.log('  by mutation: ' + [...byMutation].map(([k, v]) => `${k} ${v.valid}/${v.valid + v.rejected} valid`).join(', '));
    expect(total).toBeGreaterThanOrEqual(10_000);
    expect(valid).toBeGreaterThan(0);
    // The fuzzer must reach every validation, or it proves less than it claims.
    const codes: CodecErrorCode[] = [
      'bad-magic', 'unsupported-version', 'wrong-kind', 'reserved-bits', 'config-mismatch', 'manifest-mismatch',
      'truncated', 'trailing-bytes', 'bad-mode', 'bad-count', 'index-out-of-range', 'non-canonical', 'non-finite',
      'value-out-of-range',
    ];
    for (const code of codes) expect(outcomes.get(code) ?? 0, code).toBeGreaterThan(0);
  });
});
