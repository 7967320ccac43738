// Which training data a peer uses in a round (SPEC §2.1): a seed anyone can
// re-derive from the round's seed, the peer's address and the round number,
// so the relay (or anyone) can check which windows a peer should have
// trained on.
//
// Leaves out: turning the seed into windows (src/data/sampler.ts).
import { blake2AsU8a } from '@polkadot/util-crypto';
import { assertAddress } from './address.ts';
import { ProtocolError } from './errors.ts';
import { hexToHash, type HexHash } from './header.ts';

export const DATA_SEED_DOMAIN = 'tessera/data-seed/v1';
const MAX_RUN_SEED_BYTES = 64;

/**
 * The seed that fixes which samples `address` trains on in `round` (SPEC §2.1):
 *   BLAKE2b-256( str(DATA_SEED_DOMAIN) ‖ u16 len ‖ runSeed ‖ str(address) ‖ u32 round )
 * with str = u16 little-endian byte length + ASCII bytes, as in the header.
 * Anyone who knows the round's seed can re-derive it; the length prefixes keep
 * (seed, address) pairs from colliding by concatenation.
 * runSeed: 1..64 bytes (RoundState.dataSeed decoded with hexToHash, or a run-wide seed).
 */
export function deriveDataSeed(runSeed: Uint8Array, address: string, round: number): Uint8Array {
  if (!(runSeed instanceof Uint8Array) || runSeed.length < 1 || runSeed.length > MAX_RUN_SEED_BYTES) {
    throw new ProtocolError('bad-seed', `run seed must be 1..${MAX_RUN_SEED_BYTES} bytes`);
  }
  if (!Number.isInteger(round) || round < 0 || round > 0xffff_ffff) throw new ProtocolError('bad-seed', `round must be a u32, got ${round}`);
  assertAddress(address);
  const input = new Uint8Array(2 + DATA_SEED_DOMAIN.length + 2 + runSeed.length + 2 + address.length + 4);
  const view = new DataView(input.buffer);
  let at = 0;
  const lengthPrefixed = (bytes: Uint8Array) => {
    view.setUint16(at, bytes.length, true);
    input.set(bytes, at + 2);
    at += 2 + bytes.length;
  };
  const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  lengthPrefixed(ascii(DATA_SEED_DOMAIN));
  lengthPrefixed(runSeed);
  lengthPrefixed(ascii(address));
  view.setUint32(at, round, true);
  return blake2AsU8a(input, 256);
}

/**
 * The sampler seed of `address` in `round`: the first 8 bytes (little-endian)
 * of deriveDataSeed(runSeed, address, round), as the 64-bit seed batchFor takes.
 * Anyone can re-derive which windows a peer should have trained on.
 */
export function samplerSeed(runSeed: HexHash, address: string, round: number): bigint {
  const seed = deriveDataSeed(hexToHash(runSeed), address, round);
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 8n) | BigInt(seed[i]);
  return value;
}
