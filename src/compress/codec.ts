// The wire codec for SparseLoCo updates (tab → relay) and aggregates (relay →
// tabs: float, or 2-bit like the uploads), format version 1. The byte layout
// is specified in docs/wire-format.md; this file is its only implementation.
//
// The decoder is a network boundary: bytes come from anyone. It checks every
// field against the manifest and the caller's config (never against the bytes
// themselves), sizes every allocation from the manifest before reading values,
// and throws a CodecError (with a `code`) on the first problem. Every
// accepted payload is canonical — re-encoding the decoded update gives the
// same bytes — so a payload's hash names its content (copy detection, signing).
//
// Leaves out: signatures and round binding (protocol), compression itself
// (sparseloco.ts), the aggregation arithmetic (aggregate.ts).
import { checkManifest, manifestDigest, type TensorManifest, type TensorManifestEntry } from './manifest.ts';
import { BitReader, BitWriter, bestRiceParameter, bitWidth, riceBits } from './rice-code.ts';
import {
  InvalidUpdateError,
  checkCompressConfig,
  checkUpdate,
  chunkKeep,
  sparseCount,
  tensorMode,
  type CompressConfig,
  type CompressedTensor,
  type CompressedUpdate,
  type OneDimPolicy,
  quantize2bit,
  dequantize2bit,
} from './sparseloco.ts';

export const WIRE_MAGIC = [0x54, 0x53, 0x4c, 0x43] as const; // "TSLC"
export const WIRE_VERSION = 1;
export const KIND_UPDATE = 1;
export const KIND_AGGREGATE = 2;
export const KIND_QUANTIZED_AGGREGATE = 3;
export const UPDATE_HEADER_BYTES = 32;
export const AGGREGATE_HEADER_BYTES = 36;

const POLICY_CODES: Record<OneDimPolicy, number> = { 'dense-quantized': 0, 'dense-float32': 1, sparse: 2 };
const UPDATE_MODE_CODES = { sparse: 0, 'dense-quantized': 1, 'dense-float32': 2 } as const;
const AGGREGATE_MODE_CODES = { sparse: 0, dense: 1, skipped: 2 } as const;

/** Bound on |L[b]|: a centred value c = v − μ with |v|, |μ| ≤ maxAbsValue. */
const LUT_LIMIT_FACTOR = 2;
/** Bound on an aggregate value: a mean of clipped dequantized values, each ≤ |μ| + |L| ≤ 3·maxAbsValue. */
export function aggregateValueLimit(config: CompressConfig): number {
  return 4 * config.maxAbsValue;
}

// ---------------------------------------------------------------------------
// Errors: one class; `code` says which rule the bytes broke, `offset` where.

/** Every way a payload can be refused; the relay sends them as `payload-<code>` (docs/relay.md). */
export const CODEC_ERROR_CODES = [
  'bad-magic',
  'unsupported-version',
  'wrong-kind',
  'reserved-bits',
  'config-mismatch',
  'manifest-mismatch',
  'truncated',
  'trailing-bytes',
  'bad-mode',
  'bad-count',
  'index-out-of-range',
  'non-canonical',
  'non-finite',
  'value-out-of-range',
] as const;

export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number];

/** Bytes that are not a valid payload for this manifest and config. Drop the submission. */
export class CodecError extends Error {
  constructor(
    readonly code: CodecErrorCode,
    message: string,
    /** Byte offset where decoding stopped. */
    readonly offset: number,
  ) {
    super(`${message} (byte ${offset})`);
    this.name = 'CodecError';
  }
}

// ---------------------------------------------------------------------------
// Byte cursors

class Reader {
  readonly view: DataView;
  position = 0;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.length - this.position;
  }
  need(count: number, what: string): void {
    if (count > this.remaining) throw new CodecError('truncated', `payload ends inside ${what}`, this.position);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.position++];
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.position, true);
    this.position += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.position, true);
    this.position += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.position, true);
    this.position += 4;
    return v;
  }
}

class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  position = 0;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(v: number): void {
    this.bytes[this.position++] = v;
  }
  u16(v: number): void {
    this.view.setUint16(this.position, v, true);
    this.position += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.position, v, true);
    this.position += 4;
  }
  /** Zero is written as +0 (0x00000000), its one canonical encoding; −0 never reaches the bytes. */
  f32(v: number): void {
    this.view.setFloat32(this.position, v === 0 ? 0 : v, true);
    this.position += 4;
  }
}

// ---------------------------------------------------------------------------
// Header (shared by both kinds)

function writeHeader(w: Writer, kind: number, manifest: TensorManifest, config: CompressConfig): void {
  for (const b of WIRE_MAGIC) w.u8(b);
  w.u16(WIRE_VERSION);
  w.u8(kind);
  w.u8(0); // flags
  w.bytes.set(manifestDigest(manifest), w.position);
  w.position += 8;
  w.u32(manifest.length);
  w.u32(config.chunkSize);
  w.u32(config.topK);
  w.u8(POLICY_CODES[config.oneDimPolicy]);
  w.u8(0);
  w.u16(0);
}

