// What a relay answer may look like, for tests that send it anything: a
// success, or the protocol's error body {error: {code, message}} with a
// documented code and the status that code is documented with.
import type { CodecErrorCode } from '../../src/compress/codec.ts';
import type { WireResponse } from './http-wire.ts';

const CODEC_ERROR_CODES: readonly CodecErrorCode[] = [
  'bad-magic', 'unsupported-version', 'wrong-kind', 'reserved-bits', 'config-mismatch', 'manifest-mismatch', 'truncated',
  'trailing-bytes', 'bad-mode', 'bad-count', 'index-out-of-range', 'non-canonical', 'non-finite', 'value-out-of-range',
];

/** Every code an error body may carry, with its HTTP status (docs/protocol.md "Error codes"). */
export const DOCUMENTED_CODES: ReadonlyMap<string, number> = new Map<string, number>([
  ['bad-header', 400], ['wrong-domain', 400], ['bad-address', 400], ['wrong-prefix', 400], ['address-mismatch', 400],
  ['bad-signature', 401], ['unwrapped-signature', 401], ['frame-truncated', 400], ['frame-oversize', 413],
  ['frame-trailing', 400], ['payload-mismatch', 400], ['wrong-run', 404], ['wrong-round', 409], ['stale-model', 409],
  ['model-hash-mismatch', 409], ['bad-message', 400], ['bad-seed', 400],
  ['late', 409], ['duplicate', 409], ['rate-limited', 429], ['not-allowed', 403], ['not-found', 404], ['gone', 410],
  ['bad-request', 400], ['method-not-allowed', 405], ['timeout', 408], ['headers-too-large', 431], ['bad-update', 400],
  ['unavailable', 503], ['internal', 500],
  ...CODEC_ERROR_CODES.map((code) => [`payload-${code}`, 400] as [string, number]),
]);

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
  const status = DOCUMENTED_CODES.get(error.code);
  if (status === undefined) return `undocumented code ${error.code}`;
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
