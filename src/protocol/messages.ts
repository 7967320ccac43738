// What tab and relay say to each other, in one place:
//   - the JSON shapes (run info, round state, submission acknowledgement, error
//     bodies, push events) as TypeScript types, with small hand-written
//     validators for JSON that arrives from the network;
//   - the binary submission frame (one POST body) and its strict decoder;
//   - the per-peer data seed (SPEC §2.1) and the check that a header belongs to
//     the round it claims.
//
// Submission frame (docs/protocol.md has the same table):
//
//   offset       size          field
//   0            4             headerLength, u32 little-endian, 1..MAX_HEADER_BYTES
//   4            headerLength  header, the exact signed bytes (header.ts)
//   4+hl         64            sr25519 signature over <Bytes>header</Bytes>
//   4+hl+64      payloadBytes  payload; payloadBytes is read from the header
//
// The frame ends exactly at 4 + hl + 64 + header.payloadBytes: fewer bytes are
// 'frame-truncated', more are 'frame-trailing'. The payload length is signed
// (it is in the header), so the relay can refuse an oversize upload from its
// first few hundred bytes ('frame-oversize') before hashing anything.
//
// Validators: hand-written guards (about a page) rather than zod/valibot: the
// shapes are flat, and the project has no schema library yet. If one is added,
// these parse* functions are the only place to change. Validators are strict on
// the fields they know and ignore unknown ones, so a newer relay can add fields
// without breaking older tabs. A push event of an unknown type is refused.
//
// Leaves out: HTTP routes and WebSocket plumbing (relay, app), the payload's
// inner format (compression codec), scoring.
import { blake2AsU8a } from '@polkadot/util-crypto';
import { assertAddress } from './address.ts';
import { ProtocolError } from './errors.ts';
import {
  bytesEqual,
  decodeHeader,
  hashToHex,
  isValidRunId,
  MAX_HEADER_BYTES,
  payloadHash,
  type SubmissionHeader,
} from './header.ts';
import { SIGNATURE_BYTES, verifySubmission } from './sign.ts';

/** A 32-byte hash in JSON: 0x + 64 lowercase hex digits. */
export type HexHash = `0x${string}`;

// ---------------------------------------------------------------- JSON shapes

/** GET run info: what a tab needs to know before it joins. */
export interface RunInfo {
  runId: string;
  /** Header domain tag the relay verifies, e.g. "tessera/submission/v1"; a tab that speaks another refuses to join. */
  protocol: string;
  /** SS58 prefix of accepted addresses (42). */
  ss58Prefix: number;
  /** Model preset name and its parameter count P, so a tab can check its own layout. */
  model: { name: string; parameterCount: number };
  /** Inner steps H per round. */
  innerSteps: number;
  /** Nominal round length in milliseconds. */
  roundMs: number;
  /** Largest payload the relay accepts, in bytes. */
  maxPayloadBytes: number;
  relayVersion: string;
}

/** The open round: what to train from and until when. */
export interface RoundState {
  round: number;
  /** Global model version θ(version) this round trains from. */
  version: number;
  /** modelHash(θ(version)). */
  modelHash: HexHash;
  /** Submission deadline, milliseconds since the Unix epoch, relay clock. */
  deadline: number;
  /** Round seed; each peer's data comes from deriveDataSeed(dataSeed, address, round). */
  dataSeed: HexHash;
}

/** The relay's answer to an accepted (stored) submission. */
export interface SubmissionAck {
  round: number;
  address: string;
  payloadHash: HexHash;
  /** Milliseconds since the Unix epoch, relay clock. */
  receivedAt: number;
}

/** Every refusal from the relay, HTTP or WebSocket. `code` is a ProtocolErrorCode or a relay code (docs/protocol.md). */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Relay → tab over the WebSocket, discriminated by `type`. */
export type PushEvent =
  | { type: 'round-opened'; state: RoundState }
  | {
      type: 'round-closed';
      round: number;
      /** Submissions received / accepted into the aggregate. */
      submitted: number;
      accepted: number;
      /** The global model version after this round's outer step, and its modelHash. */
      version: number;
      modelHash: HexHash;
    }
  | {
      type: 'stats';
      round: number;
      /** Connected tabs. */
      peers: number;
      /** Submissions received this round. */
      submissions: number;
      /** Tokens trained on across the run. */
      tokens: number;
      /** Latest held-out loss of the global model, if the relay measured one. */
      loss: number | null;
    };

