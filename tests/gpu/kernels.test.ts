// The kernel lists and a tab's start-up on a real device: every kernel of every
// variant this device supports compiles and has a unique name; a tab's set is
// only what training dispatches; optional features are requested only where
// the adapter has them and, without 'subgroups', the plain reductions are
// chosen; a tab's start-up searches the matmul tile once, then takes it from
// the cache; the model finds every pipeline it needs already compiled, and
// the start-up reuses what the GPU self-test compiled on the same device. Also: WGSL errors and a missing override constant are
// typed errors naming the kernel.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { reductionVariants } from './check-kernel.ts';
import { acquireNodeDevice } from '../../src/gpu/device-node.ts';
import { GpuContext, type KernelSpec } from '../../src/gpu/runtime.ts';
import { GpuValidationError, ShaderCompileError } from '../../src/gpu/errors.ts';
import { allKernels, tabKernels, trainingKernels } from '../../src/kernels/index.ts';
import { DEFAULT_MATMUL_TILE, MATMUL_TILES, matmulKernels, matmulNaiveForwardKernel } from '../../src/kernels/matmul.ts';
import { layernormKernels } from '../../src/kernels/layernorm.ts';
import { crossentropyKernels } from '../../src/kernels/crossentropy.ts';
import { gradNormKernels } from '../../src/kernels/grad-norm.ts';
import { fillKernels } from '../../src/kernels/fill.ts';
import { sparselocoKernels } from '../../src/kernels/sparseloco.ts';
import { prepareTabKernels, tuningKey, type TuningCache, type TuningRecord } from '../../src/kernels/tab-kernels.ts';
import { runSelfTest } from '../../src/worker/self-test.ts';
import { GptGpu } from '../../src/model/gpt-gpu.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';

const names = (kernels: readonly KernelSpec[]) => kernels.map((k) => k.name);

/** A TuningCache in memory, counting its calls (the tab's is IndexedDB: tests/unit/storage-kernel-tuning.test.ts). */
function memoryCache() {
  const records = new Map<string, TuningRecord>();
  const calls = { load: 0, save: 0 };
  const cache: TuningCache = {
    load: async (key) => (calls.load++, records.get(key) ?? null),
    save: async (record) => void (calls.save++, records.set(record.key, record)),
  };
  return { cache, records, calls };
}

describe('kernel lists', () => {
  it('every kernel of every variant compiles, with unique names, reporting progress', async () => {
    const ctx = await gpuContext();
    for (const { ctx: variant, label } of reductionVariants(ctx)) {
      for (const tile of Object.keys(MATMUL_TILES)) {
        const kernels = allKernels(variant.withChoices({ matmulTile: tile }));
        expect(new Set(names(kernels)).size, `${label} ${tile}`).toBe(kernels.length);
        const seen: number[] = [];
        const report = await variant.compile(kernels, (done, total) => {
          expect(total).toBe(kernels.length);
          seen.push(done);
        });
        expect(seen).toEqual(kernels.map((_, i) => i + 1));
        expect(report.kernels).toBe(kernels.length);
      }
    }
    // Compiled once per key: the same kernel again is the same pipeline.
    const first = trainingKernels(ctx)[0];
    expect(await ctx.pipeline(first)).toBe(await ctx.pipeline(first));
  });

  it("a tab's set is what training dispatches; the naive matmul, fill/scale and SparseLoCo only where asked", async () => {
    const ctx = await gpuContext();
    const tab = names(tabKernels(ctx));
    expect(tab).toEqual(names(trainingKernels(ctx)));
    for (const absent of [matmulNaiveForwardKernel, ...fillKernels, ...sparselocoKernels]) expect(tab).not.toContain(absent.name);
    expect(names(tabKernels(ctx, { gpuCompression: true }))).toEqual([...tab, ...names(sparselocoKernels)]);
    expect(names(allKernels(ctx))).toEqual(expect.arrayContaining([...tab, matmulNaiveForwardKernel.name, ...names(fillKernels)]));
  });
});

