// Page-side half of the test wallet (tests/support/test-wallet.ts).
//
// Plain JavaScript on purpose: Playwright's addInitScript runs this text as-is
// in the page, before any page script, and code that went through a TypeScript
// transpiler may call helpers the page lacks (`__name is not defined`).
//
// It does what a wallet extension's content script does: defines
// window.injectedWeb3[name] = {version, enable}, so the app's real
// @polkadot/extension-dapp code (web3Enable → web3Accounts → web3FromAddress →
// signer.signRaw) finds it. The keyring never enters the page: signRaw forwards
// {address, data, type} to a function the test process exposed
// (page.exposeFunction), which wraps and signs exactly like the extension and
// answers {signature} or {error}. Errors are rethrown here as plain Errors so
// the page sees the extension's message ("Cancelled", "Unable to find keypair").
//
// Leaves out: metadata and provider injection (Tessera signs raw bytes only).

/* exported installTesseraTestWallet */
function installTesseraTestWallet(config) {
  const win = window;
  win.injectedWeb3 = win.injectedWeb3 || {};
  let nextId = 0;
  const accounts = () => config.accounts.map((account) => Object.assign({}, account));

  win.injectedWeb3[config.name] = {
    version: config.version,
    enable: async (originName) => {
      if (!originName) throw new Error('an origin name is required');
      return {
        accounts: {
          get: async () => accounts(),
          subscribe: (callback) => {
            Promise.resolve().then(() => callback(accounts()));
            return () => {};
          },
        },
        metadata: {
          get: async () => [],
          provide: async () => false,
        },
        signer: {
          signRaw: async (raw) => {
            const result = await win[config.signFunction]({ address: raw.address, data: raw.data, type: raw.type });
            if (result.error) throw new Error(result.error);
            nextId += 1;
            return { id: nextId, signature: result.signature };
          },
        },
      };
    },
  };
}