export type PushEventType = PushEvent['type'];

// ------------------------------------------------------------------ validators

type JsonObject = Record<string, unknown>;

function bad(path: string, expected: string): never {
  throw new ProtocolError('bad-message', `${path}: expected ${expected}`);
}

function object(value: unknown, path: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(path, 'an object');
  return value as JsonObject;
}

function u32(o: JsonObject, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) bad(`${path}.${key}`, 'an integer in 0..2^32-1');
  return v;
}

function count(o: JsonObject, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${path}.${key}`, 'a non-negative safe integer');
  return v;
}

function text(o: JsonObject, key: string, path: string, maxLength = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) bad(`${path}.${key}`, `a string of 1..${maxLength} characters`);
  return v;
}

function hexHash(o: JsonObject, key: string, path: string): HexHash {
  const v = o[key];
  if (typeof v !== 'string' || !/^0x[0-9a-f]{64}$/.test(v)) bad(`${path}.${key}`, '0x and 64 lowercase hex digits');
  return v as HexHash;
}

function address(o: JsonObject, key: string, path: string): string {
  const v = o[key];
  try {
    assertAddress(v);
  } catch (error) {
    bad(`${path}.${key}`, `an SS58 prefix-42 address (${(error as Error).message})`);
  }
  return v;
}

/** JSON.parse with the protocol's error type. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError('bad-message', `not JSON: ${(cause as Error).message}`, { cause });
  }
}

export function parseRunInfo(json: unknown, path = 'runInfo'): RunInfo {
  const o = object(json, path);
  const runId = text(o, 'runId', path);
  if (!isValidRunId(runId)) bad(`${path}.runId`, '1..64 characters of [A-Za-z0-9._:-]');
  const model = object(o.model, `${path}.model`);
  return {
    runId,
    protocol: text(o, 'protocol', path, 64),
    ss58Prefix: u32(o, 'ss58Prefix', path),
    model: { name: text(model, 'name', `${path}.model`, 64), parameterCount: count(model, 'parameterCount', `${path}.model`) },
    innerSteps: u32(o, 'innerSteps', path),
    roundMs: count(o, 'roundMs', path),
    maxPayloadBytes: u32(o, 'maxPayloadBytes', path),
    relayVersion: text(o, 'relayVersion', path, 64),
  };
}

export function parseRoundState(json: unknown, path = 'roundState'): RoundState {
  const o = object(json, path);
  return {
    round: u32(o, 'round', path),
    version: u32(o, 'version', path),
    modelHash: hexHash(o, 'modelHash', path),
    deadline: count(o, 'deadline', path),
    dataSeed: hexHash(o, 'dataSeed', path),
  };
}

export function parseSubmissionAck(json: unknown, path = 'ack'): SubmissionAck {
  const o = object(json, path);
  return {
    round: u32(o, 'round', path),
    address: address(o, 'address', path),
    payloadHash: hexHash(o, 'payloadHash', path),
    receivedAt: count(o, 'receivedAt', path),
  };
}

export function parseErrorBody(json: unknown, path = 'body'): ErrorBody {
  const error = object(object(json, path).error, `${path}.error`);
  return { error: { code: text(error, 'code', `${path}.error`, 64), message: text(error, 'message', `${path}.error`, 1024) } };
}

/** True when a relay response body is an error body (has an `error` member). */
export function isErrorBody(json: unknown): boolean {
  return typeof json === 'object' && json !== null && 'error' in json;
}

export function parsePushEvent(json: unknown, path = 'event'): PushEvent {
  const o = object(json, path);
  const type = o.type as PushEventType;
  switch (type) {
    case 'round-opened':
      return { type, state: parseRoundState(o.state, `${path}.state`) };
    case 'round-closed':
      return {
        type,
        round: u32(o, 'round', path),
        submitted: count(o, 'submitted', path),
        accepted: count(o, 'accepted', path),
        version: u32(o, 'version', path),
        modelHash: hexHash(o, 'modelHash', path),
      };
    case 'stats': {
      const loss = o.loss;
      if (loss !== null && (typeof loss !== 'number' || !Number.isFinite(loss))) bad(`${path}.loss`, 'a finite number or null');
      return {
        type,
        round: u32(o, 'round', path),
        peers: count(o, 'peers', path),
        submissions: count(o, 'submissions', path),
        tokens: count(o, 'tokens', path),
        loss,
      };
    }
    default:
      return bad(`${path}.type`, `one of round-opened, round-closed, stats (got ${JSON.stringify(o.type)})`);
  }
}

/** The error body for a failure. ProtocolErrors keep their code and message; anything else becomes 'internal' and says no more. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof ProtocolError) return { error: { code: error.code, message: error.message } };
  return { error: { code: 'internal', message: 'internal error' } };
}

// ----------------------------------------------------------- submission frame

/** A decoded frame. headerBytes, signature and payload are views into the frame, not copies. */
export interface Submission {
  header: SubmissionHeader;
  headerBytes: Uint8Array;
  signature: Uint8Array; // (64)
  payload: Uint8Array;
}

export interface FrameLimits {
  /** Largest payload accepted; default DEFAULT_MAX_PAYLOAD_BYTES. */
  maxPayloadBytes?: number;
}

/**
 * Default payload limit: 16 MiB. A 20M-parameter model at density 1/64 with
 * 12-bit indices and 2-bit codes is ≈ 0.6 MB; dense 1-D tensors add little.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** The most bytes a frame can have under a payload limit (for a body-size limit in the HTTP server). */
export function maxSubmissionBytes(maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): number {
  return 4 + MAX_HEADER_BYTES + SIGNATURE_BYTES + maxPayloadBytes;
}

/**
 * One POST body: [u32 headerLength][header][signature (64)][payload]. Checks
 * that the header decodes and binds this payload (length and BLAKE2b-256), so a
 * tab cannot send a frame the relay will refuse for a reason known here.
 */
export function encodeSubmission(signed: { headerBytes: Uint8Array; signature: Uint8Array }, payload: Uint8Array): Uint8Array {
  const header = decodeHeader(signed.headerBytes);
  if (signed.signature.length !== SIGNATURE_BYTES) {
    throw new ProtocolError('bad-signature', `signature is ${signed.signature.length} bytes; expected ${SIGNATURE_BYTES}`);
  }
  if (header.payloadBytes !== payload.length || !bytesEqual(header.payloadHash, payloadHash(payload))) {
    throw new ProtocolError('payload-mismatch', 'the payload is not the one the header was signed for');
  }
  const hl = signed.headerBytes.length;
  const frame = new Uint8Array(4 + hl + SIGNATURE_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, hl, true);
  frame.set(signed.headerBytes, 4);
  frame.set(signed.signature, 4 + hl);
  frame.set(payload, 4 + hl + SIGNATURE_BYTES);
  return frame;
}

/** Strict framing: bounds first, then the header, then the exact total length. No signature or hash checks. */
export function decodeSubmission(frame: Uint8Array, limits: FrameLimits = {}): Submission {
  const maxPayloadBytes = limits.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!(frame instanceof Uint8Array)) throw new ProtocolError('frame-truncated', 'submission must be binary');
  if (frame.length < 4) throw new ProtocolError('frame-truncated', `submission is ${frame.length} bytes; too short for its header length`);
  const hl = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  if (hl === 0 || hl > MAX_HEADER_BYTES) {
    throw new ProtocolError('frame-oversize', `header length ${hl} is outside 1..${MAX_HEADER_BYTES}`);
  }
  if (frame.length < 4 + hl + SIGNATURE_BYTES) {
    throw new ProtocolError('frame-truncated', `submission is ${frame.length} bytes; header and signature need ${4 + hl + SIGNATURE_BYTES}`);
  }
  const headerBytes = frame.subarray(4, 4 + hl);
  const header = decodeHeader(headerBytes);
  if (header.payloadBytes > maxPayloadBytes) {
    throw new ProtocolError('frame-oversize', `payload of ${header.payloadBytes} bytes exceeds this relay's limit of ${maxPayloadBytes}`);
  }
  const end = 4 + hl + SIGNATURE_BYTES + header.payloadBytes;
  if (frame.length < end) throw new ProtocolError('frame-truncated', `submission is ${frame.length} bytes; its header announces ${end}`);
  if (frame.length > end) throw new ProtocolError('frame-trailing', `${frame.length - end} bytes after the end of the submission`);
  return {
    header,
    headerBytes,
    signature: frame.subarray(4 + hl, 4 + hl + SIGNATURE_BYTES),
    payload: frame.subarray(4 + hl + SIGNATURE_BYTES, end),
  };
}

