// `npm run bench -- compress`: one replica's end of round per model preset —
// error feedback, chunked top-k, 2-bit quantization and encoding — on the GPU
// (SparseLoCoGpu: gpu_ms) against the CPU reference (sparseLoCoStep) on the
// same machine, with its linear-time radix selection (cpu_ms) and with the
// full sort per chunk it replaced (cpu_sort_ms, the baseline); the path a tab
// picks on this adapter (tab_path: src/swarm/compression-path.ts, which also
// counts the host↔GPU copies each path needs in a tab); the payload's bits per
// parameter; and the relay's side: decoding R submissions and aggregating
// them (decodeUpdate + aggregateUpdates, CPU) for R = 10 and 100.
//
// Validate, then benchmark (llm.c's dev/cuda harnesses): the first round runs
// on every path from the same state and must give the same bytes, or the
// bench stops.
//
// The R submissions are synthetic: random positions per chunk (chunkKeep of
// them, distinct) and random values quantized by the reference quantize2bit,
// so each is a valid, canonical update whose positions differ between
// replicas as real ones do; making 100 real ones would cost 100 CPU rounds.
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { GPT_PRESETS, type GptPresetName } from '../model/config.ts';
import { initGptParameters } from '../model/init.ts';
import { mulberry32 } from '../model/random.ts';
import { SparseLoCoGpu } from '../compress/sparseloco-gpu.ts';
import { decodeUpdate, encodeUpdate } from '../compress/codec.ts';
import { aggregateUpdates, type Submission } from '../compress/aggregate.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import {
  DEFAULT_EF_BETA,
  chunkKeep,
  defaultCompressConfig,
  quantize2bit,
  sparseLoCoStep,
  tensorMode,
  topKChunks,
  topKChunksBySort,
  type CompressConfig,
  type CompressedTensor,
  type CompressedUpdate,
} from '../compress/sparseloco.ts';
import { measureCompressionPaths } from '../swarm/compression-path.ts';
import { printTable, round, timeIt, type BenchOptions } from './report.ts';

/** On a software adapter medium (25.6M parameters) would take minutes; ask for it with --models. */
function defaultModels(software: boolean): GptPresetName[] {
  return software ? ['nano', 'tiny', 'small'] : ['nano', 'tiny', 'small', 'medium'];
}

/** θ after a round of inner steps: θ_global minus a small random move (|Δ| ≲ H·lr). */
function localAfterRound(global: Float32Array, seed: number): Float32Array {
  const random = mulberry32(seed);
  return global.map((v) => (v === 0 ? 0 : v - 0.01 * (random() * 2 - 1)));
}

