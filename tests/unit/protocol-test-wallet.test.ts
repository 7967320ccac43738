// The test wallet through the REAL @polkadot/extension-dapp code path, in Node:
// web3Enable → web3Accounts → web3FromAddress → signer.signRaw, then the
// relay's strict check. The page-side script (tests/support/test-wallet-page.js)
// runs in a separate V8 context (node:vm) holding only `window`, the way
// addInitScript runs it in a page; exposeFunction becomes a property of that
// window. extension-dapp reads `window` and `document` at import, so both are
// set on globalThis before the dynamic import and removed afterwards.
// The browser run of the same script is the e2e tier's job.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runInNewContext } from 'node:vm';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { payloadHash, type SubmissionHeader } from '../../src/protocol/header.ts';
import { signHeader, verifySubmission } from '../../src/protocol/sign.ts';
import { createTestWallet, type PageLike } from '../support/test-wallet.ts';

const fakeWindow: Record<string, unknown> = {};
const page: PageLike = {
  exposeFunction: async (name, callback) => {
    fakeWindow[name] = callback;
  },
  addInitScript: async ({ content }) => {
    runInNewContext(content, { window: fakeWindow });
  },
};

const alice = createTestWallet({ uri: '//Alice', name: 'alice-wallet' });
const refusing = createTestWallet({ uri: '//Bob', name: 'refusing-wallet', refuse: true });
const direct = createTestWallet({ uri: '//Charlie', name: 'direct-wallet' });

function headerFor(address: string): SubmissionHeader {
  const payload = new Uint8Array([5, 4, 3]);
  return {
    runId: 'wallet-run',
    round: 1,
    baseModelVersion: 0,
    baseModelHash: new Uint8Array(32),
    payloadHash: payloadHash(payload),
    payloadBytes: payload.length,
    address,
    innerSteps: 1,
    tokens: 64,
    clientVersion: 'tessera/test',
  };
}

let dapp: typeof import('@polkadot/extension-dapp');

beforeAll(async () => {
  await cryptoWaitReady();
  Reflect.set(globalThis, 'window', fakeWindow);
  Reflect.set(globalThis, 'document', { readyState: 'complete' });
  vi.spyOn(console, 'info').mockImplementation(() => {});
  await alice.install(page);
  await refusing.install(page);
  (fakeWindow.injectedWeb3 as Record<string, unknown>)[direct.name] = direct.injected;
  dapp = await import('@polkadot/extension-dapp');
  await dapp.web3Enable('tessera-unit-test');
});

afterAll(() => {
  Reflect.deleteProperty(globalThis, 'window');
  Reflect.deleteProperty(globalThis, 'document');
  vi.restoreAllMocks();
});

describe('test wallet under @polkadot/extension-dapp', () => {
  it('is found as three extensions with one prefix-42 account each', async () => {
    const accounts = await dapp.web3Accounts({ ss58Format: 42 });
    expect(accounts.map((a) => [a.meta.source, a.address, a.type])).toEqual([
      ['alice-wallet', alice.address, 'sr25519'],
      ['refusing-wallet', refusing.address, 'sr25519'],
      ['direct-wallet', direct.address, 'sr25519'],
    ]);
  });

  it('signs through the page script so that the strict check accepts it', async () => {
    const injector = await dapp.web3FromAddress(alice.address);
    expect(injector.name).toBe('alice-wallet');
    const header = headerFor(alice.address);
    const signed = await signHeader(injector.signer, header);
    expect(verifySubmission(signed.headerBytes, signed.signature, alice.address)).toEqual(header);
    expect(alice.requests.length).toBe(1);
  });

  it('signs through the Node-side injected object too', async () => {
    const injector = await dapp.web3FromAddress(direct.address);
    const signed = await signHeader(injector.signer, headerFor(direct.address));
    expect(verifySubmission(signed.headerBytes, signed.signature, direct.address).address).toBe(direct.address);
  });

  it('a refusing wallet rejects with the extension message "Cancelled"', async () => {
    const injector = await dapp.web3FromAddress(refusing.address);
    const raw = injector.signer.signRaw!({ address: refusing.address, data: '0x0102', type: 'bytes' });
    await expect(raw).rejects.toThrow(/^Cancelled$/);
    const error = await signHeader(injector.signer, headerFor(refusing.address)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('signer-refused');
    expect((error as ProtocolError).message).toMatch(/Cancelled$/);
  });

  it('the page script is plain JavaScript with no transpiler helpers', () => {
    const script = alice.pageScript();
    expect(script).not.toMatch(/__name\(|__awaiter\(|__assign\(|require\(/);
    expect(script).toContain('installTesseraTestWallet({"name":"alice-wallet"');
  });
});
