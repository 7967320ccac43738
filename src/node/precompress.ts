// Precompressed static files: a Vite plugin that, after a production build,
// writes NAME.gz (gzip level 9) and NAME.br (brotli) beside every file of the
// output that compresses by at least MIN_SAVING, and download-sizes.json with
// every file's size plain, gzip and brotli (the app says from it what a join
// downloads: src/app/join-download.ts). The relay picks the variant the
// browser's Accept-Encoding allows (src/relay/static-files.ts), so nothing is
// compressed per request.
// Brotli quality, chosen by measurement on this project's files (2-core CI
// machine, node:zlib): the training text (5.7 MB) is 1.81 MB at quality 9 in
// 3.5 s and 1.67 MB at 11 in 42 s; the main script (712 kB) 324 kB vs 311 kB.
// Quality 11 is worth its time once, not on every build, so compressed bytes
// are cached by content hash under node_modules/.cache/ and a rebuild of
// unchanged files costs a file read. Files over MAX_Q11_BYTES (the
// onnxruntime wasm, 14 MB: 98 s at 11) get quality 9: they are fetched rarely.
// node:zlib rather than a plugin package: the whole job is two library calls
// and a directory walk, and a package would add a dependency for it.
// Leaves out: zstd (no browser sends it to every origin yet), dev-server compression.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin, ResolvedConfig } from 'vite';

/** Files worth compressing, by extension (images and fonts are compressed already). */
const COMPRESSIBLE = /\.(?:html|js|mjs|css|json|svg|txt|wasm|bin|map|wgsl)$/;
/** Smaller files gain less than a request's headers. */
const MIN_BYTES = 1024;
/** Keep a compressed variant only when it saves at least this share. */
const MIN_SAVING = 0.05;
const MAX_Q11_BYTES = 8 << 20;
const CACHE_DIR = resolve('node_modules/.cache/tessera-precompress');

export const DOWNLOAD_SIZES_FILE = 'download-sizes.json';

export interface CompressedSizes {
  bytes: number;
  gzip: number | null;
  br: number | null;
}

function cached(kind: 'gz' | 'br', content: Buffer, level: number, compress: () => Buffer): Buffer {
  const key = createHash('sha256').update(content).digest('hex');
  const file = join(CACHE_DIR, `${key}.${kind}${level}`);
  if (existsSync(file)) return readFileSync(file);
  const out = compress();
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(file, out);
  return out;
}

/** Writes path.gz and path.br where they pay off; returns the sizes. */
export function precompressFile(path: string): CompressedSizes {
  const content = readFileSync(path);
  const sizes: CompressedSizes = { bytes: content.length, gzip: null, br: null };
  if (content.length < MIN_BYTES) return sizes;
  const worth = (out: Buffer) => out.length <= content.length * (1 - MIN_SAVING);
  const gz = cached('gz', content, 9, () => gzipSync(content, { level: 9 }));
  if (worth(gz)) {
    writeFileSync(`${path}.gz`, gz);
    sizes.gzip = gz.length;
  }
  const quality = content.length <= MAX_Q11_BYTES ? 11 : 9;
  const br = cached('br', content, quality, () =>
    brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_SIZE_HINT]: content.length } }),
  );
  if (worth(br)) {
    writeFileSync(`${path}.br`, br);
    sizes.br = br.length;
  }
  return sizes;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Precompresses every compressible file under `outDir` and writes download-sizes.json there. */
export function precompressDirectory(outDir: string): Record<string, CompressedSizes> {
  const files: Record<string, CompressedSizes> = {};
  for (const path of walk(outDir).sort()) {
    const name = relative(outDir, path).split(sep).join('/');
    if (/\.(?:gz|br)$/.test(name) || name === DOWNLOAD_SIZES_FILE) continue;
    files[name] = COMPRESSIBLE.test(name) ? precompressFile(path) : { bytes: statSync(path).size, gzip: null, br: null };
  }
  writeFileSync(join(outDir, DOWNLOAD_SIZES_FILE), `${JSON.stringify({ files }, null, 1)}\n`);
  return files;
}

/** The Vite plugin: runs once the whole build (workers and public/ included) is on disk. */
export function precompress(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'tessera-precompress',
    apply: 'build',
    configResolved(resolved) {
      config = resolved;
    },
    closeBundle() {
      const outDir = resolve(config.root, config.build.outDir);
      const started = performance.now();
      const files = precompressDirectory(outDir);
      const count = Object.values(files).filter((f) => f.br !== null || f.gzip !== null).length;
      config.logger.info(`precompressed ${count} files (gzip, brotli) in ${((performance.now() - started) / 1000).toFixed(1)} s; sizes in ${DOWNLOAD_SIZES_FILE}`);
    },
  };
}
