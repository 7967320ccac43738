// The CPU reference GPT: forward and backward written out layer by layer in
// plain TypeScript on the reference ops, the structure of gpt2_forward /
// gpt2_backward in karpathy/llm.c train_gpt2.c (no autograd tape). It is the
// oracle for the WebGPU model and the CPU fallback for tiny configs.
// Differences from llm.c: byte vocabulary with no padded Vp; tied embeddings
// (the logits matmul uses wte (V, C) without bias and its weight gradient adds
// into dwte, on top of the encoder's); parameters and gradients live in one
// flat buffer each (layout.ts) rather than llm.c's per-type (L, …) stacks.
// Leaves out: sampling, the optimizer step (src/reference/adamw.ts does it on
// the flat buffers) and any speed work: it is meant for small configs.
import type { GptConfig } from './config.ts';
import { validateGptConfig } from './config.ts';
import type { ParameterLayout, ParameterTensors } from './layout.ts';
import { buildLayout, parameterTensors } from './layout.ts';
import type { Activations } from './activations.ts';
import { allocateActivations, layerSlice } from './activations.ts';
import { encoderBackward, encoderForward } from '../reference/encoder.ts';
import { layernormBackward, layernormForward } from '../reference/layernorm.ts';
import { matmulBackward, matmulForward } from '../reference/matmul.ts';
import { attentionBackward, attentionForward } from '../reference/attention.ts';
import { residualBackward, residualForward } from '../reference/residual.ts';
import { geluBackward, geluForward } from '../reference/gelu.ts';
import { crossentropySoftmaxBackward, crossentropySoftmaxForward } from '../reference/crossentropy.ts';

export type Tokens = Int32Array | Uint32Array;

export interface GptReference {
  config: GptConfig;
  layout: ParameterLayout;
  params: Float32Array; // (layout.size) flat parameters
  grads: Float32Array; // (layout.size) flat gradients, same layout; gptBackward accumulates here
  paramTensors: ParameterTensors<Float32Array>; // named views into params
  gradTensors: ParameterTensors<Float32Array>; // named views into grads
  acts: Activations | null; // of the last forward, for its (B, T)
  gradActs: Activations | null; // scratch of the backward, same shapes as acts
  B: number; // batch of the last forward
  T: number; // sequence length of the last forward
  inputs: Tokens | null; // (B, T) of the last forward
  targets: Tokens | null; // (B, T) of the last forward, null when it computed no loss
  meanLoss: number; // of the last forward; NaN without targets
}

/** A model over the given flat parameters (length layout.size; kept, not copied), or zeros. */
export function createGptReference(config: GptConfig, params?: Float32Array): GptReference {
  validateGptConfig(config);
  const layout = buildLayout(config);
  const p = params ?? new Float32Array(layout.size);
  if (p.length !== layout.size) throw new Error(`params has ${p.length} floats, layout needs ${layout.size}`);
  const grads = new Float32Array(layout.size);
  return {
    config,
    layout,
    params: p,
    grads,
    paramTensors: parameterTensors(layout, p),
    gradTensors: parameterTensors(layout, grads),
    acts: null,
    gradActs: null,
    B: 0,
    T: 0,
    inputs: null,
    targets: null,
    meanLoss: NaN,
  };
}

/**
 * Runs the model on inputs (B, T) of byte ids; with targets (B, T) also the
 * loss. Returns the mean cross-entropy (NaN without targets); logits and probs
 * stay in model.acts.
 */
