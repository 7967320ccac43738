// Wallet failures in plain language (web-llm style): one code per thing that
// can go wrong between the page and a wallet, each with what the user can do.
// `explainWalletError` turns whatever a wallet, extension-dapp or the protocol
// signer threw into a WalletError, so the UI shows one kind of message.
// Leaves out: the extension handshake itself (extension.ts).
import { isProtocolError } from '../protocol/errors.ts';

export type WalletErrorCode =
  | 'no-extension' // no wallet extension injected into this page
  | 'access-refused' // extensions exist, none gave this site access
  | 'no-accounts' // access granted, but no sr25519 account to use
  | 'signature-refused' // the user pressed Cancel on a signature request
  | 'unsupported-signer' // the wallet cannot sign raw bytes
  | 'wrong-key-type' // the account signed, but not as sr25519 over <Bytes>…</Bytes>
  | 'guest-key-damaged' // the stored guest key does not match its address
  | 'failed'; // anything else

const TEXT: Record<WalletErrorCode, { message: string; advice: string }> = {
  'no-extension': {
    message: 'No Polkadot wallet extension was found in this browser.',
    advice: 'Install polkadot{.js}, Talisman or SubWallet and reload this page — or continue as a guest to train without credit to your own address.',
  },
  'access-refused': {
    message: 'Your wallet extension did not give Tessera access to your accounts.',
    advice: 'Open the extension, allow this site (in its website-access settings), then press "Connect wallet" again.',
  },
  'no-accounts': {
    message: 'Your wallet has no account Tessera can use.',
    advice: 'Create or import an sr25519 account (the extension default) and allow it for this site, then press "Connect wallet" again.',
  },
  'signature-refused': {
    message: 'You declined to sign the submission, so this round\'s work was not sent.',
    advice: 'Training goes on. Approve the next signature request to send your work and get credit for it.',
  },
  'unsupported-signer': {
    message: 'This wallet cannot sign raw messages, which Tessera needs.',
    advice: 'Use the polkadot{.js}, Talisman or SubWallet extension, or continue as a guest.',
  },
  'wrong-key-type': {
    message: 'This account signed in a way the relay cannot accept (it is not an sr25519 key).',
    advice: 'Choose an sr25519 account in the wallet panel.',
  },
  'guest-key-damaged': {
    message: 'The guest key stored in this browser is damaged.',
    advice: 'Use "Clear local data" to remove it; a new guest key is created next time.',
  },
  failed: {
    message: 'The wallet did not answer as expected.',
    advice: 'Reload the page and try again; if it keeps failing, try another wallet or continue as a guest.',
  },
};

export class WalletError extends Error {
  readonly advice: string;
  constructor(
    readonly code: WalletErrorCode,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(TEXT[code].message + (options?.detail ? ` (${options.detail})` : ''), { cause: options?.cause });
    this.advice = TEXT[code].advice;
    this.name = 'WalletError';
  }
}

/** Any failure from a wallet path, as a WalletError with a plain message. */
export function explainWalletError(error: unknown): WalletError {
  if (error instanceof WalletError) return error;
  if (isProtocolError(error, 'signer-refused')) return new WalletError('signature-refused', { cause: error });
  if (isProtocolError(error, 'signer-unsupported')) return new WalletError('unsupported-signer', { cause: error });
  if (isProtocolError(error, 'bad-signature') || isProtocolError(error, 'unwrapped-signature')) {
    return new WalletError('wrong-key-type', { cause: error, detail: error.message });
  }
  // Duck-typed: extension errors come from another realm (content script).
  const message = (error as { message?: unknown } | null)?.message;
  return new WalletError('failed', { cause: error, detail: typeof message === 'string' ? message : String(error) });
}
