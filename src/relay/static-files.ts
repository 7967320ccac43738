// The built app's files as the relay serves them: the path a request names,
// resolved inside dist/ (anything that would leave it is not found), the
// client-side route fallback to index.html, and the precompressed variant the
// browser accepts — NAME.br or NAME.gz written at build (src/node/precompress.ts),
// chosen from the request's Accept-Encoding (RFC 9110 §12.5.3: q-values, "*",
// q=0 refuses). Brotli wins over gzip where both are accepted (smaller on every
// file here); a file without variants, or a client that accepts neither, gets
// the plain bytes. Answers for a file with variants carry Vary: Accept-Encoding
// whichever variant they are, so a cache never hands brotli to a client that
// did not ask for it.
// Leaves out: compressing on the fly (everything compressible was compressed
// at build), byte ranges.
import { stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

export type ContentEncoding = 'br' | 'gzip' | 'identity';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.bin': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
  '.wgsl': 'text/plain; charset=utf-8',
};

const SUFFIX: Record<Exclude<ContentEncoding, 'identity'>, string> = { br: '.br', gzip: '.gz' };

/** The q-value Accept-Encoding gives `coding` (explicitly or through "*"); 0 when it is not accepted. */
export function acceptedQuality(acceptEncoding: string | undefined, coding: 'br' | 'gzip'): number {
  if (!acceptEncoding) return 0;
  let star: number | null = null;
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean);
    const quality = q ? Math.min(1, Number(q[1]) || 0) : 1;
    if (name.trim() === coding || (coding === 'gzip' && name.trim() === 'x-gzip')) return quality;
    if (name.trim() === '*') star = quality;
  }
  return star ?? 0;
}

/** The best encoding among those a file has and the client accepts (brotli first). */
export function chooseEncoding(acceptEncoding: string | undefined, available: readonly ContentEncoding[]): ContentEncoding {
  const br = available.includes('br') ? acceptedQuality(acceptEncoding, 'br') : 0;
  const gzip = available.includes('gzip') ? acceptedQuality(acceptEncoding, 'gzip') : 0;
  if (br > 0 && br >= gzip) return 'br';
  if (gzip > 0) return 'gzip';
  return 'identity';
}

export interface StaticFile {
  /** The file to send (a .br or .gz sibling when encoded). */
  path: string;
  /** Bytes of that file: the Content-Length. */
  size: number;
  encoding: ContentEncoding;
  /** The type of the plain file. */
  contentType: string;
  /** Weak validator of the plain file and the variant. */
  etag: string;
  /** The file has variants: the answer must say Vary: Accept-Encoding. */
  negotiated: boolean;
  /** Under /assets/: content-hashed names, cacheable for a year. */
  immutable: boolean;
}

/**
 * The file for `pathname` (URL-decoded by the caller's parser), or null when
 * there is none. Throws URIError on a malformed percent-encoding.
 */
export async function findStaticFile(distDir: string, pathname: string, acceptEncoding: string | undefined): Promise<StaticFile | null> {
  const relative = normalize(decodeURIComponent(pathname));
  let file = join(distDir, relative);
  // normalize() resolved any "..": anything outside distDir is refused.
  if (file !== distDir && !file.startsWith(distDir + sep)) return null;
  if (/\.(?:br|gz)$/.test(file)) return null; // variants are reached through negotiation only
  let info = await stat(file).catch(() => null);
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => null);
  }
  if (!info && extname(relative) === '') {
    file = join(distDir, 'index.html'); // client-side routes
    info = await stat(file).catch(() => null);
  }
  if (!info || !info.isFile()) return null;
  const variants: { encoding: ContentEncoding; size: number; mtimeMs: number }[] = [];
  for (const encoding of ['br', 'gzip'] as const) {
    const variant = await stat(file + SUFFIX[encoding]).catch(() => null);
    if (variant?.isFile()) variants.push({ encoding, size: variant.size, mtimeMs: variant.mtimeMs });
  }
  const encoding = chooseEncoding(acceptEncoding, variants.map((v) => v.encoding));
  const chosen = variants.find((v) => v.encoding === encoding);
  const tag = `${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}`;
  return {
    path: chosen ? file + SUFFIX[encoding as 'br' | 'gzip'] : file,
    size: chosen ? chosen.size : info.size,
    encoding,
    contentType: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    etag: `W/"${tag}${chosen ? `-${encoding}` : ''}"`,
    negotiated: variants.length > 0,
    immutable: relative.startsWith(`${sep}assets${sep}`),
  };
}
