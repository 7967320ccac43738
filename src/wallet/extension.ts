// Wallet extensions through @polkadot/extension-dapp: find the injected
// extensions (web3Enable), list their sr25519 accounts as SS58 prefix 42
// (Bittensor), and hand out an extension's signer for one address.
// extension-dapp reads `window` when it is imported, so it is imported
// dynamically, only when the user asks to connect (and never in the Worker or
// in Node code paths).
//
// Telling the failures apart (web3Enable resolves [] for all of them):
//   nothing under window.injectedWeb3         → 'no-extension'
//   extensions present, none enabled          → 'access-refused'
//   enabled, but no sr25519 account           → 'no-accounts'
// Leaves out: account subscriptions (the panel re-lists on "Connect"), chain
// metadata and transaction signing (Tessera signs raw bytes only).
import type { RawSigner } from '../protocol/sign.ts';
import { SS58_PREFIX } from '../protocol/address.ts';
import { WalletError } from './errors.ts';

export const APP_NAME = 'Tessera';

export interface ExtensionAccount {
  source: string; // extension name
  address: string; // SS58-42
  name: string | null;
}

type Dapp = typeof import('@polkadot/extension-dapp');
let dapp: Promise<Dapp> | null = null;
let enabled: Promise<unknown[]> | null = null;

function loadDapp(): Promise<Dapp> {
  dapp ??= import('@polkadot/extension-dapp');
  return dapp;
}

function injectedNames(): string[] {
  const injected = (globalThis as { window?: { injectedWeb3?: Record<string, unknown> } }).window?.injectedWeb3;
  return injected ? Object.keys(injected) : [];
}

/** Asks every extension for access (each may show a popup) and lists the usable accounts. */
export async function connectExtensions(appName = APP_NAME): Promise<ExtensionAccount[]> {
  const { web3Enable, web3Accounts } = await loadDapp();
  enabled = web3Enable(appName);
  const extensions = await enabled;
  if (extensions.length === 0) throw new WalletError(injectedNames().length === 0 ? 'no-extension' : 'access-refused');
  const all = await web3Accounts({ ss58Format: SS58_PREFIX });
  // Accounts without a type come from old extensions; signHeader's check catches a non-sr25519 one.
  const usable = all.filter((account) => account.type === undefined || account.type === 'sr25519');
  if (usable.length === 0) {
    const types = [...new Set(all.map((account) => account.type))].join(', ');
    throw new WalletError('no-accounts', all.length ? { detail: `only ${types} accounts are allowed for this site` } : undefined);
  }
  return usable.map((account) => ({ source: account.meta.source, address: account.address, name: account.meta.name ?? null }));
}

/** The signer of the extension that holds `address` (after connectExtensions). */
export async function extensionSigner(address: string, appName = APP_NAME): Promise<RawSigner> {
  const { web3Enable, web3FromAddress } = await loadDapp();
  enabled ??= web3Enable(appName);
  await enabled;
  try {
    const injector = await web3FromAddress(address);
    return injector.signer as RawSigner;
  } catch (cause) {
    throw new WalletError('access-refused', { cause, detail: `no enabled extension holds ${address}` });
  }
}
