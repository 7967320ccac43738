// The page's handle on local storage: one database connection for the page
// (the training Worker opens its own), the settings as React state, and the
// storage usage. All IndexedDB access goes through src/storage/.
import { useCallback, useEffect, useState } from 'react';
import { DEFAULT_SETTINGS, getAllSettings, openDatabase, setSetting, storageUsage, type SettingName, type SettingValues, type StorageUsage, type TesseraDatabase } from '../storage/index.ts';

let shared: Promise<TesseraDatabase> | null = null;

export function pageDatabase(): Promise<TesseraDatabase> {
  shared ??= openDatabase();
  return shared;
}

export interface SettingsState {
  settings: SettingValues;
  loaded: boolean;
  error: Error | null;
  set<N extends SettingName>(name: N, value: SettingValues[N]): Promise<void>;
  reload(): void;
}

export function useSettings(): SettingsState {
  const [settings, setSettings] = useState<SettingValues>(DEFAULT_SETTINGS);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    pageDatabase()
      .then(getAllSettings)
      .then(
        (values) => live && (setSettings(values), setLoaded(true)),
        (e: Error) => live && (setError(e), setLoaded(true)),
      );
    return () => {
      live = false;
    };
  }, [generation]);
  const set = useCallback(async <N extends SettingName>(name: N, value: SettingValues[N]) => {
    setSettings((current) => ({ ...current, [name]: value }));
    try {
      await setSetting(await pageDatabase(), name, value);
    } catch (e) {
      setError(e as Error);
    }
  }, []);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { settings, loaded, error, set, reload };
}

export function useStorageUsage(refreshKey: unknown): StorageUsage | null | 'pending' {
  const [usage, setUsage] = useState<StorageUsage | null | 'pending'>('pending');
  useEffect(() => {
    let live = true;
    storageUsage().then(
      (value) => live && setUsage(value),
      () => live && setUsage(null),
    );
    return () => {
      live = false;
    };
  }, [refreshKey]);
  return usage;
}