describe('optional features and the variants they choose', () => {
  it('requests subgroups and shader-f16 only where the adapter has them; the default context uses subgroups exactly then', async () => {
    const ctx = await gpuContext();
    const { adapter, device } = ctx.gpu;
    for (const feature of ['subgroups', 'shader-f16', 'timestamp-query'] as const) {
      expect(device.features.has(feature), feature).toBe(adapter.features.includes(feature));
    }
    const subgroups = adapter.features.includes('subgroups') && adapter.subgroupMinSize !== null;
    expect(ctx.gpu.subgroupSize).toBe(subgroups ? adapter.subgroupMinSize : null);
    expect(ctx.choices.subgroups).toBe(subgroups);
    expect(layernormKernels(ctx).forward.file).toBe(subgroups ? 'layernorm-subgroups.wgsl' : 'layernorm.wgsl');
  });

  it('a device without subgroups falls back to the plain reductions, and refuses the subgroup ones', async () => {
    const gpu = await acquireNodeDevice({ features: ['timestamp-query'] });
    try {
      expect(gpu.device.features.has('subgroups')).toBe(false);
      expect(gpu.subgroupSize).toBeNull();
      const ctx = new GpuContext(gpu);
      expect(ctx.choices.subgroups).toBe(false);
      expect(layernormKernels(ctx).forward.file).toBe('layernorm.wgsl');
      expect(crossentropyKernels(ctx).forward.file).toBe('crossentropy.wgsl');
      expect(gradNormKernels(ctx).partial.file).toBe('grad-norm.wgsl');
      expect(tabKernels(ctx).some((k) => k.source.includes('enable subgroups'))).toBe(false);
      // The plain reductions compile on it.
      const layernorm = layernormKernels(ctx);
      await ctx.compile([layernorm.forward, layernorm.backwardDinp, crossentropyKernels(ctx).forward, gradNormKernels(ctx).partial, gradNormKernels(ctx).final]);
      expect(() => new GpuContext(gpu, { subgroups: true })).toThrow(GpuValidationError);
    } finally {
      gpu.device.destroy();
    }
  });
});