function readHeader(r: Reader, kind: number, manifest: TensorManifest, config: CompressConfig): void {
  r.need(4, 'magic');
  for (let i = 0; i < 4; i++) if (r.bytes[i] !== WIRE_MAGIC[i]) throw new CodecError('bad-magic', 'not a Tessera SparseLoCo payload (magic "TSLC" missing)', i);
  r.position = 4;
  const version = r.u16('version');
  if (version !== WIRE_VERSION) throw new CodecError('unsupported-version', `wire format version ${version}; this build reads ${WIRE_VERSION} — update Tessera`, 4);
  const gotKind = r.u8('kind');
  if (gotKind !== kind) throw new CodecError('wrong-kind', `payload kind ${gotKind}, expected ${kind}`, 6);
  if (r.u8('flags') !== 0) throw new CodecError('reserved-bits', `flags must be zero in version ${WIRE_VERSION}`, 7);
  r.need(8, 'manifest digest');
  const digest = manifestDigest(manifest);
  for (let i = 0; i < 8; i++) {
    if (r.bytes[8 + i] !== digest[i]) throw new CodecError('manifest-mismatch', 'payload is for another model: manifest digest differs', 8 + i);
  }
  r.position = 16;
  const tensorCount = r.u32('tensor count');
  if (tensorCount !== manifest.length) {
    throw new CodecError('manifest-mismatch', `payload is for another model: ${tensorCount} tensors, the model has ${manifest.length}`, 16);
  }
  const chunkSize = r.u32('chunk size');
  if (chunkSize !== config.chunkSize) throw new CodecError('config-mismatch', `chunk size is ${chunkSize}, this run uses ${config.chunkSize}`, 20);
  const topK = r.u32('top-k');
  if (topK !== config.topK) throw new CodecError('config-mismatch', `top-k is ${topK}, this run uses ${config.topK}`, 24);
  const policy = r.u8('1-D policy');
  if (policy !== POLICY_CODES[config.oneDimPolicy]) {
    throw new CodecError('config-mismatch', `1-D policy is ${policy}, this run uses ${POLICY_CODES[config.oneDimPolicy]}`, 28);
  }
  if (r.u8('reserved') !== 0 || r.u16('reserved') !== 0) throw new CodecError('reserved-bits', `header bytes 29..31 must be zero in version ${WIRE_VERSION}`, 29);
}

function readTensorSize(r: Reader, entry: TensorManifestEntry): void {
  const at = r.position;
  const size = r.u32(`${entry.name} size`);
  if (size !== entry.size) throw new CodecError('manifest-mismatch', `payload is for another model: ${entry.name} has ${size} values, the model ${entry.size}`, at);
}

function checkEnd(r: Reader): void {
  if (r.remaining !== 0) throw new CodecError('trailing-bytes', `${r.remaining} bytes after the last tensor`, r.position);
}

// ---------------------------------------------------------------------------
// Quantization parameters and 2-bit codes

function writeQuantization(w: Writer, mean: number, lut: Float32Array): void {
  w.f32(mean);
  for (let b = 0; b < 4; b++) w.f32(lut[b]);
}

/** μ and L[0..3] (float32); maxAbs bounds |μ| (and 2·maxAbs bounds |L|). */
function readQuantization(r: Reader, name: string, maxAbs: number): { mean: number; lut: Float32Array; at: number } {
  const at = r.position;
  const mean = r.f32(`${name} mean`);
  const lut = new Float32Array(4);
  for (let b = 0; b < 4; b++) lut[b] = r.f32(`${name} lookup table`);
  refuseNegativeZero(name, 'mean', [mean], at);
  refuseNegativeZero(name, 'L', lut, at + 4);
  checkQuantizationValues(name, mean, lut, maxAbs, at);
  return { mean, lut, at };
}

/**
 * Canonical floats: −0 (0x80000000) is refused wherever a float travels, so
 * "zero" has one encoding and a payload's hash names its content. (NaN, with
 * its many payload bits, and ±Inf are refused as non-finite; subnormals are
 * ordinary values with one encoding each, and every replica's float32
 * arithmetic treats them alike.) at = byte offset of values[0].
 */
function refuseNegativeZero(name: string, what: string, values: ArrayLike<number>, at: number): void {
  for (let i = 0; i < values.length; i++) {
    if (values[i] === 0 && 1 / values[i] < 0) throw new CodecError('non-canonical', `${name}: ${what}[${i}] is −0; zero is written as +0`, at + 4 * i);
  }
}

