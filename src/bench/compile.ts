// `npm run bench -- compile`: what a tab's start pays for pipelines, each
// measured on a fresh device (Dawn caches pipelines per device), `--repeat`
// times (default 3), reported as median and range:
//   all kernels   every kernel in the tree at once: what every tab compiled
//                 before the tab set existed (the baseline, same run)
//   tab, later    a later start: the tile from the cache, the tab's set at once
//   tab, first    a first start on this adapter: the tile search + the tab's set
// and each kernel compiled alone (one fresh device, one pass), heaviest first.
// The tab's shape: --B × --T rows (default 2 × 16, the e2e tab), the nano
// preset's width unless --models names another.
// Leaves out: shader-module creation alone (WGSL parsing is a small share).
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { allKernels } from '../kernels/index.ts';
import { prepareTabKernels } from '../kernels/tab-kernels.ts';
import { GPT_PRESETS } from '../model/config.ts';
import { printTable, round, type BenchOptions } from './report.ts';

const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median_ms: round(sorted[sorted.length >> 1], 0), min_ms: round(sorted[0], 0), max_ms: round(sorted[sorted.length - 1], 0) };
};

/** Runs `work` on a fresh device, which it may not keep. */
async function onFreshDevice<T>(work: (ctx: GpuContext) => Promise<T>): Promise<T> {
  const gpu = await acquireNodeDevice();
  try {
    return await work(new GpuContext(gpu));
  } finally {
    gpu.device.destroy();
  }
}

export async function benchCompile(options: BenchOptions) {
  const repeats = options.repeat ?? 3;
  const model = options.models?.[0] ?? 'nano';
  const shape = { BT: (options.batchSize ?? 2) * (options.seqLen ?? 16), C: GPT_PRESETS[model].nEmbd };
  const samples = { all: [] as number[], later: [] as number[], first: [] as number[] };
  const counts = { all: 0, tab: 0, first: 0 };
  const tiles: string[] = [];
  for (let r = 0; r < repeats; r++) {
    // Interleaved, so a change in machine load hits all three alike.
    const all = await onFreshDevice((ctx) => ctx.compile(allKernels(ctx)));
    const first = await onFreshDevice((ctx) => prepareTabKernels(ctx, { shape, cache: null }));
    const later = await onFreshDevice((ctx) => prepareTabKernels(ctx, { shape, cache: { load: async () => first.tuning, save: async () => undefined } }));
    samples.all.push(all.ms);
    samples.first.push(first.compile.ms);
    samples.later.push(later.compile.ms);
    [counts.all, counts.tab, counts.first] = [all.kernels, later.compile.kernels, first.compile.compiled];
    tiles.push(first.tuning.tile);
  }
  const rows = [
    { start: 'all kernels (before)', pipelines: counts.all, ...spread(samples.all) },
    { start: 'tab, later start', pipelines: counts.tab, ...spread(samples.later) },
    { start: 'tab, first start (tile search)', pipelines: counts.first, ...spread(samples.first) },
  ];
  const perKernel = await onFreshDevice(async (ctx) => {
    const times = [];
    for (const kernel of allKernels(ctx)) {
      const t0 = performance.now();
      await ctx.pipeline(kernel);
      times.push({ kernel: kernel.name, ms: round(performance.now() - t0, 0) });
    }
    return times.sort((a, b) => b.ms - a.ms);
  });
  const gpu = await acquireNodeDevice();
  const adapter = `${gpu.adapter.vendor}/${gpu.adapter.architecture}`;
  gpu.device.destroy();
  printTable(`pipeline compilation on ${adapter}, ${repeats} fresh devices each (tab: ${model}, B·T = ${shape.BT}; tiles picked: ${tiles.join(', ')})`, rows);
  printTable('each kernel alone (one fresh device)', perKernel);
  return { bench: 'compile', adapter, shape: { model, ...shape }, rows, tiles, samples, perKernel };
}
