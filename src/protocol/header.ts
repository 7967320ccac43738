// The canonical SubmissionHeader: the bytes a wallet signs for one upload. It
// binds who (address), for what (run, round, base model version and hash),
// what exactly (payload hash and length) and how much work (inner steps,
// tokens), so an upload cannot be replayed into another run or round, moved to
// another model, re-attributed to another address, or have its payload swapped
// (SPEC §3: "bind every upload to the peer's identity, round and data").
//
// Byte layout (version 1). Integers little-endian; a "str" is a u16 byte length
// followed by that many ASCII bytes. Fields in this order, nothing between them,
// nothing after the last:
//
//   offset  size   field             rule
//   0       2+21   domain            str, exactly "tessera/submission/v1"
//   23      2+n    runId             str, 1..64 bytes of [A-Za-z0-9._:-]
//   .       4      round             u32
//   .       4      baseModelVersion  u32, the global model version θ(v) trained from
//   .       32     baseModelHash     BLAKE2b-256 of θ(v) as little-endian float32 (modelHash)
//   .       32     payloadHash       BLAKE2b-256 of the payload bytes (payloadHash)
//   .       4      payloadBytes      u32, payload length in bytes
//   .       2+n    address           str, canonical SS58 with prefix 42 (47..48 chars)
//   .       4      innerSteps        u32, H inner optimizer steps taken
//   .       8      tokens            u64, tokens trained on this round (≤ 2^32−1, so sums stay exact)
//   .       2+n    clientVersion     str, 1..64 bytes of printable ASCII (0x20..0x7e)
//
// Why this shape: a fixed order with explicit lengths has exactly one encoding
// per header, so tab and relay agree byte for byte without a serializer. The
// domain tag comes first and names the protocol and its version, so these bytes
// can never be mistaken for another message a wallet signs (and wallets
// additionally wrap them in <Bytes>…</Bytes>, see sign.ts). The first byte is the
// domain length (0x15), never '<' or 0x19, so u8aWrapBytes always wraps.
// payloadBytes is not in the brief's list; it lets the framing (submission.ts)
// find the end of a submission and refuse trailing bytes before hashing.
//
// Hashes: blake2AsU8a from @polkadot/util-crypto, already a dependency for the
// signatures. It runs BLAKE2b in wasm after cryptoWaitReady() and falls back to
// @noble/hashes in JavaScript before it; both give the same bytes (tested).
//
// Leaves out: what the payload means (the compression codec) and whether a
// header fits the current round (checkHeaderForRound in submission.ts).
import { blake2AsU8a } from '@polkadot/util-crypto';
import { assertAddress } from './address.ts';
import { ProtocolError } from './errors.ts';

/** Domain separation tag: protocol name and header version. Changing the layout means a new tag. */
export const SUBMISSION_DOMAIN = 'tessera/submission/v1';
export const HASH_BYTES = 32;
export const MAX_RUN_ID_BYTES = 64;
export const MAX_CLIENT_VERSION_BYTES = 64;
const MAX_ADDRESS_BYTES = 48;
// An address field is read up to this length so that a hex key or another
// network's address is refused as 'bad-address' / 'wrong-prefix', not as a framing error.
const MAX_ADDRESS_FIELD_BYTES = 128;
/**
 * Largest `tokens` a header may carry: 2^32−1, although the field is a u64.
 * Every total the relay keeps (per address, per run) is a sum of these; at
 * this bound a sum of up to 2^21 submissions stays below 2^53 and is exact in
 * a JavaScript number (and a run's own bound, max·B·T, is far lower).
 */
export const MAX_SUBMISSION_TOKENS = 0xffff_ffff;
// Room for a longer future tag, so a newer client gets 'wrong-domain' rather than 'bad-header'.
const MAX_DOMAIN_BYTES = 64;
const U32_MAX = 0xffff_ffff;

/** Largest possible encoded header; the framing refuses longer header lengths outright. */
export const MAX_HEADER_BYTES =
  2 + SUBMISSION_DOMAIN.length + 2 + MAX_RUN_ID_BYTES + 4 + 4 + HASH_BYTES + HASH_BYTES + 4 + 2 + MAX_ADDRESS_BYTES + 4 + 8 + 2 + MAX_CLIENT_VERSION_BYTES;

