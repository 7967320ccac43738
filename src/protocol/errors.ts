// Typed protocol failures (web-llm style): every check in src/protocol throws a
// ProtocolError whose `code` says which rule was broken, so the relay can put it
// in an error body ({error: {code, message}}) and the tab can tell the user
// what to do without parsing messages. The codes, with their HTTP statuses,
// are listed in error-codes.ts beside the relay's and the codec's.
//
// Leaves out: relay-only failures (late uploads, rate limits: relay/errors.ts);
// their codes still travel in the same error body shape (api.ts).
import type { ProtocolErrorCode } from './error-codes.ts';

export type { ProtocolErrorCode } from './error-codes.ts';

export class ProtocolError extends Error {
  /** Where in a JSON message the problem is ("run.swarm.compression.topK"), when it is in one. */
  readonly field: string | null;

  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    options?: { cause?: unknown; field?: string },
  ) {
    super(message, options);
    this.name = 'ProtocolError';
    this.field = options?.field ?? null;
  }
}

/** True for a ProtocolError, optionally of one code (for `catch` blocks and tests). */
export function isProtocolError(error: unknown, code?: ProtocolErrorCode): error is ProtocolError {
  return error instanceof ProtocolError && (code === undefined || error.code === code);
}
