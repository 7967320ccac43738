// An independent forward: the same GPT built as an ONNX graph and run by
// onnxruntime-web (wasm) on the same weights must give the logits our WGSL
// forward gives (and the CPU reference's).
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { gpuContext } from './gpu-context.ts';
import { errorStats } from '../compare.ts';
import { buildGptOnnx } from '../../src/onnx/gpt-graph.ts';
import { GptGpu } from '../../src/model/gpt-gpu.ts';
import { initGptParameters } from '../../src/model/init.ts';
import { createGptReference, gptForward } from '../../src/model/gpt-reference.ts';
import type { GptConfig } from '../../src/model/config.ts';

const CONFIG: GptConfig = { vocabSize: 256, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 48 };

describe('GPT forward: WGSL vs onnxruntime-web', () => {
  it('logits agree on the same weights', async () => {
    const [B, T] = [2, 29];
    const { params } = initGptParameters(CONFIG, 5);
    // Perturb the LayerNorm gains and biases too, so every parameter matters.
    for (let i = 0; i < params.length; i++) params[i] += 0.01 * Math.sin(i);
    const inputs = new Uint32Array(B * T).map((_, i) => (i * 37 + 11) % 256);
    const targets = new Uint32Array(B * T).map((_, i) => (i * 53 + 7) % 256);

    const session = await ort.InferenceSession.create(buildGptOnnx(CONFIG, params), { executionProviders: ['wasm'] });
    const result = await session.run({ tokens: new ort.Tensor('int64', BigInt64Array.from(inputs, BigInt), [B, T]) });
    const ortLogits = result.logits.data as Float32Array;
    expect(result.logits.dims).toEqual([B, T, 256]);

    const ctx = await gpuContext();
    const model = await GptGpu.create(ctx, CONFIG, B, T);
    model.uploadParams(params);
    await model.forward(inputs, targets);
    const gpuLogits = await ctx.readFloat32(model.logits, B * T * 256);
    const reference = createGptReference(CONFIG, params.slice());
    gptForward(reference, inputs, targets, B, T);

    const vsGpu = errorStats(ortLogits, gpuLogits);
    const vsRef = errorStats(ortLogits, reference.acts!.logits);
    console.log(`onnxruntime-web vs WGSL logits:      max abs ${vsGpu.maxAbs.toExponential(2)}  max rel ${vsGpu.maxRel.toExponential(2)}`);
    console.log(`onnxruntime-web vs reference logits: max abs ${vsRef.maxAbs.toExponential(2)}  max rel ${vsRef.maxRel.toExponential(2)}`);
    expect(vsGpu.maxAbs).toBeLessThan(2e-4);
    expect(vsRef.maxAbs).toBeLessThan(2e-4);
    // Shorter sequences reuse the same graph (the mask and positions are sliced by T).
    const short = await session.run({ tokens: new ort.Tensor('int64', BigInt64Array.from(inputs.subarray(0, 5), BigInt), [1, 5]) });
    const shortLogits = short.logits.data as Float32Array;
    expect(errorStats(shortLogits, ortLogits.subarray(0, 5 * 256)).maxAbs).toBeLessThan(1e-4);
    await session.release();
    model.destroy();
  });
});