export interface SubmissionHeader {
  /** Operator-chosen run name, 1..64 bytes of [A-Za-z0-9._:-]. */
  runId: string;
  /** Round number (u32). */
  round: number;
  /** Global model version the inner loop started from (u32). */
  baseModelVersion: number;
  /** modelHash(θ(baseModelVersion)), 32 bytes. */
  baseModelHash: Uint8Array;
  /** payloadHash(payload), 32 bytes. */
  payloadHash: Uint8Array;
  /** Payload length in bytes (u32). */
  payloadBytes: number;
  /** Canonical SS58 address, prefix 42, of the signing sr25519 key. */
  address: string;
  /** Inner optimizer steps H actually taken (u32). */
  innerSteps: number;
  /** Tokens trained on in this round (safe integer, sent as u64). */
  tokens: number;
  /** The client's build, printable ASCII, 1..64 bytes (for debugging and compatibility). */
  clientVersion: string;
}

const RUN_ID = /^[A-Za-z0-9._:-]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** True for a run id the header (and RunInfo) can carry. */
export function isValidRunId(runId: unknown): runId is string {
  return typeof runId === 'string' && runId.length >= 1 && runId.length <= MAX_RUN_ID_BYTES && RUN_ID.test(runId);
}

/** BLAKE2b-256 of the payload bytes, as bound by the header. */
export function payloadHash(payload: Uint8Array): Uint8Array {
  return blake2AsU8a(payload, 256);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * BLAKE2b-256 of the parameters as little-endian float32 bytes (every tab and
 * the relay hash θ this way, so "same hash" means "bit-identical model").
 * params: (P) flat parameter buffer. NaN payload bits are hashed as they are.
 */
export function modelHash(params: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return blake2AsU8a(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), 256);
  // Big-endian hosts are rare; copy rather than assume.
  const bytes = new Uint8Array(params.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < params.length; i++) view.setFloat32(i * 4, params[i], true);
  return blake2AsU8a(bytes, 256);
}

function fail(message: string): never {
  throw new ProtocolError('bad-header', message);
}

function checkU32(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U32_MAX) {
    fail(`${name} must be an integer in 0..${U32_MAX}, got ${String(value)}`);
  }
  return value;
}

function checkHash(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_BYTES) fail(`${name} must be ${HASH_BYTES} bytes`);
  return value;
}

function checkAscii(name: string, value: unknown, pattern: RegExp, maxBytes: number): string {
  if (typeof value !== 'string' || value.length < 1 || value.length > maxBytes || !pattern.test(value)) {
    fail(`${name} must be 1..${maxBytes} characters matching ${pattern}`);
  }
  return value;
}

/** Field-by-field validation shared by encode and decode, so both accept exactly the same headers. */
function checkHeader(h: SubmissionHeader): void {
  checkAscii('runId', h.runId, RUN_ID, MAX_RUN_ID_BYTES);
  checkU32('round', h.round);
  checkU32('baseModelVersion', h.baseModelVersion);
  checkHash('baseModelHash', h.baseModelHash);
  checkHash('payloadHash', h.payloadHash);
  checkU32('payloadBytes', h.payloadBytes);
  // Throws 'bad-address' / 'wrong-prefix' rather than 'bad-header': the finer code tells the user more.
  assertAddress(h.address);
  checkU32('innerSteps', h.innerSteps);
  if (typeof h.tokens !== 'number' || !Number.isInteger(h.tokens) || h.tokens < 0 || h.tokens > MAX_SUBMISSION_TOKENS) {
    fail(`tokens must be an integer in 0..${MAX_SUBMISSION_TOKENS}, got ${String(h.tokens)}`);
  }
  checkAscii('clientVersion', h.clientVersion, PRINTABLE_ASCII, MAX_CLIENT_VERSION_BYTES);
}

/** The canonical bytes of a header (layout above). Throws ProtocolError on any invalid field. */
export function encodeHeader(h: SubmissionHeader): Uint8Array {
  checkHeader(h);
  const size =
    2 + SUBMISSION_DOMAIN.length + 2 + h.runId.length + 4 + 4 + HASH_BYTES + HASH_BYTES + 4 + 2 + h.address.length + 4 + 8 + 2 + h.clientVersion.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  const str = (s: string) => {
    view.setUint16(at, s.length, true);
    at += 2;
    // All fields are checked ASCII, so one char is one byte.
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
    at += s.length;
  };
  const u32 = (v: number) => {
    view.setUint32(at, v, true);
    at += 4;
  };
  const bytes = (b: Uint8Array) => {
    out.set(b, at);
    at += b.length;
  };
  str(SUBMISSION_DOMAIN);
  str(h.runId);
  u32(h.round);
  u32(h.baseModelVersion);
  bytes(h.baseModelHash);
  bytes(h.payloadHash);
  u32(h.payloadBytes);
  str(h.address);
  u32(h.innerSteps);
  view.setBigUint64(at, BigInt(h.tokens), true);
  at += 8;
  str(h.clientVersion);
  if (at !== size) throw new Error(`encodeHeader wrote ${at} of ${size} bytes`); // invariant
  return out;
}

