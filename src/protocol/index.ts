// The protocol module's public surface, shared by tab and relay (DESIGN:
// "one protocol module"). Import from here unless a file needs one part only.
// Leaves out: anything browser-only (extension discovery lives in src/wallet)
// and anything Node-only (HTTP, files) — this module runs in both.
export * from './errors.ts';
export * from './address.ts';
export * from './header.ts';
export { SIGNATURE_BYTES, protocolReady, signHeader, verifySubmission, walletSignatureBytes } from './sign.ts';
export type { RawSigner, SignedHeader } from './sign.ts';
export * from './messages.ts';
