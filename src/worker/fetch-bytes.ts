// Downloads a binary file with progress (ReadableStream reader), for the
// training and validation text. Content-Length may be absent or describe the
// compressed body, so the fraction is clamped and may be null. DownloadCache
// keeps what the Worker downloaded (checked against the run's length and
// SHA-256 where the run names them).
// Leaves out: the model download (the relay client, through counting-fetch.ts).

export class DataUnavailableError extends Error {
  constructor(readonly url: string, detail: string) {
    super(`could not download ${url}: ${detail}`);
    this.name = 'DataUnavailableError';
  }
}

export async function fetchBytes(url: string, onProgress: (fraction: number | null, received: number) => void): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new DataUnavailableError(url, (cause as Error).message);
  }
  if (!response.ok) throw new DataUnavailableError(url, `HTTP ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.byteLength;
    onProgress(total ? Math.min(1, received / total) : null, received);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  onProgress(1, received);
  return bytes;
}

/** What a download must be: its length and SHA-256 (hex), as the relay publishes them for the run's data. */
export interface ExpectedBytes {
  bytes: number;
  sha256: string;
}

/**
 * The Worker's downloads, kept for its lifetime: a restart after a device
 * loss, or a switch between modes, does not download the text again.
 */
export class DownloadCache {
  private readonly bytes = new Map<string, Uint8Array>();

  /** The bytes at url (from the cache, or downloaded with progress), checked against `expected` when given. */
  async get(url: string, onProgress: (fraction: number | null) => void, expected: ExpectedBytes | null = null): Promise<Uint8Array> {
    const cached = this.bytes.get(url);
    if (cached) return cached;
    onProgress(0);
    const bytes = await fetchBytes(url, (fraction) => onProgress(fraction));
    if (expected) {
      if (bytes.length !== expected.bytes) throw new DataUnavailableError(url, `it has ${bytes.length} bytes, the run expects ${expected.bytes}`);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      if (hex !== expected.sha256) throw new DataUnavailableError(url, `its SHA-256 is ${hex}, the run's is ${expected.sha256}`);
    }
    this.bytes.set(url, bytes);
    return bytes;
  }
}
