// The flat parameter layout: every tensor aligned for a WebGPU buffer view,
// no two tensors overlapping, unique names, sizes that add up to the closed
// form, decay flags on matrices only, and named views that address the right
// floats. Prints each preset's parameter count.
import { describe, expect, it } from 'vitest';
import { GPT_PRESETS, defaultTrainConfig, validateGptConfig, validateTrainConfig } from '../../src/model/config.ts';
import type { GptConfig } from '../../src/model/config.ts';
import {
  LAYER_TENSORS,
  TENSOR_ALIGN_FLOATS,
  buildLayout,
  decayMask,
  gptParamCount,
  layerTensorName,
  parameterTensors,
  tensorOf,
} from '../../src/model/layout.ts';

const presets = Object.entries(GPT_PRESETS) as [string, GptConfig][];
// An odd shape too, so alignment padding is actually exercised (C = 24 is not a multiple of 64).
const odd: GptConfig = { vocabSize: 256, blockSize: 7, nLayer: 3, nHead: 3, nEmbd: 24 };

describe('parameter layout', () => {
  for (const [name, config] of [...presets, ['odd', odd] as [string, GptConfig]]) {
    it(`${name}: aligned, non-overlapping, unique, counted`, () => {
      const layout = buildLayout(config);
      const { nLayer: L, nEmbd: C } = config;
      expect(layout.tensors.length).toBe(2 + 12 * L + 2);
      expect(new Set(layout.tensors.map((t) => t.name)).size).toBe(layout.tensors.length);
      let end = 0;
      let sum = 0;
      for (const t of layout.tensors) {
        expect(t.offset % TENSOR_ALIGN_FLOATS).toBe(0);
        expect(t.offset).toBeGreaterThanOrEqual(end); // starts after the previous tensor ends
        expect(t.size).toBe(t.shape.reduce((a, b) => a * b, 1));
        expect(layout.byName[t.name]).toBe(t);
        expect(t.decay).toBe(t.shape.length === 2);
        end = t.offset + t.size;
        sum += t.size;
      }
      expect(layout.size).toBeGreaterThanOrEqual(end);
      expect(layout.size % TENSOR_ALIGN_FLOATS).toBe(0);
      expect(layout.paramCount).toBe(sum);
      expect(layout.paramCount).toBe(gptParamCount(config));
      // Shapes as in llm.c: weights (out, in).
      expect(layout.byName.wte.shape).toEqual([256, C]);
      expect(layout.byName.wpe.shape).toEqual([config.blockSize, C]);
      expect(layout.byName[layerTensorName(L - 1, 'qkvw')].shape).toEqual([3 * C, C]);
      expect(layout.byName['h.0.mlp.proj.weight'].shape).toEqual([C, 4 * C]);
      expect(layout.byName['h.0.mlp.fc.bias'].shape).toEqual([4 * C]);
      expect(layout.byName['lnf.bias'].shape).toEqual([C]);
      console.log(`preset ${name.padEnd(7)} params ${layout.paramCount.toLocaleString('en-US').padStart(11)}  flat floats ${layout.size.toLocaleString('en-US')}`);
    });
  }

  it('the numbers quoted in config.ts hold', () => {
    expect(buildLayout(GPT_PRESETS.nano).paramCount).toBe(120_576);
    expect(buildLayout(GPT_PRESETS.tiny).paramCount).toBe(842_496);
    expect(buildLayout(GPT_PRESETS.small).paramCount).toBe(4_870_144);
    expect(buildLayout(GPT_PRESETS.medium).paramCount).toBe(25_613_312);
  });

  it('decay mask covers exactly the matrices; padding is 0', () => {
    const layout = buildLayout(odd);
    const mask = decayMask(layout);
    const expected = new Float32Array(layout.size);
    for (const t of layout.tensors) if (t.shape.length === 2) expected.fill(1, t.offset, t.offset + t.size);
    let mismatches = 0;
    for (let i = 0; i < layout.size; i++) if (mask[i] !== expected[i]) mismatches++;
    expect(mismatches).toBe(0);
    expect(mask[layout.byName.wte.offset]).toBe(1);
    expect(mask[layout.byName['h.1.ln2.weight'].offset]).toBe(0);
    expect(mask[layout.byName['h.1.attn.qkv.bias'].offset]).toBe(0);
  });

  it('named views address their own floats of the flat buffer', () => {
    const layout = buildLayout(odd);
    const flat = new Float32Array(layout.size);
    const views = parameterTensors(layout, flat);
    expect(views.layers.length).toBe(odd.nLayer);
    // Write each tensor's index into its own view; every float must end up owned by at most one tensor.
    layout.tensors.forEach((t, i) => tensorOf(flat, t).fill(i + 1));
    layout.tensors.forEach((t, i) => {
      expect(flat[t.offset]).toBe(i + 1);
      expect(flat[t.offset + t.size - 1]).toBe(i + 1);
    });
    expect(views.layers[2].fcprojw[0]).toBe(layout.tensors.indexOf(layout.byName[layerTensorName(2, 'fcprojw')]) + 1);
    expect(views.lnfb.length).toBe(odd.nEmbd);
    expect(Object.keys(views.layers[0])).toEqual(Object.keys(LAYER_TENSORS));
    // Filling through the views left the padding between tensors untouched.
    const owned = new Uint8Array(layout.size);
    for (const t of layout.tensors) owned.fill(1, t.offset, t.offset + t.size);
    let paddingFloats = 0;
    let paddingTouched = 0;
    for (let i = 0; i < layout.size; i++) {
      if (owned[i]) continue;
      paddingFloats++;
      if (flat[i] !== 0) paddingTouched++;
    }
    expect(paddingFloats).toBe(layout.size - layout.paramCount);
    expect(paddingTouched).toBe(0);
  });

  it('configs are validated', () => {
    expect(() => validateGptConfig({ ...odd, nHead: 5 })).toThrow(/divisible/);
    expect(() => buildLayout({ ...odd, nLayer: 0 })).toThrow(/positive/);
    const train = defaultTrainConfig(GPT_PRESETS.nano);
    expect(train.seqLen).toBe(64);
    expect(() => validateTrainConfig({ ...train, seqLen: 65 }, GPT_PRESETS.nano)).toThrow(/seqLen/);
    validateTrainConfig(train, GPT_PRESETS.nano);
  });
});