/** μ and L are finite and bounded; at = byte offset of μ. */
function checkQuantizationValues(name: string, mean: number, lut: Float32Array, maxAbs: number, at: number): void {
  if (!Number.isFinite(mean)) throw new CodecError('non-finite', `${name}: mean is not finite`, at);
  if (Math.abs(mean) > maxAbs) throw new CodecError('value-out-of-range', `${name}: mean is ${mean}, must be within ±${maxAbs}`, at);
  const lutLimit = LUT_LIMIT_FACTOR * maxAbs;
  for (let b = 0; b < 4; b++) {
    const v = lut[b];
    if (!Number.isFinite(v)) throw new CodecError('non-finite', `${name}: L[${b}] is not finite`, at + 4 + 4 * b);
    if (Math.abs(v) > lutLimit) throw new CodecError('value-out-of-range', `${name}: L[${b}] is ${v}, must be within ±${lutLimit}`, at + 4 + 4 * b);
  }
}

/**
 * What a lookup table must satisfy given the codes that use it: an unused bin is
 * 0 (canonical), and bins 0 and 1 hold centred values below zero, bin 3 above
 * (they are means of c with c/s < −0.5, resp. ≥ 0.5).
 */
function checkLutAgainstCodes(name: string, lut: Float32Array, codes: Uint8Array, at: number): void {
  const used = [false, false, false, false];
  for (let j = 0; j < codes.length; j++) used[codes[j]] = true;
  for (let b = 0; b < 4; b++) {
    if (!used[b] && lut[b] !== 0) throw new CodecError('non-canonical', `${name}: L[${b}] is ${lut[b]} but no value uses bin ${b}`, at + 4 + 4 * b);
  }
  if (lut[0] > 0) throw new CodecError('value-out-of-range', `${name}: L[0] is ${lut[0]}, must be ≤ 0`, at + 4);
  if (lut[1] > 0) throw new CodecError('value-out-of-range', `${name}: L[1] is ${lut[1]}, must be ≤ 0`, at + 8);
  if (lut[3] < 0) throw new CodecError('value-out-of-range', `${name}: L[3] is ${lut[3]}, must be ≥ 0`, at + 16);
}

function packCodes(w: Writer, codes: Uint8Array): void {
  const start = w.position;
  for (let j = 0; j < codes.length; j++) w.bytes[start + (j >>> 2)] |= codes[j] << ((j & 3) * 2);
  w.position += Math.ceil(codes.length / 4);
}

function unpackCodes(r: Reader, codes: Uint8Array, name: string): void {
  const byteCount = Math.ceil(codes.length / 4);
  r.need(byteCount, `${name} codes`);
  const start = r.position;
  for (let j = 0; j < codes.length; j++) codes[j] = (r.bytes[start + (j >>> 2)] >>> ((j & 3) * 2)) & 3;
  const tail = codes.length & 3;
  if (tail !== 0 && r.bytes[start + byteCount - 1] >>> (tail * 2) !== 0) {
    throw new CodecError('non-canonical', `${name}: padding bits after the last code are not zero`, start + byteCount - 1);
  }
  r.position += byteCount;
}

// ---------------------------------------------------------------------------
// Index streams: Rice-coded gaps (rice-code.ts) behind a u8 parameter and a u32 byte length.

/** Calls visit(gap) for each index; a group restarts at its start (gap = index − previous − 1, previous = start − 1). */
type GapWalker = (visit: (gap: number) => void) => void;

function updateGaps(indices: Uint32Array, size: number, config: CompressConfig): GapWalker {
  return (visit) => {
    let j = 0;
    for (let start = 0; start < size; start += config.chunkSize) {
      const keep = chunkKeep(Math.min(config.chunkSize, size - start), config);
      let previous = start - 1;
      for (let m = 0; m < keep; m++, j++) {
        visit(indices[j] - previous - 1);
        previous = indices[j];
      }
    }
  };
}

function flatGaps(indices: Uint32Array): GapWalker {
  return (visit) => {
    let previous = -1;
    for (let j = 0; j < indices.length; j++) {
      visit(indices[j] - previous - 1);
      previous = indices[j];
    }
  };
}

/** Bytes of an index stream for these gaps with the best parameter. */
function planIndexStream(gaps: GapWalker, maxParameter: number): { parameter: number; byteLength: number } {
  const { parameter, bits } = bestRiceParameter(gaps, maxParameter);
  return { parameter, byteLength: Math.ceil(bits / 8) };
}

function writeIndexStream(w: Writer, gaps: GapWalker, plan: { parameter: number; byteLength: number }): void {
  w.u8(plan.parameter);
  w.u32(plan.byteLength);
  const bits = new BitWriter(w.bytes, w.position);
  const r = plan.parameter;
  const mask = r === 0 ? 0 : 2 ** r - 1;
  gaps((gap) => {
    bits.writeUnary(Math.floor(gap / 2 ** r));
    bits.write(gap & mask, r);
  });
  w.position += plan.byteLength;
}

/**
 * Reads `groups` of indices: group g covers [start, end) and holds count values,
 * written into indices in order. Every index is in its group and ascending by
 * construction (gaps ≥ 0); a gap that would leave no room for the rest of the
 * group fails at once, which also bounds every unary run. Then checks the stream
 * length, its zero padding and that the parameter is the encoder's choice.
 */
