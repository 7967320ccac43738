// The code base's one seeded pseudo-random generator, for everything that
// needs reproducible randomness without cryptographic strength: θ(0)
// (init.ts), text sampling, benchmark inputs and test fixtures.
// mulberry32 (Tommy Ettinger, 2017; public domain): 32 bits of state, one
// add and two multiply-xorshift rounds per draw, period 2^32. Small and fast,
// and its exact sequence is fixed here once: θ(0), and with it every run's
// genesis hash, depends on it. Seeds of related streams (one per tensor) are
// decorrelated with the splitmix32 finaliser (mixSeed).
//
// Leaves out: the data sampler's SplitMix64 (src/data/sampler.ts), a 64-bit
// stream that is part of the protocol (anyone re-derives a peer's windows
// from its seed, SPEC §2.1); keys and nonces (crypto.getRandomValues).

/** A generator of uniform numbers in [0, 1), 2^-32 apart. */
export type Random = () => number;

/** mulberry32 seeded with the low 32 bits of `seed`. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** splitmix32 finaliser of (a, b): a seed for stream b of run a, decorrelated from its neighbours. */
export function mixSeed(a: number, b: number): number {
  let z = (Math.imul(a >>> 0, 0x9e3779b9) + b) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** An integer in [0, n) from `random`. */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** `length` float32 values uniform in [−scale, scale), from mulberry32(seed). */
export function uniformFloats(length: number, seed: number, scale = 1): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}
