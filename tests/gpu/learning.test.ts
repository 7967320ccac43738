// Evidence that the WebGPU trainer learns language, not just byte frequencies:
// the smallest preset, trained on the shipped Brown corpus for a few hundred
// steps on SwiftShader, must reach a validation loss clearly below the unigram
// entropy of the validation bytes (the best any context-free model can score).
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { GptGpu } from '../../src/model/gpt-gpu.ts';
import { GPT_PRESETS, defaultTrainConfig } from '../../src/model/config.ts';
import { initGptParameters } from '../../src/model/init.ts';
import { ensureDataset } from '../../src/data/prepare.ts';
import { evaluate, runInnerLoop } from '../../src/train/inner-loop.ts';

const STEPS = 150;
const [B, T] = [4, 64];

describe('learning', () => {
  it(`nano learns context: ${STEPS} steps beat the unigram entropy`, { timeout: 900_000 }, async () => {
    const ctx = await gpuContext();
    const data = ensureDataset();
    const config = GPT_PRESETS.nano;
    // A higher peak rate than the default 1e-3 suits a 0.1M-parameter model trained this briefly.
    const train = { ...defaultTrainConfig(config), batchSize: B, seqLen: T, learningRate: 4e-3, warmupSteps: 20 };
    const model = await GptGpu.create(ctx, config, B, T);
    model.uploadParams(initGptParameters(config, 42).params);
    const startVal = await evaluate(model, data.val, 8);
    const result = await runInnerLoop({ model, train, data: data.train, seed: 7, steps: STEPS, firstStep: 0, totalSteps: STEPS });
    const finalVal = await evaluate(model, data.val, 8);
    const unigram = data.manifest.unigram_entropy_val_nats;
    const first = result.steps.slice(0, 10).reduce((s, r) => s + r.loss, 0) / 10;
    const last = result.steps.slice(-10).reduce((s, r) => s + r.loss, 0) / 10;
    console.log(
      `learning curve: val ${startVal.toFixed(3)} → ${finalVal.toFixed(3)} nats (unigram entropy ${unigram.toFixed(3)}); ` +
        `train loss first 10 steps ${first.toFixed(3)}, last 10 ${last.toFixed(3)}; ` +
        `${(result.ms / STEPS).toFixed(0)} ms/step, ${((result.tokens / result.ms) * 1000).toFixed(0)} tokens/s`,
    );
    expect(result.steps).toHaveLength(STEPS);
    expect(startVal).toBeGreaterThan(5); // ≈ ln 256 at init
    expect(finalVal).toBeLessThan(unigram - 0.3);
    model.destroy();
  });
});
