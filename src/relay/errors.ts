// Relay failures as typed errors, and the one function that turns any failure
// into an HTTP status and the protocol's error body ({error: {code, message}}).
// Codes from the protocol module (ProtocolError) and the codec (CodecError,
// sent as `payload-<code>`) keep their names; the relay adds its own. Every
// code and its status is listed once, in src/protocol/error-codes.ts.
// Anything else is a bug or an I/O failure: the client sees only 'internal'
// (or 'unavailable' for storage), never a stack trace.
//
// Leaves out: logging policy (server.ts logs what maps to 5xx).
import { CodecError } from '../compress/codec.ts';
import { ERROR_CODES, payloadErrorCode, ProtocolError, type ErrorBody, type ErrorCode, type RelayErrorCode } from '../protocol/index.ts';

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

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  retryAfter?: number;
}

function response(code: ErrorCode, message: string, retryAfter?: number): ErrorResponse {
  return { status: ERROR_CODES[code].status, body: { error: { code, message } }, retryAfter };
}

/** Status and body for any thrown value. */
export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof RelayError) return response(error.code, error.message, error.retryAfter);
  if (error instanceof ProtocolError) return response(error.code, error.message);
  if (error instanceof CodecError) return response(payloadErrorCode(error.code), error.message);
  return response('internal', 'internal error');
}
