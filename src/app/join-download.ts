// "Joining downloads about 2.4 MB": what a tab fetches when it joins, said
// before the person presses Join. The build writes every file's size as
// sent plain, gzip and brotli (download-sizes.json, src/node/precompress.ts);
// joining fetches the training Worker's script, the run's training text and
// the current model (4 bytes per float, sent as is: trained weights do not
// compress). The encoding is the one this browser will be sent: brotli in a
// secure context (https, or localhost: browsers offer brotli only to those),
// gzip otherwise.
// Leaves out: what the HTTP cache already holds (a second join may fetch less).
import { useEffect, useState } from 'react';

export interface FileSizes {
  bytes: number;
  gzip: number | null; // null: not worth compressing (the relay sends it as is)
  br: number | null;
}

/** dist/download-sizes.json, written at build. */
export interface DownloadSizes {
  files: Record<string, FileSizes>;
}

export interface JoinDownload {
  total: number;
  parts: { what: string; bytes: number }[];
}

type Encoding = 'br' | 'gzip' | 'identity';

function sent(file: FileSizes, encoding: Encoding): number {
  if (encoding === 'br' && file.br !== null) return file.br;
  if (encoding !== 'identity' && file.gzip !== null) return file.gzip;
  return file.bytes;
}

/** The bytes a join fetches: the Worker's scripts, the training text at `trainPath` and a model of `modelBytes`. */
export function joinDownload(sizes: DownloadSizes, trainPath: string, modelBytes: number, encoding: Encoding): JoinDownload {
  const path = trainPath.replace(/^\//, '');
  let worker = 0;
  for (const [name, file] of Object.entries(sizes.files)) if (/^assets\/training-worker-[^/]*\.js$/.test(name)) worker += sent(file, encoding);
  const text = sizes.files[path];
  const parts = [
    { what: 'the training program', bytes: worker },
    ...(text ? [{ what: 'the training text', bytes: sent(text, encoding) }] : []),
    { what: 'the current model', bytes: modelBytes },
  ];
  return { total: parts.reduce((sum, p) => sum + p.bytes, 0), parts };
}

/** The encoding this page's requests will be answered with (see the file header). */
export function pageEncoding(): Encoding {
  return window.isSecureContext ? 'br' : 'gzip';
}

let sizesRequest: Promise<DownloadSizes | null> | null = null;

/** download-sizes.json beside the page, once per page; null where the build wrote none. */
export function useDownloadSizes(): DownloadSizes | null {
  const [sizes, setSizes] = useState<DownloadSizes | null>(null);
  useEffect(() => {
    let live = true;
    sizesRequest ??= fetch(new URL('download-sizes.json', document.baseURI))
      .then((response) => (response.ok ? (response.json() as Promise<DownloadSizes>) : null))
      .catch(() => null);
    void sizesRequest.then((value) => live && setSizes(value));
    return () => {
      live = false;
    };
  }, []);
  return sizes;
}
