// Byte-string mutations shared by the fuzzers (the codec fuzz and the relay's
// hostile client): flips, edits, cuts, growth, splices, single-byte insertions
// and deletions. Each returns a new array; none changes its input.
import type { Rng } from './rng.ts';

export function flipBits(bytes: Uint8Array, r: Rng): Uint8Array {
  const out = bytes.slice();
  for (let i = 0, n = 1 + r.int(8); i < n; i++) out[r.int(out.length)] ^= 1 << r.int(8);
  return out;
}

export function editBytes(bytes: Uint8Array, r: Rng): Uint8Array {
  const out = bytes.slice();
  for (let i = 0, n = 1 + r.int(4); i < n; i++) out[r.int(out.length)] = r.int(256);
  return out;
}

export function truncate(bytes: Uint8Array, r: Rng): Uint8Array {
  return bytes.slice(0, r.int(bytes.length));
}

/** `bytes` followed by 1 … maxExtra random bytes. */
export function extend(bytes: Uint8Array, r: Rng, maxExtra: number): Uint8Array {
  const out = new Uint8Array(bytes.length + 1 + r.int(maxExtra));
  out.set(bytes);
  out.set(r.bytes(out.length - bytes.length), bytes.length);
  return out;
}

/** A prefix of `a` followed by a suffix of `b`, cut at random points. */
export function splice(a: Uint8Array, b: Uint8Array, r: Rng): Uint8Array {
  const cutA = r.int(a.length + 1);
  const cutB = r.int(b.length + 1);
  const out = new Uint8Array(cutA + b.length - cutB);
  out.set(a.subarray(0, cutA));
  out.set(b.subarray(cutB), cutA);
  return out;
}

export function insertByte(bytes: Uint8Array, r: Rng): Uint8Array {
  const at = r.int(bytes.length + 1);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes.subarray(0, at));
  out[at] = r.int(256);
  out.set(bytes.subarray(at), at + 1);
  return out;
}

export function deleteByte(bytes: Uint8Array, r: Rng): Uint8Array {
  const at = r.int(bytes.length);
  const out = new Uint8Array(Math.max(0, bytes.length - 1));
  out.set(bytes.subarray(0, at));
  out.set(bytes.subarray(at + 1), at);
  return out;
}
