// The one table of error codes: the relay answers with its statuses, the tab
// retries by its transient flags, and the docs list every code in it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CODEC_ERROR_CODES, CodecError } from '../../src/compress/codec.ts';
import {
  ERROR_CODES,
  isTransientFailure,
  PROTOCOL_ERROR_CODES,
  RELAY_ERROR_CODES,
  type ErrorCode,
} from '../../src/protocol/error-codes.ts';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { errorResponse, RelayError } from '../../src/relay/errors.ts';
import { RelayRequestError } from '../../src/swarm/relay-client.ts';
import { REPO_ROOT } from './relay-fixtures.ts';

describe('error codes', () => {
  it('list protocol, relay and payload codes, each once', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(codes).toHaveLength(Object.keys(PROTOCOL_ERROR_CODES).length + Object.keys(RELAY_ERROR_CODES).length + CODEC_ERROR_CODES.length);
    for (const code of CODEC_ERROR_CODES) expect(ERROR_CODES[`payload-${code}`]).toEqual({ status: 400, transient: false });
  });

  it('keep the statuses docs/relay.md gives', () => {
    const expected: [ErrorCode, number, boolean][] = [
      ['frame-oversize', 413, false],
      ['rate-limited', 429, true],
      ['bad-header', 400, false],
      ['not-allowed', 403, false],
      ['wrong-run', 404, false],
      ['wrong-round', 409, false],
      ['stale-model', 409, false],
      ['model-hash-mismatch', 409, false],
      ['late', 409, false],
      ['duplicate', 409, false],
      ['bad-signature', 401, false],
      ['unwrapped-signature', 401, false],
      ['payload-mismatch', 400, false],
      ['steps-out-of-range', 400, false],
      ['tokens-mismatch', 400, false],
      ['payload-non-canonical', 400, false],
      ['unavailable', 503, true],
      ['not-found', 404, false],
      ['gone', 410, false],
      ['method-not-allowed', 405, false],
      ['internal', 500, true],
    ];
    for (const [code, status, transient] of expected) expect(ERROR_CODES[code], code).toEqual({ status, transient });
  });

  it('are all documented', () => {
    const docs = readFileSync(`${REPO_ROOT}docs/relay.md`, 'utf8') + readFileSync(`${REPO_ROOT}docs/protocol.md`, 'utf8');
    for (const code of [...Object.keys(PROTOCOL_ERROR_CODES), ...Object.keys(RELAY_ERROR_CODES)]) expect(docs, code).toContain(`\`${code}\``);
    expect(docs).toContain('`payload-<codec code>`');
  });

  it('decide retries: a known code by its flag, an unknown one by its status', () => {
    expect(isTransientFailure('rate-limited', 429)).toBe(true);
    expect(isTransientFailure('late', 409)).toBe(false);
    // A proxy's answer without an error body, or a code from a newer relay.
    expect(isTransientFailure('http-error', 502)).toBe(true);
    expect(isTransientFailure('network', 0)).toBe(true);
    expect(isTransientFailure('http-error', 404)).toBe(false);
    expect(isTransientFailure('some-future-code', 409)).toBe(false);
    expect(new RelayRequestError(503, 'unavailable', 'disk full').transient).toBe(true);
    expect(new RelayRequestError(409, 'duplicate', 'again').transient).toBe(false);
    expect(new RelayRequestError(409, 'duplicate', 'again').is('duplicate')).toBe(true);
  });
});

describe('errorResponse', () => {
  it('maps every error class through the table and hides internal errors', () => {
    expect(errorResponse(new RelayError('rate-limited', 'slow down', 3))).toEqual({
      status: 429,
      body: { error: { code: 'rate-limited', message: 'slow down' } },
      retryAfter: 3,
    });
    expect(errorResponse(new ProtocolError('wrong-round', 'round 3 is closed'))).toEqual({
      status: 409,
      body: { error: { code: 'wrong-round', message: 'round 3 is closed' } },
      retryAfter: undefined,
    });
    const codec = errorResponse(new CodecError('non-finite', 'wte: mean is not finite', 40));
    expect(codec.status).toBe(400);
    expect(codec.body.error).toEqual({ code: 'payload-non-finite', message: 'wte: mean is not finite (byte 40)' });
    expect(errorResponse(new Error('ENOENT /var/secret'))).toEqual({
      status: 500,
      body: { error: { code: 'internal', message: 'internal error' } },
      retryAfter: undefined,
    });
  });
});