/**
 * Everything the protocol can check about a frame on its own: framing,
 * header, sr25519 signature over <Bytes>header</Bytes> by the header's address
 * (or by `expectedAddress`, if the transport also names one), and the payload
 * hash ('payload-mismatch'). Round and run checks follow with checkHeaderForRound.
 */
export function verifySubmissionFrame(frame: Uint8Array, options: FrameLimits & { expectedAddress?: string } = {}): Submission {
  const submission = decodeSubmission(frame, options);
  verifySubmission(submission.headerBytes, submission.signature, options.expectedAddress ?? submission.header.address);
  if (!bytesEqual(payloadHash(submission.payload), submission.header.payloadHash)) {
    throw new ProtocolError('payload-mismatch', 'BLAKE2b-256 of the payload differs from the signed payload hash');
  }
  return submission;
}

// ---------------------------------------------------------- round membership

/**
 * Throws unless the header was made for this run and this round's model:
 * 'wrong-run', 'wrong-round', 'stale-model' (another version), 'model-hash-mismatch'
 * (the right version number with other parameters: the tab's θ drifted).
 * Deadlines are the relay's business (its clock), not checked here.
 */
export function checkHeaderForRound(header: SubmissionHeader, runId: string, state: RoundState): void {
  if (header.runId !== runId) throw new ProtocolError('wrong-run', `submission is for run "${header.runId}", this is "${runId}"`);
  if (header.round !== state.round) throw new ProtocolError('wrong-round', `submission is for round ${header.round}; round ${state.round} is open`);
  if (header.baseModelVersion !== state.version) {
    throw new ProtocolError('stale-model', `trained from model version ${header.baseModelVersion}; round ${state.round} trains from ${state.version}`);
  }
  if (hashToHex(header.baseModelHash) !== state.modelHash) {
    throw new ProtocolError('model-hash-mismatch', `model version ${state.version} has another hash than the one trained from; re-download the model`);
  }
}

