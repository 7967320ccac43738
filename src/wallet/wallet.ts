// The wallet facade the app uses: one account type for extension and guest
// accounts, the remembered choice (settings store), and a signer for the
// chosen account. Signing itself is src/protocol/sign.ts's signHeader, which
// works the same for both kinds.
// Leaves out: UI (src/app/wallet-panel.tsx).
import type { RawSigner } from '../protocol/sign.ts';
import { getSetting, setSetting, type ChosenAccount, type TesseraDatabase } from '../storage/index.ts';
import { WalletError } from './errors.ts';
import { extensionSigner } from './extension.ts';
import { GUEST_LABEL, GUEST_SOURCE, ensureGuestKey, guestSigner, loadGuestKey } from './guest.ts';

export interface WalletAccount extends ChosenAccount {
  kind: 'extension' | 'guest';
}

export function accountKind(account: ChosenAccount): WalletAccount['kind'] {
  return account.source === GUEST_SOURCE ? 'guest' : 'extension';
}

/** The guest account of this browser, created on first use. */
export async function guestAccount(db: TesseraDatabase): Promise<WalletAccount> {
  const key = await ensureGuestKey(db);
  return { kind: 'guest', source: GUEST_SOURCE, address: key.address, name: GUEST_LABEL };
}

export async function chooseAccount(db: TesseraDatabase, account: ChosenAccount): Promise<WalletAccount> {
  const chosen = { source: account.source, address: account.address, name: account.name };
  await setSetting(db, 'account', chosen);
  return { ...chosen, kind: accountKind(chosen) };
}

export async function forgetAccount(db: TesseraDatabase): Promise<void> {
  await setSetting(db, 'account', null);
}

/** The account chosen on an earlier visit, or null. */
export async function rememberedAccount(db: TesseraDatabase): Promise<WalletAccount | null> {
  const account = await getSetting(db, 'account');
  return account ? { ...account, kind: accountKind(account) } : null;
}

/** A signer for the account: the guest key from storage, or the extension that holds it. */
export async function signerFor(db: TesseraDatabase, account: ChosenAccount): Promise<RawSigner> {
  if (account.source !== GUEST_SOURCE) return extensionSigner(account.address);
  const key = await loadGuestKey(db);
  if (!key || key.address !== account.address) {
    throw new WalletError('guest-key-damaged', { detail: 'the chosen guest key is no longer stored in this browser' });
  }
  return guestSigner(key);
}
