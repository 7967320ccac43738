// Guest mode: an sr25519 key made in this browser, for kiosks, demos and
// anyone without a wallet extension. It is kept in IndexedDB (settings store)
// as a 12-word phrase, so it survives reloads, and it is always shown as a
// guest: it lives on this device only, and whoever can read this browser's
// storage can sign with it. Credit earned by a guest key can be claimed later
// by importing the phrase into a wallet extension: the seed is derived exactly
// as extensions derive it (BIP-39 entropy → mnemonicToMiniSecret → sr25519),
// so the extension shows the same address.
//
// The signer behaves like an extension's signRaw: it signs u8aWrapBytes(data)
// (<Bytes>…</Bytes>), answers {id, signature}, and refuses addresses it does
// not hold with the extension's own message, so src/protocol/sign.ts treats
// guest and extension accounts identically.
// Leaves out: encrypting the phrase at rest (a password prompt would defeat a
// kiosk; the key carries no funds by design).
import { hexToU8a, u8aEq, u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { decodeAddress, encodeAddress, mnemonicGenerate, mnemonicToMiniSecret, sr25519PairFromSeed, sr25519Sign } from '@polkadot/util-crypto';
import type { RawSigner } from '../protocol/sign.ts';
import { SS58_PREFIX } from '../protocol/address.ts';
import { getSetting, setSetting, type GuestKeyRecord, type TesseraDatabase } from '../storage/index.ts';
import { WalletError } from './errors.ts';

export const GUEST_SOURCE = 'guest';
export const GUEST_LABEL = 'Guest key (this browser only)';

function keypairOf(mnemonic: string) {
  return sr25519PairFromSeed(mnemonicToMiniSecret(mnemonic));
}

/** A fresh guest key: 12 random BIP-39 words and their SS58-42 sr25519 address. */
export function createGuestKey(now = Date.now()): GuestKeyRecord {
  const mnemonic = mnemonicGenerate(12);
  return { mnemonic, address: encodeAddress(keypairOf(mnemonic).publicKey, SS58_PREFIX), createdAt: now };
}

/** A signer with an extension's signRaw for the guest key. Throws WalletError if the record is inconsistent. */
export function guestSigner(key: GuestKeyRecord): Required<RawSigner> & { address: string } {
  let pair: ReturnType<typeof keypairOf>;
  try {
    pair = keypairOf(key.mnemonic);
  } catch (cause) {
    throw new WalletError('guest-key-damaged', { cause });
  }
  if (encodeAddress(pair.publicKey, SS58_PREFIX) !== key.address) throw new WalletError('guest-key-damaged', { detail: 'its phrase gives another address' });
  let nextId = 0;
  return {
    address: key.address,
    async signRaw({ address, data, type }) {
      // The extension's checks, in its order: the key must be ours, the request raw bytes.
      let ours = false;
      try {
        ours = u8aEq(decodeAddress(address), pair.publicKey); // any SS58 prefix, as keyring.getPair accepts
      } catch {
        ours = false;
      }
      if (!ours) throw new Error('Unable to find keypair');
      if (type !== 'bytes') throw new Error('Only raw bytes can be signed by a guest key');
      nextId += 1;
      return { id: nextId, signature: u8aToHex(sr25519Sign(u8aWrapBytes(hexToU8a(data)), pair)) };
    },
  };
}

/** The stored guest key, or null if this browser has none. */
export function loadGuestKey(db: TesseraDatabase): Promise<GuestKeyRecord | null> {
  return getSetting(db, 'guestKey');
}

/** The stored guest key, created and stored on first use. */
export async function ensureGuestKey(db: TesseraDatabase, now = Date.now()): Promise<GuestKeyRecord> {
  const existing = await loadGuestKey(db);
  if (existing) return existing;
  const key = createGuestKey(now);
  await setSetting(db, 'guestKey', key);
  return key;
}
