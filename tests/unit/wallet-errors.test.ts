// Wallet failures reach the user as plain-language WalletErrors: the four the
// brief names (no extension, access refused, no accounts, signature refused)
// through the REAL @polkadot/extension-dapp path with test extensions in a
// Node-side window, plus the mapping of protocol and foreign errors.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { payloadHash, type SubmissionHeader } from '../../src/protocol/header.ts';
import { signHeader, verifySubmission } from '../../src/protocol/sign.ts';
import { WalletError, connectExtensions, explainWalletError, extensionSigner } from '../../src/wallet/index.ts';
import { createTestWallet } from '../support/test-wallet.ts';

const fakeWindow: { injectedWeb3: Record<string, unknown> } = { injectedWeb3: {} };
const alice = createTestWallet({ uri: '//Alice', name: 'alice-wallet', accountName: 'Alice' });
const refusing = createTestWallet({ uri: '//Bob', name: 'refusing-wallet', refuse: true });
const edOnly = createTestWallet({ uri: '//Dave', name: 'ed-wallet', keyType: 'ed25519' });

function headerFor(address: string): SubmissionHeader {
  const payload = new Uint8Array([9, 9]);
  return {
    runId: 'wallet-errors',
    round: 2,
    baseModelVersion: 1,
    baseModelHash: new Uint8Array(32),
    payloadHash: payloadHash(payload),
    payloadBytes: payload.length,
    address,
    innerSteps: 1,
    tokens: 32,
    clientVersion: 'tessera/test',
  };
}

async function failure(promise: Promise<unknown>): Promise<WalletError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(WalletError);
  return error as WalletError;
}

beforeAll(async () => {
  await cryptoWaitReady();
  Reflect.set(globalThis, 'window', fakeWindow);
  Reflect.set(globalThis, 'document', { readyState: 'complete' });
  vi.spyOn(console, 'info').mockImplementation(() => {});
});

beforeEach(() => {
  fakeWindow.injectedWeb3 = {};
});

afterAll(() => {
  Reflect.deleteProperty(globalThis, 'window');
  Reflect.deleteProperty(globalThis, 'document');
  vi.restoreAllMocks();
});

describe('connecting to extensions', () => {
  it('says plainly that no extension is installed', async () => {
    const error = await failure(connectExtensions());
    expect(error.code).toBe('no-extension');
    expect(error.message).toBe('No Polkadot wallet extension was found in this browser.');
    expect(error.advice).toMatch(/Install polkadot\{\.js\}, Talisman or SubWallet.*guest/);
  });

  it('says plainly that the user refused access', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    fakeWindow.injectedWeb3['locked-wallet'] = { version: '1', enable: async () => Promise.reject(new Error('Rejected')) };
    const error = await failure(connectExtensions());
    expect(error.code).toBe('access-refused');
    expect(error.message).toBe('Your wallet extension did not give Tessera access to your accounts.');
    expect(consoleError).toHaveBeenCalled(); // extension-dapp logs the refusal itself
    consoleError.mockRestore();
  });

  it('says plainly that there is no usable account, naming the types it saw', async () => {
    fakeWindow.injectedWeb3[edOnly.name] = edOnly.injected;
    const error = await failure(connectExtensions());
    expect(error.code).toBe('no-accounts');
    expect(error.message).toBe('Your wallet has no account Tessera can use. (only ed25519 accounts are allowed for this site)');
  });

  it('lists sr25519 accounts as SS58-42 and signs through the extension', async () => {
    fakeWindow.injectedWeb3[alice.name] = alice.injected;
    fakeWindow.injectedWeb3[edOnly.name] = edOnly.injected;
    const accounts = await connectExtensions();
    expect(accounts).toEqual([{ source: 'alice-wallet', address: alice.address, name: 'Alice' }]);
    expect(alice.address.startsWith('5')).toBe(true);
    const signer = await extensionSigner(alice.address);
    const signed = await signHeader(signer, headerFor(alice.address));
    expect(verifySubmission(signed.headerBytes, signed.signature, alice.address).round).toBe(2);
  });

  it('says plainly that the user refused to sign', async () => {
    fakeWindow.injectedWeb3[refusing.name] = refusing.injected;
    await connectExtensions();
    const signer = await extensionSigner(refusing.address);
    const error = explainWalletError(await signHeader(signer, headerFor(refusing.address)).catch((e: unknown) => e));
    expect(error.code).toBe('signature-refused');
    expect(error.message).toBe("You declined to sign the submission, so this round's work was not sent.");
    expect(error.advice).toMatch(/Approve the next signature request/);
    expect((error.cause as ProtocolError).code).toBe('signer-refused');
  });
});

describe('explainWalletError', () => {
  it('maps protocol and foreign errors to plain wallet errors', () => {
    expect(explainWalletError(new ProtocolError('signer-unsupported', 'x')).code).toBe('unsupported-signer');
    const wrongKey = explainWalletError(new ProtocolError('bad-signature', 'the wallet signed with a ed25519 key; choose an sr25519 account'));
    expect(wrongKey.code).toBe('wrong-key-type');
    expect(wrongKey.message).toContain('not an sr25519 key');
    expect(explainWalletError(new ProtocolError('unwrapped-signature', 'x')).code).toBe('wrong-key-type');
    const foreign = explainWalletError({ message: 'Extension context invalidated' });
    expect(foreign.code).toBe('failed');
    expect(foreign.message).toBe('The wallet did not answer as expected. (Extension context invalidated)');
    const same = new WalletError('no-accounts');
    expect(explainWalletError(same)).toBe(same);
  });
});
