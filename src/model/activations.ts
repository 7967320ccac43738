// The activations of one forward pass, named and shaped as llm.c's
// ActivationTensors (camelCase), each a separate buffer with the L layers
// stacked along the first axis. The CPU reference model keeps them all for
// its backward; a GPU model can size its buffers from the same table.
// Leaves out: activation recomputation and any memory reuse between fields.
import type { GptConfig } from './config.ts';

export const ACTIVATION_NAMES = [
  'encoded', // (B, T, C) token + position embeddings
  'ln1', // (L, B, T, C)
  'ln1Mean', // (L, B, T)
  'ln1Rstd', // (L, B, T)
  'qkv', // (L, B, T, 3C)
  'atty', // (L, B, T, C) attention output before its projection
  'preatt', // (L, B, NH, T, T) scaled scores
  'att', // (L, B, NH, T, T) causal softmax of preatt
  'attproj', // (L, B, T, C)
  'residual2', // (L, B, T, C) stream after the attention block
  'ln2', // (L, B, T, C)
  'ln2Mean', // (L, B, T)
  'ln2Rstd', // (L, B, T)
  'fch', // (L, B, T, 4C)
  'fchGelu', // (L, B, T, 4C)
  'fcproj', // (L, B, T, C)
  'residual3', // (L, B, T, C) stream after the MLP block
  'lnf', // (B, T, C)
  'lnfMean', // (B, T)
  'lnfRstd', // (B, T)
  'logits', // (B, T, V)
  'probs', // (B, T, V)
  'losses', // (B, T)
] as const;

export type ActivationName = (typeof ACTIVATION_NAMES)[number];
export type Activations<A = Float32Array> = Record<ActivationName, A>;

/** The shape of every activation for a (B, T) batch. */
export function activationShapes(config: GptConfig, B: number, T: number): Record<ActivationName, number[]> {
  const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V } = config;
  return {
    encoded: [B, T, C],
    ln1: [L, B, T, C],
    ln1Mean: [L, B, T],
    ln1Rstd: [L, B, T],
    qkv: [L, B, T, 3 * C],
    atty: [L, B, T, C],
    preatt: [L, B, NH, T, T],
    att: [L, B, NH, T, T],
    attproj: [L, B, T, C],
    residual2: [L, B, T, C],
    ln2: [L, B, T, C],
    ln2Mean: [L, B, T],
    ln2Rstd: [L, B, T],
    fch: [L, B, T, 4 * C],
    fchGelu: [L, B, T, 4 * C],
    fcproj: [L, B, T, C],
    residual3: [L, B, T, C],
    lnf: [B, T, C],
    lnfMean: [B, T],
    lnfRstd: [B, T],
    logits: [B, T, V],
    probs: [B, T, V],
    losses: [B, T],
  };
}

/** Zeroed Float32Arrays for every activation. */
export function allocateActivations(config: GptConfig, B: number, T: number): Activations {
  const shapes = activationShapes(config, B, T);
  const acts = {} as Activations;
  for (const name of ACTIVATION_NAMES) acts[name] = new Float32Array(shapes[name].reduce((a, b) => a * b, 1));
  return acts;
}

/** Layer l's slice of an (L, …) activation whose per-layer size is n. */
export function layerSlice(stacked: Float32Array, l: number, n: number): Float32Array {
  return stacked.subarray(l * n, (l + 1) * n);
}
