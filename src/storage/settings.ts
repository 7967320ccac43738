// Settings: small named values remembered across visits (the chosen wallet
// account, the throttle, the pause options, the guest key, which compression
// path is faster on this adapter). A name that was
// never written reads as its default. Values are checked on the way in: a bad
// setting fails where it is made, not later in the training loop.
// Leaves out: per-run state (checkpoints.ts) and anything secret beyond the
// guest key, which is a throwaway identity by design (src/wallet/guest.ts).
import { StorageError, storageError } from './errors.ts';
import type { SettingName, SettingValues, TesseraDatabase } from './schema.ts';

export const DEFAULT_SETTINGS: Readonly<SettingValues> = {
  account: null, // no account until the user picks one
  throttle: 1, // full speed: the user opened the tab to help
  pauseWhenHidden: false, // training in a background tab is the point of leaving it open
  pauseOnBattery: true, // a laptop on battery should not drain for us unless the user says so
  guestKey: null,
  autoJoin: false, // a first visit waits for the user's "Join"; after that a reload resumes by itself
  compressionPaths: {}, // nothing measured yet: the first swarm session on an adapter measures
};

/** Smallest throttle: below this the GPU idles so much that a round's H steps miss the deadline. */
export const MIN_THROTTLE = 0.1;

export function validateSetting<N extends SettingName>(name: N, value: SettingValues[N]): void {
  const reject = (expected: string) => {
    throw new StorageError('failed', `setting ${name} must be ${expected}, got ${JSON.stringify(value)}`, 'This is a bug in Tessera; please report it.');
  };
  switch (name) {
    case 'throttle':
      if (typeof value !== 'number' || !(value >= MIN_THROTTLE && value <= 1)) reject(`a number in [${MIN_THROTTLE}, 1]`);
      break;
    case 'pauseWhenHidden':
    case 'pauseOnBattery':
    case 'autoJoin':
      if (typeof value !== 'boolean') reject('true or false');
      break;
    case 'account': {
      const account = value as SettingValues['account'];
      if (account !== null && (typeof account?.address !== 'string' || typeof account.source !== 'string')) reject('null or {source, address, name}');
      break;
    }
    case 'compressionPaths': {
      const paths = value as SettingValues['compressionPaths'];
      const valid =
        typeof paths === 'object' &&
        paths !== null &&
        Object.values(paths).every(
          (r) => (r?.path === 'gpu' || r?.path === 'cpu') && typeof r.reason === 'string' && Number.isFinite(r.cpuMs) && (r.gpuMs === null || Number.isFinite(r.gpuMs)),
        );
      if (!valid) reject('a map of {path: gpu | cpu, reason, gpuMs, cpuMs, measuredAt}');
      break;
    }
    case 'guestKey': {
      const key = value as SettingValues['guestKey'];
      if (key !== null && (typeof key?.mnemonic !== 'string' || typeof key.address !== 'string')) reject('null or {mnemonic, address, createdAt}');
      break;
    }
    default:
      throw new StorageError('failed', `unknown setting ${String(name)}`, 'This is a bug in Tessera; please report it.');
  }
}

export async function getSetting<N extends SettingName>(db: TesseraDatabase, name: N): Promise<SettingValues[N]> {
  try {
    const value = (await db.get('settings', name)) as SettingValues[N] | undefined;
    return value === undefined ? DEFAULT_SETTINGS[name] : value;
  } catch (error) {
    throw storageError(error, `reading the setting ${name}`);
  }
}

export async function setSetting<N extends SettingName>(db: TesseraDatabase, name: N, value: SettingValues[N]): Promise<void> {
  validateSetting(name, value);
  try {
    await db.put('settings', value, name);
  } catch (error) {
    throw storageError(error, `saving the setting ${name}`);
  }
}

/** Every setting, defaults filled in. */
export async function getAllSettings(db: TesseraDatabase): Promise<SettingValues> {
  try {
    const tx = db.transaction('settings');
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
    const stored = Object.fromEntries(keys.map((key, i) => [key, values[i]]));
    return { ...DEFAULT_SETTINGS, ...stored } as SettingValues;
  } catch (error) {
    throw storageError(error, 'reading settings');
  }
}
