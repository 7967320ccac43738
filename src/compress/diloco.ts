// DiLoCo's outer loop, the dense baseline SparseLoCo is measured against
// (SPEC §1.6): every replica sends its full float32 pseudo-gradient
// Δ_r = θ_global − θ_r, the coordinator averages them, and the outer optimizer
// is SGD with Nesterov momentum (μ = 0.9, lr = 0.7), exactly as
// torch.optim.SGD(nesterov=True, dampening=0) with a zero-initialised buffer:
//   b ← μ·b + G;   θ ← θ − lr·(G + μ·b)
// Deterministic like aggregate.ts: pseudo-gradients are summed in float32 in
// the order of their ids, every operation rounded to float32.
//
// Leaves out: a wire format (a dense pseudo-gradient is its float32 bytes) and
// clipping (DiLoCo does none).
// Source: Douillard et al., "DiLoCo: Distributed Low-Communication Training of Language Models" (2023).

export interface NesterovOuterConfig {
  /** Outer learning rate; DiLoCo's tuned value (0.6–0.7 in the SparseLoCo comparisons). */
  readonly lr: number;
  /** Nesterov momentum, DiLoCo's 0.9. */
  readonly momentum: number;
}

export const defaultNesterovOuterConfig: NesterovOuterConfig = { lr: 0.7, momentum: 0.9 };

/** One replica's dense pseudo-gradient; id orders the sum (e.g. the payload hash). */
export interface DensePseudoGradient {
  readonly id: string;
  readonly delta: Float32Array; // (P)
}

/** Δ = θ_global − θ_local, float32. */
export function pseudoGradient(
  delta: Float32Array, // (P) out
  globalParams: Float32Array, // (P)
  localParams: Float32Array, // (P)
): void {
  const n = delta.length;
  if (globalParams.length !== n || localParams.length !== n) {
    throw new RangeError(`pseudoGradient: lengths ${n}, ${globalParams.length}, ${localParams.length} differ`);
  }
  for (let i = 0; i < n; i++) delta[i] = globalParams[i] - localParams[i];
}

/** G = (1/R) Σ_r Δ_r, summed in float32 in id order, so arrival order never changes the bits. */
export function meanPseudoGradient(
  mean: Float32Array, // (P) out
  pseudoGradients: readonly DensePseudoGradient[],
): void {
  if (pseudoGradients.length === 0) throw new RangeError('meanPseudoGradient: nothing to average');
  const ordered = [...pseudoGradients].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let r = 1; r < ordered.length; r++) {
    if (ordered[r].id === ordered[r - 1].id) throw new RangeError(`meanPseudoGradient: ${ordered[r].id} appears twice`);
  }
  const n = mean.length;
  mean.fill(0);
  for (const { id, delta } of ordered) {
    if (delta.length !== n) throw new RangeError(`meanPseudoGradient: ${id} has ${delta.length} values, expected ${n}`);
    for (let i = 0; i < n; i++) mean[i] += delta[i];
  }
  const count = ordered.length;
  for (let i = 0; i < n; i++) mean[i] = mean[i] / count;
}

/** b ← μ·b + G; θ ← θ − lr·(G + μ·b). Every operation rounded to float32. */
export function nesterovOuterStep(
  params: Float32Array, // (P) θ, updated in place
  momentumBuffer: Float32Array, // (P) b, zero before the first round, updated in place
  grad: Float32Array, // (P) G, the mean pseudo-gradient
  config: NesterovOuterConfig = defaultNesterovOuterConfig,
): void {
  const n = params.length;
  if (momentumBuffer.length !== n || grad.length !== n) {
    throw new RangeError(`nesterovOuterStep: lengths ${n}, ${momentumBuffer.length}, ${grad.length} differ`);
  }
  const mu = Math.fround(config.momentum);
  const lr = Math.fround(config.lr);
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    const b = Math.fround(Math.fround(mu * momentumBuffer[i]) + g);
    momentumBuffer[i] = b;
    const step = Math.fround(g + Math.fround(mu * b));
    params[i] -= Math.fround(lr * step);
  }
}
