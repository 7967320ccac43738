// A tab's kernels at start-up: pick the variants for this device, compile only
// what the tab runs, asynchronously and in parallel, and report progress.
//   1. Subgroup reductions when the device has the 'subgroups' feature
//      (GpuContext's default choice).
//   2. The matmul tile: from the cache (IndexedDB in a tab) when this adapter
//      already searched at this shape, else the tile search
//      (src/kernels/tile-search.ts), saved for the next start. The key is the
//      adapter's identity, the timed shape and a digest of the candidates and
//      matmul.wgsl, so a changed shader searches again.
//   3. The tab's kernel list (tabKernels) compiled at once; during a search
//      everything the tile does not affect compiles behind the candidates,
//      before the timing (which must not share the processor with compiles),
//      and the winner's backward products after it.
// The context passed in is the tab's device's (src/worker/tab-device.ts): the
// returned one shares its pipeline cache, so the self-test's matmul pipelines
// (compiled at page open on the default tile) serve training whenever the
// search keeps that tile, and the default forward is not compiled twice.
// Leaves out: the storage itself (TuningCache is an interface;
// src/storage/kernel-tuning.ts implements it on IndexedDB).
import { adapterIdentity, type GpuDevice } from '../gpu/device.ts';
import { GpuContext, type CompileReport, type KernelSpec } from '../gpu/runtime.ts';
import { tabKernels, type TabKernelSet } from './index.ts';
import { MATMUL_TILES, matmulKernels } from './matmul.ts';
import matmulSource from '../../shaders/matmul.wgsl?raw';
import { searchMatmulTile, type MatmulShape, type TileTiming } from './tile-search.ts';

/** One tile search's outcome, as cached. */
export interface TuningRecord {
  /** adapterIdentity | timed shape | digest of the candidates and matmul.wgsl. */
  key: string;
  adapter: string;
  tile: string;
  timings: TileTiming[];
  shape: MatmulShape;
  searchMs: number;
  savedAt: number; // ms since the Unix epoch
}

export interface TuningCache {
  /** The record under `key`, or null. */
  load(key: string): Promise<TuningRecord | null>;
  save(record: TuningRecord): Promise<void>;
}

export interface TabKernelOptions extends TabKernelSet {
  /** The tab's training shape; the tile search times its MLP up-projection (B·T, C) · (4C, C)ᵀ. */
  shape: { BT: number; C: number };
  /** Where search results persist; null searches at every start. */
  cache: TuningCache | null;
  /** Timing budget of a search (default: searchMatmulTile's). */
  searchBudgetMs?: number;
  /** Progress over the whole start-up: the search's steps, then each compiled kernel. */
  onProgress?: (progress: { done: number; total: number; detail: string }) => void;
}

export interface TabKernels {
  /** The context to train on: its choices are the variants picked here, its pipelines compiled. */
  ctx: GpuContext;
  tuning: TuningRecord;
  /** 'cache': an earlier start searched; 'search': this one did. */
  tileFrom: 'cache' | 'search';
  /** The tab's kernel set: how many, how many pipelines this start-up compiled (the set, plus the other tile candidates after a search, less what the device's cache held), wall time of the whole start-up. */
  compile: CompileReport;
  /** A cache that failed to load or save (the start-up goes on without it). */
  cacheError: string | null;
}

/** The cache key for a tile search on this adapter at this shape. */
export async function tuningKey(gpu: GpuDevice, shape: MatmulShape): Promise<string> {
  const text = new TextEncoder().encode(JSON.stringify(MATMUL_TILES) + '\0' + matmulSource);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', text));
  const hex = [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${adapterIdentity(gpu.adapter)}|${shape.M}x${shape.K}x${shape.N}|${hex}`;
}

/**
 * The tab's training context on `device`'s pipeline cache (a context of the
 * tab's one device: what it compiled already, e.g. for the self-test, is
 * reused), with the variants chosen here and the tab's kernels compiled.
 */
export async function prepareTabKernels(device: GpuContext, options: TabKernelOptions): Promise<TabKernels> {
  const { shape, cache, onProgress, searchBudgetMs } = options;
  const start = performance.now();
  const gpu = device.gpu;
  const timed: MatmulShape = { M: shape.BT, K: shape.C, N: 4 * shape.C };
  const key = await tuningKey(gpu, timed);
  let cacheError: string | null = null;
  const note = (what: string, error: unknown) => (cacheError = `${what}: ${error instanceof Error ? error.message : String(error)}`);

  let cached: TuningRecord | null = null;
  if (cache) cached = await cache.load(key).catch((error: unknown) => (note('loading the tile search result', error), null));
  const base = device.withChoices({ matmulTile: null });
  if (cached && MATMUL_TILES[cached.tile]) {
    const ctx = base.withChoices({ matmulTile: cached.tile });
    const kernels = tabKernels(ctx, options);
    const report = await ctx.compile(kernels, (done, total) => onProgress?.({ done, total, detail: `${done} of ${total} kernels` }));
    return { ctx, tuning: cached, tileFrom: 'cache', compile: { ...report, ms: performance.now() - start }, cacheError };
  }
  const before = base.pipelineCount;

  // The search starts first, so its candidates head the compile queue (they
  // are its critical path); everything the tile does not change compiles
  // alongside, and the search times the candidates once those compiles are
  // done: timed while other pipelines compiled on SwiftShader, it picked a
  // tile twice as slow as the default at the nano preset's B·T = 256.
  const tileKernels = new Set(Object.keys(MATMUL_TILES).flatMap((tile) => tileSpecificKernels(base, tile).map((k) => GpuContext.pipelineKey(k))));
  const independent = tabKernels(base, options).filter((kernel) => !tileKernels.has(GpuContext.pipelineKey(kernel)));
  const searchSteps = 3 * Object.keys(MATMUL_TILES).length;
  const total = searchSteps + tabKernels(base, options).length;
  let done = 0;
  const tick = (detail: string) => onProgress?.({ done: Math.min(++done, total - 1), total, detail });
  let compiling: Promise<unknown> = Promise.resolve();
  const result = await searchMatmulTile(base, timed, {
    budgetMs: searchBudgetMs,
    alongside: () => (compiling = base.compile(independent, (n, of) => tick(`${n} of ${of} kernels (and the matmul tile search, first start on this GPU)`))),
    onProgress: (n) => tick(`matmul tile search: step ${n} of ${searchSteps} (first start on this GPU)`),
  });
  await compiling;
  const tuning: TuningRecord = { key, adapter: adapterIdentity(gpu.adapter), tile: result.tile, timings: result.timings, shape: result.shape, searchMs: result.ms, savedAt: Date.now() };
  const ctx = base.withChoices({ matmulTile: result.tile });
  const kernels = tabKernels(ctx, options);
  await ctx.compile(kernels);
  onProgress?.({ done: total, total, detail: `${kernels.length} of ${kernels.length} kernels` });
  if (cache) await cache.save(tuning).catch((error: unknown) => note('saving the tile search result', error));
  // Compiled here: the tab's set and the other tile candidates, less what the cache held already.
  return { ctx, tuning, tileFrom: 'search', compile: { kernels: kernels.length, compiled: ctx.pipelineCount - before, ms: performance.now() - start }, cacheError };
}

/** The tab kernels whose pipelines depend on the tile (the three tiled products). */
function tileSpecificKernels(ctx: GpuContext, tile: string): KernelSpec[] {
  const kernels = matmulKernels(ctx, tile);
  return [kernels.forward, kernels.backwardInput, kernels.backwardWeight];
}
