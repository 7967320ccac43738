// The protocol module's public surface, shared by tab and relay (DESIGN:
// "one protocol module"): everything that crosses the network between them.
// Import from here unless a file needs one part only.
//
//   header.ts       the signed SubmissionHeader, payload and model hashes
//   address.ts      the one address rule (SS58 prefix 42)
//   sign.ts         signing through a wallet, strict sr25519 verification
//   submission.ts   the binary submission frame and the protocol's checks on it
//   api.ts          every JSON body of the relay API and every push event, with parsers
//   run-spec.ts     what a volunteer trains by, and the check that a tab can run it
//   bundle.ts       the binary catch-up bundle
//   data-seed.ts    which data a peer trains on in a round (SPEC §2.1)
//   gauntlet.ts     Gauntlet's config, state, payout vector and scoreboard (docs/gauntlet.md)
//   receipt.ts      the relay's signed score receipt
//   round-archive.ts  a closed round's signed frames, for audits
//   error-codes.ts  every error code with its HTTP status and whether it is transient
//   errors.ts       ProtocolError
//
// Leaves out: anything browser-only (extension discovery lives in src/wallet)
// and anything Node-only (HTTP, files) — this module runs in both.
export * from './errors.ts';
export * from './error-codes.ts';
export * from './address.ts';
export * from './header.ts';
export { SIGNATURE_BYTES, protocolReady, signHeader, verifySubmission, walletSignatureBytes } from './sign.ts';
export type { RawSigner, SignedHeader } from './sign.ts';
export * from './submission.ts';
export * from './api.ts';
export * from './run-spec.ts';
export * from './bundle.ts';
export * from './data-seed.ts';
export * from './gauntlet.ts';
export * from './receipt.ts';
export * from './round-archive.ts';