export function gptForward(model: GptReference, inputs: Tokens, targets: Tokens | null, B: number, T: number): number {
  const { vocabSize: V, blockSize: maxT, nLayer: L, nHead: NH, nEmbd: C } = model.config;
  if (T < 1 || T > maxT) throw new Error(`T = ${T} must be in 1..${maxT}`);
  if (inputs.length !== B * T || (targets && targets.length !== B * T)) throw new Error(`inputs/targets must have B·T = ${B * T} entries`);
  for (let i = 0; i < B * T; i++) {
    if (inputs[i] >= V || (targets && targets[i] >= V)) throw new Error(`token id at ${i} is not below V = ${V}`);
  }
  if (!model.acts || model.B !== B || model.T !== T) {
    model.acts = allocateActivations(model.config, B, T);
    model.gradActs = null;
  }
  model.B = B;
  model.T = T;
  model.inputs = inputs;
  model.targets = targets;
  const acts = model.acts;
  const p = model.paramTensors;
  const BT = B * T;
  const btc = BT * C;
  const btt = B * NH * T * T;

  encoderForward(acts.encoded, inputs, p.wte, p.wpe, B, T, C);
  for (let l = 0; l < L; l++) {
    const w = p.layers[l];
    const residual = l === 0 ? acts.encoded : layerSlice(acts.residual3, l - 1, btc); // (B, T, C)
    const ln1 = layerSlice(acts.ln1, l, btc); // (B, T, C)
    const ln1Mean = layerSlice(acts.ln1Mean, l, BT); // (B, T)
    const ln1Rstd = layerSlice(acts.ln1Rstd, l, BT); // (B, T)
    const qkv = layerSlice(acts.qkv, l, 3 * btc); // (B, T, 3C)
    const atty = layerSlice(acts.atty, l, btc); // (B, T, C)
    const preatt = layerSlice(acts.preatt, l, btt); // (B, NH, T, T)
    const att = layerSlice(acts.att, l, btt); // (B, NH, T, T)
    const attproj = layerSlice(acts.attproj, l, btc); // (B, T, C)
    const residual2 = layerSlice(acts.residual2, l, btc); // (B, T, C)
    const ln2 = layerSlice(acts.ln2, l, btc); // (B, T, C)
    const ln2Mean = layerSlice(acts.ln2Mean, l, BT); // (B, T)
    const ln2Rstd = layerSlice(acts.ln2Rstd, l, BT); // (B, T)
    const fch = layerSlice(acts.fch, l, 4 * btc); // (B, T, 4C)
    const fchGelu = layerSlice(acts.fchGelu, l, 4 * btc); // (B, T, 4C)
    const fcproj = layerSlice(acts.fcproj, l, btc); // (B, T, C)
    const residual3 = layerSlice(acts.residual3, l, btc); // (B, T, C)

    layernormForward(ln1, ln1Mean, ln1Rstd, residual, w.ln1w, w.ln1b, B, T, C);
    matmulForward(qkv, ln1, w.qkvw, w.qkvb, BT, C, 3 * C);
    attentionForward(atty, preatt, att, qkv, B, T, C, NH);
    matmulForward(attproj, atty, w.attprojw, w.attprojb, BT, C, C);
    residualForward(residual2, residual, attproj, btc);
    layernormForward(ln2, ln2Mean, ln2Rstd, residual2, w.ln2w, w.ln2b, B, T, C);
    matmulForward(fch, ln2, w.fcw, w.fcb, BT, C, 4 * C);
    geluForward(fchGelu, fch, 4 * btc);
    matmulForward(fcproj, fchGelu, w.fcprojw, w.fcprojb, BT, 4 * C, C);
    residualForward(residual3, residual2, fcproj, btc);
  }
  const last = layerSlice(acts.residual3, L - 1, btc); // (B, T, C)
  layernormForward(acts.lnf, acts.lnfMean, acts.lnfRstd, last, p.lnfw, p.lnfb, B, T, C);
  matmulForward(acts.logits, acts.lnf, p.wte, null, BT, C, V); // tied: the lm head is wte

  if (!targets) {
    softmaxRows(acts.probs, acts.logits, BT, V);
    model.meanLoss = NaN;
    return NaN;
  }
  crossentropySoftmaxForward(acts.losses, acts.probs, acts.logits, targets, B, T, V);
  let sum = 0;
  for (let i = 0; i < BT; i++) sum += acts.losses[i];
  model.meanLoss = sum / BT;
  return model.meanLoss;
}

/** probs = softmax(logits) per row, for forwards without targets (sampling). */
function softmaxRows(probs: Float32Array, logits: Float32Array, rows: number, V: number): void {
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[r * V + i]);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[r * V + i] - max);
    for (let i = 0; i < V; i++) probs[r * V + i] = Math.exp(logits[r * V + i] - max) / sum;
  }
}

/** grads = 0 (call before a step; skip it to accumulate gradients over micro-batches). */
export function gptZeroGrad(model: GptReference): void {
  model.grads.fill(0);
}

/**
 * Gradient of the last forward's mean loss, ACCUMULATED into model.grads
 * (llm.c convention). The forward must have had targets.
 */
