// Kernel plumbing that needs no GPU: the one workgroup-grid fold, the encoder's
// token buckets (a stable counting sort), and the matmul tile table's own
// consistency checks.
import { describe, expect, it } from 'vitest';
import { workgroupGrid } from '../../src/gpu/runtime.ts';
import { tokenBucketWords, tokenBuckets } from '../../src/kernels/encoder.ts';
import { DEFAULT_MATMUL_TILE, MATMUL_TILES, tileExtent, tileProblem } from '../../src/kernels/matmul.ts';

describe('workgroupGrid', () => {
  it('covers the invocations with a rectangle at most maxX wide', () => {
    expect(workgroupGrid(1, 256, 65535)).toEqual([1, 1]);
    expect(workgroupGrid(0, 256, 65535)).toEqual([1, 1]); // an empty launch still has one (idle) workgroup
    expect(workgroupGrid(65535 * 256, 256, 65535)).toEqual([65535, 1]);
    expect(workgroupGrid(65535 * 256 + 1, 256, 65535)).toEqual([65535, 2]);
    expect(workgroupGrid(50_000_000, 256, 65535)).toEqual([65535, 3]);
    expect(workgroupGrid(1000, 256, 3)).toEqual([3, 2]);
    expect(workgroupGrid(264, 1, 5)).toEqual([5, 53]);
  });

  it('always covers every invocation, with less than one row of overhang', () => {
    for (const [n, size, maxX] of [[1, 64, 7], [12345, 64, 7], [99, 1, 10], [4096, 256, 2]]) {
      const [x, y] = workgroupGrid(n, size, maxX);
      expect(x).toBeLessThanOrEqual(maxX);
      expect(x * y * size).toBeGreaterThanOrEqual(n);
      expect((x * (y - 1)) * size).toBeLessThan(Math.max(n, 1));
    }
  });
});

describe('tokenBuckets', () => {
  it('groups positions by token in ascending position order, with offsets', () => {
    const inp = Uint32Array.from([3, 1, 3, 0, 3, 1]);
    const buckets = tokenBuckets(inp, 5);
    expect(buckets.length).toBe(tokenBucketWords(6, 5));
    // Offsets: token 0 at [0, 1), 1 at [1, 3), 2 empty, 3 at [3, 6), 4 empty.
    expect(Array.from(buckets.subarray(0, 6))).toEqual([0, 1, 3, 3, 6, 6]);
    expect(Array.from(buckets.subarray(6))).toEqual([3, 1, 5, 0, 2, 4]);
  });

  it('reuses the output array, clearing the previous batch', () => {
    const out = tokenBuckets(Uint32Array.from([1, 1, 1]), 2);
    tokenBuckets(Uint32Array.from([0, 1, 0]), 2, out);
    expect(Array.from(out)).toEqual([0, 2, 3, 0, 2, 1]);
  });

  it('rejects a token outside the vocabulary and a wrong-sized output', () => {
    expect(() => tokenBuckets(Uint32Array.from([0, 256]), 256)).toThrow(/token 256 at position 1/);
    expect(() => tokenBuckets(Uint32Array.from([0]), 4, new Uint32Array(3))).toThrow(RangeError);
  });
});

describe('matmul tiles', () => {
  it('every candidate can run as matmul.wgsl is written, and the default is one of them', () => {
    for (const [name, tile] of Object.entries(MATMUL_TILES)) expect(tileProblem(tile), name).toBeNull();
    expect(MATMUL_TILES[DEFAULT_MATMUL_TILE]).toBeDefined();
    expect(tileExtent(MATMUL_TILES[DEFAULT_MATMUL_TILE])).toEqual({ M: 64, N: 64 });
  });

  it('names what is wrong with a tile that cannot run', () => {
    expect(tileProblem({ WG_X: 8, WG_Y: 8, ROWS: 6, COLS: 1, TILE_K: 16 })).toMatch(/ROWS/);
    expect(tileProblem({ WG_X: 8, WG_Y: 8, ROWS: 4, COLS: 1, TILE_K: 3 })).toMatch(/split evenly/);
    expect(tileProblem({ WG_X: 32, WG_Y: 16, ROWS: 4, COLS: 1, TILE_K: 16 })).toMatch(/invocations/);
    expect(tileProblem({ WG_X: 8, WG_Y: 8, ROWS: 8, COLS: 2, TILE_K: 64 })).toMatch(/16 KiB/);
  });
});