// ------------------------------------------------------------------ data seed

export const DATA_SEED_DOMAIN = 'tessera/data-seed/v1';
const MAX_RUN_SEED_BYTES = 64;

/**
 * The seed that fixes which samples `address` trains on in `round` (SPEC §2.1):
 *   BLAKE2b-256( str(DATA_SEED_DOMAIN) ‖ u16 len ‖ runSeed ‖ str(address) ‖ u32 round )
 * with str = u16 little-endian byte length + ASCII bytes, as in the header.
 * Anyone who knows the round's seed can re-derive it; the length prefixes keep
 * (seed, address) pairs from colliding by concatenation.
 * runSeed: 1..64 bytes (RoundState.dataSeed decoded with hexToHash, or a run-wide seed).
 */
export function deriveDataSeed(runSeed: Uint8Array, address: string, round: number): Uint8Array {
  if (!(runSeed instanceof Uint8Array) || runSeed.length < 1 || runSeed.length > MAX_RUN_SEED_BYTES) {
    throw new ProtocolError('bad-seed', `run seed must be 1..${MAX_RUN_SEED_BYTES} bytes`);
  }
  if (!Number.isInteger(round) || round < 0 || round > 0xffff_ffff) throw new ProtocolError('bad-seed', `round must be a u32, got ${round}`);
  assertAddress(address);
  const input = new Uint8Array(2 + DATA_SEED_DOMAIN.length + 2 + runSeed.length + 2 + address.length + 4);
  const view = new DataView(input.buffer);
  let at = 0;
  const lengthPrefixed = (bytes: Uint8Array) => {
    view.setUint16(at, bytes.length, true);
    input.set(bytes, at + 2);
    at += 2 + bytes.length;
  };
  const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  lengthPrefixed(ascii(DATA_SEED_DOMAIN));
  lengthPrefixed(runSeed);
  lengthPrefixed(ascii(address));
  view.setUint32(at, round, true);
  return blake2AsU8a(input, 256);
}
