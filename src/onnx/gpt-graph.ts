// The same GPT as an ONNX graph (opset 17), built in TypeScript from the flat
// parameters, for onnxruntime-web: an independent forward pass that
// cross-checks the WGSL one in tests, evaluates loss on the relay (wasm), and
// samples text in the tab. Inputs: tokens int64 (B, T) with T ≤ blockSize,
// any B; output: logits float32 (B, T, V).
// Weights are transposed here once so every projection is a plain MatMul
// (x · Wᵀ with W stored (OC, C) in our layout). They enter the graph either
// as initializers (one session per θ: the sampler, the held-out loss) or as
// graph inputs (one session for any θ: Gauntlet's evaluation runs one model
// per submission, and creating a session costs more than running nano on a
// batch); gptWeights lists them, in one order, for both.
import type { GptConfig } from '../model/config.ts';
import { buildLayout, layerTensorName, tensorOf, type LayerTensorKey } from '../model/layout.ts';
import { GraphBuilder } from './builder.ts';

/** One weight as the graph sees it (projection matrices already transposed). */
export interface GptWeight {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** W (rows, cols) → Wᵀ (cols, rows). */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** Every weight the graph reads, named as the graph names them, in a fixed order. */
export function gptWeights(config: GptConfig, params: Float32Array): GptWeight[] {
  const layout = buildLayout(config);
  if (params.length !== layout.size) throw new RangeError(`params have ${params.length} floats, layout needs ${layout.size}`);
  const { vocabSize: V, blockSize: maxT, nLayer: L, nEmbd: C } = config;
  const tensor = (name: string) => tensorOf(params, layout.byName[name]);
  const weights: GptWeight[] = [];
  const plain = (name: string, dims: number[]) => weights.push({ name, dims, data: tensor(name) });
  const transposed = (name: string, rows: number, cols: number) =>
    weights.push({ name: `${name}.T`, dims: [cols, rows], data: transpose(tensor(name), rows, cols) });
  plain('wte', [V, C]);
  plain('wpe', [maxT, C]);
  for (let l = 0; l < L; l++) {
    const name = (key: LayerTensorKey) => layerTensorName(l, key);
    plain(name('ln1w'), [C]);
    plain(name('ln1b'), [C]);
    transposed(name('qkvw'), 3 * C, C);
    plain(name('qkvb'), [3 * C]);
    transposed(name('attprojw'), C, C);
    plain(name('attprojb'), [C]);
    plain(name('ln2w'), [C]);
    plain(name('ln2b'), [C]);
    transposed(name('fcw'), 4 * C, C);
    plain(name('fcb'), [4 * C]);
    transposed(name('fcprojw'), C, 4 * C);
    plain(name('fcprojb'), [C]);
  }
  plain('lnf.weight', [C]);
  plain('lnf.bias', [C]);
  transposed('wte', V, C); // tied embeddings: the logits read wte too
  return weights;
}

export interface GptOnnxOptions {
  /** Weights as graph inputs (feed gptWeights(config, θ) to every run) instead of initializers. */
  weightsAsInputs?: boolean;
}

/**
 * The GPT as an ONNX model. With weightsAsInputs the bytes do not depend on
 * the values of `params` (only on the config), so one session serves every θ.
 */
export function buildGptOnnx(config: GptConfig, params: Float32Array, options: GptOnnxOptions = {}): Uint8Array {
  const { vocabSize: V, blockSize: maxT, nLayer: L, nHead: NH, nEmbd: C } = config;
  const hs = C / NH;
  const g = new GraphBuilder('tessera-gpt');
  for (const w of gptWeights(config, params)) {
    if (options.weightsAsInputs) g.input(w.name, 'float32', w.dims);
    else g.constant(w.name, w.dims, w.data);
  }
  const weightT = (name: string) => `${name}.T`;

  const tokens = g.input('tokens', 'int64', ['B', 'T']);
  const zero = g.constantInt64('zero', [0]);
  const one = g.constantInt64('one', [1]);
  const two = g.constantInt64('two', [2]);
  const shape = g.node('Shape', [tokens]);
  const T = g.node('Slice', [shape, one, two]); // [T]
  const positions = g.node('Slice', ['wpe', zero, T, zero]); // (T, C)
  let x = g.node('Add', [g.node('Gather', ['wte', tokens], { axis: 0 }), positions]); // (B, T, C)

  // Causal mask: 0 on and below the diagonal, −1e9 above (exp underflows to exactly 0).
  const mask = new Float32Array(maxT * maxT);
  for (let i = 0; i < maxT; i++) for (let j = i + 1; j < maxT; j++) mask[i * maxT + j] = -1e9;
  g.constant('causal_mask', [maxT, maxT], mask);
  const causal = g.node('Slice', ['causal_mask', g.constantInt64('zero2', [0, 0]), g.node('Concat', [T, T], { axis: 0 }), g.constantInt64('axes01', [0, 1])]); // (T, T)
  const headShape = g.constantInt64('head_shape', [0, 0, NH, hs]);
  const mergedShape = g.constantInt64('merged_shape', [0, 0, C]);
  const scale = g.constant('attn_scale', [], new Float32Array([1 / Math.sqrt(hs)]));
  const splitSizes = g.constantInt64('qkv_split', [C, C, C]);
  const half = g.constant('half', [], new Float32Array([0.5]));
  const oneF = g.constant('one_f', [], new Float32Array([1]));
  const geluA = g.constant('gelu_a', [], new Float32Array([0.044715]));
  const geluB = g.constant('gelu_b', [], new Float32Array([Math.sqrt(2 / Math.PI)]));

  const layerNorm = (inp: string, weight: string, bias: string) => g.node('LayerNormalization', [inp, weight, bias], { axis: -1, epsilon: 1e-5 });
  const linear = (inp: string, l: number, w: LayerTensorKey, b: LayerTensorKey) =>
    g.node('Add', [g.node('MatMul', [inp, weightT(layerTensorName(l, w))]), layerTensorName(l, b)]);

  for (let l = 0; l < L; l++) {
    // attention block
    const ln1 = layerNorm(x, layerTensorName(l, 'ln1w'), layerTensorName(l, 'ln1b'));
    const qkv = linear(ln1, l, 'qkvw', 'qkvb'); // (B, T, 3C)
    const [q, k, v] = [`q${l}`, `k${l}`, `v${l}`];
    g.node('Split', [qkv, splitSizes], { axis: -1 }, [q, k, v]);
    const heads = (t: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [t, headShape])], { perm });
    const qh = heads(q, [0, 2, 1, 3]); // (B, NH, T, hs)
    const kh = heads(k, [0, 2, 3, 1]); // (B, NH, hs, T)
    const vh = heads(v, [0, 2, 1, 3]); // (B, NH, T, hs)
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [qh, kh]), scale]), causal]); // (B, NH, T, T)
    const att = g.node('Softmax', [scores], { axis: -1 });
    const y = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [att, vh])], { perm: [0, 2, 1, 3] }), mergedShape]); // (B, T, C)
    x = g.node('Add', [x, linear(y, l, 'attprojw', 'attprojb')]);
    // MLP block with tanh-approximated GELU (opset 17 has no Gelu op)
    const ln2 = layerNorm(x, layerTensorName(l, 'ln2w'), layerTensorName(l, 'ln2b'));
    const h = linear(ln2, l, 'fcw', 'fcb'); // (B, T, 4C)
    const cube = g.node('Mul', [g.node('Mul', [h, h]), h]);
    const inner = g.node('Mul', [g.node('Add', [h, g.node('Mul', [cube, geluA])]), geluB]);
    const gelu = g.node('Mul', [g.node('Mul', [h, half]), g.node('Add', [g.node('Tanh', [inner]), oneF])]);
    x = g.node('Add', [x, linear(gelu, l, 'fcprojw', 'fcprojb')]);
  }
  const lnf = layerNorm(x, 'lnf.weight', 'lnf.bias');
  g.node('MatMul', [lnf, weightT('wte')], undefined, ['logits']); // tied embeddings
  g.output('logits', 'float32', ['B', 'T', V]);
  return g.build();
}
