// `npm run bench -- step`: a full training step (forward, backward, grad norm,
// AdamW) per model preset: ms per step, tokens/s, achieved GFLOP/s of the whole
// step, and the matmul kernel's GFLOP/s at the preset's MLP shape on the same
// adapter in the same run. step_gflops / matmul_gflops shows how much the
// non-matmul kernels and dispatch overhead cost around the matmuls.
// reference_ms is the same step on the plain-TypeScript reference GPT (the
// simulator's CPU engine, src/sim/engine.ts) on one CPU thread: on a software
// adapter it decides which engine the simulator's long runs use.
// Start-up, as a tab does it (src/kernels/tab-kernels.ts), each on a fresh
// device (pipelines are cached per device): first_start_ms is a first start on
// this adapter (tile search + compiling the tab's kernels), compile_ms a later
// start (the tile from the cache, compiling the tab's `kernels` pipelines).
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { prepareTabKernels, type TuningRecord } from '../kernels/tab-kernels.ts';
import { GptGpu } from '../model/gpt-gpu.ts';
import { GPT_PRESETS, defaultTrainConfig, type GptPresetName } from '../model/config.ts';
import { initGptParameters } from '../model/init.ts';
import { batchFor } from '../data/sampler.ts';
import { prepareMatmulForward } from '../kernels/matmul.ts';
import { printTable, round, timeIt, type BenchOptions } from './report.ts';
import { timeDispatches } from './kernels.ts';
import type { GptConfig } from '../model/config.ts';
import { CpuReplicaEngine } from '../sim/engine.ts';

/** FLOPs of one training step (forward + backward ≈ 3× forward), nanoGPT/PaLM estimate. */
export function stepFlops(config: GptConfig, B: number, T: number, paramCount: number): number {
  const { nLayer: L, nEmbd: C, blockSize } = config;
  const nonEmbedding = paramCount - blockSize * C; // wpe costs no multiply-adds
  const perToken = 6 * nonEmbedding + 6 * L * C * T; // matmuls + causal attention (half of 12·L·C·T)
  return perToken * B * T;
}

/** Presets measured by default: on a software adapter only the small ones finish in reasonable time. */
function defaultModels(software: boolean): { model: GptPresetName; B: number; T: number }[] {
  return software
    ? [
        { model: 'nano', B: 4, T: 64 },
        { model: 'tiny', B: 2, T: 128 },
      ]
    : [
        { model: 'nano', B: 8, T: 64 },
        { model: 'tiny', B: 8, T: 128 },
        { model: 'small', B: 8, T: 256 },
        { model: 'medium', B: 4, T: 512 },
      ];
}

/** A tab's start-up on a fresh device: a first start (search) and a later one (cached tile). */
async function startUp(B: number, T: number, C: number) {
  const shape = { BT: B * T, C };
  const first = await prepareTabKernels(new GpuContext(await acquireNodeDevice()), { shape, cache: null });
  const record: TuningRecord = first.tuning;
  const fresh = await acquireNodeDevice();
  const later = await prepareTabKernels(new GpuContext(fresh), { shape, cache: { load: async () => record, save: async () => undefined } });
  fresh.device.destroy();
  return { ctx: first.ctx, first, later };
}

