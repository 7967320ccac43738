// `npm run bench -- shards`: would fetching the training text in pieces cut a
// joining tab's download? A tab's batches are windows at offsets drawn over
// the whole text (src/data/sampler.ts windowStarts, SPEC §2.1), so the pieces
// it needs are the shards its windows touch. For the default run's shape
// (nano: B 8, T 64, H 15) and 20 tabs, the share of the text's shards touched
// after 1, 3 and 10 rounds, at 16, 64 and 256 KiB per shard. The baseline is
// the whole text, which a tab fetches once (brotli, 1.67 MB here).
// Leaves out: HTTP costs of many small requests (each shard also compresses
// worse than the whole file).
import { windowStarts } from '../data/sampler.ts';
import { ensureDataset } from '../data/prepare.ts';
import { printTable, round, type BenchOptions } from './report.ts';

export async function benchShards(options: BenchOptions) {
  const textBytes = ensureDataset().manifest.train_bytes;
  const B = options.batchSize ?? 8;
  const T = options.seqLen ?? 64;
  const H = 15;
  const tabs = 20;
  const rows = [];
  for (const shardKiB of [16, 64, 256]) {
    const shard = shardKiB * 1024;
    const shards = Math.ceil(textBytes / shard);
    for (const rounds of [1, 3, 10]) {
      const shares: number[] = [];
      for (let tab = 0; tab < tabs; tab++) {
        const touched = new Set<number>();
        for (let r = 0; r < rounds; r++) {
          for (let s = 0; s < H; s++) {
            for (const start of windowStarts(textBytes, BigInt(1000 * tab + r + 1), r * H + s, B, T)) {
              touched.add(Math.floor(start / shard));
              touched.add(Math.floor((start + T) / shard));
            }
          }
        }
        shares.push(touched.size / shards);
      }
      shares.sort((a, b) => a - b);
      rows.push({ shard_kib: shardKiB, shards, rounds, median_share: round(shares[tabs >> 1], 2), min_share: round(shares[0], 2), max_share: round(shares[tabs - 1], 2) });
    }
  }
  printTable(`share of the training text (${textBytes} bytes) a tab's windows touch, B ${B}, T ${T}, H ${H}, ${tabs} tabs`, rows);
  return { bench: 'shards', textBytes, B, T, H, rows };
}
