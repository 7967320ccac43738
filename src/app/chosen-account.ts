// The wallet account the user chose, shared by the wallet panel (which
// changes it) and the training panel (which joins the swarm with it and
// whose Worker asks it for signatures). Read from the settings once,
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

class ChosenAccount {
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

let shared: ChosenAccount | null = null;

/** The page's one chosen account (loaded from the settings on first use). */
export function chosenAccount(): ChosenAccount {
  if (!shared) {
    shared = new ChosenAccount();
    void shared.load();
  }
  return shared;
}

export function useAccount(): AccountView {
  const chosen = chosenAccount();
  return useSyncExternalStore(chosen.subscribe, chosen.getSnapshot);
}