export async function benchStep(options: BenchOptions) {
  const gpu = await acquireNodeDevice();
  const adapter = `${gpu.adapter.vendor}/${gpu.adapter.architecture}`;
  const software = gpu.adapter.architecture === 'swiftshader' || gpu.adapter.isFallbackAdapter;
  const runs = options.models
    ? options.models.map((model) => ({ model, B: options.batchSize ?? 4, T: options.seqLen ?? GPT_PRESETS[model].blockSize }))
    : defaultModels(software);
  const data = new Uint8Array(1 << 16).map((_, i) => 32 + ((i * 7919) % 95)); // bytes; content does not change the cost
  const rows = [];
  let kernels: { kernel: string; dispatches: number; ms: number; share: number }[] = [];
  for (const { model: name, B, T } of runs) {
    const config = GPT_PRESETS[name];
    const train = defaultTrainConfig(config);
    const { ctx, first, later } = await startUp(B, T, config.nEmbd);
    const model = await GptGpu.create(ctx, config, B, T);
    const { params, layout } = initGptParameters(config, 1);
    model.uploadParams(params);
    let t = 0;
    const optimizer = { lr: 1e-4, beta1: train.beta1, beta2: train.beta2, eps: train.eps, weightDecay: train.weightDecay, gradClip: train.gradClip };
    const stepMs = await timeIt(async () => {
      const batch = batchFor(data, 1, t, B, T);
      await model.step(batch.inputs, batch.targets, ++t, optimizer).loss;
    }, options.budgetMs, 10);
    if (!rows.length) kernels = await kernelBreakdown(ctx, model);
    model.destroy();

    // The same step on the CPU reference engine: one call = one inner step from θ.
    const reference = new CpuReplicaEngine({ model: config, train: { ...train, batchSize: B, seqLen: T }, totalSteps: 1 << 20, data: { train: data, val: data } });
    let referenceStep = 0;
    const referenceMs = await timeIt(() => reference.innerLoop(0, params, 1, referenceStep++, 1).then(() => undefined), options.budgetMs, 5);
    reference.destroy();

    // The matmul kernel alone at this preset's MLP up-projection: (B·T, C) · (4C, C)ᵀ.
    const [m, k, n] = [B * T, config.nEmbd, 4 * config.nEmbd];
    const mm = {
      out: ctx.createBuffer('out', m * n * 4),
      inp: ctx.upload('inp', new Float32Array(m * k).fill(0.5)),
      weight: ctx.upload('weight', new Float32Array(n * k).fill(0.25)),
      bias: null,
    };
    const dispatch = await prepareMatmulForward(ctx, mm, m, k, n);
    const matmulMs = await timeIt(() => ctx.run([dispatch]), options.budgetMs);
    ctx.release([dispatch]);
    for (const b of [mm.out, mm.inp, mm.weight]) b.destroy();

    const flops = stepFlops(config, B, T, layout.paramCount);
    rows.push({
      model: name,
      params: layout.paramCount,
      B,
      T,
      tokens_per_s: round((B * T) / (stepMs / 1000), 1),
      step_ms: round(stepMs, 1),
      step_gflops: round(flops / stepMs / 1e6),
      matmul_gflops: round((2 * m * n * k) / matmulMs / 1e6),
      reference_ms: round(referenceMs, 1),
      kernels: later.compile.kernels,
      compile_ms: round(later.compile.ms, 0),
      first_start_ms: round(first.compile.ms, 0),
      tile: first.tuning.tile,
      reductions: ctx.choices.subgroups ? 'subgroups' : 'plain',
    });
    ctx.gpu.device.destroy();
  }
  printTable(`training step on ${adapter}`, rows.map((r) => ({ ...r, 'step/matmul': round(r.step_gflops / r.matmul_gflops, 3), 'reference/step': round(r.reference_ms / r.step_ms, 2) })));
  printTable(`per-kernel time of one ${runs[0].model} step (each dispatch timed alone, summed by kernel)`, kernels);
  gpu.device.destroy();
  return { bench: 'step', adapter, rows, kernels };
}

/** GPU time per kernel over one step's dispatches (timestamp queries where the adapter has them). */
async function kernelBreakdown(ctx: GpuContext, model: GptGpu) {
  const timings = await timeDispatches(ctx, model.stepDispatches, 3);
  const byKernel = new Map<string, { dispatches: number; ms: number }>();
  for (const t of timings) {
    const entry = byKernel.get(t.name) ?? { dispatches: 0, ms: 0 };
    entry.dispatches++;
    entry.ms += t.medianMs;
    byKernel.set(t.name, entry);
  }
  const total = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0);
  return [...byKernel]
    .map(([kernel, e]) => ({ kernel, dispatches: e.dispatches, ms: round(e.ms, 2), share: round(e.ms / total, 3), clock: timings[0].clock }))
    .sort((a, b) => b.ms - a.ms);
}
