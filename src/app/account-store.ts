// The wallet account the user chose, shared by the wallet panel (which
// changes it) and the training panel (which joins the swarm with it and
// whose Worker asks it for signatures). Read from the settings store once,
// then kept here; React reads it with useSyncExternalStore.
// Leaves out: the wallet handshake itself (src/wallet/).
import { useSyncExternalStore } from 'react';
import { rememberedAccount, type WalletAccount } from '../wallet/index.ts';
import { pageDatabase } from './local-data.ts';

export interface AccountView {
  account: WalletAccount | null;
  loaded: boolean;
  error: unknown;
}

class AccountStore {
  private view: AccountView = { account: null, loaded: false, error: null };
  private readonly listeners = new Set<() => void>();

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): AccountView => this.view;

  private update(view: AccountView): void {
    this.view = view;
    for (const listener of this.listeners) listener();
  }

  /** Reads the remembered account (again: after "Clear local data"). */
  async load(): Promise<void> {
    try {
      this.update({ account: await rememberedAccount(await pageDatabase()), loaded: true, error: null });
    } catch (error) {
      this.update({ account: null, loaded: true, error });
    }
  }

  set(account: WalletAccount | null): void {
    this.update({ account, loaded: true, error: null });
  }
}

let shared: AccountStore | null = null;

export function accountStore(): AccountStore {
  if (!shared) {
    shared = new AccountStore();
    void shared.load();
  }
  return shared;
}

export function useAccount(): AccountView {
  const store = accountStore();
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
