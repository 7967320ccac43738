// Deterministic GPT-2 initialisation of the flat parameter buffer from a seed.
// Scheme (Radford et al. 2019 / nanoGPT): matrices ~ N(0, 0.02); the two
// projections that write into the residual stream (attn.proj, mlp.proj) are
// scaled by 1/√(2L) so the stream's variance does not grow with depth; wpe ~
// N(0, 0.01) as in GPT-2's TF code; biases 0; LayerNorm gains 1; padding 0.
// Randomness: splitmix32-seeded mulberry32 per tensor (random.ts; seeded by the run seed
// and the tensor's index, so one tensor's values do not depend on the others'
// sizes), normals by Box–Muller. Same seed → identical bits within one JS
// engine. Across engines Math.log/Math.cos are not required to round the same
// way, so replicas must take θ(0) from the relay (or check its hash), not
// re-derive it.
import type { GptConfig } from './config.ts';
import type { ParameterLayout, TensorView } from './layout.ts';
import { buildLayout } from './layout.ts';
import { mixSeed, mulberry32, type Random } from './random.ts';

/** Fills out[start, start+n) with N(0, std²) draws (Box–Muller, both outputs used). */
function fillNormal(out: Float32Array, start: number, n: number, std: number, uniform: Random): void {
  for (let i = 0; i < n; i += 2) {
    // 1 − u lies in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    out[start + i] = r * Math.cos(theta) * std;
    if (i + 1 < n) out[start + i + 1] = r * Math.sin(theta) * std;
  }
}

export const INIT_STD = 0.02; // GPT-2's matrix init
export const WPE_STD = 0.01; // GPT-2's position-embedding init

const isLayerNormGain = (name: string) => /(^|\.)ln(1|2|f)\.weight$/.test(name);

/** The standard deviation of a tensor's normal init; 0 for tensors that start constant. */
export function initStd(view: TensorView, nLayer: number): number {
  if (view.name === 'wpe') return WPE_STD;
  if (view.shape.length < 2) return 0; // biases (0) and LayerNorm gains (1)
  if (view.name.endsWith('attn.proj.weight') || view.name.endsWith('mlp.proj.weight')) return INIT_STD / Math.sqrt(2 * nLayer);
  return INIT_STD; // wte, qkv, fc
}

/** Writes GPT-2 init into params (length layout.size), padding zeroed. */
export function initParameters(params: Float32Array, layout: ParameterLayout, config: GptConfig, seed: number): void {
  if (params.length !== layout.size) throw new Error(`params has ${params.length} floats, layout needs ${layout.size}`);
  params.fill(0);
  layout.tensors.forEach((t, index) => {
    if (isLayerNormGain(t.name)) {
      params.fill(1, t.offset, t.offset + t.size);
      return;
    }
    const std = initStd(t, config.nLayer);
    if (std > 0) fillNormal(params, t.offset, t.size, std, mulberry32(mixSeed(seed, index)));
  });
}

/** A fresh flat buffer with GPT-2 init for this config. */
export function initGptParameters(config: GptConfig, seed: number): { layout: ParameterLayout; params: Float32Array } {
  const layout = buildLayout(config);
  const params = new Float32Array(layout.size);
  initParameters(params, layout, config, seed);
  return { layout, params };
}
