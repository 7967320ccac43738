// The binary submission (one POST /api/submissions body) and the protocol's
// half of checking it. Submission frame (docs/protocol.md has the same table):
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
// A relay checks a frame in three protocol steps, with its own policies
// (allowlist, deadline, one per address, rate limits) between them, cheapest
// first: decodeSubmission (framing and header) → checkHeaderForRound (run,
// round, base model) → verifySignedSubmission (signature and payload hash).
// src/relay/relay.ts runs that pipeline for new and for restored frames.
//
// Leaves out: HTTP (relay/server.ts), the payload's inner format (the
// compression codec), the relay's policies (relay/relay.ts).
import { ProtocolError } from './errors.ts';
import {
  bytesEqual,
  decodeHeader,
  hashToHex,
  MAX_HEADER_BYTES,
  payloadHash,
  type SubmissionHeader,
} from './header.ts';
import { SIGNATURE_BYTES, verifySubmission } from './sign.ts';
import type { RoundState } from './api.ts';

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

// ------------------------------------------------------- signature and payload

/**
 * The signed part of a decoded frame: the sr25519 signature over
 * <Bytes>header</Bytes> by the header's address (or by `expectedAddress`, if
 * the transport also names one), then BLAKE2b-256 of the payload against the
 * signed hash ('payload-mismatch'). The costliest protocol check, so a relay
 * runs it after the cheap ones (framing, round, its own policies).
 */
export function verifySignedSubmission(submission: Submission, expectedAddress = submission.header.address): void {
  verifySubmission(submission.headerBytes, submission.signature, expectedAddress);
  if (!bytesEqual(payloadHash(submission.payload), submission.header.payloadHash)) {
    throw new ProtocolError('payload-mismatch', 'BLAKE2b-256 of the payload differs from the signed payload hash');
  }
}