export function gptBackward(model: GptReference): void {
  const { acts, inputs, targets, B, T } = model;
  if (!acts || !inputs || !targets) throw new Error('gptBackward needs a preceding gptForward with targets');
  const { vocabSize: V, nLayer: L, nHead: NH, nEmbd: C } = model.config;
  if (!model.gradActs) model.gradActs = allocateActivations(model.config, B, T);
  const d = model.gradActs;
  // The activation gradients are scratch; every op below accumulates into them.
  for (const buffer of Object.values(d)) buffer.fill(0);
  const p = model.paramTensors;
  const g = model.gradTensors;
  const BT = B * T;
  const btc = BT * C;
  const btt = B * NH * T * T;

  d.losses.fill(1 / BT); // the loss is the mean over B·T positions
  crossentropySoftmaxBackward(d.logits, acts.probs, targets, d.losses, B, T, V);
  matmulBackward(d.lnf, g.wte, null, d.logits, acts.lnf, p.wte, BT, C, V); // tied: adds into dwte
  const last = layerSlice(acts.residual3, L - 1, btc); // (B, T, C)
  const dlast = layerSlice(d.residual3, L - 1, btc); // (B, T, C)
  layernormBackward(dlast, g.lnfw, g.lnfb, d.lnf, last, p.lnfw, acts.lnfMean, acts.lnfRstd, B, T, C);

  for (let l = L - 1; l >= 0; l--) {
    const w = p.layers[l];
    const dw = g.layers[l];
    const residual = l === 0 ? acts.encoded : layerSlice(acts.residual3, l - 1, btc); // (B, T, C)
    const dresidual = l === 0 ? d.encoded : layerSlice(d.residual3, l - 1, btc); // (B, T, C)
    // activations of this layer
    const ln1 = layerSlice(acts.ln1, l, btc); // (B, T, C)
    const ln1Mean = layerSlice(acts.ln1Mean, l, BT); // (B, T)
    const ln1Rstd = layerSlice(acts.ln1Rstd, l, BT); // (B, T)
    const qkv = layerSlice(acts.qkv, l, 3 * btc); // (B, T, 3C)
    const atty = layerSlice(acts.atty, l, btc); // (B, T, C)
    const att = layerSlice(acts.att, l, btt); // (B, NH, T, T)
    const residual2 = layerSlice(acts.residual2, l, btc); // (B, T, C)
    const ln2 = layerSlice(acts.ln2, l, btc); // (B, T, C)
    const ln2Mean = layerSlice(acts.ln2Mean, l, BT); // (B, T)
    const ln2Rstd = layerSlice(acts.ln2Rstd, l, BT); // (B, T)
    const fch = layerSlice(acts.fch, l, 4 * btc); // (B, T, 4C)
    const fchGelu = layerSlice(acts.fchGelu, l, 4 * btc); // (B, T, 4C)
    // their gradients
    const dln1 = layerSlice(d.ln1, l, btc);
    const dqkv = layerSlice(d.qkv, l, 3 * btc);
    const datty = layerSlice(d.atty, l, btc);
    const dpreatt = layerSlice(d.preatt, l, btt);
    const datt = layerSlice(d.att, l, btt);
    const dattproj = layerSlice(d.attproj, l, btc);
    const dresidual2 = layerSlice(d.residual2, l, btc);
    const dln2 = layerSlice(d.ln2, l, btc);
    const dfch = layerSlice(d.fch, l, 4 * btc);
    const dfchGelu = layerSlice(d.fchGelu, l, 4 * btc);
    const dfcproj = layerSlice(d.fcproj, l, btc);
    const dresidual3 = layerSlice(d.residual3, l, btc);

    residualBackward(dresidual2, dfcproj, dresidual3, btc);
    matmulBackward(dfchGelu, dw.fcprojw, dw.fcprojb, dfcproj, fchGelu, w.fcprojw, BT, 4 * C, C);
    geluBackward(dfch, fch, dfchGelu, 4 * btc);
    matmulBackward(dln2, dw.fcw, dw.fcb, dfch, ln2, w.fcw, BT, C, 4 * C);
    layernormBackward(dresidual2, dw.ln2w, dw.ln2b, dln2, residual2, w.ln2w, ln2Mean, ln2Rstd, B, T, C);
    residualBackward(dresidual, dattproj, dresidual2, btc);
    matmulBackward(datty, dw.attprojw, dw.attprojb, dattproj, atty, w.attprojw, BT, C, C);
    attentionBackward(dqkv, dpreatt, datt, datty, qkv, att, B, T, C, NH);
    matmulBackward(dln1, dw.qkvw, dw.qkvb, dqkv, ln1, w.qkvw, BT, C, 3 * C);
    layernormBackward(dresidual, dw.ln1w, dw.ln1b, dln1, residual, w.ln1w, ln1Mean, ln1Rstd, B, T, C);
  }
  encoderBackward(g.wte, g.wpe, d.encoded, inputs, B, T, C);
}
