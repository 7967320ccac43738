// The CPU reference GPT as a whole: its backward against finite differences of
// its forward on sampled parameters of EVERY tensor (non-trivial random
// weights, so attention, LayerNorm gains and biases all matter), the initial
// loss of a GPT-2-initialised model (≈ ln 256), loss going down under a few
// AdamW steps on a fixed batch, gradient accumulation, and init determinism.
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../compare.ts';
import { GPT_PRESETS, defaultTrainConfig } from '../../src/model/config.ts';
import type { GptConfig } from '../../src/model/config.ts';
import { buildLayout, decayMask, tensorOf } from '../../src/model/layout.ts';
import { INIT_STD, WPE_STD, initGptParameters, initParameters } from '../../src/model/init.ts';
import { createGptReference, gptBackward, gptForward, gptZeroGrad } from '../../src/model/gpt-reference.ts';
import { adamwUpdate } from '../../src/reference/adamw.ts';
import { clipScale, gradNorm, scaleInPlace } from '../../src/reference/grad-norm.ts';

const nano: GptConfig = GPT_PRESETS.nano;

/** Deterministic byte batch (B, T): inputs and next-byte targets from a text. */
function textBatch(B: number, T: number, text: string): { inputs: Int32Array; targets: Int32Array } {
  const bytes = new TextEncoder().encode(text);
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const at = (b * 13 + t) % (bytes.length - 1);
      inputs[b * T + t] = bytes[at];
      targets[b * T + t] = bytes[at + 1];
    }
  }
  return { inputs, targets };
}

const TEXT =
  'It was the best of times, it was the worst of times, it was the age of wisdom, ' +
  'it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity.';

