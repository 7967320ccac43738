// Gauntlet's evaluation job on onnxruntime-web (wasm), in this thread and in a
// worker thread: a window's loss does not depend on the other windows of its
// call (the audit and the job's batching rely on it), a zero step changes no
// loss bit, a non-zero step reaches the forward, the
// worker gives the same bits as this thread, and a deadline turns what is
// missing into errors (the relay's failure) instead of hanging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { compress, defaultCompressConfig } from '../../src/compress/sparseloco.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { initGptParameters } from '../../src/model/init.ts';
import { buildLayout } from '../../src/model/layout.ts';
import { randomWindows, type Windows } from '../../src/gauntlet/assigned-data.ts';
import { applyDelta, trialDeltas, type EvaluationJob } from '../../src/gauntlet/evaluation-job.ts';
import { InlineEvaluator, WorkerEvaluator } from '../../src/gauntlet/evaluator.ts';
import { runEvaluationJob } from '../../src/gauntlet/evaluate.ts';
import { ensureDataset } from '../../src/data/prepare.ts';
import { residual, walletFor } from './relay-fixtures.ts';

const config = GPT_PRESETS.nano;
const layout = buildLayout(config);
const T = 32;
let data: Uint8Array;
let params: Float32Array;
const worker = new WorkerEvaluator();

beforeAll(async () => {
  await cryptoWaitReady();
  data = ensureDataset().train;
  params = initGptParameters(config, 3).params;
});

afterAll(async () => {
  await worker.close();
});

const seed = (i: number) => `0x${(i + 1).toString(16).padStart(2, '0').repeat(32)}` as const;
const windows = (i: number, n = 4): Windows => randomWindows(data, seed(i), n, T);
/** A fresh empty δ each time: a worker job moves (detaches) the arrays it is given. */
const zeroDelta = () => ({ indices: new Uint32Array(0), values: new Float32Array(0) });

function job(trials: EvaluationJob['trials'], reference = zeroDelta()): EvaluationJob {
  return { model: config, params: params.slice(), random: windows(0), reference: { indices: reference.indices.slice(), values: reference.values.slice() }, trials };
}

describe('evaluation job (onnxruntime-web)', () => {
  it('a zero step leaves every loss bit; losses do not depend on the other windows of a call', async () => {
    const own = windows(1);
    const alone = await runEvaluationJob(job([{ address: 'a', own, delta: zeroDelta() }]));
    const crowded = await runEvaluationJob(job([
      { address: 'x', own: windows(2, 7), delta: zeroDelta() },
      { address: 'a', own, delta: zeroDelta() },
    ]));
    const a = alone[0];
    expect('losses' in a && a.losses.lossAfterRandom).toBe('losses' in a && a.losses.lossBeforeRandom);
    expect('losses' in a && a.losses.lossAfterOwn).toBe('losses' in a && a.losses.lossBeforeOwn);
    // The zero consensus step too.
    expect('losses' in a && a.losses.lossReferenceRandom).toBe('losses' in a && a.losses.lossBeforeRandom);
    expect('losses' in a && a.losses.lossReferenceOwn).toBe('losses' in a && a.losses.lossBeforeOwn);
    expect(crowded[1]).toEqual(a);
    // The loss of random bytes under θ(0) is near ln 256 ≈ 5.55.
    if ('losses' in a) expect(a.losses.lossBeforeRandom).toBeGreaterThan(5);
  });

  it('θ − δ is applied in float32 and reaches the forward', async () => {
    // Shrink the embedding rows of the bytes in the own windows by half: the loss must move.
    const own = windows(1, 8);
    const wte = layout.byName.wte;
    const counts = new Float32Array(256);
    for (let i = 0; i < own.bytes.length; i++) counts[own.bytes[i]]++;
    const indices: number[] = [];
    const values: number[] = [];
    for (let v = 0; v < 256; v++) {
      if (!counts[v]) continue;
      for (let c = 0; c < config.nEmbd; c++) {
        indices.push(wte.offset + v * config.nEmbd + c);
        values.push(-0.5 * params[wte.offset + v * config.nEmbd + c]);
      }
    }
    const delta = { indices: Uint32Array.from(indices), values: Float32Array.from(values) };
    const stepped = applyDelta(params, delta);
    expect(stepped[indices[0]]).toBe(Math.fround(params[indices[0]] - Math.fround(values[0])));
    const [out] = await runEvaluationJob(job([{ address: 'a', own, delta }], delta));
    expect('losses' in out).toBe(true);
    if ('losses' in out) {
      expect(out.losses.lossAfterOwn).not.toBe(out.losses.lossBeforeOwn);
      // The same δ as the consensus step gives the same losses as the trial.
      expect(out.losses.lossReferenceOwn).toBe(out.losses.lossAfterOwn);
      expect(out.losses.lossReferenceRandom).toBe(out.losses.lossAfterRandom);
    }
  });

  it('the worker gives the same bits as this thread; a deadline returns errors, and the next job runs', async () => {
    const trials = [
      { address: 'a', own: windows(1), delta: zeroDelta() },
      { address: 'b', own: windows(2), delta: { indices: Uint32Array.of(5, 9), values: Float32Array.of(0.25, -0.5) } },
    ];
    const inline = await new InlineEvaluator().evaluate(job(trials), 60_000);
    const copy = (t: (typeof trials)[number]) => ({ ...t, own: { ...t.own, bytes: t.own.bytes.slice() }, delta: { indices: t.delta.indices.slice(), values: t.delta.values.slice() } });
    const threaded = await worker.evaluate(job(trials.map(copy)), 60_000);
    expect(threaded).toEqual(inline);
    const late = await worker.evaluate(job([{ address: 'c', own: windows(3), delta: zeroDelta() }]), 1);
    expect(late).toEqual([{ address: 'c', error: 'no result within 1 ms' }]);
    const again = await worker.evaluate(job([{ address: 'a', own: windows(1), delta: zeroDelta() }]), 60_000);
    expect(again).toEqual([inline[0]]);
  });

  it('trial deltas: median-norm clip over the round, then × trialScale·α, in float32', () => {
    const manifest = layout.tensors;
    const addresses = [0, 1, 2].map((i) => walletFor(200 + i).address).sort();
    const updates = [1, 2, 3].map((k) => compress(residual(k, 1e-3 * k), manifest, defaultCompressConfig));
    const round = addresses.map((address, i) => ({ address, update: updates[i] }));
    const deltas = trialDeltas(round, [addresses[2]], manifest, 0.2);
    const delta = deltas.get(addresses[2])!;
    // Tensor 0 (wte): the third update has the largest norm, so it is clipped to the median (the second's).
    const wte = updates[2].tensors[0];
    expect(wte.mode).toBe('sparse');
    if (wte.mode !== 'sparse') return;
    const norm = (u: (typeof updates)[number]) => {
      const t = u.tensors[0];
      if (t.mode !== 'sparse') return 0;
      let s = 0;
      for (const q of t.codes) s += Math.fround(t.lut[q] + Math.fround(t.mean)) ** 2;
      return Math.sqrt(s);
    };
    const factor = norm(updates[1]) / (norm(updates[2]) + 1e-8);
    expect(factor).toBeLessThan(1);
    const v0 = Math.fround(wte.lut[wte.codes[0]] + Math.fround(wte.mean));
    expect(delta.indices[0]).toBe(layout.byName.wte.offset + wte.indices[0]);
    expect(delta.values[0]).toBe(Math.fround(0.2 * Math.fround(v0 * factor)));
  });
});
