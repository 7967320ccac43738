// Every error code that can reach a tab, in one table: the protocol's own
// (ProtocolError, thrown by this module on either side), the relay's
// (RelayError, src/relay/errors.ts) and the codec's (CodecError, sent as
// `payload-<code>`). For each: the HTTP status the relay answers with, and
// whether the same request may succeed later (transient: retry with backoff)
// or never will (definitive: the tab gives up on that submission). The relay
// maps errors to statuses from here and the tab decides retries from here,
// so the two cannot drift apart. docs/relay.md lists the same codes.
//
// Leaves out: the error classes themselves (errors.ts, relay/errors.ts,
// compress/codec.ts) and what the user is told (src/worker/error-event.ts).
import { CODEC_ERROR_CODES, type CodecErrorCode } from '../compress/codec.ts';

export interface ErrorCodeInfo {
  /** The HTTP status of a response carrying this code. */
  status: number;
  /** True when retrying the same request later can succeed. */
  transient: boolean;
}

const definitive = (status: number): ErrorCodeInfo => ({ status, transient: false });
const transient = (status: number): ErrorCodeInfo => ({ status, transient: true });

/** Codes of ProtocolError: rules of the protocol module, checked the same way by tab and relay. */
export const PROTOCOL_ERROR_CODES = {
  // header bytes (header.ts)
  'bad-header': definitive(400), // malformed or out-of-range field, truncated or trailing bytes
  'wrong-domain': definitive(400), // a header for another protocol or another protocol version
  // identity and signature (address.ts, sign.ts)
  'bad-address': definitive(400), // not an SS58 string with a 32-byte public key (hex, raw key, bad checksum, account index)
  'wrong-prefix': definitive(400), // a valid SS58 address, but not for prefix 42
  'address-mismatch': definitive(400), // the claimed address is not the one in the signed header
  'bad-signature': definitive(401), // not 64 bytes, or does not verify as sr25519 over <Bytes>header</Bytes>
  'unwrapped-signature': definitive(401), // verifies over the bare header: not how wallet extensions sign
  'signer-refused': definitive(400), // the wallet rejected the request (the user pressed Cancel); tab side only
  'signer-unsupported': definitive(400), // the wallet has no signRaw; tab side only
  // submission framing and payload (submission.ts)
  'frame-truncated': definitive(400), // fewer bytes than the frame announces
  'frame-oversize': definitive(413), // a length field beyond the protocol's or the relay's limit
  'frame-trailing': definitive(400), // bytes after the announced end
  'payload-mismatch': definitive(400), // BLAKE2b-256(payload) differs from the signed payload hash
  // header against the round it claims (submission.ts)
  'wrong-run': definitive(404),
  'wrong-round': definitive(409),
  'stale-model': definitive(409), // trained from another model version than the round's
  'model-hash-mismatch': definitive(409), // same version number, different parameters
  // header against the run's rules (run-spec.ts checkSubmissionCounts)
  'steps-out-of-range': definitive(400), // inner steps outside the run's stepRange [min, max]
  'tokens-mismatch': definitive(400), // tokens ≠ innerSteps·B·T of the run
  // JSON from the network (api.ts), run specs (run-spec.ts) and seeds (data-seed.ts)
  'bad-message': definitive(400),
  'bad-seed': definitive(400),
  // Gauntlet's receipts and archives (receipt.ts, round-archive.ts): checked by clients, never sent by a relay
  'bad-receipt': definitive(400), // malformed or non-canonical receipt bytes
  'receipt-signature': definitive(400), // the receipt does not verify as signed by the run's relay key
  'bad-archive': definitive(400), // a round archive that does not parse
} as const satisfies Record<string, ErrorCodeInfo>;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES;

/** Codes of RelayError: the relay's own policies, which a tab cannot check for itself. */
export const RELAY_ERROR_CODES = {
  late: definitive(409), // the round's deadline passed or it is closing
  duplicate: definitive(409), // this address already has a submission in this round (replays included)
  'rate-limited': transient(429), // too many requests, uploads, connections or push channels from this IP or address; see Retry-After
  'not-allowed': definitive(403), // the run has an allowlist and this address is not on it
  'not-found': definitive(404), // no such route or resource
  gone: definitive(410), // catch-up asked for updates the relay no longer keeps: download the checkpoint
  'unsupported-format': definitive(400), // catch-up asked for a bundle format the relay does not serve (an older or newer tab)
  'bad-request': definitive(400), // malformed HTTP (request line, target, headers, chunked framing) or a bad query/path parameter
  'method-not-allowed': definitive(405),
  timeout: transient(408), // the request line, headers or body did not arrive in time (docs/relay.md "Resource limits")
  'headers-too-large': definitive(431), // request line and headers over the relay's limit
  unavailable: transient(503), // storage failed, a total limit is reached or the relay is stopping: nothing was recorded, retry later
  internal: transient(500), // a bug or an I/O failure on the relay; no details are sent
} as const satisfies Record<string, ErrorCodeInfo>;

export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/** A codec refusal as it travels: the codec's code behind `payload-`. */
export type PayloadErrorCode = `payload-${CodecErrorCode}`;

export function payloadErrorCode(code: CodecErrorCode): PayloadErrorCode {
  return `payload-${code}`;
}

/** Every code a relay can put in an error body (and the tab-side protocol codes). */
export type ErrorCode = ProtocolErrorCode | RelayErrorCode | PayloadErrorCode;

export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  ...PROTOCOL_ERROR_CODES,
  ...RELAY_ERROR_CODES,
  // Bytes that do not decode never will.
  ...Object.fromEntries(CODEC_ERROR_CODES.map((code) => [payloadErrorCode(code), definitive(400)])),
} as Record<ErrorCode, ErrorCodeInfo>;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * Whether a failed request may succeed when retried. A known code decides;
 * an unknown one (a newer relay, a proxy's error page) falls back on the
 * status: no answer (0), 429 and 5xx are transient.
 */
export function isTransientFailure(code: string, status: number): boolean {
  if (isErrorCode(code)) return ERROR_CODES[code].transient;
  return status === 0 || status === 429 || status >= 500;
}
