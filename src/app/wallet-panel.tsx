// The wallet panel: connect a Polkadot extension (accounts listed as SS58-42),
// pick one, or continue with a guest key made in this browser. The choice is
// remembered (chosen-account.ts shares it with the training panel, which signs
// the swarm's submissions with it). Every failure shows its plain-language
// message and advice.
import { useEffect, useRef, useState } from 'react';
import {
  chooseAccount,
  connectExtensions,
  explainWalletError,
  forgetAccount,
  guestAccount,
  type ExtensionAccount,
  type WalletAccount,
  type WalletError,
} from '../wallet/index.ts';
import { chosenAccount, useAccount } from './chosen-account.ts';
import { pageDatabase } from './local-data.ts';

export function WalletPanel({ refreshKey }: { refreshKey: unknown }) {
  const { account, error: loadError } = useAccount();
  const setAccount = (chosen: WalletAccount | null) => chosenAccount().set(chosen);
  const [choices, setChoices] = useState<ExtensionAccount[] | null>(null);
  const [actionError, setError] = useState<WalletError | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const error = actionError ?? (loadError ? explainWalletError(loadError) : null);

  // After "Clear local data" the remembered account is gone: read it again (not on the first render: it loads itself).
  const firstKey = useRef(refreshKey);
  useEffect(() => {
    if (refreshKey !== firstKey.current) void chosenAccount().load();
  }, [refreshKey]);

  const act = async (label: string, work: () => Promise<void>) => {
    setBusy(label);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(explainWalletError(e));
    } finally {
      setBusy(null);
    }
  };

  const connect = () => act('Asking your wallet extension…', async () => setChoices(await connectExtensions()));
  const useGuest = () =>
    act('Creating a guest key…', async () => {
      const db = await pageDatabase();
      setAccount(await chooseAccount(db, await guestAccount(db)));
      setChoices(null);
    });
  const pick = (choice: ExtensionAccount) =>
    act('Saving your choice…', async () => {
      setAccount(await chooseAccount(await pageDatabase(), choice));
      setChoices(null);
    });
  const forget = () =>
    act('Forgetting the account…', async () => {
      await forgetAccount(await pageDatabase());
      setAccount(null);
    });

  return (
    <section className="subpanel" aria-labelledby="wallet-heading" data-testid="wallet-panel">
      <h3 id="wallet-heading">Who gets the credit</h3>
      {account ? (
        <div data-testid="wallet-account" data-kind={account.kind}>
          <p>
            {account.kind === 'guest' ? <span className="badge">Guest</span> : <span className="badge ok">{account.source}</span>} {account.name ?? 'Unnamed account'}
          </p>
          <p className="address" data-testid="wallet-address">
            {account.address}
          </p>
          {account.kind === 'guest' && (
            <p className="muted small">
              A guest key lives in this browser only. Work it signs is credited to this address; connect a wallet extension to be credited to your own.
            </p>
          )}
        </div>
      ) : (
        <p className="muted">No account chosen. Your work is signed with the account you choose here, so it is credited to you.</p>
      )}
      <div className="controls">
        <button type="button" onClick={connect} disabled={busy !== null} data-testid="connect-wallet">
          Connect wallet
        </button>
        {account?.kind !== 'guest' && (
          <button type="button" className="secondary" onClick={useGuest} disabled={busy !== null} data-testid="use-guest">
            Continue as guest
          </button>
        )}
        {account && (
          <button type="button" className="secondary" onClick={forget} disabled={busy !== null}>
            Forget this account
          </button>
        )}
      </div>
      {busy && (
        <p role="status" className="muted">
          {busy}
        </p>
      )}
      {choices && (
        <fieldset className="accounts">
          <legend>Choose the account to sign with</legend>
          {choices.map((choice) => (
            <button type="button" key={`${choice.source}:${choice.address}`} className="account" onClick={() => pick(choice)}>
              <strong>{choice.name ?? 'Unnamed account'}</strong> <span className="muted">({choice.source})</span>
              <br />
              <span className="address">{choice.address}</span>
            </button>
          ))}
        </fieldset>
      )}
      {error && (
        <div role="alert" className="problem" data-testid="wallet-error" data-code={error.code}>
          <p>{error.message}</p>
          <p>{error.advice}</p>
        </div>
      )}
    </section>
  );
}