/**
 * Parses header bytes strictly: the exact domain tag, every field in range,
 * no missing and no trailing bytes. decodeHeader(encodeHeader(h)) equals h, and
 * encodeHeader(decodeHeader(b)) equals b for every b it accepts.
 */
export function decodeHeader(bytes: Uint8Array): SubmissionHeader {
  if (!(bytes instanceof Uint8Array)) fail('header must be a Uint8Array');
  if (bytes.length > MAX_HEADER_BYTES) fail(`header is ${bytes.length} bytes; at most ${MAX_HEADER_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) fail(`header truncated in ${what}: need ${n} bytes at offset ${at}, have ${bytes.length - at}`);
  };
  /** A length-prefixed string; `anyBytes` leaves judging the content to checkHeader (the address). */
  const str = (what: string, maxBytes: number, anyBytes = false): string => {
    need(2, what);
    const length = view.getUint16(at, true);
    at += 2;
    if (length > maxBytes) fail(`${what} length ${length} exceeds ${maxBytes}`);
    need(length, what);
    let s = '';
    for (let i = 0; i < length; i++) {
      const c = bytes[at + i];
      // Only printable ASCII travels in strings; anything else is not ours.
      if (!anyBytes && (c < 0x20 || c > 0x7e)) fail(`${what} has a non-printable byte 0x${c.toString(16)}`);
      s += String.fromCharCode(c);
    }
    at += length;
    return s;
  };
  const u32 = (what: string): number => {
    need(4, what);
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const hash = (what: string): Uint8Array => {
    need(HASH_BYTES, what);
    const h = bytes.slice(at, at + HASH_BYTES);
    at += HASH_BYTES;
    return h;
  };

  const domain = str('domain', MAX_DOMAIN_BYTES);
  if (domain !== SUBMISSION_DOMAIN) {
    throw new ProtocolError('wrong-domain', `header domain is "${domain}"; this relay speaks "${SUBMISSION_DOMAIN}"`);
  }
  const runId = str('runId', MAX_RUN_ID_BYTES);
  const round = u32('round');
  const baseModelVersion = u32('baseModelVersion');
  const baseModelHash = hash('baseModelHash');
  const payloadHashBytes = hash('payloadHash');
  const payloadBytes = u32('payloadBytes');
  // Judged by checkHeader → assertAddress, so a hex key or a two-byte-prefix address gets its own code.
  const address = str('address', MAX_ADDRESS_FIELD_BYTES, true);
  const innerSteps = u32('innerSteps');
  need(8, 'tokens');
  const tokensBig = view.getBigUint64(at, true);
  at += 8;
  if (tokensBig > BigInt(MAX_SUBMISSION_TOKENS)) fail(`tokens ${tokensBig} exceeds ${MAX_SUBMISSION_TOKENS}`);
  const clientVersion = str('clientVersion', MAX_CLIENT_VERSION_BYTES);
  if (at !== bytes.length) fail(`${bytes.length - at} trailing bytes after the header`);

  const header: SubmissionHeader = {
    runId,
    round,
    baseModelVersion,
    baseModelHash,
    payloadHash: payloadHashBytes,
    payloadBytes,
    address,
    innerSteps,
    tokens: Number(tokensBig),
    clientVersion,
  };
  checkHeader(header);
  return header;
}

/** A 32-byte hash in JSON: 0x + 64 lowercase hex digits. */
export type HexHash = `0x${string}`;

/** 0x-prefixed lowercase hex of a 32-byte hash, the JSON form of every hash. */
export function hashToHex(hash: Uint8Array): HexHash {
  if (hash.length !== HASH_BYTES) throw new ProtocolError('bad-message', `hash must be ${HASH_BYTES} bytes, got ${hash.length}`);
  let s = '0x';
  for (const b of hash) s += b.toString(16).padStart(2, '0');
  return s as HexHash;
}

const HEX_HASH = /^0x[0-9a-f]{64}$/;

/** Parses the JSON form of a hash: 0x + exactly 64 lowercase hex digits. */
export function hexToHash(hex: unknown): Uint8Array {
  if (typeof hex !== 'string' || !HEX_HASH.test(hex)) {
    throw new ProtocolError('bad-message', 'hash must be 0x followed by 64 lowercase hex digits');
  }
  const out = new Uint8Array(HASH_BYTES);
  for (let i = 0; i < HASH_BYTES; i++) out[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

/** Constant-shape equality for hashes and small byte strings. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