function readIndexStream(
  r: Reader,
  name: string,
  indices: Uint32Array,
  groups: (visit: (start: number, end: number, count: number) => void) => void,
  maxParameter: number,
  gapsOf: () => GapWalker,
): void {
  const parameterAt = r.position;
  const parameter = r.u8(`${name} Rice parameter`);
  if (parameter > maxParameter) throw new CodecError('non-canonical', `${name}: Rice parameter ${parameter} > ${maxParameter}`, parameterAt);
  const byteLength = r.u32(`${name} index stream length`);
  r.need(byteLength, `${name} index stream`);
  const streamStart = r.position;
  const bits = new BitReader(r.bytes, streamStart, streamStart + byteLength);
  const scale = 2 ** parameter;
  let j = 0;
  groups((start, end, count) => {
    let previous = start - 1;
    for (let m = 0; m < count; m++, j++) {
      // The largest gap that still leaves one slot for each remaining index of the group.
      const maxGap = end - previous - 2 - (count - m - 1);
      const quotient = bits.readUnary(Math.floor(maxGap / scale));
      const here = streamStart + (bits.bitsRead >>> 3);
      if (quotient === null) throw new CodecError('truncated', `payload ends inside ${name} index stream`, here);
      if (quotient < 0) throw new CodecError('index-out-of-range', `${name}: index ${j} lies past [${start}, ${end})`, here);
      const remainder = bits.read(parameter);
      if (remainder === null) throw new CodecError('truncated', `payload ends inside ${name} index stream`, here);
      const gap = quotient * scale + remainder;
      if (gap > maxGap) throw new CodecError('index-out-of-range', `${name}: index ${j} lies past [${start}, ${end})`, here);
      previous += gap + 1;
      indices[j] = previous;
    }
  });
  if (Math.ceil(bits.bitsRead / 8) !== byteLength) {
    throw new CodecError('non-canonical', `${name}: index stream is ${byteLength} bytes, its codes fill ${Math.ceil(bits.bitsRead / 8)}`, streamStart);
  }
  if (!bits.restIsZero()) throw new CodecError('non-canonical', `${name}: index stream padding bits are not zero`, streamStart + byteLength - 1);
  const best = bestRiceParameter(gapsOf(), maxParameter).parameter;
  if (parameter !== best) throw new CodecError('non-canonical', `${name}: Rice parameter ${parameter}, the encoder picks ${best}`, parameterAt);
  r.position = streamStart + byteLength;
}

function updateGroups(size: number, config: CompressConfig) {
  return (visit: (start: number, end: number, count: number) => void): void => {
    for (let start = 0; start < size; start += config.chunkSize) {
      const end = Math.min(size, start + config.chunkSize);
      visit(start, end, chunkKeep(end - start, config));
    }
  };
}

// ---------------------------------------------------------------------------
// Updates

/** Byte length encodeUpdate will produce, and the per-tensor index plans. */
function planUpdate(update: CompressedUpdate, manifest: TensorManifest, config: CompressConfig) {
  const maxParameter = bitWidth(config.chunkSize);
  let length = UPDATE_HEADER_BYTES;
  const plans = manifest.map((entry, t) => {
    const tensor = update.tensors[t];
    length += 5; // size, mode
    if (tensor.mode === 'dense-float32') {
      length += 4 * entry.size;
      return null;
    }
    length += 20 + Math.ceil(tensor.codes.length / 4);
    if (tensor.mode === 'dense-quantized') return null;
    const plan = planIndexStream(updateGaps(tensor.indices, entry.size, config), maxParameter);
    length += 5 + plan.byteLength;
    return plan;
  });
  return { length, plans };
}

/** Checks the value ranges an encoder must respect so that decodeUpdate accepts its output. */
function checkUpdateValues(update: CompressedUpdate, manifest: TensorManifest, config: CompressConfig): void {
  try {
    manifest.forEach((entry, t) => {
      const tensor = update.tensors[t];
      if (tensor.mode === 'dense-float32') {
        checkDenseValues(entry.name, tensor.values, config.maxAbsValue, 0);
      } else {
        checkQuantizationValues(entry.name, tensor.mean, tensor.lut, config.maxAbsValue, 0);
        checkLutAgainstCodes(entry.name, tensor.lut, tensor.codes, 0);
      }
    });
  } catch (error) {
    if (error instanceof CodecError) throw new InvalidUpdateError(`would not decode: ${error.message}`);
    throw error;
  }
}

function checkDenseValues(name: string, values: Float32Array, limit: number, at: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= -limit && v <= limit)) {
      if (!Number.isFinite(v)) throw new CodecError('non-finite', `${name}: value ${i} is not finite`, at + 4 * i);
      throw new CodecError('value-out-of-range', `${name}: value ${i} is ${v}, must be within ±${limit}`, at + 4 * i);
    }
  }
}

/**
 * Bytes of one update (wire format v1, kind 1). Throws InvalidUpdateError for
 * an update the decoder would refuse. A −0 in μ, L or a dense value is written
 * as +0: the sign of a zero in an update changes nothing the relay computes
 * from it (aggregate.ts adds it into a sum that starts at +0).
 */