describe("a tab's start-up", () => {
  const config = GPT_PRESETS.nano;
  const [B, T] = [2, 16];
  const shape = { BT: B * T, C: config.nEmbd };

  it('searches the matmul tile once, then takes it from the cache; the model compiles nothing more', async () => {
    // Each start-up gets a fresh pipeline cache here (a new device context), so its counts start from 0.
    const { gpu } = await gpuContext();
    const { cache, records, calls } = memoryCache();
    const progress: number[] = [];
    const first = await prepareTabKernels(new GpuContext(gpu), { shape, cache, searchBudgetMs: 100, onProgress: ({ done, total }) => progress.push(done / total) });
    expect(first.tileFrom).toBe('search');
    expect(first.cacheError).toBeNull();
    expect(calls).toEqual({ load: 1, save: 1 });
    const key = await tuningKey(gpu, { M: B * T, K: config.nEmbd, N: 4 * config.nEmbd });
    expect(records.get(key)?.tile).toBe(first.tuning.tile);
    expect(first.tuning.adapter).toContain(gpu.adapter.vendor);
    expect(first.ctx.choices.matmulTile).toBe(first.tuning.tile);
    expect(progress.at(-1)).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // Compiled: the tab's set and the forwards of the tiles that lost the search.
    const tab = tabKernels(first.ctx);
    expect(first.compile.kernels).toBe(tab.length);
    expect(first.compile.compiled).toBe(tab.length + Object.keys(MATMUL_TILES).length - 1);

    const later = await prepareTabKernels(new GpuContext(gpu), { shape, cache, searchBudgetMs: 100 });
    expect(later.tileFrom).toBe('cache');
    expect(calls).toEqual({ load: 2, save: 1 });
    expect(later.ctx.choices.matmulTile).toBe(first.tuning.tile);
    expect(later.compile).toMatchObject({ kernels: tab.length, compiled: tab.length });
    expect(matmulKernels(later.ctx).forward.constants).toEqual({ ...MATMUL_TILES[first.tuning.tile] });

    // Everything a training step dispatches was compiled by the start-up.
    const model = await GptGpu.create(later.ctx, config, B, T);
    expect(later.ctx.pipelineCount).toBe(tab.length);
    model.destroy();
  });

  it("reuses the self-test's pipelines: the page's probe runs it on the device's context before training starts", async () => {
    const { gpu } = await gpuContext();
    const device = new GpuContext(gpu); // the tab's one context (src/worker/tab-device.ts)
    const selfTest = await runSelfTest(device);
    expect(selfTest.ok).toBe(true);
    expect(device.pipelineCount).toBe(4); // matmul forward, backward input, weight, bias on the default tile
    // A later start whose cached tile is the default compiles the tab's set less those four.
    const { cache, records } = memoryCache();
    const key = await tuningKey(gpu, { M: B * T, K: config.nEmbd, N: 4 * config.nEmbd });
    records.set(key, { key, adapter: '', tile: DEFAULT_MATMUL_TILE, timings: [], shape: { M: B * T, K: config.nEmbd, N: 4 * config.nEmbd }, searchMs: 0, savedAt: 0 });
    const start = await prepareTabKernels(device, { shape, cache });
    expect(start.compile.kernels).toBe(tabKernels(start.ctx).length);
    expect(start.compile.compiled).toBe(start.compile.kernels - 4);
    // The training context and the device's share one cache.
    expect(device.pipelineCount).toBe(start.compile.kernels);
  });

  it('a cache that fails is reported and skipped; a cached tile that no longer exists is searched again', async () => {
    const { gpu } = await gpuContext();
    {
      const broken: TuningCache = {
        load: async () => {
          throw new Error('disk on fire');
        },
        save: async () => undefined,
      };
      const result = await prepareTabKernels(new GpuContext(gpu), { shape, cache: broken, searchBudgetMs: 50 });
      expect(result.tileFrom).toBe('search');
      expect(result.cacheError).toContain('disk on fire');

      const { cache, records } = memoryCache();
      const key = await tuningKey(gpu, { M: B * T, K: config.nEmbd, N: 4 * config.nEmbd });
      records.set(key, { ...result.tuning, key, tile: '128x128/retired' });
      const again = await prepareTabKernels(new GpuContext(gpu), { shape, cache, searchBudgetMs: 50 });
      expect(again.tileFrom).toBe('search');
      expect(records.get(key)?.tile).toBe(again.tuning.tile);
    }
  });
});

describe('pipeline errors', () => {
  it('reports WGSL compile errors with the line', async () => {
    const ctx = await gpuContext();
    const broken = { name: 'broken', file: 'broken.wgsl', entryPoint: 'main', bindings: [] as const, source: '@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = nope;\n}\n' };
    const error = await ctx.pipeline(broken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShaderCompileError);
    expect((error as ShaderCompileError).messages[0].line).toBe(3);
    expect((error as Error).message).toContain('broken.wgsl');
  });

  it('a missing entry point is a typed validation error naming the kernel', async () => {
    const ctx = await gpuContext();
    const kernel = { name: 'absent', file: 'tiny.wgsl', entryPoint: 'not_there', bindings: [] as const, source: '@compute @workgroup_size(1) fn main() {}' };
    const error = await ctx.pipeline(kernel).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpuValidationError);
    expect((error as Error).message).toContain('absent');
  });

  it('a workgroup size left out of the description fails (the WGSL has no default to fall back on)', async () => {
    const ctx = await gpuContext();
    const [forward] = trainingKernels(ctx);
    const error = await ctx.pipeline({ ...forward, name: 'encoder_forward without constants', constants: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpuValidationError);
    expect((error as Error).message).toContain('encoder_forward without constants');
  });
});
