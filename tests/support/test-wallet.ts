// A test double of a Polkadot wallet extension that signs EXACTLY like the real
// one (polkadot{.js} extension-base, RequestBytesSign): signRaw looks up the
// key pair by the requested address (any SS58 prefix, as keyring.getPair does),
// signs u8aWrapBytes(data) with it, and answers {id, signature: 0x + 64 bytes}.
// The key is a keyring account from a dev URI (default //Alice), SS58 prefix 42.
//
// Three ways to use it:
//   - wallet.signer: the Signer, for Node tests (signHeader(wallet.signer, h));
//   - wallet.injected: {version, enable}, for a window.injectedWeb3 in Node;
//   - await wallet.install(page): for Playwright. The page gets the plain-JS
//     script test-wallet-page.js (not transpiled; see that file) and the
//     keyring stays in the test process behind page.exposeFunction.
// A refusing wallet (refuse: true) rejects every signRaw with Error('Cancelled'),
// the extension's answer when the user presses Cancel.
//
// Leaves out: the authorization popup of enable() (always granted), metadata,
// providers, signPayload (transactions), account subscriptions that change.
import { readFileSync } from 'node:fs';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aEq, u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { decodeAddress } from '@polkadot/util-crypto';

export interface TestWalletOptions {
  /** Secret URI of the one account (default '//Alice'). */
  uri?: string;
  /** Key type (default sr25519; ed25519 exists to test that such accounts are refused). */
  keyType?: 'sr25519' | 'ed25519';
  /** Key under window.injectedWeb3 (the extension's name). */
  name?: string;
  version?: string;
  /** Account name shown by web3Accounts. */
  accountName?: string;
  /** Reject every signRaw with Error('Cancelled'), like a user pressing Cancel. */
  refuse?: boolean;
}

export interface RawSignRequest {
  address: string;
  data: string;
  type: 'bytes' | 'payload';
}

export interface InjectedAccountLike {
  address: string;
  genesisHash: string | null;
  name: string;
  type: 'sr25519' | 'ed25519';
}

export interface TestSigner {
  signRaw(raw: RawSignRequest): Promise<{ id: number; signature: `0x${string}` }>;
}

export interface InjectedLike {
  accounts: {
    get(anyType?: boolean): Promise<InjectedAccountLike[]>;
    subscribe(callback: (accounts: InjectedAccountLike[]) => void): () => void;
  };
  signer: TestSigner;
}

/** The part of a Playwright Page the wallet needs (playwright-core's Page fits). */
export interface PageLike {
  exposeFunction(name: string, callback: (request: RawSignRequest) => unknown): Promise<unknown>;
  addInitScript(script: { content: string }): Promise<unknown>;
}

export interface TestWallet {
  readonly name: string;
  readonly version: string;
  /** SS58 prefix 42. */
  readonly address: string;
  readonly publicKey: Uint8Array;
  readonly pair: KeyringPair;
  readonly signer: TestSigner;
  /** window.injectedWeb3[name] for a Node-side window. */
  readonly injected: { version: string; enable(originName: string): Promise<InjectedLike> };
  /** Every signRaw request received, in order (including refused ones). */
  readonly requests: RawSignRequest[];
  /** The page-side script with this wallet's configuration, for addInitScript. */
  pageScript(): string;
  /** Exposes the signing function and adds the page script; call before page.goto. */
  install(page: PageLike): Promise<void>;
}

const pageSource = readFileSync(new URL('./test-wallet-page.js', import.meta.url), 'utf8');

export function createTestWallet(options: TestWalletOptions = {}): TestWallet {
  const keyType = options.keyType ?? 'sr25519';
  const name = options.name ?? 'tessera-test-wallet';
  const version = options.version ?? '0.0.0-test';
  const keyring = new Keyring({ type: keyType, ss58Format: 42 });
  const pair = keyring.addFromUri(options.uri ?? '//Alice', { name: options.accountName ?? 'Test account' });
  const account: InjectedAccountLike = { address: pair.address, genesisHash: null, name: options.accountName ?? 'Test account', type: keyType };
  const requests: RawSignRequest[] = [];
  let nextId = 0;

  // The extension's order: find the key pair (fails before any popup), then ask the user.
  const signRaw = async (raw: RawSignRequest) => {
    requests.push({ address: raw.address, data: raw.data, type: raw.type });
    let publicKey: Uint8Array;
    try {
      publicKey = decodeAddress(raw.address);
    } catch {
      throw new Error('Unable to find keypair');
    }
    if (!u8aEq(publicKey, pair.publicKey)) throw new Error('Unable to find keypair');
    if (options.refuse) throw new Error('Cancelled');
    nextId += 1;
    return { id: nextId, signature: u8aToHex(pair.sign(u8aWrapBytes(raw.data))) };
  };
  const signer: TestSigner = { signRaw };

  const injected = {
    version,
    enable: async (originName: string): Promise<InjectedLike> => {
      if (!originName) throw new Error('an origin name is required');
      return {
        accounts: {
          get: async () => [{ ...account }],
          subscribe: (callback) => {
            void Promise.resolve().then(() => callback([{ ...account }]));
            return () => {};
          },
        },
        signer,
      };
    },
  };

  // One exposed function per wallet name, so two wallets can share a page.
  const signFunction = `__tesseraTestWallet_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const pageScript = () =>
    `${pageSource}\ninstallTesseraTestWallet(${JSON.stringify({ name, version, accounts: [account], signFunction })});\n`;

  return {
    name,
    version,
    address: pair.address,
    publicKey: pair.publicKey,
    pair,
    signer,
    injected,
    requests,
    pageScript,
    async install(page: PageLike) {
      // Errors go back as data: the page script rethrows them with the extension's exact message.
      await page.exposeFunction(signFunction, (request) =>
        signRaw(request).then(
          ({ signature }) => ({ signature }),
          (error: Error) => ({ error: error.message }),
        ),
      );
      await page.addInitScript({ content: pageScript() });
    },
  };
}
