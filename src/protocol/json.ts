// Readers for JSON that arrives from the network: each takes an object, a
// key and the path to that object ("run.swarm.train"), returns the value with
// its type, or throws ProtocolError('bad-message') naming the field and what
// was expected. Every parser of a relay body (api.ts, run-spec.ts) is built
// from these, so a rule such as "a u32" or "a 0x hash" is written once.
//
// Hand-written rather than zod/valibot: the shapes are flat, and the whole
// vocabulary is this page. Strict on the fields a parser reads; unknown
// fields are ignored, so a newer relay can add fields without breaking
// older tabs.
//
// Leaves out: the shapes themselves (api.ts, run-spec.ts).
import { assertAddress } from './address.ts';
import { ProtocolError } from './errors.ts';
import type { HexHash } from './header.ts';

export type JsonObject = Record<string, unknown>;

const U32_MAX = 0xffff_ffff;
const HEX_HASH = /^0x[0-9a-f]{64}$/;

/** Refuses the field at `path`: "<path>: expected <expected>". */
export function bad(path: string, expected: string): never {
  throw new ProtocolError('bad-message', `${path}: expected ${expected}`, { field: path });
}

/** JSON.parse with the protocol's error type. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError('bad-message', `not JSON: ${(cause as Error).message}`, { cause });
  }
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function object(value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) bad(path, 'an object');
  return value;
}

/** An array whose every item `item` parses (item paths are path[i]). */
export function array<T>(value: unknown, path: string, item: (value: unknown, path: string) => T): T[] {
  if (!Array.isArray(value)) bad(path, 'an array');
  return value.map((v, i) => item(v, `${path}[${i}]`));
}

/** An integer in min..max (default 0..2^32-1). */
export function u32(o: JsonObject, key: string, path: string, min = 0): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > U32_MAX) bad(`${path}.${key}`, `an integer in ${min}..${U32_MAX}`);
  return v;
}

/** A safe integer ≥ min (default 0): counts, sizes, milliseconds. */
export function count(o: JsonObject, key: string, path: string, min = 0): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) bad(`${path}.${key}`, `an integer ≥ ${min}`);
  return v;
}

/** A finite number in [min, max]. */
export function finite(o: JsonObject, key: string, path: string, min = -Infinity, max = Infinity): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(`${path}.${key}`, `a number in [${min}, ${max}]`);
  return v;
}

/** A finite number, or null where there is none yet. */
export function finiteOrNull(o: JsonObject, key: string, path: string): number | null {
  const v = o[key];
  if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) bad(`${path}.${key}`, 'a finite number or null');
  return v;
}

export function boolean(o: JsonObject, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') bad(`${path}.${key}`, 'true or false');
  return v;
}

/** A string of 1..maxLength characters, matching `pattern` if one is given. */
export function text(o: JsonObject, key: string, path: string, maxLength = 256, pattern?: RegExp): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength || (pattern && !pattern.test(v))) {
    bad(`${path}.${key}`, pattern ? `a string matching ${pattern}` : `a string of 1..${maxLength} characters`);
  }
  return v;
}

/** One of a fixed set of strings. */
export function oneOf<const T extends string>(o: JsonObject, key: string, path: string, choices: readonly T[]): T {
  const v = o[key];
  const found = choices.find((choice) => choice === v);
  if (found === undefined) bad(`${path}.${key}`, `one of ${choices.join(', ')} (got ${JSON.stringify(v)})`);
  return found;
}

function isHexHash(value: unknown): value is HexHash {
  return typeof value === 'string' && HEX_HASH.test(value);
}

/** A 32-byte hash: 0x and 64 lowercase hex digits. */
export function hexHash(o: JsonObject, key: string, path: string): HexHash {
  const v = o[key];
  if (!isHexHash(v)) bad(`${path}.${key}`, '0x and 64 lowercase hex digits');
  return v;
}

/** A canonical SS58 prefix-42 address. */
export function address(o: JsonObject, key: string, path: string): string {
  const v = o[key];
  try {
    assertAddress(v);
  } catch (error) {
    bad(`${path}.${key}`, `an SS58 prefix-42 address (${(error as Error).message})`);
  }
  return v;
}
