// The same GPT as an ONNX graph (opset 17), built in TypeScript from the flat
// parameters, for onnxruntime-web: an independent forward pass that
// cross-checks the WGSL one in tests, evaluates loss on the relay (wasm), and
// samples text in the tab. Inputs: tokens int64 (B, T) with T ≤ blockSize,
// any B; output: logits float32 (B, T, V).
// Weights enter as initializers, transposed here once so every projection is a
// plain MatMul (x · Wᵀ with W stored (OC, C) in our layout).
import type { GptConfig } from '../model/config.ts';
import { buildLayout, layerTensorName, tensorOf, type LayerTensorKey } from '../model/layout.ts';
import { GraphBuilder } from './builder.ts';

/** W (rows, cols) → Wᵀ (cols, rows). */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

export function buildGptOnnx(config: GptConfig, params: Float32Array): Uint8Array {
  const layout = buildLayout(config);
  if (params.length !== layout.size) throw new RangeError(`params have ${params.length} floats, layout needs ${layout.size}`);
  const { vocabSize: V, blockSize: maxT, nLayer: L, nHead: NH, nEmbd: C } = config;
  const hs = C / NH;
  const g = new GraphBuilder('tessera-gpt');
  const tensor = (name: string) => tensorOf(params, layout.byName[name]);
  const weightT = (name: string, rows: number, cols: number) => g.constant(`${name}.T`, [cols, rows], transpose(tensor(name), rows, cols));
  const vector = (name: string, n: number) => g.constant(name, [n], tensor(name));

  const tokens = g.input('tokens', 'int64', ['B', 'T']);
  g.constant('wte', [V, C], tensor('wte'));
  g.constant('wpe', [maxT, C], tensor('wpe'));
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

  const layerNorm = (inp: string, weight: string, bias: string) =>
    g.node('LayerNormalization', [inp, vector(weight, C), vector(bias, C)], { axis: -1, epsilon: 1e-5 });
  const linear = (inp: string, l: number, w: LayerTensorKey, b: LayerTensorKey, OC: number, IC: number) =>
    g.node('Add', [g.node('MatMul', [inp, weightT(layerTensorName(l, w), OC, IC)]), vector(layerTensorName(l, b), OC)]);

  for (let l = 0; l < L; l++) {
    // attention block
    const ln1 = layerNorm(x, layerTensorName(l, 'ln1w'), layerTensorName(l, 'ln1b'));
    const qkv = linear(ln1, l, 'qkvw', 'qkvb', 3 * C, C); // (B, T, 3C)
    const [q, k, v] = [`q${l}`, `k${l}`, `v${l}`];
    g.node('Split', [qkv, splitSizes], { axis: -1 }, [q, k, v]);
    const heads = (t: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [t, headShape])], { perm });
    const qh = heads(q, [0, 2, 1, 3]); // (B, NH, T, hs)
    const kh = heads(k, [0, 2, 3, 1]); // (B, NH, hs, T)
    const vh = heads(v, [0, 2, 1, 3]); // (B, NH, T, hs)
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [qh, kh]), scale]), causal]); // (B, NH, T, T)
    const att = g.node('Softmax', [scores], { axis: -1 });
    const y = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [att, vh])], { perm: [0, 2, 1, 3] }), mergedShape]); // (B, T, C)
    x = g.node('Add', [x, linear(y, l, 'attprojw', 'attprojb', C, C)]);
    // MLP block with tanh-approximated GELU (opset 17 has no Gelu op)
    const ln2 = layerNorm(x, layerTensorName(l, 'ln2w'), layerTensorName(l, 'ln2b'));
    const h = linear(ln2, l, 'fcw', 'fcb', 4 * C, C); // (B, T, 4C)
    const cube = g.node('Mul', [g.node('Mul', [h, h]), h]);
    const inner = g.node('Mul', [g.node('Add', [h, g.node('Mul', [cube, geluA])]), geluB]);
    const gelu = g.node('Mul', [g.node('Mul', [h, half]), g.node('Add', [g.node('Tanh', [inner]), oneF])]);
    x = g.node('Add', [x, linear(gelu, l, 'fcprojw', 'fcprojb', C, 4 * C)]);
  }
  const lnf = layerNorm(x, 'lnf.weight', 'lnf.bias');
  g.node('MatMul', [lnf, weightT('wte', V, C)], undefined, ['logits']); // tied embeddings
  g.output('logits', 'float32', ['B', 'T', V]);
  return g.build();
}
