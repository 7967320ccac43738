// FLOPs of one training step, for the dashboard's GFLOP/s. The estimate of
// nanoGPT's estimate_mfu (after the PaLM paper, Chowdhery et al. 2022,
// appendix B): per token, 6·N for the matmuls forward and backward plus
// 12·L·C·T for attention scores and their weighted sum. N counts every
// parameter (nanoGPT leaves out position embeddings; at these sizes the
// difference is a few percent and tied embeddings do run a V×C matmul).
// Leaves out: LayerNorm, GELU, softmax and AdamW (linear in N or B·T·C, small).
import type { GptConfig } from '../model/config.ts';
import { gptParamCount } from '../model/layout.ts';

export function trainingFlopsPerStep(config: GptConfig, B: number, T: number): number {
  const perToken = 6 * gptParamCount(config) + 12 * config.nLayer * config.nEmbd * T;
  return perToken * B * T;
}
