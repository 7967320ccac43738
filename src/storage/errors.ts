// Typed storage failures (web-llm style): one class per failure the user can
// act on, each with plain advice. Every function in src/storage/ rethrows
// IndexedDB's DOMExceptions through `storageError`, so callers see a
// StorageError and never a bare DOMException.
// Leaves out: retry policy (the outbox and the training worker decide).

export type StorageErrorCode = 'quota-exceeded' | 'unavailable' | 'blocked' | 'failed';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    /** What the user can do about it, in plain words. */
    readonly advice: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The browser refused to store more for this site (DOMException 'QuotaExceededError'). */
export class StorageQuotaError extends StorageError {
  constructor(action: string, options?: { cause?: unknown }) {
    super(
      'quota-exceeded',
      `This browser has no room left to store Tessera's data while ${action}.`,
      'Free space with "Clear local data" on the dashboard, free disk space, or allow this site more storage in the browser settings. ' +
        'Training goes on, but progress since the last saved checkpoint is lost if the tab closes.',
      options,
    );
  }
}

/** No IndexedDB at all (private windows in some browsers, disabled storage). */
export class StorageUnavailableError extends StorageError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'unavailable',
      `This browser does not let Tessera store data: ${detail}`,
      'Leave private browsing, or allow this site to store data. Training still works, but it cannot resume after the tab closes.',
      options,
    );
  }
}

/** Another tab holds the database open at an older version. */
export class StorageBlockedError extends StorageError {
  constructor(options?: { cause?: unknown }) {
    super(
      'blocked',
      'Another Tessera tab is using an older version of the local database.',
      'Close the other Tessera tabs (or reload them), then reload this one.',
      options,
    );
  }
}

function isNamedError(error: unknown, name: string): boolean {
  // Duck-typed: fake-indexeddb and other realms have their own DOMException classes.
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === name;
}

/** Maps anything IndexedDB throws to a StorageError; `action` says what was being done ("saving a checkpoint"). */
export function storageError(error: unknown, action: string): StorageError {
  if (error instanceof StorageError) return error;
  if (isNamedError(error, 'QuotaExceededError')) return new StorageQuotaError(action, { cause: error });
  if (isNamedError(error, 'InvalidStateError') || isNamedError(error, 'SecurityError')) {
    return new StorageUnavailableError(String((error as Error).message), { cause: error });
  }
  const detail = error instanceof Error || isNamedError(error, 'AbortError') ? (error as Error).message : String(error);
  return new StorageError('failed', `Storing data failed while ${action}: ${detail}`, 'Reload the tab; if it keeps failing, use "Clear local data".', {
    cause: error,
  });
}

/** Aborts a transaction that may already have committed or aborted (failure paths only). */
export function abortQuietly(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // Already finished: nothing left to undo.
  }
}
