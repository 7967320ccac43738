// Relay failures as typed errors, and the one function that turns any failure
// into an HTTP status and the protocol's error body ({error: {code, message}}).
// Codes from the protocol module (ProtocolError) and the codec (CodecError,
// sent as `payload-<code>`) keep their names; the relay adds its own below.
// Anything else is a bug or an I/O failure: the client sees only 'internal'
// (or 'unavailable' for storage), never a stack trace.
//
// Leaves out: logging policy (server.ts logs what maps to 5xx).
import { CodecError } from '../compress/codec.ts';
import { ProtocolError, type ErrorBody, type ProtocolErrorCode } from '../protocol/index.ts';

export type RelayErrorCode =
  | 'late' // the round's deadline passed or it is closing
  | 'duplicate' // this address already has a submission in this round (replays included)
  | 'rate-limited' // too many requests from this IP or address; see Retry-After
  | 'not-allowed' // the run has an allowlist and this address is not on it
  | 'not-found' // no such route or resource
  | 'gone' // catch-up asked for updates the relay no longer keeps: download the checkpoint
  | 'bad-request' // a malformed query or path parameter
  | 'method-not-allowed'
  | 'bad-update' // a payload that decodes but is not a plausible update (header counts)
  | 'unavailable' // storage failed: nothing was acknowledged, retry later
  | 'internal';

export class RelayError extends Error {
  constructor(
    readonly code: RelayErrorCode,
    message: string,
    /** Seconds, for 'rate-limited' (Retry-After). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

const RELAY_STATUS: Record<RelayErrorCode, number> = {
  late: 409,
  duplicate: 409,
  'rate-limited': 429,
  'not-allowed': 403,
  'not-found': 404,
  gone: 410,
  'bad-request': 400,
  'method-not-allowed': 405,
  'bad-update': 400,
  unavailable: 503,
  internal: 500,
};

const PROTOCOL_STATUS: Partial<Record<ProtocolErrorCode, number>> = {
  'bad-signature': 401,
  'unwrapped-signature': 401,
  'frame-oversize': 413,
  'wrong-run': 404,
  'wrong-round': 409,
  'stale-model': 409,
  'model-hash-mismatch': 409,
};

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  retryAfter?: number;
}

/** Status and body for any thrown value. */
export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof RelayError) {
    return { status: RELAY_STATUS[error.code], body: { error: { code: error.code, message: error.message } }, retryAfter: error.retryAfter };
  }
  if (error instanceof ProtocolError) {
    return { status: PROTOCOL_STATUS[error.code] ?? 400, body: { error: { code: error.code, message: error.message } } };
  }
  if (error instanceof CodecError) {
    return { status: 400, body: { error: { code: `payload-${error.code}`, message: error.message } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}
