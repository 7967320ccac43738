// What a relay answer may look like, for tests that send it anything: a
// success, or the protocol's error body {error: {code, message}} with a code
// of the protocol's table and the status that table gives it.
import { ERROR_CODES, isErrorCode } from '../../src/protocol/index.ts';
import type { WireResponse } from './http-wire.ts';

/**
 * Null when `response` is a success (2xx, 3xx, 101) or a well-formed typed
 * error; otherwise what is wrong with it.
 */
export function answerProblem(response: WireResponse, method = 'GET'): string | null {
  if (response.status < 400) return null;
  if (!/^application\/json\b/.test(response.headers['content-type'] ?? '')) return `${response.status} without a JSON body (${response.headers['content-type']})`;
  if (method === 'HEAD') return null; // the same headers as GET, no body
  let json: unknown;
  try {
    json = JSON.parse(response.body.toString('utf8'));
  } catch {
    return `${response.status} with a body that is not JSON`;
  }
  const error = (json as { error?: unknown })?.error as { code?: unknown; message?: unknown } | undefined;
  if (typeof error !== 'object' || error === null || Object.keys(json as object).length !== 1) return `${response.status}: not {error: {…}}`;
  if (typeof error.code !== 'string' || typeof error.message !== 'string' || error.message.length === 0) return `${response.status}: error without code and message`;
  // The one table of codes (src/protocol/error-codes.ts, listed in docs/protocol.md "Error codes").
  if (!isErrorCode(error.code)) return `undocumented code ${error.code}`;
  const { status } = ERROR_CODES[error.code];
  if (status !== response.status) return `code ${error.code} with status ${response.status}, documented ${status}`;
  return null;
}

/** The error code of an answer, or 'ok' for a success. */
export function codeOf(response: WireResponse): string {
  if (response.status < 400) return 'ok';
  try {
    return (JSON.parse(response.body.toString('utf8')) as { error: { code: string } }).error.code;
  } catch {
    return `status-${response.status}`;
  }
}