export function encodeUpdate(update: CompressedUpdate, manifest: TensorManifest, config: CompressConfig): Uint8Array {
  checkCompressConfig(config);
  checkManifest(manifest);
  checkUpdate(update, manifest, config);
  checkUpdateValues(update, manifest, config);
  const { length, plans } = planUpdate(update, manifest, config);
  const w = new Writer(length);
  writeHeader(w, KIND_UPDATE, manifest, config);
  manifest.forEach((entry, t) => {
    const tensor = update.tensors[t];
    w.u32(entry.size);
    w.u8(UPDATE_MODE_CODES[tensor.mode]);
    if (tensor.mode === 'dense-float32') {
      for (let i = 0; i < entry.size; i++) w.f32(tensor.values[i]);
      return;
    }
    if (tensor.mode === 'sparse') writeIndexStream(w, updateGaps(tensor.indices, entry.size, config), plans[t]!);
    writeQuantization(w, tensor.mean, tensor.lut);
    packCodes(w, tensor.codes);
  });
  if (w.position !== length) throw new Error(`encodeUpdate: wrote ${w.position} of ${length} bytes`);
  return w.bytes;
}

/**
 * Decodes and validates one update. Throws a CodecError for anything but a
 * canonical v1 update of this manifest under this config; allocates at most
 * what the manifest's tensors need, whatever the bytes say.
 */
export function decodeUpdate(bytes: Uint8Array, manifest: TensorManifest, config: CompressConfig): CompressedUpdate {
  checkCompressConfig(config);
  checkManifest(manifest);
  const r = new Reader(bytes);
  readHeader(r, KIND_UPDATE, manifest, config);
  const maxParameter = bitWidth(config.chunkSize);
  const tensors = manifest.map((entry): CompressedTensor => {
    readTensorSize(r, entry);
    const modeAt = r.position;
    const modeCode = r.u8(`${entry.name} mode`);
    const mode = tensorMode(entry, config);
    if (modeCode !== UPDATE_MODE_CODES[mode]) throw new CodecError('bad-mode', `${entry.name}: mode ${modeCode}, expected ${UPDATE_MODE_CODES[mode]} (${mode})`, modeAt);
    if (mode === 'dense-float32') {
      r.need(4 * entry.size, `${entry.name} values`);
      const values = new Float32Array(entry.size);
      for (let i = 0; i < entry.size; i++) values[i] = r.view.getFloat32(r.position + 4 * i, true);
      checkDenseValues(entry.name, values, config.maxAbsValue, r.position);
      refuseNegativeZero(entry.name, 'value', values, r.position);
      r.position += 4 * entry.size;
      return { mode, values };
    }
    const n = mode === 'sparse' ? sparseCount(entry.size, config) : entry.size;
    let indices: Uint32Array | null = null;
    if (mode === 'sparse') {
      const found = new Uint32Array(n);
      readIndexStream(r, entry.name, found, updateGroups(entry.size, config), maxParameter, () =>
        updateGaps(found, entry.size, config),
      );
      indices = found;
    }
    const { mean, lut, at } = readQuantization(r, entry.name, config.maxAbsValue);
    const codes = new Uint8Array(n);
    unpackCodes(r, codes, entry.name);
    checkLutAgainstCodes(entry.name, lut, codes, at);
    return indices ? { mode: 'sparse', indices, codes, mean, lut } : { mode: 'dense-quantized', codes, mean, lut };
  });
  checkEnd(r);
  return { chunkSize: config.chunkSize, topK: config.topK, tensors };
}

// ---------------------------------------------------------------------------
// Aggregates

/** One tensor of an aggregate G: the union of selected positions with their mean, all values, or nothing. */
export type AggregateTensor =
  | { mode: 'sparse'; indices: Uint32Array /* (n) ascending, tensor-relative */; values: Float32Array /* (n) */ }
  | { mode: 'dense'; values: Float32Array /* (size) */ }
  | { mode: 'skipped' };

/** The relay's aggregate for one round: what every replica subtracts (× α) from θ. */
export interface AggregateUpdate {
  /** Submissions that went into it. */
  readonly contributorCount: number;
  readonly tensors: AggregateTensor[];
}

/** The aggregate mode of a tensor under this config (sparse tensors aggregate sparsely), skipped aside. */
export function aggregateMode(entry: TensorManifestEntry, config: CompressConfig): 'sparse' | 'dense' {
  return tensorMode(entry, config) === 'sparse' ? 'sparse' : 'dense';
}

