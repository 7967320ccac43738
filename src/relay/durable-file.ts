// Crash-safe files: the one way POSIX offers to replace a file all or nothing
// and know it survived power loss, shared by the embedded store
// (file-store.ts) and the local-directory blob store (blob-store.ts).
//
//   write a temporary file in the same directory → fsync it → rename it over
//   the final name → fsync the directory.
//
// rename is atomic, so a reader finds the old file or the new one; the first
// fsync orders the data before the name, the second makes the name itself
// durable before the caller is told "done". New directories are fsync'd into
// their parent the same way. Temporaries carry TEMPORARY in their name, so a
// store can delete what a crash left between write and rename.
//
// Leaves out: what the files hold (each store has its own headers and checks).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { failpoint } from './failpoint.ts';

export const TEMPORARY = '.tmp-';

export const isTemporary = (name: string) => name.includes(TEMPORARY);

/** Makes directories and remembers which exist, so a hot path does not mkdir again. */
export class DurableDirectories {
  private readonly made = new Set<string>();

  /** mkdir -p, then fsync the parent of each new directory so its entry survives a crash. */
  async ensure(path: string): Promise<void> {
    if (this.made.has(path)) return;
    const target = resolve(path);
    const created = await mkdir(target, { recursive: true });
    if (created !== undefined) {
      // Each new directory's entry lives in its parent: sync from the deepest new one up to the first.
      for (let dir = target; ; dir = dirname(dir)) {
        await syncDirectory(dirname(dir));
        if (dir === resolve(created) || dir === dirname(dir)) break;
      }
    }
    this.made.add(path);
  }

  /** temp + fsync + rename + fsync(dir): all or nothing, durable on return. */
  async writeAtomic(path: string, parts: readonly Uint8Array[], failpointName?: string): Promise<void> {
    const dir = dirname(path);
    await this.ensure(dir);
    const temporary = `${path}${TEMPORARY}${process.pid}-${randomBytes(6).toString('hex')}`;
    const handle = await open(temporary, 'wx');
    try {
      for (const part of parts) await handle.writeFile(part);
      if (failpointName) failpoint(failpointName);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDirectory(dir);
  }
}

export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The file's bytes, or null when it does not exist. */
export async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The directory's entries, or none when it does not exist. */
export async function readdirIfExists(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
