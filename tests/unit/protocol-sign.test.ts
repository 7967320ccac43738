// Signing through an extension-shaped wallet and the relay's strict check.
// Every ProtocolError code of sign.ts / address.ts is produced by a crafted
// case; valid signatures are cross-checked with util-crypto's own
// signatureVerify so the strict path is not merely self-consistent.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Signer } from '@polkadot/api/types';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady, encodeAddress, signatureVerify } from '@polkadot/util-crypto';
import { publicKeyFromAddress } from '../../src/protocol/address.ts';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { encodeHeader, payloadHash, type SubmissionHeader } from '../../src/protocol/header.ts';
import { signHeader, verifySubmission, walletSignatureBytes, type RawSigner } from '../../src/protocol/sign.ts';
import { createTestWallet } from '../support/test-wallet.ts';
import { protocolCodeOfAsync } from '../support/protocol-error-code.ts';

// @polkadot/api's Signer (what web3FromAddress returns) must be usable as a RawSigner.
const _signerFits: (signer: Signer) => RawSigner = (signer) => signer;
void _signerFits;

const alice = createTestWallet({ uri: '//Alice' });
const bob = createTestWallet({ uri: '//Bob' });

function headerFor(address: string, payload = new Uint8Array([1, 2, 3, 4, 5])): SubmissionHeader {
  return {
    runId: 'test-run',
    round: 3,
    baseModelVersion: 2,
    baseModelHash: new Uint8Array(32).fill(7),
    payloadHash: payloadHash(payload),
    payloadBytes: payload.length,
    address,
    innerSteps: 15,
    tokens: 15 * 4 * 64,
    clientVersion: 'tessera/test',
  };
}

const codeOf = protocolCodeOfAsync;

beforeAll(async () => {
  await cryptoWaitReady();
});

