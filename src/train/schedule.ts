// Inner-loop learning-rate schedule: linear warmup, then cosine decay to a floor,
// as in nanoGPT's get_lr (train.py) and llm.c's train_gpt2.cu; SPEC.md §1 asks
// for "linear warmup then cosine decay to 0.1×". A pure function of the step, so
// a tab that resumes mid-run, the relay and tests all agree on every step's rate.
// Left out: restarts and per-parameter-group rates.
//
// Rounds of a swarm: a round that starts from global model version v spans
// schedule steps v·H … v·H + H − 1 (H = the run's nominal inner steps). A tab
// in a time-boxed round may run more or fewer than H steps: step i of the
// round uses schedule step v·H + min(i, H − 1) (roundScheduleStep), so a fast
// tab's extra steps hold the rate of the round's last nominal step instead of
// running ahead along the decay, and a slow tab's steps are where a nominal
// tab's would be. Every tab's rate is a pure function of (v, i).

export interface ScheduleConfig {
  maxLr: number; // peak rate, reached at the end of warmup (SPEC: 1e-3 for small models)
  warmupSteps: number; // steps of linear ramp; 0 = start at maxLr
  totalSteps: number; // step at which the cosine reaches its floor; later steps stay there
  minLrRatio?: number; // floor as a fraction of maxLr; default 0.1 (nanoGPT: min_lr = learning_rate / 10)
}

export function learningRate(step: number, config: ScheduleConfig): number {
  const { maxLr, warmupSteps, totalSteps, minLrRatio = 0.1 } = config;
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  if (!(maxLr >= 0) || !Number.isFinite(maxLr)) throw new RangeError(`maxLr must be finite and ≥ 0, got ${maxLr}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || !Number.isInteger(totalSteps) || totalSteps < warmupSteps) {
    throw new RangeError(`need integers 0 ≤ warmupSteps ≤ totalSteps, got ${warmupSteps}, ${totalSteps}`);
  }
  if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new RangeError(`minLrRatio must lie in [0, 1], got ${minLrRatio}`);
  const minLr = maxLr * minLrRatio;
  // Warmup counts step + 1 (llm.c) so step 0 already moves the weights; step warmupSteps−1 reaches maxLr.
  if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
  if (step >= totalSteps) return minLr;
  // decay goes 0 → 1 over [warmupSteps, totalSteps); the coefficient 1 → 0 along half a cosine.
  const decay = (step - warmupSteps) / (totalSteps - warmupSteps);
  const coefficient = 0.5 * (1 + Math.cos(Math.PI * decay));
  return minLr + coefficient * (maxLr - minLr);
}

/**
 * Schedule step of global step `step` in a round that began at global step
 * roundStart = v·H: min(step, roundStart + H − 1). H ≥ 1.
 */
export function roundScheduleStep(step: number, roundStart: number, H: number): number {
  if (!Number.isInteger(H) || H < 1) throw new RangeError(`H must be a positive integer, got ${H}`);
  return Math.min(step, roundStart + H - 1);
}