/** Throws InvalidUpdateError unless the aggregate fits the manifest and would decode. */
export function checkAggregate(aggregate: AggregateUpdate, manifest: TensorManifest, config: CompressConfig): void {
  const fail = (why: string): never => {
    throw new InvalidUpdateError(`aggregate: ${why}`);
  };
  if (!Number.isInteger(aggregate.contributorCount) || aggregate.contributorCount < 0 || aggregate.contributorCount > 0xffffffff) {
    fail(`contributor count ${aggregate.contributorCount}`);
  }
  if (aggregate.contributorCount === 0 && aggregate.tensors.some((t) => t.mode !== 'skipped')) fail('zero contributions, yet values');
  if (aggregate.tensors.length !== manifest.length) fail(`${aggregate.tensors.length} tensors, manifest ${manifest.length}`);
  const limit = aggregateValueLimit(config);
  manifest.forEach((entry, t) => {
    const tensor = aggregate.tensors[t];
    if (tensor.mode === 'skipped') return;
    if (tensor.mode !== aggregateMode(entry, config)) fail(`${entry.name}: mode ${tensor.mode}`);
    if (tensor.mode === 'sparse') {
      if (tensor.indices.length !== tensor.values.length) fail(`${entry.name}: indices and values differ in length`);
      let previous = -1;
      for (const index of tensor.indices) {
        if (!(index > previous && index < entry.size)) fail(`${entry.name}: index ${index} out of order or range`);
        previous = index;
      }
    } else if (tensor.values.length !== entry.size) {
      fail(`${entry.name}: ${tensor.values.length} values, tensor has ${entry.size}`);
    }
    try {
      checkDenseValues(entry.name, tensor.values, limit, 0);
      // The relay applies this object and tabs apply its bytes: a −0 here would be +0 there (θ − (−0) ≠ θ − 0 for θ = −0).
      refuseNegativeZero(entry.name, 'value', tensor.values, 0);
    } catch (error) {
      if (error instanceof CodecError) fail(error.message);
      throw error;
    }
  });
}

/** Bytes of one aggregate (wire format v1, kind 2). */
export function encodeAggregate(aggregate: AggregateUpdate, manifest: TensorManifest, config: CompressConfig): Uint8Array {
  checkCompressConfig(config);
  checkManifest(manifest);
  checkAggregate(aggregate, manifest, config);
  return writeAggregate(KIND_AGGREGATE, aggregate.contributorCount, aggregate.tensors, manifest, config, {
    bytes: (tensor) => 4 * tensor.values.length,
    write: (w, tensor) => {
      for (let i = 0; i < tensor.values.length; i++) w.f32(tensor.values[i]);
    },
  });
}

/** An aggregate tensor of either kind: what writeAggregate needs of it. */
type AggregateRecord = { mode: 'skipped' } | { mode: 'dense' } | { mode: 'sparse'; indices: Uint32Array };

/**
 * Both aggregate kinds' layout: header, contributor count, then per tensor
 * its size, mode and (sparse) the count and index stream; `values` sizes and
 * writes what follows (float32 values, or μ, L and the 2-bit codes).
 */
function writeAggregate<T extends AggregateRecord>(
  kind: number,
  contributorCount: number,
  tensors: readonly T[],
  manifest: TensorManifest,
  config: CompressConfig,
  values: { bytes(tensor: Exclude<T, { mode: 'skipped' }>): number; write(w: Writer, tensor: Exclude<T, { mode: 'skipped' }>): void },
): Uint8Array {
  let length = AGGREGATE_HEADER_BYTES;
  const plans = manifest.map((entry, t) => {
    const tensor = tensors[t];
    length += 5;
    if (tensor.mode === 'skipped') return null;
    length += values.bytes(tensor as Exclude<T, { mode: 'skipped' }>);
    if (tensor.mode === 'dense') return null;
    const plan = planIndexStream(flatGaps((tensor as { indices: Uint32Array }).indices), bitWidth(entry.size));
    length += 4 + 5 + plan.byteLength;
    return plan;
  });
  const w = new Writer(length);
  writeHeader(w, kind, manifest, config);
  w.u32(contributorCount);
  manifest.forEach((entry, t) => {
    const tensor = tensors[t];
    w.u32(entry.size);
    w.u8(AGGREGATE_MODE_CODES[tensor.mode]);
    if (tensor.mode === 'skipped') return;
    if (tensor.mode === 'sparse') {
      const { indices } = tensor as { indices: Uint32Array };
      w.u32(indices.length);
      writeIndexStream(w, flatGaps(indices), plans[t]!);
    }
    values.write(w, tensor as Exclude<T, { mode: 'skipped' }>);
  });
  if (w.position !== length) throw new Error(`aggregate kind ${kind}: wrote ${w.position} of ${length} bytes`);
  return w.bytes;
}

/** The aggregate kinds' header: the common header, then a u32 contributor count (0 only with every tensor skipped: refuseValuesWithoutContributors). */
function readAggregateHeader(r: Reader, kind: number, manifest: TensorManifest, config: CompressConfig): number {
  readHeader(r, kind, manifest, config);
  return r.u32('contributor count');
}

/** Zero contributions (a round whose every submission was turned down) must change nothing. */
function refuseValuesWithoutContributors(contributorCount: number, tensors: readonly { mode: string }[]): void {
  if (contributorCount === 0 && tensors.some((t) => t.mode !== 'skipped')) throw new CodecError('bad-count', 'aggregate of zero contributions with values', 32);
}

/**
 * One aggregate tensor up to its values: size, mode and, for a sparse tensor,
 * the count and the index stream. valueBytes(count) is the least the values
 * take, so a count the bytes cannot hold is refused before allocating.
 */
