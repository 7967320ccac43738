// Typed protocol failures (web-llm style): every check in src/protocol throws a
// ProtocolError whose `code` says which rule was broken, so the relay can put it
// in an error body ({error: {code, message}}) and the tab can tell the user
// what to do without parsing messages.
//
// Leaves out: HTTP status mapping and relay-only failures (late uploads,
// rate limits) — those belong to the relay; their codes still travel in the
// same error body shape (see messages.ts).

export type ProtocolErrorCode =
  // header bytes (header.ts)
  | 'bad-header' // malformed or out-of-range field, truncated or trailing bytes
  | 'wrong-domain' // a header for another protocol or another protocol version
  // identity and signature (sign.ts)
  | 'bad-address' // not an SS58 string with a 32-byte public key (hex, raw key, bad checksum, account index)
  | 'wrong-prefix' // a valid SS58 address, but not for prefix 42
  | 'address-mismatch' // the claimed address is not the one in the signed header
  | 'bad-signature' // not 64 bytes, or does not verify as sr25519 over <Bytes>header</Bytes>
  | 'unwrapped-signature' // verifies over the bare header: not how wallet extensions sign
  | 'signer-refused' // the wallet rejected the request (the user pressed Cancel)
  | 'signer-unsupported' // the wallet has no signRaw
  // submission framing and payload (messages.ts)
  | 'frame-truncated' // fewer bytes than the frame announces
  | 'frame-oversize' // a length field beyond the protocol's or the relay's limit
  | 'frame-trailing' // bytes after the announced end
  | 'payload-mismatch' // BLAKE2b-256(payload) differs from the signed payload hash
  // header against the round it claims (messages.ts)
  | 'wrong-run'
  | 'wrong-round'
  | 'stale-model' // trained from another model version than the round's
  | 'model-hash-mismatch' // same version number, different parameters
  // JSON from the network and seeds
  | 'bad-message'
  | 'bad-seed';

export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProtocolError';
  }
}

/** True for a ProtocolError, optionally of one code (for `catch` blocks and tests). */
export function isProtocolError(error: unknown, code?: ProtocolErrorCode): error is ProtocolError {
  return error instanceof ProtocolError && (code === undefined || error.code === code);
}
