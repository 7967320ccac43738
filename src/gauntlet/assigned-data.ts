// Which bytes a contributor had to train on, and which bytes nobody was told
// about, as pure functions anyone can recompute (SPEC §2.1, §2.4):
//
//   assignedBatch(data, runSeed, round, address, step, B, T)
//     = batchFor(data, samplerSeed(runSeed, address, round), step, B, T)
//     The batch of global step `step` for `address` in `round`: exactly what
//     the volunteer's inner loop reads (src/swarm/volunteer.ts trains steps
//     version·H … version·H + H − 1 from samplerSeed). samplerSeed is the
//     first 8 bytes (LE) of deriveDataSeed(runSeed, address, round) (docs/protocol.md).
//
//   roundSeed(runSeed, round, modelHash, payload hashes)
//     = BLAKE2b-256( str("tessera/round-seed/v1") ‖ u16 len ‖ runSeed ‖ u32 round
//                    ‖ modelHash(θ(v)) ‖ u32 n ‖ the n payload hashes, ascending )
//     The round's public randomness, fixed only once every submission is in:
//     no contributor knows it while training (it depends on everyone's
//     payload), yet anyone can recompute it from the published round. Drives
//     the random batch and the evaluation draw. A last submitter could grind it
//     by re-signing variants of its payload; each try costs a signature and
//     moves only which 8 random windows are used.
//
//   randomWindows(data, roundSeed, n, T): n windows from the stream of the
//     seed's first 8 bytes (LE) at step 0: "someone else's data", the same for
//     every submission of the round.
//
//   ownWindows(data, runSeed, round, address, version, H, B, T, n, steps): n
//     of the steps·B windows the contributor trained on, spread evenly:
//     window w_j = ⌊j·steps·B/n⌋, i.e. row w_j mod B of step
//     version·H + ⌊w_j/B⌋. `steps` is what its signed header claims (the
//     relay checked it is in the run's step range and tokens = steps·B·T): a
//     time-boxed round's slow tab trains fewer than H steps, a fast one more,
//     and each is judged on windows it trained on. Claiming fewer steps than
//     trained narrows the windows but also its token weight.
//
// A window is T + 1 consecutive bytes: T inputs and, shifted by one, T targets.
// Leaves out: the losses (evaluate.ts).
import { windowStarts } from '../data/sampler.ts';
import { hashToHex, hexToHash, payloadHash, type HexHash } from '../protocol/index.ts';
import { samplerSeed } from '../protocol/index.ts';

export const ROUND_SEED_DOMAIN = 'tessera/round-seed/v1';

/** n windows of T + 1 bytes, row-major: (n, T + 1). */
export interface Windows {
  count: number; // n
  seqLen: number; // T
  bytes: Uint8Array; // (n, T + 1)
}

function gather(data: Uint8Array, starts: readonly number[], T: number): Windows {
  const bytes = new Uint8Array(starts.length * (T + 1));
  starts.forEach((start, i) => bytes.set(data.subarray(start, start + T + 1), i * (T + 1)));
  return { count: starts.length, seqLen: T, bytes };
}

/** The windows `address` trained on at global step `step` of `round` (B rows). */
export function assignedWindows(data: Uint8Array, runSeed: HexHash, round: number, address: string, step: number, B: number, T: number): Windows {
  return gather(data, [...windowStarts(data.length, samplerSeed(runSeed, address, round), step, B, T)], T);
}

/** n of the steps·B windows `address` trained on in `round` (from model `version`, H steps per version), spread evenly. */
export function ownWindows(
  data: Uint8Array,
  runSeed: HexHash,
  round: number,
  address: string,
  version: number,
  H: number,
  B: number,
  T: number,
  n: number,
  steps = H,
): Windows {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`ownWindows: steps = ${steps} must be a positive integer`);
  const seed = samplerSeed(runSeed, address, round);
  const total = steps * B;
  const starts: number[] = [];
  let step = -1;
  let rows: Uint32Array | null = null;
  for (let j = 0; j < n; j++) {
    const w = Math.floor((j * total) / n);
    const i = Math.floor(w / B);
    if (i !== step) {
      step = i;
      rows = windowStarts(data.length, seed, version * H + i, B, T);
    }
    starts.push(rows![w % B]);
  }
  return gather(data, starts, T);
}

/** The round's public randomness (file header). payloadHashes in any order. */
export function roundSeed(runSeed: HexHash, round: number, modelHash: HexHash, payloadHashes: readonly HexHash[]): HexHash {
  const seed = hexToHash(runSeed);
  const hashes = [...payloadHashes].sort();
  const domain = Uint8Array.from(ROUND_SEED_DOMAIN, (c) => c.charCodeAt(0));
  const input = new Uint8Array(2 + domain.length + 2 + seed.length + 4 + 32 + 4 + 32 * hashes.length);
  const view = new DataView(input.buffer);
  let at = 0;
  view.setUint16(at, domain.length, true);
  input.set(domain, at + 2);
  at += 2 + domain.length;
  view.setUint16(at, seed.length, true);
  input.set(seed, at + 2);
  at += 2 + seed.length;
  view.setUint32(at, round, true);
  input.set(hexToHash(modelHash), at + 4);
  view.setUint32(at + 36, hashes.length, true);
  at += 40;
  for (const h of hashes) {
    input.set(hexToHash(h), at);
    at += 32;
  }
  return hashToHex(payloadHash(input));
}

/** The first 8 bytes of a 32-byte hex seed as a little-endian u64. */
export function seedWord(seed: HexHash, word = 0): bigint {
  const bytes = hexToHash(seed);
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 8n) | BigInt(bytes[8 * word + i]);
  return value;
}

/** The round's random batch: n windows nobody trained on by assignment. */
export function randomWindows(data: Uint8Array, seed: HexHash, n: number, T: number): Windows {
  return gather(data, [...windowStarts(data.length, seedWord(seed, 0), 0, n, T)], T);
}
