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
// Cost: not pair by pair (R(R−1)/2 merges of 0.016·P indices each: 2.6 s
// for tiny at R = 100 here) but position by position: every selected
// position lists the submissions that selected it (a counting sort), and
// each pair among them gains that position's share. That is Σ_positions
// C(m, 2) additions for m selectors of a position: ≈ (R·0.016)²/2 per
// position for independent picks, a few times more for honest peers that
// agree. `npm run bench -- gauntlet` measures R = 100. updateOverlap, the
// plain merge of two lists, is the reference the tests compare against.
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
 * Each submission's largest overlap with an earlier arrival, by address (see
 * the file header for how the pairs are counted).
 */
export function copyFindings(submissions: readonly ArrivedUpdate[], manifest: TensorManifest, config: CompressConfig): Map<string, CopyFinding> {
  const ordered = [...submissions].sort(byArrival);
  const R = ordered.length;
  const pair = new Float64Array(R * R); // (R, R) overlap of (earlier i, later j) at [i·R + j], i < j
  let total = 0;
  manifest.forEach((entry) => (total += tensorMode(entry, config) === 'sparse' ? entry.size : 0));
  manifest.forEach((entry, t) => {
    if (tensorMode(entry, config) !== 'sparse' || total === 0) return;
    const chunks = chunkCount(entry.size, config.chunkSize);
    const lastLength = entry.size - (chunks - 1) * config.chunkSize;
    const weight = entry.size / (chunks * total); // a common position in a full chunk adds weight / k
    const fullShare = weight / config.topK;
    const lastShare = weight / chunkKeep(lastLength, config);
    // Counting sort of (position → selectors), selectors in arrival order.
    const counts = new Uint32Array(entry.size + 1);
    const lists = ordered.map((s) => {
      const tensor = s.update.tensors[t];
      if (tensor.mode !== 'sparse') throw new RangeError(`${entry.name} is not sparse in ${s.address}'s update`);
      return tensor.indices;
    });
    for (const indices of lists) for (let j = 0; j < indices.length; j++) counts[indices[j] + 1]++;
    for (let p = 0; p < entry.size; p++) counts[p + 1] += counts[p];
    const owners = new Uint32Array(counts[entry.size]);
    const fill = counts.slice(0, entry.size);
    lists.forEach((indices, r) => {
      for (let j = 0; j < indices.length; j++) owners[fill[indices[j]]++] = r;
    });
    for (let p = 0; p < entry.size; p++) {
      const from = counts[p];
      const to = counts[p + 1];
      if (to - from < 2) continue;
      const share = Math.floor(p / config.chunkSize) === chunks - 1 ? lastShare : fullShare;
      for (let a = from; a < to; a++) for (let b = a + 1; b < to; b++) pair[owners[a] * R + owners[b]] += share;
    }
  });
  const findings = new Map<string, CopyFinding>();
  ordered.forEach((later, j) => {
    let best: CopyFinding = { overlap: 0, with: '' };
    for (let i = 0; i < j; i++) if (pair[i * R + j] > best.overlap) best = { overlap: pair[i * R + j], with: ordered[i].address };
    findings.set(later.address, best);
  });
  return findings;
}
