// The one address rule of the protocol: an identity is an SS58 address with
// prefix 42 (Bittensor / generic Substrate) over a 32-byte sr25519 public key,
// written in its one canonical form. Everything that takes an address from the
// network (header decoding, signature checks, data seeds) goes through here.
//
// Why so strict: @polkadot/util-crypto's decodeAddress also accepts hex
// strings, raw keys, any prefix and 1–8-byte account indices; signatureVerify
// accepts any prefix too. A relay that credits work to addresses must map one
// key to one string, so everything else is refused with a typed error.
//
// The full check costs four BLAKE2b-512 hashes and three base58 conversions
// (≈ 0.1 ms), and a relay runs it several times per submission (framing,
// signature check) for addresses it sees every round, so addresses that
// passed are remembered (a bounded map; failures are never remembered, so a
// flood of bad addresses costs the sender, not the memory).
//
// Leaves out: the key type. SS58 does not record it; sr25519 is enforced where
// signatures are verified (sign.ts).
import { base58Decode, checkAddress, checkAddressChecksum, encodeAddress } from '@polkadot/util-crypto';
import { ProtocolError } from './errors.ts';

/** SS58 prefix of every address the protocol accepts (Bittensor's, also Substrate's generic one). */
export const SS58_PREFIX = 42;

// base58 alphabet (Bitcoin's, used by SS58): no 0, O, I, l.
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;
// 1 prefix byte + 32-byte key + 2 checksum bytes, base58: 47 or 48 characters;
// anything much longer is refused before decoding.
const MAX_ADDRESS_CHARS = 64;
/** Addresses remembered as valid; the map starts over when full (≈ 150 bytes each). */
const REMEMBERED_ADDRESSES = 100_000;
const validAddresses = new Map<string, Uint8Array>();

/**
 * Returns the 32-byte public key of a canonical SS58 prefix-42 address, or
 * throws ProtocolError 'bad-address' / 'wrong-prefix'.
 */
export function publicKeyFromAddress(address: unknown): Uint8Array {
  const known = typeof address === 'string' ? validAddresses.get(address) : undefined;
  if (known) return known.slice();
  if (typeof address !== 'string') throw new ProtocolError('bad-address', `address must be an SS58 string, got ${typeof address}`);
  if (address.length === 0 || address.length > MAX_ADDRESS_CHARS) {
    throw new ProtocolError('bad-address', `address must be 1..${MAX_ADDRESS_CHARS} characters, got ${address.length}`);
  }
  if (/^0x/i.test(address)) {
    throw new ProtocolError('bad-address', 'hex public keys are refused: give the SS58 address (prefix 42)');
  }
  if (!BASE58.test(address)) throw new ProtocolError('bad-address', 'address is not base58 (SS58)');

  const decoded = base58Decode(address);
  // 35 = one prefix byte (prefixes < 64) + 32-byte key + 2 checksum bytes. Prefix 42
  // always takes one byte, so a 36-byte form is either a 33-byte key or a
  // two-byte prefix; both are told apart below for the error message only.
  const [checksumValid, keyEnd, prefixLength, prefix] = checkAddressChecksum(decoded);
  if (!checksumValid) throw new ProtocolError('bad-address', 'address checksum is invalid');
  if (prefix !== SS58_PREFIX) {
    throw new ProtocolError('wrong-prefix', `address has SS58 prefix ${prefix}; only prefix ${SS58_PREFIX} is accepted`);
  }
  const publicKey = decoded.slice(prefixLength, keyEnd);
  if (decoded.length !== 35 || publicKey.length !== 32) {
    throw new ProtocolError('bad-address', `address holds ${publicKey.length} key bytes; a 32-byte sr25519 public key is required`);
  }
  // The library's own check, as the wallet ecosystem understands it; must agree.
  const [libraryValid, libraryReason] = checkAddress(address, SS58_PREFIX);
  if (!libraryValid) throw new ProtocolError('bad-address', `address refused: ${libraryReason ?? 'invalid'}`);
  // base58 has one spelling per byte string; this guards the assumption.
  if (encodeAddress(publicKey, SS58_PREFIX) !== address) throw new ProtocolError('bad-address', 'address is not in canonical form');
  if (validAddresses.size >= REMEMBERED_ADDRESSES) validAddresses.clear();
  validAddresses.set(address, publicKey.slice());
  return publicKey;
}

/** Throws unless `address` is a canonical SS58 prefix-42 address of a 32-byte key. */
export function assertAddress(address: unknown): asserts address is string {
  publicKeyFromAddress(address);
}

/** True when `address` would pass publicKeyFromAddress. */
export function isValidAddress(address: unknown): address is string {
  try {
    publicKeyFromAddress(address);
    return true;
  } catch {
    return false;
  }
}
