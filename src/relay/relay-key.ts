// The relay's own sr25519 key, which signs every round's score receipt
// (src/protocol/receipt.ts). Generated on the first start (a BIP-39 mnemonic
// from util-crypto's CSPRNG), kept in <data-dir>/relay-key.json with mode 0600,
// written atomically (temporary file, fsync, rename) so a crash never leaves a
// half key. Its address is published in GET /api/run (`relayAddress`), so
// a contributor can check who signed. Losing the file loses the identity:
// receipts signed so far still verify against the published address, new ones
// would come from a new one.
// Replicas sharing a PostgreSQL store keep the run's key in the database
// instead (sharedRelayKey), so every replica signs as the same address.
// Leaves out: key rotation and hardware keys (an operator with a KMS would
// provide another ReceiptSigner).
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicGenerate, mnemonicValidate } from '@polkadot/util-crypto';
import { SS58_PREFIX } from '../protocol/index.ts';

export const RELAY_KEY_FILE = 'relay-key.json';

/** What the relay needs of a key: its address and sr25519 signatures. */
export interface ReceiptSigner {
  readonly address: string;
  sign(message: Uint8Array): Uint8Array;
}

export async function loadOrCreateRelayKey(dataDir: string): Promise<ReceiptSigner> {
  await cryptoWaitReady();
  const path = join(dataDir, RELAY_KEY_FILE);
  let mnemonic: string;
  try {
    const stored = JSON.parse(await readFile(path, 'utf8')) as { format?: number; mnemonic?: unknown };
    if (stored.format !== 1 || typeof stored.mnemonic !== 'string' || !mnemonicValidate(stored.mnemonic)) {
      throw new Error(`${path} is not a relay key file (delete it only if you mean to give the relay a new identity)`);
    }
    mnemonic = stored.mnemonic;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mnemonic = mnemonicGenerate(24);
    const temporary = `${path}.tmp-${process.pid}`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ format: 1, mnemonic }) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    const dir = await open(dataDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
  return signerFor(mnemonic);
}

/**
 * Replicas on PostgreSQL sign as one relay: the run's key lives in the
 * database (postgres-store.ts sharedRelayKey). The first replica to start
 * offers a fresh mnemonic and it stands; the others get it back.
 */
export async function sharedRelayKey(store: { sharedRelayKey(candidate: string): Promise<string> }): Promise<ReceiptSigner> {
  await cryptoWaitReady();
  const mnemonic = await store.sharedRelayKey(mnemonicGenerate(24));
  if (!mnemonicValidate(mnemonic)) throw new Error('the database holds no valid relay key for this run (relay_keys)');
  return signerFor(mnemonic);
}

function signerFor(mnemonic: string): ReceiptSigner {
  const pair = new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX }).addFromUri(mnemonic);
  return { address: pair.address, sign: (message) => pair.sign(message) };
}
