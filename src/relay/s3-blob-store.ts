// BlobStore on S3-compatible object storage through the AWS SDK v3 client:
// Amazon S3, Cloudflare R2, MinIO, Garage… (anything that speaks the S3 API).
// Settings (S3Settings): bucket, key prefix, endpoint (for anything but AWS),
// region, path-style addressing (MinIO and most self-hosted servers need it;
// R2 and AWS take either). Credentials come from the environment the AWS way
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance role):
// the SDK's default chain, never a flag, so they stay out of shell history
// and process listings.
//
// A PUT is durable when S3 answers 200 (S3 and R2 store redundantly before
// answering); the SDK adds its own transfer checksum, and get() re-hashes
// with BLAKE2b-256 against the key.
//
// Downloads by tabs (downloadUrl): 'public' returns <publicBaseUrl><prefix><key>
// (a public bucket or a CDN in front of it); 'presigned' returns a GET URL
// signed for `expiresSeconds` (a private bucket). The bucket must allow CORS
// GET from the app's origin and expose the x-amz-meta-tessera-* headers
// (docs/deploy.md gives the rule).
//
// Leaves out: multipart upload (objects here are at most a checkpoint: 4 GB
// at 1B parameters is within one PUT's 5 GB), bucket creation outside tests.
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checkBlob, hashInKey, type BlobRedirect, type BlobStore } from './blob-store.ts';

export interface S3Settings {
  bucket: string;
  /** Prepended to every key, e.g. "tessera/run-1/". */
  prefix: string;
  /** E.g. http://127.0.0.1:9000 for MinIO, https://<account>.r2.cloudflarestorage.com for R2; empty for AWS. */
  endpoint: string | null;
  region: string;
  /** Path-style URLs (endpoint/bucket/key) instead of virtual-host style (bucket.endpoint/key). */
  forcePathStyle: boolean;
  redirect: BlobRedirect;
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly redirects: boolean;
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.redirects = settings.redirect.kind !== 'none';
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint ?? undefined,
      forcePathStyle: settings.forcePathStyle,
      // Retries with backoff are the SDK's; a bucket that stays down fails the write (no acknowledgement).
      maxAttempts: 3,
    });
  }

  private objectKey(key: string): string {
    hashInKey(key);
    return this.settings.prefix + key;
  }

  async put(key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.settings.bucket,
        Key: this.objectKey(key),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: 'application/octet-stream',
        // Content-addressed: an object never changes, so any cache may keep it.
        CacheControl: 'public, max-age=31536000, immutable',
        Metadata: metadata,
      }),
    );
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      if (!answer.Body) return null;
      return checkBlob(key, await answer.Body.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
  }

  async downloadUrl(key: string): Promise<string | null> {
    const { redirect } = this.settings;
    if (redirect.kind === 'public') return redirect.baseUrl + this.objectKey(key);
    if (redirect.kind === 'presigned') {
      return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }), { expiresIn: redirect.expiresSeconds });
    }
    return null;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
