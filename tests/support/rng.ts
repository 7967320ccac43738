// The seeded generator of the fuzzers, with the draws they need (integers,
// picks, chances, bytes), on the code base's one PRNG (src/model/random.ts,
// mulberry32): the same seed gives the same cases, so a failure names a
// reproducible case. Not for anything secret.
import { mixSeed, mulberry32, randomInt } from '../../src/model/random.ts';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  /** true with probability p. */
  chance(p: number): boolean;
  bytes(length: number): Uint8Array;
}

export function rng(seed: number): Rng {
  const next = mulberry32(seed);
  const int = (n: number) => randomInt(next, n);
  return {
    next,
    int,
    pick: <T>(xs: readonly T[]) => xs[int(xs.length)],
    chance: (p: number) => next() < p,
    bytes: (length: number) => {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = int(256);
      return out;
    },
  };
}

/** An independent stream for item `index` of a run seeded with `seed` (cases do not depend on each other's draws). */
export function rngFor(seed: number, index: number): Rng {
  return rng(mixSeed(seed, index));
}
