// A signer backed by a local keyring pair (a dev URI like //Alice, a mnemonic,
// or a mnemonic with a derivation path) that signs EXACTLY like a wallet
// extension's signRaw: sr25519 over u8aWrapBytes(data), answered as 0x hex.
// The headless volunteer uses it; a kiosk's guest key could too. The relay
// cannot tell it from an extension, which is the point.
// Leaves out: key storage (the secret comes from the caller), other key types.
import { Keyring } from '@polkadot/keyring';
import { u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { SS58_PREFIX, type RawSigner } from '../protocol/index.ts';

export interface KeyringSigner {
  /** SS58 prefix-42 address of the key. */
  address: string;
  signer: Required<RawSigner>;
}

export function keyringSigner(secret: string): KeyringSigner {
  const pair = new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX }).addFromUri(secret);
  return {
    address: pair.address,
    signer: {
      signRaw: async ({ address, data }) => {
        // The extension looks the key up by address and refuses others the same way.
        if (address !== pair.address) throw new Error('Unable to find keypair');
        return { signature: u8aToHex(pair.sign(u8aWrapBytes(data))) };
      },
    },
  };
}
