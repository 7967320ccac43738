// `npm run bench -- download`: what a tab downloads after a round of R
// accepted submissions, and what it costs the tab to apply it, in the three
// forms the simulator compares (src/sim/download.ts):
//   float       the aggregate G (union of positions, float32 values; wire kind 2)
//   quantized   G in the uploads' 2-bit scheme (wire kind 3), what a relay publishes
//               — both decoded by decodePublishedAggregate and applied by applyAggregate
//   forwarded   the R 2-bit submissions, aggregated by the tab itself:
//               R × decodeUpdate + aggregateUpdates + applyAggregate
// for R = 4, 16 and 100 (--submissions) on each preset (--models), against
// the size of one upload. CPU only (no adapter needed).
//
// Submissions are synthetic (random distinct positions per chunk, random values
// through the reference quantizer; src/bench/compress.ts), so positions overlap
// only by chance: the union — and with it both aggregate forms — is as large
// as R updates can make it. Real updates overlap more (docs/results.md gives
// the figures a simulated run measured).
import { GPT_PRESETS, type GptPresetName } from '../model/config.ts';
import { initGptParameters } from '../model/init.ts';
import { decodePublishedAggregate, decodeUpdate, encodePublishedAggregate, encodeUpdate } from '../compress/codec.ts';
import { aggregateUpdates, applyAggregate, defaultAggregationOptions, type Submission } from '../compress/aggregate.ts';
import { defaultCompressConfig, type CompressConfig } from '../compress/sparseloco.ts';
import { syntheticUpdate } from './compress.ts';
import { printTable, round, timeIt, type BenchOptions } from './report.ts';

const FORWARDED_SUBMISSION_OVERHEAD = 8; // u32 length + u32 tokens per forwarded submission (docs/wire-format.md)

export async function benchDownload(options: BenchOptions) {
  const models: GptPresetName[] = options.models ?? ['nano', 'tiny', 'small'];
  const counts = options.submissions ?? [4, 16, 100];
  const config: CompressConfig = defaultCompressConfig;
  const aggregation = defaultAggregationOptions;
  const rows = [];
  for (const name of models) {
    const preset = GPT_PRESETS[name];
    if (!preset) throw new Error(`unknown preset ${name}`);
    const { layout, params } = initGptParameters(preset, 1);
    const manifest = layout.tensors;
    for (const R of counts) {
      const payloads = Array.from({ length: R }, (_, r) => encodeUpdate(syntheticUpdate(manifest, config, 1000 + r), manifest, config));
      const decode = () =>
        payloads.map((bytes, r): Submission => ({ id: String(r).padStart(3, '0'), update: decodeUpdate(bytes, manifest, config), tokens: 1 }));
      const aggregate = aggregateUpdates(decode(), manifest, config, aggregation);
      const float = encodePublishedAggregate(aggregate, 'float', manifest, config);
      const quantized = encodePublishedAggregate(aggregate, 'quantized', manifest, config);
      const upload = payloads.reduce((sum, p) => sum + p.length, 0) / R;
      const forwarded = payloads.reduce((sum, p) => sum + p.length + FORWARDED_SUBMISSION_OVERHEAD, 0);
      const theta = params.slice();
      const applyMs = (bytes: Uint8Array) =>
        timeIt(async () => {
          applyAggregate(theta, decodePublishedAggregate(bytes, manifest, config), manifest);
        }, options.budgetMs, 10);
      const floatMs = await applyMs(float);
      const quantizedMs = await applyMs(quantized);
      const forwardedMs = await timeIt(async () => {
        applyAggregate(theta, aggregateUpdates(decode(), manifest, config, aggregation), manifest);
      }, options.budgetMs, 5);
      rows.push({
        model: name,
        R,
        upload_bytes: Math.round(upload),
        float_bytes: float.length,
        quantized_bytes: quantized.length,
        forwarded_bytes: forwarded,
        'float/up': round(float.length / upload, 2),
        'quantized/up': round(quantized.length / upload, 2),
        'forwarded/up': round(forwarded / upload, 2),
        float_apply_ms: round(floatMs, 1),
        quantized_apply_ms: round(quantizedMs, 1),
        forwarded_apply_ms: round(forwardedMs, 1),
      });
    }
  }
  printTable(
    `Bytes a tab downloads per round and its decode + apply time (chunk ${config.chunkSize}, k ${config.topK}, rule ${aggregation.rule}; synthetic submissions, chance overlap)`,
    rows,
  );
  return { bench: 'download', rows };
}
