// All model parameters in ONE flat Float32Array with named views, so AdamW,
// the pseudo-gradient, error feedback and compression each run as one pass
// over all parameters, and a checkpoint is one blob plus this manifest.
// Shapes follow llm.c's ParameterTensors (weights stored (out, in) for the
// out = inp · Wᵀ matmul convention), but tensors are grouped per layer with
// GPT-2-like names (h.0.ln1.weight) rather than llm.c's (L, …) stacks.
// Every tensor starts at a multiple of 64 floats (256 bytes), the WebGPU
// minimum storage-buffer offset alignment, so any tensor can be bound as a
// buffer view; the padding between tensors stays zero.
// Tied embeddings: there is no lm-head tensor; the logits use wte.
import type { GptConfig } from './config.ts';
import { validateGptConfig } from './config.ts';

/** 256 bytes: minStorageBufferOffsetAlignment on every WebGPU adapter. */
export const TENSOR_ALIGN_FLOATS = 64;

export interface TensorView {
  name: string;
  shape: number[];
  offset: number; // in floats from the start of the flat buffer; multiple of TENSOR_ALIGN_FLOATS
  size: number; // product of shape (no padding)
  decay: boolean; // weight decay applies (2-D matrices, incl. the tied embedding); not biases or LN gains
}

export interface ParameterLayout {
  tensors: TensorView[]; // in buffer order
  byName: Record<string, TensorView>;
  size: number; // total floats incl. padding (a multiple of TENSOR_ALIGN_FLOATS)
  paramCount: number; // real parameters (Σ sizes)
}

/** The per-layer tensors, llm.c field names → GPT-2-like suffixes, in buffer order. */
export const LAYER_TENSORS = {
  ln1w: 'ln1.weight', // (C)
  ln1b: 'ln1.bias', // (C)
  qkvw: 'attn.qkv.weight', // (3C, C)
  qkvb: 'attn.qkv.bias', // (3C)
  attprojw: 'attn.proj.weight', // (C, C)
  attprojb: 'attn.proj.bias', // (C)
  ln2w: 'ln2.weight', // (C)
  ln2b: 'ln2.bias', // (C)
  fcw: 'mlp.fc.weight', // (4C, C)
  fcb: 'mlp.fc.bias', // (4C)
  fcprojw: 'mlp.proj.weight', // (C, 4C)
  fcprojb: 'mlp.proj.bias', // (C)
} as const;

export type LayerTensorKey = keyof typeof LAYER_TENSORS;

/** "h.3.attn.qkv.weight" for (3, 'qkvw'). */
export function layerTensorName(layer: number, key: LayerTensorKey): string {
  return `h.${layer}.${LAYER_TENSORS[key]}`;
}

function layerShapes(C: number): Record<LayerTensorKey, number[]> {
  return {
    ln1w: [C],
    ln1b: [C],
    qkvw: [3 * C, C],
    qkvb: [3 * C],
    attprojw: [C, C],
    attprojb: [C],
    ln2w: [C],
    ln2b: [C],
    fcw: [4 * C, C],
    fcb: [4 * C],
    fcprojw: [C, 4 * C],
    fcprojb: [C],
  };
}

const alignUp = (n: number) => Math.ceil(n / TENSOR_ALIGN_FLOATS) * TENSOR_ALIGN_FLOATS;

/** Tensor order: wte, wpe, h.0.* … h.{L−1}.*, lnf.weight, lnf.bias. */
export function buildLayout(config: GptConfig): ParameterLayout {
  validateGptConfig(config);
  const { vocabSize: V, blockSize: maxT, nLayer: L, nEmbd: C } = config;
  const entries: [string, number[]][] = [
    ['wte', [V, C]],
    ['wpe', [maxT, C]],
  ];
  for (let l = 0; l < L; l++) {
    const shapes = layerShapes(C);
    for (const key of Object.keys(LAYER_TENSORS) as LayerTensorKey[]) entries.push([layerTensorName(l, key), shapes[key]]);
  }
  entries.push(['lnf.weight', [C]], ['lnf.bias', [C]]);

  const tensors: TensorView[] = [];
  const byName: Record<string, TensorView> = {};
  let offset = 0;
  let paramCount = 0;
  for (const [name, shape] of entries) {
    const size = shape.reduce((a, b) => a * b, 1);
    const view: TensorView = { name, shape, offset, size, decay: shape.length >= 2 };
    tensors.push(view);
    byName[name] = view;
    offset = alignUp(offset + size);
    paramCount += size;
  }
  return { tensors, byName, size: offset, paramCount };
}

/** The tensor's elements inside a flat buffer of layout.size floats (shares memory). */
export function tensorOf<A extends Float32Array | Float64Array>(flat: A, view: TensorView): A {
  return flat.subarray(view.offset, view.offset + view.size) as A;
}

/** 1 where weight decay applies, 0 elsewhere (including padding): adamwUpdate's decayMask. */
export function decayMask(layout: ParameterLayout): Float32Array {
  const mask = new Float32Array(layout.size);
  for (const t of layout.tensors) if (t.decay) mask.fill(1, t.offset, t.offset + t.size);
  return mask;
}

/** The parameters of one transformer block, as views (llm.c field names). */
export type LayerTensors<A> = Record<LayerTensorKey, A>;

/** llm.c's ParameterTensors, as views into one flat buffer (params or grads alike). */
export interface ParameterTensors<A> {
  wte: A; // (V, C)
  wpe: A; // (maxT, C)
  layers: LayerTensors<A>[]; // L entries
  lnfw: A; // (C)
  lnfb: A; // (C)
}

/** Named views of every tensor in `flat` (length layout.size). */
export function parameterTensors<A extends Float32Array | Float64Array>(
  layout: ParameterLayout,
  flat: A,
): ParameterTensors<A> {
  if (flat.length !== layout.size) throw new Error(`flat buffer has ${flat.length} floats, layout needs ${layout.size}`);
  const get = (name: string) => tensorOf(flat, layout.byName[name]);
  const layers: LayerTensors<A>[] = [];
  for (let l = 0; layerTensorName(l, 'ln1w') in layout.byName; l++) {
    const layer = {} as LayerTensors<A>;
    for (const key of Object.keys(LAYER_TENSORS) as LayerTensorKey[]) layer[key] = get(layerTensorName(l, key));
    layers.push(layer);
  }
  return { wte: get('wte'), wpe: get('wpe'), layers, lnfw: get('lnf.weight'), lnfb: get('lnf.bias') };
}

/** V·C + maxT·C + L·(12C² + 13C) + 2C: the closed form buildLayout must agree with. */
export function gptParamCount(config: GptConfig): number {
  const { vocabSize: V, blockSize: maxT, nLayer: L, nEmbd: C } = config;
  return V * C + maxT * C + L * (12 * C * C + 13 * C) + 2 * C;
}