describe('signHeader + verifySubmission', () => {
  it('accepts a signature made the way the extension makes it', async () => {
    const header = headerFor(alice.address);
    const signed = await signHeader(alice.signer, header);
    expect(signed.signature.length).toBe(64);
    expect(alice.requests.at(-1)).toEqual({ address: alice.address, data: u8aToHex(signed.headerBytes), type: 'bytes' });
    expect(verifySubmission(signed.headerBytes, signed.signature, alice.address)).toEqual(header);
    expect(verifySubmission(signed.headerBytes, u8aToHex(signed.signature), alice.address)).toEqual(header);
    // Independent check: the library's permissive verifier agrees it is an sr25519 signature over the wrapped bytes.
    const library = signatureVerify(u8aWrapBytes(signed.headerBytes), signed.signature, alice.address);
    expect([library.isValid, library.crypto]).toEqual([true, 'sr25519']);
    // sr25519 is randomized: a second signature differs and verifies too.
    const again = await signHeader(alice.signer, header);
    expect(u8aToHex(again.signature)).not.toBe(u8aToHex(signed.signature));
    expect(verifySubmission(again.headerBytes, again.signature, alice.address)).toEqual(header);
  });

  it('refuses a signature by another key (bad-signature)', async () => {
    const headerBytes = encodeHeader(headerFor(alice.address));
    const byBob = bob.pair.sign(u8aWrapBytes(headerBytes));
    expect(await codeOf(() => verifySubmission(headerBytes, byBob, alice.address))).toBe('bad-signature');
  });

  it('refuses a signature over the unwrapped bytes (unwrapped-signature)', async () => {
    const headerBytes = encodeHeader(headerFor(alice.address));
    const unwrapped = alice.pair.sign(headerBytes);
    // util-crypto's signatureVerify would accept this one; the protocol does not.
    expect(signatureVerify(headerBytes, unwrapped, alice.address).isValid).toBe(true);
    expect(await codeOf(() => verifySubmission(headerBytes, unwrapped, alice.address))).toBe('unwrapped-signature');
  });

  it('refuses a tampered header byte and a tampered payload hash (bad-signature)', async () => {
    const signed = await signHeader(alice.signer, headerFor(alice.address));
    const roundAt = 2 + 21 + 2 + 'test-run'.length;
    const tamperedRound = signed.headerBytes.slice();
    tamperedRound[roundAt] ^= 1;
    expect(await codeOf(() => verifySubmission(tamperedRound, signed.signature, alice.address))).toBe('bad-signature');
    const payloadHashAt = roundAt + 4 + 4 + 32;
    const tamperedHash = signed.headerBytes.slice();
    tamperedHash[payloadHashAt + 5] ^= 0x80;
    expect(await codeOf(() => verifySubmission(tamperedHash, signed.signature, alice.address))).toBe('bad-signature');
    const tamperedSignature = signed.signature.slice();
    tamperedSignature[10] ^= 1;
    expect(await codeOf(() => verifySubmission(signed.headerBytes, tamperedSignature, alice.address))).toBe('bad-signature');
  });

  it('refuses a claimed address that is not the header address (address-mismatch)', async () => {
    const signedByAlice = await signHeader(alice.signer, headerFor(alice.address));
    expect(await codeOf(() => verifySubmission(signedByAlice.headerBytes, signedByAlice.signature, bob.address))).toBe('address-mismatch');
    // Bob re-signs Alice's header: still Alice's header, so Bob cannot claim it...
    const bobSig = bob.pair.sign(u8aWrapBytes(signedByAlice.headerBytes));
    expect(await codeOf(() => verifySubmission(signedByAlice.headerBytes, bobSig, bob.address))).toBe('address-mismatch');
    // ...and it does not verify as Alice's either.
    expect(await codeOf(() => verifySubmission(signedByAlice.headerBytes, bobSig, alice.address))).toBe('bad-signature');
  });

  it('refuses other prefixes (wrong-prefix) and anything that is not an SS58 prefix-42 key (bad-address)', async () => {
    const signed = await signHeader(alice.signer, headerFor(alice.address));
    const verifyAs = (address: unknown) => codeOf(() => verifySubmission(signed.headerBytes, signed.signature, address as string));
    const polkadot = encodeAddress(alice.publicKey, 0);
    const kusama = encodeAddress(alice.publicKey, 2);
    expect(polkadot).toBe('15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5');
    expect(await verifyAs(polkadot)).toBe('wrong-prefix');
    expect(await verifyAs(kusama)).toBe('wrong-prefix');
    expect(await verifyAs(encodeAddress(alice.publicKey, 1284))).toBe('wrong-prefix'); // two-byte prefix
    expect(await verifyAs(u8aToHex(alice.publicKey))).toBe('bad-address'); // hex public key
    expect(await verifyAs(u8aToHex(alice.publicKey).toUpperCase().replace('0X', '0x'))).toBe('bad-address');
    expect(await verifyAs(alice.publicKey)).toBe('bad-address'); // raw key bytes
    expect(await verifyAs(encodeAddress(new Uint8Array([1, 2]), 42))).toBe('bad-address'); // account index
    expect(await verifyAs(encodeAddress(new Uint8Array(33).fill(2), 42))).toBe('bad-address'); // 33-byte (ecdsa) key
    const flipped = alice.address.slice(0, 20) + (alice.address[20] === 'a' ? 'b' : 'a') + alice.address.slice(21);
    expect(await verifyAs(flipped)).toBe('bad-address'); // checksum
    expect(await verifyAs('')).toBe('bad-address');
    expect(await verifyAs('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQ0')).toBe('bad-address'); // '0' is not base58
    expect(await verifyAs(alice.address + alice.address)).toBe('bad-address');
    expect(publicKeyFromAddress(alice.address)).toEqual(alice.publicKey);
  });

  it('refuses malformed signatures (bad-signature)', async () => {
    const headerBytes = encodeHeader(headerFor(alice.address));
    for (const signature of [new Uint8Array(63), new Uint8Array(65), '0x' + '00'.repeat(63), '00'.repeat(64), '0x' + 'zz'.repeat(64), new Uint8Array(64)]) {
      expect(await codeOf(() => verifySubmission(headerBytes, signature, alice.address))).toBe('bad-signature');
    }
  });

  it('refuses an ed25519 account at signing time, in front of the user', async () => {
    const edWallet = createTestWallet({ uri: '//Alice', keyType: 'ed25519' });
    expect(await codeOf(() => signHeader(edWallet.signer, headerFor(edWallet.address)))).toBe('bad-signature');
  });

  it('reports a refusing wallet as signer-refused, with the wallet error as cause', async () => {
    const refusing = createTestWallet({ uri: '//Alice', refuse: true });
    const error = await signHeader(refusing.signer, headerFor(refusing.address)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('signer-refused');
    expect(((error as ProtocolError).cause as Error).message).toBe('Cancelled');
    expect(refusing.requests.length).toBe(1);
  });

  it('reports a wallet asked for an account it does not hold as signer-refused', async () => {
    const error = await signHeader(bob.signer, headerFor(alice.address)).catch((e: unknown) => e);
    expect((error as ProtocolError).code).toBe('signer-refused');
    expect(((error as ProtocolError).cause as Error).message).toBe('Unable to find keypair');
  });

  it('reports a wallet without signRaw as signer-unsupported', async () => {
    expect(await codeOf(() => signHeader({}, headerFor(alice.address)))).toBe('signer-unsupported');
  });

  it('unwraps an sr25519 MultiSignature and refuses other key types', () => {
    const message = u8aWrapBytes(new Uint8Array([9, 9, 9]));
    const typed = alice.pair.sign(message, { withType: true });
    expect(typed[0]).toBe(1);
    expect(walletSignatureBytes(u8aToHex(typed))).toEqual(typed.slice(1));
    const ed = createTestWallet({ uri: '//Alice', keyType: 'ed25519' }).pair.sign(message, { withType: true });
    expect(ed[0]).toBe(0);
    expect(() => walletSignatureBytes(u8aToHex(ed))).toThrow(/ed25519/);
  });
});

describe('keyring dev accounts', () => {
  it('are the well-known prefix-42 addresses', () => {
    expect(alice.address).toBe('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY');
    expect(bob.address).toBe('5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty');
    expect(new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Alice').address).toBe(alice.address);
  });
});
