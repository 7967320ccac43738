// Per-dispatch GPU time, for comparing kernel versions on one adapter (llm.c
// dev/cuda style: validate elsewhere, then time each launch on its own).
//
// With the `timestamp-query` feature (Dawn on SwiftShader has it, most
// browsers behind a flag) every dispatch gets its own compute pass with
// timestampWrites at its start and end; a whole round of dispatches is one
// submit, so the figures leave out submit/readback latency. Without the
// feature each dispatch is submitted alone and timed by wall clock around
// ctx.run, which includes that latency (tens of µs on a real GPU, small next to
// SwiftShader's milliseconds). The result says which clock was used.
//
// Dawn (and browsers) quantize timestamps (Dawn masks the low 16 bits of the
// nanosecond count: 65.5 µs steps), so a sub-millisecond dispatch is encoded
// `perPass` times back to back inside its timed pass and the pass time is
// divided by that count; the default picks perPass from the warm-up round.
//
// Leaves out: statistics beyond median/min/mean, and any pass-level overlap (real
// GPUs may overlap dispatches of one pass; here each is measured alone).
import type { GpuContext, PreparedDispatch } from '../gpu/runtime.ts';

export interface DispatchTiming {
  /** The dispatch's kernel name. */
  name: string;
  /** Median over the timed repeats, milliseconds per dispatch. */
  medianMs: number;
  minMs: number;
  meanMs: number;
  /** How many times the dispatch ran inside each timed pass (timestamp clock). */
  perPass: number;
  /** Every timed repeat, in order, milliseconds. */
  samplesMs: number[];
  clock: 'timestamp' | 'wall';
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function summarize(name: string, samplesMs: number[], clock: DispatchTiming['clock'], perPass: number): DispatchTiming {
  const meanMs = samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length;
  return { name, medianMs: median(samplesMs), minMs: Math.min(...samplesMs), meanMs, samplesMs, clock, perPass };
}

export interface TimeDispatchesOptions {
  /**
   * Runs of each dispatch per timed pass (timestamp clock only). Default: enough
   * that a pass spans about `targetPassMs` by the warm-up round's estimate, at most 64.
   */
  perPass?: number;
  /** Default 2 ms: about 30 timestamp steps, so quantization stays near 3%. */
  targetPassMs?: number;
}

/**
 * Time every dispatch on its own, `repeats` times after one untimed warm-up
 * round (pipeline and memory first-touch costs). Dispatches run in the given
 * order each round, so one that reads another's output sees it as in a step.
 * Dispatches that accumulate (backward kernels) keep accumulating: time them
 * on throwaway buffers.
 */
export async function timeDispatches(
  ctx: GpuContext,
  dispatches: readonly PreparedDispatch[],
  repeats = 10,
  options: TimeDispatchesOptions = {},
): Promise<DispatchTiming[]> {
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`timeDispatches: repeats = ${repeats} must be a positive integer`);
  if (!dispatches.length) return [];
  if (options.perPass !== undefined && !(Number.isInteger(options.perPass) && options.perPass >= 1)) {
    throw new RangeError(`timeDispatches: perPass = ${options.perPass} must be a positive integer`);
  }
  return ctx.gpu.hasTimestamps ? timeWithTimestamps(ctx, dispatches, repeats, options) : timeWithWallClock(ctx, dispatches, repeats);
}

async function timeWithWallClock(ctx: GpuContext, dispatches: readonly PreparedDispatch[], repeats: number): Promise<DispatchTiming[]> {
  const samples = dispatches.map(() => [] as number[]);
  for (let round = 0; round <= repeats; round++) {
    for (const [i, d] of dispatches.entries()) {
      const start = performance.now();
      await ctx.run([d]);
      if (round > 0) samples[i].push(performance.now() - start);
    }
  }
  return dispatches.map((d, i) => summarize(d.kernel.name, samples[i], 'wall', 1));
}

async function timeWithTimestamps(
  ctx: GpuContext,
  dispatches: readonly PreparedDispatch[],
  repeats: number,
  { perPass, targetPassMs = 2 }: TimeDispatchesOptions,
): Promise<DispatchTiming[]> {
  const device = ctx.device;
  const count = dispatches.length * 2; // a begin and an end stamp per dispatch
  const querySet = device.createQuerySet({ label: 'timeDispatches', type: 'timestamp', count });
  const resolved = device.createBuffer({
    label: 'timeDispatches:resolved',
    size: count * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    label: 'timeDispatches:staging',
    size: count * 8,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const samples = dispatches.map(() => [] as number[]);
  // The warm-up round runs each dispatch once; its times (and wall time, when
  // the stamps round to 0) choose how many runs each timed pass holds.
  let runs = dispatches.map(() => 1);
  const round = async (): Promise<number[]> => {
    const encoder = device.createCommandEncoder();
    dispatches.forEach((d, i) =>
      ctx.encode(encoder, Array(runs[i]).fill(d), { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 }),
    );
    encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, count * 8);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const stamps = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    ctx.throwUncaptured();
    // Nanoseconds; an implementation may return 0 or a reversed pair for a
    // pass it could not stamp, which would read as a negative time.
    return dispatches.map((_, i) => Math.max(0, Number(stamps[2 * i + 1] - stamps[2 * i])) / 1e6 / runs[i]);
  };
  try {
    const wallStart = performance.now();
    const warm = await round();
    const wallPerDispatch = (performance.now() - wallStart) / dispatches.length;
    runs = warm.map((ms) => perPass ?? Math.max(1, Math.min(64, Math.ceil(targetPassMs / (ms > 0 ? ms : wallPerDispatch)))));
    for (let r = 0; r < repeats; r++) (await round()).forEach((ms, i) => samples[i].push(ms));
  } finally {
    querySet.destroy();
    resolved.destroy();
    staging.destroy();
  }
  return dispatches.map((d, i) => summarize(d.kernel.name, samples[i], 'timestamp', runs[i]));
}
