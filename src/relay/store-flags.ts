// The storage flags of the relay CLI (main.ts) and the scoring worker's
// (scorer-main.ts), parsed and checked in one place, so a typo is refused
// with the flag's name before anything touches a database or a bucket.
//   --store file|postgres  --database postgresql://…  --replica NAME  --inline-frame-bytes N
//   --blobs DIR|s3://BUCKET/PREFIX  --s3-endpoint URL  --s3-region R  --s3-path-style
//   --blob-redirect none|public:BASE-URL|presigned:SECONDS
// S3 credentials never come from a flag: the AWS SDK reads them from the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile, a role).
// Leaves out: what the settings do (launch.ts, postgres-store.ts, blob-settings.ts).
import { resolve } from 'node:path';
import { choiceFlag, integerFlag, UsageError } from '../node/cli.ts';
import type { BlobSettings } from './blob-settings.ts';
import type { BlobRedirect } from './blob-store.ts';
import type { StoreSettings } from './launch.ts';

export const STORE_FLAGS = {
  store: { type: 'string', default: 'file' },
  database: { type: 'string' },
  replica: { type: 'string' },
  blobs: { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string', default: 'us-east-1' },
  's3-path-style': { type: 'boolean', default: false },
  'blob-redirect': { type: 'string', default: 'none' },
  'inline-frame-bytes': { type: 'string' },
} as const;

export interface StoreFlagValues {
  store: string;
  database?: string;
  replica?: string;
  blobs?: string;
  's3-endpoint'?: string;
  's3-region': string;
  's3-path-style': boolean;
  'blob-redirect': string;
  'inline-frame-bytes'?: string;
}

/** --blob-redirect: none | public:<base URL> | presigned:<seconds>. */
function blobRedirect(text: string): BlobRedirect {
  if (text === 'none') return { kind: 'none' };
  if (text.startsWith('public:')) {
    const baseUrl = text.slice('public:'.length);
    if (!/^https?:\/\/[^/]+\/(.*\/)?$/.test(baseUrl)) throw new UsageError(`--blob-redirect public:URL needs an http(s) URL ending in /, got ${JSON.stringify(baseUrl)}`);
    return { kind: 'public', baseUrl };
  }
  if (text.startsWith('presigned:')) {
    const seconds = integerFlag(text.slice('presigned:'.length), 'blob-redirect presigned:', 1)!;
    if (seconds > 604_800) throw new UsageError('--blob-redirect presigned: S3 signs URLs for at most 604800 s (7 days)');
    return { kind: 'presigned', expiresSeconds: seconds };
  }
  throw new UsageError(`--blob-redirect must be none, public:<base URL> or presigned:<seconds>, got ${JSON.stringify(text)}`);
}

/** --blobs and the S3 flags. */
export function blobSettings(values: StoreFlagValues): BlobSettings {
  const redirect = blobRedirect(values['blob-redirect']);
  const bucket = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(values.blobs ?? '');
  if (bucket) {
    const prefix = bucket[2] ?? '';
    return {
      kind: 's3',
      bucket: bucket[1],
      prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
      endpoint: values['s3-endpoint'] ?? null,
      region: values['s3-region'],
      forcePathStyle: values['s3-path-style'],
      redirect,
    };
  }
  if (values.blobs?.startsWith('s3:')) throw new UsageError(`--blobs: ${values.blobs} is not s3://<bucket>/<prefix> with a valid bucket name`);
  if (values['s3-endpoint'] !== undefined || redirect.kind !== 'none') throw new UsageError('--s3-endpoint and --blob-redirect need --blobs s3://…');
  return { kind: 'directory', dir: values.blobs === undefined ? undefined : resolve(values.blobs) };
}

/** --store and its companions. */
export function storeSettings(values: StoreFlagValues): StoreSettings {
  const kind = choiceFlag(values.store, 'store', ['file', 'postgres'] as const)!;
  const postgresOnly = (['database', 'replica', 'blobs', 's3-endpoint', 'inline-frame-bytes'] as const).filter((flag) => values[flag] !== undefined);
  if (kind === 'file') {
    if (postgresOnly.length || values['blob-redirect'] !== 'none') throw new UsageError(`--${postgresOnly[0] ?? 'blob-redirect'} needs --store postgres`);
    return { kind };
  }
  return {
    kind,
    connectionString: values.database,
    replica: values.replica,
    blobs: blobSettings(values),
    inlineFrameBytes: integerFlag(values['inline-frame-bytes'], 'inline-frame-bytes'),
  };
}
