// The matmul tile search: which of matmul.wgsl's tile shapes (MATMUL_TILES,
// override constants) is fastest on this adapter at the tab's own shape. Every
// candidate is compiled (in parallel), checked against the reference twin on an
// odd-sized product, then timed; the fastest correct one wins. A tab runs it
// once per adapter and model shape and keeps the result (src/kernels/tab-kernels.ts,
// cached in IndexedDB by src/storage/kernel-tuning.ts).
//
// Cost is bounded: a fixed candidate list, one compile each, a check on a
// 67×45×130 product, and timing rounds (every candidate once per round, so a
// change in machine load hits all of them alike) until budgetMs is spent, at
// least one round and at most `maxRounds` (400 ms and 15 by default). The
// timed shape is the tab's widest matmul with its rows capped at 512, so one
// run stays short on a slow adapter.
// Timing is wall clock around a submit and its completion (timestamp queries
// are not in every browser); the submit overhead is the same for every tile.
// Leaves out: searching backward products separately (all three share
// tile_product, so they get the forward's winner) and exploring shapes outside
// the list.
import { GpuValidationError } from '../gpu/errors.ts';
import type { GpuContext, PreparedDispatch } from '../gpu/runtime.ts';
import { matmulForward } from '../reference/matmul.ts';
import { MATMUL_TILES, DEFAULT_MATMUL_TILE, matmulKernels, prepareMatmulForward, tileExtent, tileProblem } from './matmul.ts';

/** out(M, N) = inp(M, K) · weight(N, K)ᵀ, the product the search times. */
export interface MatmulShape {
  M: number;
  K: number;
  N: number;
}

export interface TileTiming {
  tile: string;
  /** Median wall time of one product at the timed shape; null when the tile was ruled out. */
  ms: number | null;
  /** Why a tile was ruled out (does not fit the device, wrong result, failed to compile). */
  problem: string | null;
}

export interface TileSearchResult {
  /** The fastest correct tile (the default when nothing else ran). */
  tile: string;
  timings: TileTiming[];
  /** The shape that was timed. */
  shape: MatmulShape;
  /** Wall time of the whole search, compile included. */
  ms: number;
}

export interface TileSearchOptions {
  /** Time spent in timing rounds after the warm-up (default 400 ms: at the nano preset's shapes about 15 rounds on SwiftShader). */
  budgetMs?: number;
  maxRounds?: number;
  /**
   * Other work to start once the candidates' compiles are under way (the rest
   * of a tab's kernels); the timing waits for it to settle, so that it does not
   * share the processor with the runs being timed.
   */
  alongside?: () => Promise<unknown>;
  /** (done, total) over compile + check + timing of every candidate. */
  onProgress?: (done: number, total: number) => void;
}

/** Rows of the timed product: enough to fill a GPU with tiles, few enough for a short run on a software adapter. */
const MAX_TIMED_ROWS = 512;
/** The correctness check's product: odd sizes exercise every bounds check. */
const CHECK_SHAPE: MatmulShape = { M: 67, K: 45, N: 130 };
/** float32 sums of 45 products of values in [−1, 1] against a float64 oracle. */
const CHECK_TOLERANCE = 1e-4;

/** Values in [−1, 1] that differ from element to element: a check needs coverage, not randomness. */
const checkValues = (length: number, phase: number): Float32Array => Float32Array.from({ length }, (_, i) => Math.sin(i * 0.7 + phase));

/** max |a − b|, Infinity where only one of them is NaN. */
function maxAbsError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
  return worst;
}

type TileLimits = Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupStorageSize'>;

/** Why a tile cannot run on a device with these limits, or null. */
export function tileProblemOn(limits: TileLimits, tileName: string): string | null {
  const tile = MATMUL_TILES[tileName];
  const problem = tileProblem(tile);
  if (problem) return problem;
  const { M, N } = tileExtent(tile);
  if (tile.WG_X * tile.WG_Y > limits.maxComputeInvocationsPerWorkgroup) return 'too many invocations for this device';
  if (tile.TILE_K * (M + N) * 4 > limits.maxComputeWorkgroupStorageSize) return 'too much workgroup memory for this device';
  return null;
}

