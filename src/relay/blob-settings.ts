// Where a relay on PostgreSQL (and a scoring worker) keeps blobs, as settings
// a command line gives: a directory (default <data-dir>/blobs) or an
// S3-compatible bucket; each run under its own key prefix, so runs sharing a
// bucket never touch each other's objects (pruning deletes by key).
// Leaves out: parsing the flags (store-flags.ts).
import { join } from 'node:path';
import { DirectoryBlobStore, type BlobStore } from './blob-store.ts';
import { S3BlobStore, type S3Settings } from './s3-blob-store.ts';

export type BlobSettings = { kind: 'directory'; dir?: string } | ({ kind: 's3' } & S3Settings);

/** The run's blob store: <dir>/<runId>/… or <bucket>/<prefix><runId>/…. */
export function openBlobs(settings: BlobSettings, dataDir: string, runId: string): BlobStore {
  if (settings.kind === 's3') return new S3BlobStore({ ...settings, prefix: `${settings.prefix}${runId}/` });
  return new DirectoryBlobStore(join(settings.dir ?? join(dataDir, 'blobs'), runId));
}
