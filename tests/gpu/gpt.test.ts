// The whole GPT on WebGPU against the CPU reference model on the same
// weights and batch: logits, loss, every parameter's gradient, and the
// parameters after one clipped AdamW step. Max abs/rel error printed per tensor.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { errorStats } from '../compare.ts';
import { GptGpu } from '../../src/model/gpt-gpu.ts';
import { createGptReference, gptBackward, gptForward } from '../../src/model/gpt-reference.ts';
import { initGptParameters } from '../../src/model/init.ts';
import { decayMask, tensorOf } from '../../src/model/layout.ts';
import type { GptConfig } from '../../src/model/config.ts';
import { adamwUpdate } from '../../src/reference/adamw.ts';
import { clipScale, gradNorm, scaleInPlace } from '../../src/reference/grad-norm.ts';

const CONFIG: GptConfig = { vocabSize: 256, blockSize: 24, nLayer: 2, nHead: 4, nEmbd: 32 };
const [B, T] = [2, 19]; // T below blockSize and odd on purpose

function batch(seed: number) {
  const inputs = new Uint32Array(B * T);
  const targets = new Uint32Array(B * T);
  let s = seed;
  for (let i = 0; i < B * T; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    inputs[i] = (s >>> 8) % 256;
    targets[i] = (s >>> 16) % 256;
  }
  return { inputs, targets };
}

function report(name: string, actual: Float32Array, expected: Float32Array, atol: number, rtol: number) {
  const s = errorStats(actual, expected);
  console.log(`${name.padEnd(26)} max abs ${s.maxAbs.toExponential(2)}  max rel ${s.maxRel.toExponential(2)}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= atol + rtol * Math.abs(expected[i]))) {
      throw new Error(`${name}[${i}] = ${actual[i]}, expected ${expected[i]} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

describe('GPT on WebGPU vs the reference model', () => {
  it('matches logits, loss, every gradient and one AdamW step', async () => {
    const ctx = await gpuContext();
    const { layout, params } = initGptParameters(CONFIG, 1234);
    const { inputs, targets } = batch(7);
    const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };

    const reference = createGptReference(CONFIG, params.slice());
    const refLoss = gptForward(reference, inputs, targets, B, T);
    gptBackward(reference);

    const model = await GptGpu.create(ctx, CONFIG, B, T, hyper);
    model.uploadParams(params);
    const loss = await model.forwardBackward(inputs, targets);
    console.log(`loss: gpu ${loss}, reference ${refLoss}`);
    expect(Math.abs(loss - refLoss)).toBeLessThan(1e-4);
    report('logits', await ctx.readFloat32(model.logits, B * T * CONFIG.vocabSize), reference.acts!.logits, 1e-4, 1e-4);

    const grads = await model.readGrads();
    for (const t of layout.tensors) {
      // Gradients are tiny (≈1e-3..1e-5): atol scaled to the tensor's magnitude.
      const expected = tensorOf(reference.grads, t);
      const scale = Math.max(...expected.map(Math.abs), 1e-6);
      report(`grad ${t.name}`, tensorOf(grads, t), expected, 2e-4 * scale, 1e-3);
    }

    // One clipped AdamW step from the same gradients.
    const norm = gradNorm(reference.grads, layout.size);
    scaleInPlace(reference.grads, layout.size, clipScale(norm, hyper.gradClip));
    const m = new Float32Array(layout.size);
    const v = new Float32Array(layout.size);
    const refParams = params.slice();
    adamwUpdate(refParams, reference.grads, m, v, layout.size, hyper.lr, hyper.beta1, hyper.beta2, hyper.eps, hyper.weightDecay, 1, decayMask(layout));

    model.uploadParams(params);
    model.resetOptimizer();
    const stepLoss = await model.step(inputs, targets, 1, hyper).loss;
    expect(Math.abs(stepLoss - refLoss)).toBeLessThan(1e-4);
    const [gpuNorm] = await ctx.readFloat32(model.gradNormResult, 1);
    console.log(`grad norm: gpu ${gpuNorm}, reference ${norm}`);
    expect(Math.abs(gpuNorm - norm) / norm).toBeLessThan(1e-4);
    // AdamW's first step moves each parameter by ≈ lr·sign(g): where |g| is
    // within float error of zero the sign may differ, so compare with atol = lr.
    const after = await model.readParams();
    const stats = errorStats(after, refParams);
    console.log(`params after AdamW        max abs ${stats.maxAbs.toExponential(2)}  max rel ${stats.maxRel.toExponential(2)}`);
    let flipped = 0;
    for (let i = 0; i < layout.size; i++) if (Math.abs(after[i] - refParams[i]) > 1e-6) flipped++;
    console.log(`params differing by > 1e-6: ${flipped} of ${layout.size}`);
    expect(stats.maxAbs).toBeLessThanOrEqual(2 * hyper.lr + 1e-6);
    expect(flipped / layout.size).toBeLessThan(1e-3);
    model.destroy();
  });

  it('a training step is bit-deterministic', async () => {
    const ctx = await gpuContext();
    const { params } = initGptParameters(CONFIG, 99);
    const { inputs, targets } = batch(3);
    const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };
    const model = await GptGpu.create(ctx, CONFIG, B, T, hyper);
    const runs: Uint32Array[] = [];
    for (let r = 0; r < 2; r++) {
      model.uploadParams(params);
      model.resetOptimizer();
      for (let t = 1; t <= 3; t++) await model.step(inputs, targets, t, hyper).loss;
      runs.push(new Uint32Array((await model.readParams()).buffer));
    }
    expect(runs[0]).toEqual(runs[1]);
    model.destroy();
  });
});
