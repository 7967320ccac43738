// Copy detection (SPEC §2.5): how much two submissions' top-k index sets
// overlap. For every pair of the round's accepted submissions:
//
//   overlap(i, j) = Σ_t size_t · ( mean over chunks c of t of |I_c ∩ J_c| / k_c ) / Σ_t size_t
//
// over the tensors sent sparsely (dense 1-D tensors carry every index and say
// nothing about copying). Independent picks of 64 of 4096 overlap by ≈ 1.6%;
// honest peers training the same model overlap more (docs/results.md measures
// it), so the thresholds are high. Of a pair, the later arrival is the suspect
// (receivedAt, then address for equal times); each submission is charged with
// its largest overlap with any earlier one.
//
// Cost: one merge of two ascending index lists per pair and tensor, about
// 2·0.016·P steps per pair, R(R−1)/2 pairs (`npm run bench -- gauntlet`
// measures R = 100). A match's chunk is its index / chunkSize, so the merge
// runs over the whole tensor at once.
// Leaves out: the penalties (round.ts).
import { chunkCount, chunkKeep, tensorMode, type CompressConfig, type CompressedUpdate } from '../compress/sparseloco.ts';
import type { TensorManifest } from '../compress/manifest.ts';

export interface ArrivedUpdate {
  address: string;
  receivedAt: number;
  update: CompressedUpdate;
}

export interface CopyFinding {
  /** Largest overlap with an earlier arrival of the round (0 for the first). */
  overlap: number;
  /** That earlier arrival's address, or '' if none overlaps at all. */
  with: string;
}

/** Arrival order: receivedAt, then address (code-unit order). */
export function byArrival<T extends { address: string; receivedAt: number }>(a: T, b: T): number {
  return a.receivedAt - b.receivedAt || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
}

/** Mean over chunks of |A_c ∩ B_c| / k_c for two ascending index lists of one tensor. */
function tensorOverlap(a: Uint32Array, b: Uint32Array, size: number, config: CompressConfig): number {
  const chunks = chunkCount(size, config.chunkSize);
  const lastLength = size - (chunks - 1) * config.chunkSize;
  const fullShare = 1 / config.topK;
  const lastShare = 1 / chunkKeep(lastLength, config);
  const lastChunk = chunks - 1;
  let sum = 0;
  let p = 0;
  let q = 0;
  while (p < a.length && q < b.length) {
    const x = a[p];
    const y = b[q];
    if (x < y) p++;
    else if (y < x) q++;
    else {
      sum += Math.floor(x / config.chunkSize) === lastChunk ? lastShare : fullShare;
      p++;
      q++;
    }
  }
  return sum / chunks;
}

/** overlap(i, j) of the file header for two updates of this manifest. */
export function updateOverlap(a: CompressedUpdate, b: CompressedUpdate, manifest: TensorManifest, config: CompressConfig): number {
  let weighted = 0;
  let total = 0;
  manifest.forEach((entry, t) => {
    if (tensorMode(entry, config) !== 'sparse') return;
    const x = a.tensors[t];
    const y = b.tensors[t];
    if (x.mode !== 'sparse' || y.mode !== 'sparse') throw new RangeError(`${entry.name} is not sparse in both updates`);
    weighted += entry.size * tensorOverlap(x.indices, y.indices, entry.size, config);
    total += entry.size;
  });
  return total === 0 ? 0 : weighted / total;
}

/**
 * Each submission's largest overlap with an earlier arrival, by address.
 * R(R−1)/2 pairs.
 */
export function copyFindings(submissions: readonly ArrivedUpdate[], manifest: TensorManifest, config: CompressConfig): Map<string, CopyFinding> {
  const ordered = [...submissions].sort(byArrival);
  const findings = new Map<string, CopyFinding>();
  ordered.forEach((later, j) => {
    let best: CopyFinding = { overlap: 0, with: '' };
    for (let i = 0; i < j; i++) {
      const overlap = updateOverlap(ordered[i].update, later.update, manifest, config);
      if (overlap > best.overlap) best = { overlap, with: ordered[i].address };
    }
    findings.set(later.address, best);
  });
  return findings;
}