function readAggregateTensorHead(
  r: Reader,
  entry: TensorManifestEntry,
  config: CompressConfig,
  valueBytes: (count: number) => number,
): { mode: 'skipped' } | { mode: 'sparse' | 'dense'; indices: Uint32Array | null; count: number } {
  readTensorSize(r, entry);
  const modeAt = r.position;
  const modeCode = r.u8(`${entry.name} mode`);
  if (modeCode === AGGREGATE_MODE_CODES.skipped) return { mode: 'skipped' };
  const mode = aggregateMode(entry, config);
  if (modeCode !== AGGREGATE_MODE_CODES[mode]) {
    throw new CodecError('bad-mode', `${entry.name}: mode ${modeCode}, expected ${AGGREGATE_MODE_CODES[mode]} (${mode}) or 2 (skipped)`, modeAt);
  }
  if (mode === 'dense') return { mode, indices: null, count: entry.size };
  const countAt = r.position;
  const count = r.u32(`${entry.name} count`);
  if (count > entry.size) throw new CodecError('bad-count', `${entry.name}: ${count} values in a tensor of ${entry.size}`, countAt);
  r.need(5 + valueBytes(count), `${entry.name} indices and values`);
  const indices = new Uint32Array(count);
  readIndexStream(r, entry.name, indices, (visit) => visit(0, entry.size, count), bitWidth(entry.size), () => flatGaps(indices));
  return { mode, indices, count };
}

/** Decodes and validates one aggregate; the same guarantees as decodeUpdate. */
export function decodeAggregate(bytes: Uint8Array, manifest: TensorManifest, config: CompressConfig): AggregateUpdate {
  checkCompressConfig(config);
  checkManifest(manifest);
  const r = new Reader(bytes);
  const contributorCount = readAggregateHeader(r, KIND_AGGREGATE, manifest, config);
  const limit = aggregateValueLimit(config);
  const tensors = manifest.map((entry): AggregateTensor => {
    // Each value takes 4 bytes.
    const head = readAggregateTensorHead(r, entry, config, (count) => 4 * count);
    if (head.mode === 'skipped') return head;
    const { indices, count } = head;
    r.need(4 * count, `${entry.name} values`);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = r.view.getFloat32(r.position + 4 * i, true);
    checkDenseValues(entry.name, values, limit, r.position);
    refuseNegativeZero(entry.name, 'value', values, r.position);
    r.position += 4 * count;
    return indices ? { mode: 'sparse', indices, values } : { mode: 'dense', values };
  });
  checkEnd(r);
  refuseValuesWithoutContributors(contributorCount, tensors);
  return { contributorCount, tensors };
}

// ---------------------------------------------------------------------------
// Quantized aggregates (kind 3): G with the uploads' 2-bit scheme over the
// union of positions. The relay applies exactly what decodeQuantizedAggregate
// gives for these bytes, so relay and tabs stay bit-identical.

/** One tensor of a quantized aggregate: the union of positions with 2-bit codes, every value coded, or nothing. */
export type QuantizedAggregateTensor =
  | { mode: 'sparse'; indices: Uint32Array /* (n) ascending */; codes: Uint8Array /* (n) */; mean: number; lut: Float32Array /* (4) */ }
  | { mode: 'dense'; codes: Uint8Array /* (size) */; mean: number; lut: Float32Array /* (4) */ }
  | { mode: 'skipped' };

export interface QuantizedAggregate {
  readonly contributorCount: number;
  readonly tensors: QuantizedAggregateTensor[];
}

/** quantize2bit over each tensor's aggregate values (SPEC §1.3, per tensor), positions unchanged. */
export function quantizeAggregate(aggregate: AggregateUpdate, manifest: TensorManifest, config: CompressConfig): QuantizedAggregate {
  checkAggregate(aggregate, manifest, config);
  const tensors = aggregate.tensors.map((tensor): QuantizedAggregateTensor => {
    if (tensor.mode === 'skipped') return tensor;
    const codes = new Uint8Array(tensor.values.length);
    const quantization = quantize2bit(codes, tensor.values);
    // Zero has one spelling on the wire (+0); a sum that rounds to −0 is written and applied as +0.
    const mean = quantization.mean === 0 ? 0 : quantization.mean;
    const lut = quantization.lut.map((v) => (v === 0 ? 0 : v));
    return tensor.mode === 'sparse' ? { mode: 'sparse', indices: tensor.indices, codes, mean, lut } : { mode: 'dense', codes, mean, lut };
  });
  return { contributorCount: aggregate.contributorCount, tensors };
}

/** The values a quantized aggregate stands for: fround(L[q] + μ), as for an upload. */
export function dequantizeAggregate(quantized: QuantizedAggregate): AggregateUpdate {
  const tensors = quantized.tensors.map((tensor): AggregateTensor => {
    if (tensor.mode === 'skipped') return tensor;
    const values = new Float32Array(tensor.codes.length);
    dequantize2bit(values, tensor.codes, tensor.mean, tensor.lut);
    return tensor.mode === 'sparse' ? { mode: 'sparse', indices: tensor.indices, values } : { mode: 'dense', values };
  });
  return { contributorCount: quantized.contributorCount, tensors };
}

