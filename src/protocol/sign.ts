// Signing a SubmissionHeader with a wallet extension, and the strict check the
// relay (and the tab, right after signing) runs on the result.
//
// What is signed: the extension interface `signRaw({address, data, type:
// 'bytes'})` takes the header bytes as hex; the extension itself signs
// u8aWrapBytes(data) = "<Bytes>" + data + "</Bytes>", so a dApp can never make a
// user sign something that is also a valid chain transaction. We never wrap
// ourselves: that is the extension's job, and the test wallet
// (tests/support/test-wallet.ts) does it exactly the same way.
//
// What is accepted (verifySubmission), in this order, each failure a typed
// ProtocolError:
//   1. the address is a canonical SS58 prefix-42 address of a 32-byte key
//      ('bad-address': hex keys, raw keys, bad checksum, account indices;
//      'wrong-prefix': any other network's prefix) — address.ts;
//   2. the header bytes decode strictly ('bad-header', 'wrong-domain');
//   3. the header's address is the claimed one ('address-mismatch');
//   4. the signature is 64 bytes and verifies as sr25519 over the WRAPPED header
//      ('bad-signature'); one that verifies only over the bare header is refused
//      with 'unwrapped-signature' (it was not made the way extensions sign, so
//      something in the signing path is wrong or forged).
// Unlike util-crypto's signatureVerify, nothing here tries ed25519 or ecdsa,
// other prefixes, or unwrapped messages.
//
// cryptoWaitReady(): with @polkadot/util-crypto 14, sr25519 runs in pure
// JavaScript (@scure/sr25519) and BLAKE2b falls back to @noble/hashes until the
// wasm backend is ready (util-crypto starts loading it at import), so every
// function here gives the same results before and after (the unit tests compare
// both BLAKE2b paths). Call `await protocolReady()` once at startup anyway: the
// wasm BLAKE2b hashes large payloads and models faster. Its false result (wasm
// blocked, e.g. by a strict CSP) is not an error.
//
// Leaves out: account discovery and the extension handshake (src/wallet), and
// the round/run checks (checkHeaderForRound in submission.ts).
import { u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady, sr25519Verify } from '@polkadot/util-crypto';
// schnorrkel compiled to wasm verifies in ~0.7 ms here, ~10× util-crypto's
// JavaScript path (~7 ms), which bounds the relay's ingest rate.
import { isReady as wasmCryptoReady, sr25519Verify as wasmSr25519Verify } from '@polkadot/wasm-crypto';
import { publicKeyFromAddress } from './address.ts';
import { ProtocolError } from './errors.ts';
import { decodeHeader, encodeHeader, type SubmissionHeader } from './header.ts';

export { ProtocolError, isProtocolError, type ProtocolErrorCode } from './errors.ts';

export const SIGNATURE_BYTES = 64;

/**
 * The part of a wallet extension's Signer we use. @polkadot/api's Signer (what
 * web3FromAddress(...).signer is) is assignable to it.
 */
export interface RawSigner {
  signRaw?: (raw: { address: string; data: string; type: 'bytes' }) => Promise<{ signature: string }>;
}

export interface SignedHeader {
  header: SubmissionHeader;
  /** The exact bytes that were signed (unwrapped); they travel in the submission frame. */
  headerBytes: Uint8Array;
  /** sr25519 signature over u8aWrapBytes(headerBytes), (64). */
  signature: Uint8Array;
}

/** Loads the wasm crypto backend (optional, for speed; see the file header). Resolves false if wasm is unavailable. */
export function protocolReady(): Promise<boolean> {
  return cryptoWaitReady();
}

/**
 * Encodes the header, asks the wallet to sign it, and checks the result exactly
 * as the relay will, so a wallet that signs wrongly (an ed25519 account, no
 * <Bytes> wrapping) fails here, in front of the user, not at the relay.
 * Throws ProtocolError: 'signer-unsupported', 'signer-refused' (the user
 * cancelled; `cause` holds the wallet's error), or any verifySubmission code.
 */
