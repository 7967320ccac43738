// The matmul tile search's results (src/kernels/tab-kernels.ts TuningCache) in
// IndexedDB: one record per adapter and shape, so a tab searches once per GPU.
// A record that does not have the expected shape (written by a future version,
// or damaged) reads as absent: the tab searches again and overwrites it.
// Leaves out: expiry (a changed shader or candidate list changes the key, and
// old keys cost a few hundred bytes each).
import type { TuningCache } from '../kernels/tab-kernels.ts';
import { storageError } from './errors.ts';
import type { TesseraDatabase, TuningRecord } from './schema.ts';

function isTuningRecord(value: unknown): value is TuningRecord {
  const record = value as Partial<TuningRecord> | undefined;
  return (
    typeof record?.key === 'string' &&
    typeof record.adapter === 'string' &&
    typeof record.tile === 'string' &&
    Array.isArray(record.timings) &&
    typeof record.shape?.M === 'number' &&
    typeof record.searchMs === 'number' &&
    typeof record.savedAt === 'number'
  );
}

export async function loadTuning(db: TesseraDatabase, key: string): Promise<TuningRecord | null> {
  let value: unknown;
  try {
    value = await db.get('kernel-tuning', key);
  } catch (error) {
    throw storageError(error, 'reading the kernel tuning cache');
  }
  return isTuningRecord(value) ? value : null;
}

export async function saveTuning(db: TesseraDatabase, record: TuningRecord): Promise<void> {
  try {
    await db.put('kernel-tuning', record);
  } catch (error) {
    throw storageError(error, 'saving the kernel tuning cache');
  }
}

/** The TuningCache of a tab's database; null when the tab has none (it then searches at every start). */
export function kernelTuningCache(db: TesseraDatabase | null): TuningCache | null {
  return db ? { load: (key) => loadTuning(db, key), save: (record) => saveTuning(db, record) } : null;
}