/** Bytes of one quantized aggregate (wire format v1, kind 3). */
export function encodeQuantizedAggregate(quantized: QuantizedAggregate, manifest: TensorManifest, config: CompressConfig): Uint8Array {
  checkCompressConfig(config);
  checkManifest(manifest);
  // The dequantized form must pass the float aggregate's checks (modes, order, bounds) and decode.
  checkAggregate(dequantizeAggregate(quantized), manifest, config);
  const limit = aggregateValueLimit(config);
  manifest.forEach((entry, t) => {
    const tensor = quantized.tensors[t];
    if (tensor.mode === 'skipped') return;
    try {
      checkQuantizationValues(entry.name, tensor.mean, tensor.lut, limit, 0);
      checkLutAgainstCodes(entry.name, tensor.lut, tensor.codes, 0);
    } catch (error) {
      if (error instanceof CodecError) throw new InvalidUpdateError(`quantized aggregate would not decode: ${error.message}`);
      throw error;
    }
  });
  return writeAggregate(KIND_QUANTIZED_AGGREGATE, quantized.contributorCount, quantized.tensors, manifest, config, {
    bytes: (tensor) => 20 + Math.ceil(tensor.codes.length / 4),
    write: (w, tensor) => {
      writeQuantization(w, tensor.mean, tensor.lut);
      packCodes(w, tensor.codes);
    },
  });
}

/**
 * Decodes and validates one quantized aggregate, with the same guarantees as
 * decodeUpdate. dequantizeAggregate of the result is what the relay and every
 * tab apply.
 */
export function decodeQuantizedAggregate(bytes: Uint8Array, manifest: TensorManifest, config: CompressConfig): QuantizedAggregate {
  checkCompressConfig(config);
  checkManifest(manifest);
  const r = new Reader(bytes);
  const contributorCount = readAggregateHeader(r, KIND_QUANTIZED_AGGREGATE, manifest, config);
  const limit = aggregateValueLimit(config);
  const tensors = manifest.map((entry): QuantizedAggregateTensor => {
    // μ and L (20 bytes), then 4 codes per byte.
    const head = readAggregateTensorHead(r, entry, config, (count) => 20 + Math.ceil(count / 4));
    if (head.mode === 'skipped') return head;
    const { indices, count } = head;
    const { mean, lut, at } = readQuantization(r, entry.name, limit);
    const codes = new Uint8Array(count);
    unpackCodes(r, codes, entry.name);
    checkLutAgainstCodes(entry.name, lut, codes, at);
    return indices ? { mode: 'sparse', indices, codes, mean, lut } : { mode: 'dense', codes, mean, lut };
  });
  checkEnd(r);
  refuseValuesWithoutContributors(contributorCount, tensors);
  const quantized = { contributorCount, tensors };
  const applied = dequantizeAggregate(quantized);
  manifest.forEach((entry, t) => {
    const tensor = applied.tensors[t];
    // |L[q] + μ| ≤ 3·limit by the checks above; a value of the float aggregate is bounded by limit, and so must this be.
    if (tensor.mode !== 'skipped') checkDenseValues(entry.name, tensor.values, limit, 0);
  });
  return quantized;
}

// ---------------------------------------------------------------------------
// The published update: what the relay stores and serves for a round (float
// or 2-bit aggregate) and what everyone applies. The relay applies exactly
// what decodePublishedAggregate gives for the bytes it publishes, as every tab
// does, so the two forms keep relay and tabs bit-identical alike.

export const PUBLISHED_UPDATE_FORMS = ['float', 'quantized'] as const;
export type PublishedUpdateForm = (typeof PUBLISHED_UPDATE_FORMS)[number];

/** The bytes the relay publishes for aggregate G: kind 2 (float) or kind 3 (2-bit). */
export function encodePublishedAggregate(aggregate: AggregateUpdate, form: PublishedUpdateForm, manifest: TensorManifest, config: CompressConfig): Uint8Array {
  if (form === 'float') return encodeAggregate(aggregate, manifest, config);
  if (form === 'quantized') return encodeQuantizedAggregate(quantizeAggregate(aggregate, manifest, config), manifest, config);
  throw new InvalidUpdateError(`unknown published update form ${String(form)}`);
}

/** The aggregate a published update stands for, from either kind (the kind byte decides). */
export function decodePublishedAggregate(bytes: Uint8Array, manifest: TensorManifest, config: CompressConfig): AggregateUpdate {
  // A payload too short to have a kind byte is refused by decodeAggregate's own header checks.
  if (bytes.length > 6 && bytes[6] === KIND_QUANTIZED_AGGREGATE) return dequantizeAggregate(decodeQuantizedAggregate(bytes, manifest, config));
  return decodeAggregate(bytes, manifest, config);
}
