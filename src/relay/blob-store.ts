// Where a relay on PostgreSQL keeps its large objects: submission frames,
// checkpoints and round updates. Two implementations behind one interface:
//   DirectoryBlobStore  a local directory (the default; one machine, or a
//                       directory every replica mounts)
//   S3BlobStore         S3-compatible object storage (s3-blob-store.ts)
//
// Keys are content-addressed: BLAKE2b-256 of the object's bytes, in hex, as
// the rest of the protocol hashes payloads and models:
//   <prefix>frames/<hash>                    a submission frame as the tab signed and sent it
//   <prefix>checkpoints/v<version>-<hash>    θ(version), float32 LE (hash = its model hash);
//                                            the version is in the key because a round that
//                                            changes no bit makes the same bytes twice
//   <prefix>updates/v<version>-<hash>        the round update that made θ(version), as a
//                                            one-entry catch-up bundle (protocol/bundle.ts):
//                                            a tab one version behind can fetch it as it is
//   <prefix>jobs/<hash>                      a scoring job's input (scoring-queue.ts)
// get() re-hashes what it reads and refuses a mismatch (CorruptStoreError),
// so a damaged or substituted object is never served. put() is idempotent
// (same key, same bytes) and resolves only once the object is durable.
//
// Leaves out: listing and garbage collection of unreferenced objects (a frame
// stored by a submission the database then refused, e.g. a duplicate raced
// on two replicas: the key is never published; a bucket lifecycle rule can
// expire them).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hashToHex, payloadHash, type HexHash } from '../protocol/index.ts';
import { DurableDirectories, readIfExists } from './durable-file.ts';
import { CorruptStoreError } from './store.ts';

export type BlobKind = 'frames' | 'checkpoints' | 'updates' | 'jobs';

/** The content-addressed key of `bytes` (see the file header). */
export function blobKey(kind: BlobKind, bytes: Uint8Array, version?: number): string {
  const hash = hashToHex(payloadHash(bytes)).slice(2);
  if (kind === 'frames' || kind === 'jobs') return `${kind}/${hash}`;
  if (version === undefined || !Number.isSafeInteger(version) || version < 0) throw new RangeError(`${kind} keys need a model version`);
  return `${kind}/v${version}-${hash}`;
}

/** The checkpoint key when the model hash is known (it is the BLAKE2b-256 of θ's bytes). */
export function checkpointKey(version: number, modelHash: HexHash): string {
  return `checkpoints/v${version}-${modelHash.slice(2)}`;
}

const KEY_PATTERN = /^((frames|jobs)\/|(checkpoints|updates)\/v\d{1,10}-)([0-9a-f]{64})$/;

/** The hash a key promises, or a RangeError for a key this scheme never makes (e.g. a path trick). */
export function hashInKey(key: string): string {
  const match = KEY_PATTERN.exec(key);
  if (!match) throw new RangeError(`not a blob key: ${JSON.stringify(key)}`);
  return match[4];
}

/** Refuses bytes whose BLAKE2b-256 is not the key's. */
export function checkBlob(key: string, bytes: Uint8Array): Uint8Array {
  if (hashToHex(payloadHash(bytes)).slice(2) !== hashInKey(key)) throw new CorruptStoreError(`blob ${key}`, 'content does not match the hash in its key');
  return bytes;
}

/** Where a tab may fetch an object directly instead of through the relay. */
export type BlobRedirect = { kind: 'none' } | { kind: 'public'; baseUrl: string } | { kind: 'presigned'; expiresSeconds: number };

export interface BlobStore {
  /** For logs and metrics: 'directory' or 's3'. */
  readonly kind: string;
  /** Whether downloadUrl can give a URL (a bucket with public or presigned access). */
  readonly redirects: boolean;
  /** Stores `bytes` under `key` (blobKey), durable when it resolves; idempotent. */
  put(key: string, bytes: Uint8Array, metadata?: Record<string, string>): Promise<void>;
  /** The verified bytes under `key`, or null if absent. */
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
  /** A URL a tab can GET the object from, or null when the relay serves it itself. */
  downloadUrl(key: string): Promise<string | null>;
  close(): Promise<void>;
}

/** Objects as files under one directory, written the crash-safe way of durable-file.ts. */
export class DirectoryBlobStore implements BlobStore {
  readonly kind = 'directory';
  readonly redirects = false;
  private readonly directories = new DurableDirectories();

  constructor(readonly dir: string) {}

  private path(key: string): string {
    hashInKey(key); // refuses anything but a key this module makes: no '..', no absolute paths
    return join(this.dir, key);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.directories.writeAtomic(this.path(key), [bytes], 'blob:tmp-written');
  }

  async get(key: string): Promise<Uint8Array | null> {
    const bytes = await readIfExists(this.path(key));
    return bytes && checkBlob(key, bytes);
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async downloadUrl(): Promise<string | null> {
    return null;
  }

  async close(): Promise<void> {}
}
