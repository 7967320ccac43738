// Downloads a binary file with progress (ReadableStream reader), for the
// training data and, in relay mode, the model. Content-Length may be absent or
// describe the compressed body, so the fraction is clamped and may be null.
// Leaves out: caching (the browser's HTTP cache and the Worker's own copy do it).

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