export async function signHeader(signer: RawSigner, header: SubmissionHeader): Promise<SignedHeader> {
  const headerBytes = encodeHeader(header);
  if (typeof signer?.signRaw !== 'function') {
    throw new ProtocolError('signer-unsupported', 'this wallet cannot sign raw bytes (no signRaw); use the polkadot{.js}, Talisman or SubWallet extension');
  }
  let result: { signature: string };
  try {
    result = await signer.signRaw({ address: header.address, data: u8aToHex(headerBytes), type: 'bytes' });
  } catch (cause) {
    // Duck-typed: a wallet's Error may come from another realm (extension script, iframe, vm).
    const message = (cause as { message?: unknown } | null)?.message;
    const reason = typeof message === 'string' ? message : String(cause);
    throw new ProtocolError('signer-refused', `the wallet did not sign the submission: ${reason}`, { cause });
  }
  const signature = walletSignatureBytes(result?.signature);
  verifySubmission(headerBytes, signature, header.address);
  return { header, headerBytes, signature };
}

/**
 * The signature a wallet returned, as 64 bytes. Extensions return 64 bytes for
 * signRaw; a 65-byte MultiSignature with the sr25519 tag (0x01) is unwrapped,
 * the ed25519 (0x00) and ecdsa (0x02) tags are refused.
 */
export function walletSignatureBytes(signature: unknown): Uint8Array {
  const bytes = signatureFromHex(signature, [SIGNATURE_BYTES, SIGNATURE_BYTES + 1]);
  if (bytes.length === SIGNATURE_BYTES) return bytes;
  if (bytes[0] === 1) return bytes.slice(1);
  throw new ProtocolError(
    'bad-signature',
    `the wallet signed with a ${bytes[0] === 0 ? 'ed25519' : bytes[0] === 2 ? 'ecdsa' : 'non-sr25519'} key; choose an sr25519 account`,
  );
}

/** A 0x-hex signature of one of `lengths` bytes, or ProtocolError('bad-signature'). */
export function signatureFromHex(signature: unknown, lengths: number[]): Uint8Array {
  if (typeof signature !== 'string' || !/^0x([0-9a-fA-F]{2})+$/.test(signature)) {
    throw new ProtocolError('bad-signature', 'signature must be 0x-prefixed hex');
  }
  const length = (signature.length - 2) / 2;
  if (!lengths.includes(length)) throw new ProtocolError('bad-signature', `signature is ${length} bytes; expected ${lengths.join(' or ')}`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(signature.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

/** sr25519 verification with the fast wasm path when it is loaded; false for anything malformed. */
export function sr25519Verifies(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return wasmCryptoReady() ? wasmSr25519Verify(signature, message, publicKey) : sr25519Verify(message, signature, publicKey);
  } catch {
    // Malformed points or a signature without schnorrkel's marker bit throw; either way it does not verify.
    return false;
  }
}

/**
 * The strict check (see the file header). headerBytes: the exact signed bytes;
 * signature: 64 bytes or its 0x hex; address: the claimed signer. Returns the
 * decoded header when everything holds; throws ProtocolError otherwise.
 */
export function verifySubmission(headerBytes: Uint8Array, signature: string | Uint8Array, address: string): SubmissionHeader {
  const publicKey = publicKeyFromAddress(address);
  const header = decodeHeader(headerBytes);
  if (header.address !== address) {
    throw new ProtocolError('address-mismatch', `the header is signed for ${header.address}, not ${address}`);
  }
  let signatureBytes: Uint8Array;
  if (signature instanceof Uint8Array) {
    if (signature.length !== SIGNATURE_BYTES) {
      throw new ProtocolError('bad-signature', `signature is ${signature.length} bytes; expected ${SIGNATURE_BYTES}`);
    }
    signatureBytes = signature;
  } else {
    signatureBytes = signatureFromHex(signature, [SIGNATURE_BYTES]);
  }
  if (sr25519Verifies(u8aWrapBytes(headerBytes), signatureBytes, publicKey)) return header;
  // Only on failure: costs a second verification, and tells a broken signer from a forgery.
  if (sr25519Verifies(headerBytes, signatureBytes, publicKey)) {
    throw new ProtocolError('unwrapped-signature', 'the signature covers the bare header, not <Bytes>header</Bytes> as wallet extensions sign');
  }
  throw new ProtocolError('bad-signature', `the signature does not verify as sr25519 by ${address} over this header`);
}
