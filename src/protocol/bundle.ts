// The catch-up bundle (GET /api/updates?since=v): the aggregates that take a
// tab's θ(v) forward to the relay's current version, so a tab that missed
// rounds applies them instead of downloading the whole model.
//
// Little-endian, entries in ascending version order, nothing before the first
// or after the last:
//
//   u32 version        the model version this aggregate produces (v+1, v+2, …)
//   32  modelHash      modelHash(θ(version)) after applying it
//   u32 length         aggregate bytes that follow
//   ..  aggregate      wire format v1, kind 2 (src/compress/codec.ts)
//
// Leaves out: decoding the aggregates (codec.ts) and checking the hashes (the
// tab applies each aggregate and compares).
import { ProtocolError } from './errors.ts';
import { HASH_BYTES } from './header.ts';

export interface BundleEntry {
  /** Model version after applying this aggregate. */
  version: number;
  /** modelHash of that version, 32 bytes. */
  modelHash: Uint8Array;
  /** The aggregate, wire format v1 kind 2. */
  aggregate: Uint8Array;
}

const ENTRY_OVERHEAD = 4 + HASH_BYTES + 4;

export function encodeBundle(entries: readonly BundleEntry[]): Uint8Array {
  let length = 0;
  for (const e of entries) length += ENTRY_OVERHEAD + e.aggregate.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let at = 0;
  entries.forEach((e, i) => {
    if (i > 0 && e.version !== entries[i - 1].version + 1) throw new RangeError(`bundle versions must be consecutive (${entries[i - 1].version} then ${e.version})`);
    if (e.modelHash.length !== HASH_BYTES) throw new RangeError('modelHash must be 32 bytes');
    view.setUint32(at, e.version, true);
    out.set(e.modelHash, at + 4);
    view.setUint32(at + 4 + HASH_BYTES, e.aggregate.length, true);
    out.set(e.aggregate, at + ENTRY_OVERHEAD);
    at += ENTRY_OVERHEAD + e.aggregate.length;
  });
  return out;
}

/**
 * Parses a bundle strictly: whole entries only, consecutive versions starting
 * at `since + 1`. The aggregates themselves are checked by decodeAggregate and
 * the hashes by applying them. Throws ProtocolError('bad-message').
 */
export function decodeBundle(bytes: Uint8Array, since: number): BundleEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: BundleEntry[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < ENTRY_OVERHEAD) throw new ProtocolError('bad-message', `update bundle truncated at byte ${at}`);
    const version = view.getUint32(at, true);
    const expected = since + 1 + entries.length;
    if (version !== expected) throw new ProtocolError('bad-message', `update bundle has version ${version} where ${expected} belongs`);
    const length = view.getUint32(at + 4 + HASH_BYTES, true);
    if (length > bytes.length - at - ENTRY_OVERHEAD) throw new ProtocolError('bad-message', `update bundle entry ${version} runs past the end`);
    entries.push({
      version,
      modelHash: bytes.slice(at + 4, at + 4 + HASH_BYTES),
      aggregate: bytes.subarray(at + ENTRY_OVERHEAD, at + ENTRY_OVERHEAD + length),
    });
    at += ENTRY_OVERHEAD + length;
  }
  return entries;
}