/** A valid update with random positions and values, as replica `seed` might send. */
export function syntheticUpdate(manifest: TensorManifest, config: CompressConfig, seed: number): CompressedUpdate {
  const random = mulberry32(seed);
  const tensors = manifest.map((entry): CompressedTensor => {
    const mode = tensorMode(entry, config);
    if (mode === 'dense-float32') return { mode, values: Float32Array.from({ length: entry.size }, () => 0.01 * (random() * 2 - 1)) };
    const positions: number[] = [];
    if (mode === 'sparse') {
      for (let start = 0; start < entry.size; start += config.chunkSize) {
        const length = Math.min(config.chunkSize, entry.size - start);
        const picked = new Set<number>();
        const keep = chunkKeep(length, config);
        while (picked.size < keep) picked.add(Math.floor(random() * length));
        positions.push(...[...picked].sort((a, b) => a - b).map((i) => start + i));
      }
    }
    const n = mode === 'sparse' ? positions.length : entry.size;
    const values = Float32Array.from({ length: n }, () => 0.01 * (random() * 2 - 1));
    const codes = new Uint8Array(n);
    const { mean, lut } = quantize2bit(codes, values);
    return mode === 'sparse' ? { mode, indices: Uint32Array.from(positions), codes, mean, lut } : { mode, codes, mean, lut };
  });
  return { chunkSize: config.chunkSize, topK: config.topK, tensors };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

export async function benchCompress(options: BenchOptions) {
  const gpu = await acquireNodeDevice();
  const ctx = new GpuContext(gpu);
  const adapter = `${gpu.adapter.vendor}/${gpu.adapter.architecture}`;
  const software = gpu.adapter.architecture === 'swiftshader' || gpu.adapter.isFallbackAdapter;
  const models = options.models ?? defaultModels(software);
  const config: CompressConfig = defaultCompressConfig;
  const rows = [];
  const reasons: string[] = [];
  for (const name of models) {
    const preset = GPT_PRESETS[name];
    const { layout, params: global } = initGptParameters(preset, 1);
    const manifest = layout.tensors;
    const local = localAfterRound(global, 2);
    const compressor = await SparseLoCoGpu.create(ctx, manifest, layout.size, { config });
    const globalBuffer = ctx.upload('bench.global', global);
    const localBuffer = ctx.upload('bench.local', local);

    // Validate: one round from e = 0 on every path, same bytes.
    const cpuResidual = new Float32Array(layout.size);
    const sortResidual = new Float32Array(layout.size);
    const step = (e: Float32Array, select: typeof topKChunks) => sparseLoCoStep(e, global, local, manifest, config, DEFAULT_EF_BETA, select);
    const expected = encodeUpdate(step(cpuResidual, topKChunks), manifest, config);
    const bySort = encodeUpdate(step(sortResidual, topKChunksBySort), manifest, config);
    const actual = encodeUpdate(await compressor.compress(globalBuffer, localBuffer), manifest, config);
    if (!sameBytes(actual, expected)) throw new Error(`${name}: GPU and CPU payloads differ (${actual.length} vs ${expected.length} bytes)`);
    if (!sameBytes(bySort, expected)) throw new Error(`${name}: the radix and the sort selection give different payloads`);

    // Benchmark: every call is a full round (e keeps evolving, as in training).
    const gpuMs = await timeIt(async () => {
      encodeUpdate(await compressor.compress(globalBuffer, localBuffer), manifest, config);
    }, options.budgetMs);
    const cpuMs = await timeIt(async () => {
      encodeUpdate(step(cpuResidual, topKChunks), manifest, config);
    }, options.budgetMs);
    const cpuSortMs = await timeIt(async () => {
      encodeUpdate(step(sortResidual, topKChunksBySort), manifest, config);
    }, options.budgetMs);
    compressor.destroy();
    globalBuffer.destroy();
    localBuffer.destroy();
    // What a tab's rule picks here (it measures both paths once per adapter and model size).
    const tab = await measureCompressionPaths(ctx, manifest, layout.size, config, DEFAULT_EF_BETA);
    reasons.push(`${name}: the tab compresses on the ${tab.path.toUpperCase()}: ${tab.reason}`);

    // The relay's side: decode R payloads and aggregate them.
    const aggregateMs: Record<number, number> = {};
    for (const R of [10, 100]) {
      const payloads = Array.from({ length: R }, (_, r) => encodeUpdate(syntheticUpdate(manifest, config, 1000 + r), manifest, config));
      aggregateMs[R] = await timeIt(async () => {
        const submissions: Submission[] = payloads.map((bytes, r) => ({ id: String(r).padStart(3, '0'), update: decodeUpdate(bytes, manifest, config) }));
        aggregateUpdates(submissions, manifest, config);
      }, options.budgetMs, 5);
    }

    rows.push({
      model: name,
      params: layout.paramCount,
      gpu_ms: round(gpuMs, 1),
      cpu_ms: round(cpuMs, 1),
      cpu_sort_ms: round(cpuSortMs, 1),
      tab_path: tab.path,
      bits_per_param: round((8 * actual.length) / layout.paramCount, 4),
      aggregate_ms_10: round(aggregateMs[10], 1),
      aggregate_ms_100: round(aggregateMs[100], 1),
    });
  }
  printTable(
    `SparseLoCo round (EF + top-k + 2-bit + encode, chunk ${config.chunkSize}, k ${config.topK}) on ${adapter}; GPU and sort payloads checked equal to the CPU reference`,
    rows.map((r) => ({ ...r, 'cpu/gpu': round(r.cpu_ms / r.gpu_ms, 2), 'sort/radix': round(r.cpu_sort_ms / r.cpu_ms, 2) })),
  );
  for (const reason of reasons) console.log(reason);
  gpu.device.destroy();
  return { bench: 'compress', adapter, rows };
}
