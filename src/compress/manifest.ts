// The tensor manifest as compression sees it: named, contiguous views of the one
// flat parameter buffer. Structural on purpose, so a model layout's TensorView
// ({name, shape, offset, size, decay}) fits without compression importing the
// model; and a digest of it, so bytes made for one model never apply to another.
//
// Leaves out: how the layout is built (src/model owns that).
import { blake2AsU8a } from '@polkadot/util-crypto';

/** One tensor: a contiguous view [offset, offset + size) of the flat parameter buffer. */
export interface TensorManifestEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

export type TensorManifest = readonly TensorManifestEntry[];

/** A manifest that cannot describe a parameter buffer (a programming error in the caller). */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Largest tensor we handle. Indices travel as u32 and are shifted with `>>>`,
 * and a Float32Array of 2^31 values is far beyond any browser's memory anyway.
 */
export const MAX_TENSOR_SIZE = 2 ** 31 - 1;

const checked = new WeakSet<TensorManifest>();

/**
 * Throws ManifestError unless every entry has a name, an integer shape whose
 * product is its size, and views that do not overlap; when paramCount is given,
 * every view must fit in a buffer of that length. Checked once per manifest object.
 */
export function checkManifest(manifest: TensorManifest, paramCount?: number): void {
  if (paramCount === undefined && checked.has(manifest)) return;
  const names = new Set<string>();
  const spans: [number, number, string][] = [];
  for (const entry of manifest) {
    if (typeof entry.name !== 'string' || entry.name.length === 0) throw new ManifestError('tensor without a name');
    if (names.has(entry.name)) throw new ManifestError(`tensor ${entry.name} appears twice`);
    names.add(entry.name);
    let product = 1;
    for (const dim of entry.shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) throw new ManifestError(`${entry.name}: bad dimension ${dim}`);
      product *= dim;
    }
    if (entry.shape.length === 0 || product !== entry.size) {
      throw new ManifestError(`${entry.name}: shape [${entry.shape.join(', ')}] does not hold ${entry.size} values`);
    }
    if (entry.size > MAX_TENSOR_SIZE) throw new ManifestError(`${entry.name}: ${entry.size} values is too many`);
    if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) throw new ManifestError(`${entry.name}: bad offset`);
    if (paramCount !== undefined && entry.offset + entry.size > paramCount) {
      throw new ManifestError(`${entry.name}: view ends at ${entry.offset + entry.size}, buffer holds ${paramCount}`);
    }
    spans.push([entry.offset, entry.offset + entry.size, entry.name]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new ManifestError(`${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  }
  checked.add(manifest);
}

const digests = new WeakMap<TensorManifest, Uint8Array>();

/**
 * 8-byte fingerprint of the manifest: BLAKE2b-64 over "name\0dims\0offset\0size\n"
 * per tensor, in manifest order. Catches a wrong model, not an attacker (the
 * signed submission header binds the payload to the model hash).
 */
export function manifestDigest(manifest: TensorManifest): Uint8Array {
  let digest = digests.get(manifest);
  if (!digest) {
    const text = manifest.map((t) => `${t.name}\0${t.shape.join(',')}\0${t.offset}\0${t.size}\n`).join('');
    digest = blake2AsU8a(new TextEncoder().encode(text), 64);
    digests.set(manifest, digest);
  }
  return digest;
}