/** Finds the fastest correct tile for out(M, N) = inp(M, K) · weight(N, K)ᵀ on ctx's device. */
export async function searchMatmulTile(ctx: GpuContext, shape: MatmulShape, options: TileSearchOptions = {}): Promise<TileSearchResult> {
  const { budgetMs = 400, maxRounds = 15, onProgress, alongside } = options;
  for (const [name, value] of Object.entries(shape)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`searchMatmulTile: ${name} = ${value} must be a positive integer`);
  }
  const start = performance.now();
  const names = Object.keys(MATMUL_TILES);
  const timings = new Map<string, TileTiming>(names.map((tile) => [tile, { tile, ms: null, problem: tileProblemOn(ctx.device.limits, tile) }]));
  const usable = () => names.filter((tile) => timings.get(tile)!.problem === null);
  // Three steps per candidate (compile, check, time); one ruled out early skips the rest, and the last report is always total.
  const total = 3 * names.length;
  let done = 3 * (names.length - usable().length);
  const step = () => onProgress?.(++done, total);

  // Compile every candidate at once; a failure rules out that tile only.
  const compiled = Promise.all(
    usable().map(async (tile) => {
      try {
        await ctx.pipeline(matmulKernels(ctx, tile).forward);
      } catch (error) {
        timings.get(tile)!.problem = `did not compile: ${error instanceof Error ? error.message : String(error)}`;
      }
      step();
    }),
  );
  // The caller awaits (and reports) its own work; here it only has to be over before the timing.
  const other = alongside?.().catch(() => undefined);
  await compiled;

  // Check each against the reference twin.
  const { M, K, N } = CHECK_SHAPE;
  const inp = checkValues(M * K, 1);
  const weight = checkValues(N * K, 2);
  const bias = checkValues(N, 3);
  const expected = new Float32Array(M * N);
  matmulForward(expected, inp, weight, bias, M, K, N);
  const check = { out: ctx.createBuffer('tile-check.out', M * N * 4), inp: ctx.upload('tile-check.inp', inp), weight: ctx.upload('tile-check.weight', weight), bias: ctx.upload('tile-check.bias', bias) };
  try {
    for (const tile of usable()) {
      ctx.write(check.out, new Float32Array(M * N).fill(Number.NaN));
      const dispatch = await prepareMatmulForward(ctx, check, M, K, N, tile);
      await ctx.run([dispatch]);
      ctx.release([dispatch]);
      const worst = maxAbsError(await ctx.readFloat32(check.out, M * N), expected);
      if (!(worst <= CHECK_TOLERANCE)) timings.get(tile)!.problem = `wrong result: max abs error ${worst} against the reference`;
      step();
    }
  } finally {
    Object.values(check).forEach((buffer) => buffer.destroy());
  }

  // Time the survivors, round-robin (a change in machine load hits every candidate alike), once `alongside` is done.
  await other;
  const timed: MatmulShape = { M: Math.min(shape.M, MAX_TIMED_ROWS), K: shape.K, N: shape.N };
  const buffers = {
    out: ctx.createBuffer('tile-search.out', timed.M * timed.N * 4),
    inp: ctx.upload('tile-search.inp', checkValues(timed.M * timed.K, 4)),
    weight: ctx.upload('tile-search.weight', checkValues(timed.N * timed.K, 5)),
    bias: null,
  };
  const candidates = usable();
  const dispatches = await Promise.all(candidates.map((tile) => prepareMatmulForward(ctx, buffers, timed.M, timed.K, timed.N, tile)));
  const samples = candidates.map(() => [] as number[]);
  try {
    // The first round warms each pipeline up (first-touch costs) and is not kept, unless it is all there is time for.
    const warmUp: number[] = [];
    for (const dispatch of dispatches) warmUp.push(await timeRun(ctx, dispatch));
    candidates.forEach(() => step());
    const timingStart = performance.now();
    for (let round = 0; round < maxRounds && performance.now() - timingStart < budgetMs; round++) {
      for (const [i, dispatch] of dispatches.entries()) samples[i].push(await timeRun(ctx, dispatch));
    }
    candidates.forEach((tile, i) => (timings.get(tile)!.ms = median(samples[i].length ? samples[i] : [warmUp[i]])));
  } finally {
    ctx.release(dispatches);
    [buffers.out, buffers.inp, buffers.weight].forEach((buffer) => buffer.destroy());
  }
  if (candidates.length === 0) throw new GpuValidationError(`no matmul tile works on this device: ${[...timings.values()].map((t) => `${t.tile}: ${t.problem}`).join('; ')}`);

  if (done < total) onProgress?.(total, total);
  const fastest = candidates.reduce((best, tile) => (timings.get(tile)!.ms! < timings.get(best)!.ms! ? tile : best), candidates.includes(DEFAULT_MATMUL_TILE) ? DEFAULT_MATMUL_TILE : candidates[0]);
  return { tile: fastest, timings: names.map((tile) => timings.get(tile)!), shape: timed, ms: performance.now() - start };
}

async function timeRun(ctx: GpuContext, dispatch: PreparedDispatch): Promise<number> {
  const t0 = performance.now();
  await ctx.run([dispatch]);
  return performance.now() - t0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
