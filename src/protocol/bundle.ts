// The catch-up bundle (GET /api/updates?since=v&format=2): the published
// updates that take a tab's θ(v) forward to the relay's current version, so a
// tab that missed rounds — or just waited for the round to close — applies
// them instead of downloading the whole model.
//
// Format 2, little-endian:
//
//   4   magic          "TSUB"
//   u16 format         2
//   u16 reserved       0
//   then entries in ascending version order, nothing before the first or after the last:
//   u32 version        the model version this update produces (v+1, v+2, …)
//   32  modelHash      modelHash(θ(version)) after applying it
//   u32 length         update bytes that follow
//   ..  update         wire format v1: kind 2 (float aggregate) or kind 3
//                      (2-bit aggregate), src/compress/codec.ts
//
// Format 1 (before 2-bit aggregates) had no preamble and kind 2 only. A tab
// names the format it reads in the request; the relay answers any other with
// 'unsupported-format' (docs/protocol.md), so an old tab is told to update
// rather than handed bytes it would misread, and a new tab refuses a bundle
// without this preamble.
// Leaves out: decoding the updates (codec.ts decodePublishedAggregate) and
// checking the hashes (the tab applies each update and compares).
import { ProtocolError } from './errors.ts';
import { HASH_BYTES } from './header.ts';

/** The catch-up format this build serves and reads. */
export const BUNDLE_FORMAT = 2;
const BUNDLE_MAGIC = [0x54, 0x53, 0x55, 0x42]; // "TSUB"
const PREAMBLE_BYTES = 8;

export interface BundleEntry {
  /** Model version after applying this update. */
  version: number;
  /** modelHash of that version, 32 bytes. */
  modelHash: Uint8Array;
  /** The published update, wire format v1 kind 2 or 3. */
  aggregate: Uint8Array;
}

const ENTRY_OVERHEAD = 4 + HASH_BYTES + 4;

export function encodeBundle(entries: readonly BundleEntry[]): Uint8Array {
  let length = PREAMBLE_BYTES;
  for (const e of entries) length += ENTRY_OVERHEAD + e.aggregate.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out.set(BUNDLE_MAGIC, 0);
  view.setUint16(4, BUNDLE_FORMAT, true);
  let at = PREAMBLE_BYTES;
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
 * Parses a bundle strictly: the format-2 preamble, whole entries only,
 * consecutive versions starting at `since + 1`. The updates themselves are
 * checked by the codec and the hashes by applying them. Throws
 * ProtocolError('bad-message').
 */
export function decodeBundle(bytes: Uint8Array, since: number): BundleEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < PREAMBLE_BYTES || BUNDLE_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ProtocolError('bad-message', `not a catch-up bundle of format ${BUNDLE_FORMAT} (no "TSUB" preamble): the relay is older than this tab`);
  }
  const format = view.getUint16(4, true);
  if (format !== BUNDLE_FORMAT || view.getUint16(6, true) !== 0) {
    throw new ProtocolError('bad-message', `catch-up bundle format ${format}; this tab reads ${BUNDLE_FORMAT}`);
  }
  const entries: BundleEntry[] = [];
  let at = PREAMBLE_BYTES;
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
