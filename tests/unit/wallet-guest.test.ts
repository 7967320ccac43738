// Guest mode: a locally generated sr25519 key signs exactly like a wallet
// extension — its signature over <Bytes>header</Bytes> passes the relay's
// strict verifySubmission, a Keyring importing the same phrase (as an
// extension does) gets the same address, it refuses addresses it does not hold
// with the extension's message, and the key persists in IndexedDB.
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicValidate } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import { isValidAddress } from '../../src/protocol/address.ts';
import { encodeHeader, payloadHash, type SubmissionHeader } from '../../src/protocol/header.ts';
import { signHeader, verifySubmission } from '../../src/protocol/sign.ts';
import { openDatabase } from '../../src/storage/index.ts';
import {
  GUEST_SOURCE,
  WalletError,
  chooseAccount,
  createGuestKey,
  ensureGuestKey,
  guestAccount,
  guestSigner,
  rememberedAccount,
  signerFor,
} from '../../src/wallet/index.ts';

function headerFor(address: string): SubmissionHeader {
  const payload = new Uint8Array([1, 2, 3, 4, 5]);
  return {
    runId: 'guest-run',
    round: 7,
    baseModelVersion: 6,
    baseModelHash: new Uint8Array(32).fill(9),
    payloadHash: payloadHash(payload),
    payloadBytes: payload.length,
    address,
    innerSteps: 15,
    tokens: 15 * 512,
    clientVersion: 'tessera/test',
  };
}

beforeAll(async () => {
  await cryptoWaitReady();
});

describe('guest key', () => {
  it('is 12 BIP-39 words with an SS58-42 address that a wallet importing the phrase derives too', () => {
    const key = createGuestKey(123);
    expect(key.mnemonic.split(' ')).toHaveLength(12);
    expect(mnemonicValidate(key.mnemonic)).toBe(true);
    expect(isValidAddress(key.address)).toBe(true);
    expect(key.createdAt).toBe(123);
    const imported = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromMnemonic(key.mnemonic);
    expect(imported.address).toBe(key.address);
    expect(createGuestKey().address).not.toBe(key.address);
  });

  it('signs so that signHeader and the strict verifySubmission accept it', async () => {
    const key = createGuestKey();
    const signer = guestSigner(key);
    const header = headerFor(key.address);
    const signed = await signHeader(signer, header);
    expect(signed.signature).toHaveLength(64);
    expect(verifySubmission(encodeHeader(header), signed.signature, key.address)).toEqual(header);
    // Another key's header fails verification with this key's signature.
    const other = createGuestKey();
    expect(() => verifySubmission(encodeHeader(headerFor(other.address)), signed.signature, other.address)).toThrow(/does not verify/);
  });

  it('refuses addresses it does not hold and non-bytes requests, like an extension', async () => {
    const key = createGuestKey();
    const signer = guestSigner(key);
    const stranger = createGuestKey().address;
    const data = u8aToHex(new Uint8Array([1, 2, 3]));
    await expect(signer.signRaw({ address: stranger, data, type: 'bytes' })).rejects.toThrow('Unable to find keypair');
    await expect(signer.signRaw({ address: 'not an address', data, type: 'bytes' })).rejects.toThrow('Unable to find keypair');
    await expect(signer.signRaw({ address: key.address, data, type: 'payload' as 'bytes' })).rejects.toThrow(/raw bytes/);
  });

  it('rejects a stored key whose phrase does not match its address', () => {
    const key = createGuestKey();
    const damaged = { ...key, address: createGuestKey().address };
    expect(() => guestSigner(damaged)).toThrow(WalletError);
    expect(() => guestSigner({ ...key, mnemonic: 'not a phrase' })).toThrow(/guest key stored in this browser is damaged/);
  });

  it('persists in IndexedDB, is remembered as the chosen account, and signs after a reopen', async () => {
    const name = 'tessera-wallet-guest';
    const db = await openDatabase({ name });
    const account = await guestAccount(db);
    expect(account).toMatchObject({ kind: 'guest', source: GUEST_SOURCE });
    expect((await ensureGuestKey(db)).address).toBe(account.address);
    await chooseAccount(db, account);
    db.close();

    const again = await openDatabase({ name });
    const remembered = await rememberedAccount(again);
    expect(remembered).toEqual({ kind: 'guest', source: GUEST_SOURCE, address: account.address, name: account.name });
    const signer = await signerFor(again, remembered!);
    const signed = await signHeader(signer, headerFor(account.address));
    expect(verifySubmission(signed.headerBytes, signed.signature, account.address).round).toBe(7);
    await expect(signerFor(again, { ...remembered!, address: createGuestKey().address })).rejects.toThrow(WalletError);
    again.close();
  });
});