describe('GPT reference model', () => {
  it('backward matches finite differences on sampled parameters of every tensor', () => {
    const model = createGptReference(nano);
    // Random weights well away from init (matrices ±0.3, gains 1 ± 0.2, biases ±0.2):
    // every path carries gradient and the attention is far from uniform.
    for (const t of model.layout.tensors) {
      const r = randomFloats(t.size, 1000 + t.offset, t.shape.length === 2 ? 0.3 : 0.2);
      const base = /ln(1|2|f)\.weight$/.test(t.name) ? 1 : 0;
      const view = tensorOf(model.params, t);
      for (let i = 0; i < t.size; i++) view[i] = base + r[i];
    }
    const B = 2, T = 8; // T < blockSize: rows T.. of wpe must get no gradient
    const { inputs, targets } = textBatch(B, T, TEXT);
    gptForward(model, inputs, targets, B, T);
    gptZeroGrad(model);
    gptBackward(model);

    // float32 forward: a 5-point stencil with a fairly large step keeps the
    // truncation error (h⁴) and the rounding noise (~1e-7 / h) both near 1e-6.
    const h = 0.03;
    const loss = (i: number, x: number) => {
      model.params[i] = Math.fround(x);
      return gptForward(model, inputs, targets, B, T);
    };
    let checked = 0;
    let maxAbs = 0;
    for (const t of model.layout.tensors) {
      // two spread positions per tensor, plus wpe rows both inside and beyond T
      const picks = [Math.floor(t.size * 0.13), Math.floor(t.size * 0.71)];
      if (t.name === 'wpe') picks.push(T * nano.nEmbd + 5);
      if (t.name === 'wte') picks.push(inputs[3] * nano.nEmbd + 9); // a row the encoder also touches
      for (const k of picks) {
        const i = t.offset + k;
        const saved = model.params[i];
        const numeric = (8 * (loss(i, saved + h) - loss(i, saved - h)) - (loss(i, saved + 2 * h) - loss(i, saved - 2 * h))) / (12 * h);
        model.params[i] = saved;
        const analytic = model.grads[i];
        const err = Math.abs(numeric - analytic);
        maxAbs = Math.max(maxAbs, err);
        checked++;
        if (!(err <= 2e-5 + 1e-2 * Math.abs(numeric))) {
          throw new Error(`${t.name}[${k}]: analytic ${analytic}, numeric ${numeric}`);
        }
      }
    }
    expect(model.grads[model.layout.byName.wpe.offset + T * nano.nEmbd + 5]).toBe(0);
    console.log(`gpt-reference: ${checked} parameters over ${model.layout.tensors.length} tensors, finite-difference max abs err ${maxAbs.toExponential(2)}`);
  });

  it('starts at loss ≈ ln 256 from GPT-2 init', () => {
    const { params } = initGptParameters(nano, 1);
    const model = createGptReference(nano, params);
    const { inputs, targets } = textBatch(4, 32, TEXT);
    const loss = gptForward(model, inputs, targets, 4, 32);
    console.log(`initial loss ${loss.toFixed(4)} (ln 256 = ${Math.log(256).toFixed(4)})`);
    expect(Math.abs(loss - Math.log(256))).toBeLessThan(0.05);
  });

  it('a few AdamW steps on a fixed batch lower the loss', () => {
    const { layout, params } = initGptParameters(nano, 2);
    const model = createGptReference(nano, params);
    const train = defaultTrainConfig(nano);
    const mask = decayMask(layout);
    const m = new Float32Array(layout.size);
    const v = new Float32Array(layout.size);
    const B = 4, T = 32;
    const { inputs, targets } = textBatch(B, T, TEXT);
    const losses: number[] = [];
    for (let step = 1; step <= 8; step++) {
      losses.push(gptForward(model, inputs, targets, B, T));
      gptZeroGrad(model);
      gptBackward(model);
      scaleInPlace(model.grads, layout.size, clipScale(gradNorm(model.grads, layout.size), train.gradClip));
      adamwUpdate(model.params, model.grads, m, v, layout.size, 3e-3, train.beta1, train.beta2, train.eps, train.weightDecay, step, mask);
    }
    losses.push(gptForward(model, inputs, targets, B, T));
    console.log(`AdamW on one batch: ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] - 0.5);
    // Padding between tensors stays zero through the optimizer (zero grad, zero decay mask).
    const owned = new Uint8Array(layout.size);
    for (const t of layout.tensors) owned.fill(1, t.offset, t.offset + t.size);
    let nonzeroPadding = 0;
    for (let i = 0; i < layout.size; i++) if (!owned[i] && model.params[i] !== 0) nonzeroPadding++;
    expect(nonzeroPadding).toBe(0);
  });

  it('backward accumulates into grads; a forward without targets gives the same logits', () => {
    const { params } = initGptParameters(nano, 3);
    const model = createGptReference(nano, params);
    const B = 2, T = 16;
    const { inputs, targets } = textBatch(B, T, TEXT);
    gptForward(model, inputs, targets, B, T);
    gptZeroGrad(model);
    gptBackward(model);
    const once = Float32Array.from(model.grads);
    gptBackward(model);
    // Not bit-exact: a tensor fed by several += (wte by the logits and the encoder)
    // rounds differently when the same terms land on a non-zero start.
    let scale = 0;
    for (const g of once) scale = Math.max(scale, Math.abs(g));
    let worst = 0;
    for (let i = 0; i < once.length; i++) worst = Math.max(worst, Math.abs(model.grads[i] - 2 * once[i]));
    console.log(`accumulation: max |g₂ − 2g₁| ${worst.toExponential(2)}, max |g₁| ${scale.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-6 * scale);
    expect(gradNorm(once, once.length)).toBeGreaterThan(0);

    const logits = Float32Array.from(model.acts!.logits);
    expect(Number.isNaN(gptForward(model, inputs, null, B, T))).toBe(true);
    let logitDiffs = 0;
    for (let i = 0; i < logits.length; i++) if (model.acts!.logits[i] !== logits[i]) logitDiffs++;
    expect(logitDiffs).toBe(0);
    let rowSum = 0;
    for (let i = 0; i < nano.vocabSize; i++) rowSum += model.acts!.probs[i];
    expect(rowSum).toBeCloseTo(1, 5);
    expect(() => gptBackward(model)).toThrow(/targets/);
    expect(() => gptForward(model, inputs, targets, B, 65)).toThrow(/T = 65/);
  });
});

describe('GPT-2 init', () => {
  it('same seed gives identical bits; another seed does not', () => {
    const a = initGptParameters(nano, 42).params;
    const b = initGptParameters(nano, 42).params;
    const c = initGptParameters(nano, 43).params;
    const ua = new Uint32Array(a.buffer);
    const ub = new Uint32Array(b.buffer);
    const uc = new Uint32Array(c.buffer);
    let diffSame = 0;
    let diffOther = 0;
    for (let i = 0; i < ua.length; i++) {
      if (ua[i] !== ub[i]) diffSame++;
      if (ua[i] !== uc[i]) diffOther++;
    }
    expect(diffSame).toBe(0);
    expect(diffOther).toBeGreaterThan(ua.length / 2);
    // Re-initialising a used buffer also clears it first.
    const layout = buildLayout(nano);
    const reused = new Float32Array(layout.size).fill(7);
    initParameters(reused, layout, nano, 42);
    let diffReused = 0;
    for (let i = 0; i < a.length; i++) if (Object.is(reused[i], a[i]) === false) diffReused++;
    expect(diffReused).toBe(0);
  });

  it('each tensor has GPT-2 statistics', () => {
    const config = GPT_PRESETS.tiny; // L = 4: residual projections get 0.02 / √8
    const { layout, params } = initGptParameters(config, 5);
    const stats = (name: string) => {
      const x = tensorOf(params, layout.byName[name]);
      let s = 0;
      let s2 = 0;
      for (const value of x) {
        s += value;
        s2 += value * value;
      }
      const mean = s / x.length;
      return { mean, std: Math.sqrt(s2 / x.length - mean * mean), min: Math.min(...x), max: Math.max(...x) };
    };
    const expectStd = (name: string, std: number) => {
      const st = stats(name);
      expect(Math.abs(st.mean)).toBeLessThan(std * 0.05);
      expect(st.std / std).toBeGreaterThan(0.95);
      expect(st.std / std).toBeLessThan(1.05);
    };
    expectStd('wte', INIT_STD);
    expectStd('wpe', WPE_STD);
    expectStd('h.0.attn.qkv.weight', INIT_STD);
    expectStd('h.3.mlp.fc.weight', INIT_STD);
    expectStd('h.1.attn.proj.weight', INIT_STD / Math.sqrt(8));
    expectStd('h.2.mlp.proj.weight', INIT_STD / Math.sqrt(8));
    for (const name of ['h.0.ln1.weight', 'h.3.ln2.weight', 'lnf.weight']) expect(stats(name)).toMatchObject({ min: 1, max: 1 });
    for (const name of ['h.0.ln1.bias', 'h.1.attn.qkv.bias', 'h.2.mlp.fc.bias', 'h.3.mlp.proj.bias', 'lnf.bias']) {
      expect(stats(name)).toMatchObject({ min: 0, max: 0 });
    }
  });
});
