// What the relay publishes after a round for every tab to apply, in the forms
// the simulator compares (docs/results.md, "Small downloads"):
//   float        the aggregate G itself: the union of selected positions with
//                float32 values (wire format kind 2)
//   submissions  the accepted 2-bit submissions (with their tokens); every tab
//                aggregates them itself in the canonical order
//   quantized    G quantized with the uploads' 2-bit scheme over the union of
//                positions (wire format kind 3); the relay applies exactly the
//                dequantized values, so relay and tabs stay bit-identical
// Each returns the bytes one tab downloads and the aggregate every party
// applies (decoded from those bytes, as a tab would).
// Leaves out: framing of the catch-up bundle (src/protocol), HTTP.
import type { TensorManifest } from '../compress/manifest.ts';
import type { CompressConfig } from '../compress/sparseloco.ts';
import { decodePublishedAggregate, encodePublishedAggregate, encodeUpdate, type AggregateUpdate } from '../compress/codec.ts';
import { aggregateUpdates, type AggregationOptions, type Submission } from '../compress/aggregate.ts';

export const DOWNLOAD_FORMS = ['float', 'submissions', 'quantized'] as const;
export type DownloadForm = (typeof DOWNLOAD_FORMS)[number];

/** Framing a forwarded submission needs besides its payload: u32 length and u32 tokens. */
const FORWARDED_SUBMISSION_OVERHEAD = 8;

export function publishAggregate(
  form: DownloadForm,
  aggregate: AggregateUpdate,
  submissions: readonly Submission[],
  manifest: TensorManifest,
  config: CompressConfig,
  aggregation: AggregationOptions,
): { bytes: number; applied: AggregateUpdate } {
  if (form === 'float' || form === 'quantized') {
    // What the relay publishes; it and every tab apply what these bytes decode to.
    const wire = encodePublishedAggregate(aggregate, form, manifest, config);
    return { bytes: wire.length, applied: decodePublishedAggregate(wire, manifest, config) };
  }
  const bytes = submissions.reduce((sum, s) => sum + encodeUpdate(s.update, manifest, config).length + FORWARDED_SUBMISSION_OVERHEAD, 0);
  // Every tab runs the relay's aggregation over the same submissions: the same bits by construction.
  return { bytes, applied: aggregateUpdates(submissions, manifest, config, aggregation) };
}
