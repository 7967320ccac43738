// The deterministic sampler: SplitMix64 against its published test vector,
// batchFor as a pure function of (data, seed, step, B, T), window bounds and
// the one-byte shift of targets, fixed validation windows, unigram entropy.

import { describe, expect, it } from 'vitest';
import {
  SplitMix64,
  batchFor,
  unigramEntropy,
  validationBatches,
  windowStarts,
} from '../../src/data/sampler.ts';

/** Bytes whose windows are easy to locate: a pseudo-random but fixed sequence. */
function testData(length: number): Uint8Array {
  const data = new Uint8Array(length);
  let x = 12345;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

const equalArrays = (a: Uint32Array, b: Uint32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('SplitMix64', () => {
  it('matches the reference sequence for seed 1234567', () => {
    // Rosetta Code "Pseudo-random numbers/Splitmix64", from Vigna's splitmix64.c.
    const generator = new SplitMix64(1234567);
    const got = Array.from({ length: 5 }, () => generator.next());
    expect(got).toEqual([
      6457827717110365317n,
      3203168211198807973n,
      9817491932198370423n,
      4593380528125082431n,
      16408922859458223821n,
    ]);
  });

  it('rejects seeds outside [0, 2^64) and unsafe numbers', () => {
    expect(() => new SplitMix64(-1)).toThrow(RangeError);
    expect(() => new SplitMix64(1n << 64n)).toThrow(RangeError);
    expect(() => new SplitMix64(2 ** 60)).toThrow(RangeError);
    expect(() => new SplitMix64(1.5)).toThrow(RangeError);
  });
});

describe('batchFor', () => {
  const data = testData(10_000);
  const B = 4;
  const T = 16;

  it('is a pure function of its arguments', () => {
    const a = batchFor(data, 42, 7, B, T);
    const b = batchFor(data, 42, 7, B, T);
    expect(equalArrays(a.inputs, b.inputs)).toBe(true);
    expect(equalArrays(a.targets, b.targets)).toBe(true);
    // A number seed and the same bigint seed name the same stream.
    expect(equalArrays(batchFor(data, 42n, 7, B, T).inputs, a.inputs)).toBe(true);
    // The data is only read.
    expect(equalArrays(new Uint32Array(data), new Uint32Array(testData(10_000)))).toBe(true);
  });

  it('changes with the step and with the seed', () => {
    const base = windowStarts(data.length, 42, 7, B, T);
    expect(equalArrays(windowStarts(data.length, 42, 8, B, T), base)).toBe(false);
    expect(equalArrays(windowStarts(data.length, 43, 7, B, T), base)).toBe(false);
    expect(equalArrays(windowStarts(data.length, (1n << 64n) - 1n, 7, B, T), base)).toBe(false);
    // Rows within one batch differ too.
    expect(new Set(base).size).toBe(B);
  });

  it('reads whole windows from the data with targets shifted by one byte', () => {
    for (let step = 0; step < 20; step++) {
      const starts = windowStarts(data.length, 99, step, B, T);
      const { inputs, targets } = batchFor(data, 99, step, B, T);
      expect(inputs.length).toBe(B * T);
      expect(targets.length).toBe(B * T);
      for (let b = 0; b < B; b++) {
        expect(starts[b] + T + 1).toBeLessThanOrEqual(data.length);
        for (let t = 0; t < T; t++) {
          expect(inputs[b * T + t]).toBe(data[starts[b] + t]);
          expect(targets[b * T + t]).toBe(data[starts[b] + t + 1]);
          if (t + 1 < T) expect(targets[b * T + t]).toBe(inputs[b * T + t + 1]);
        }
      }
    }
  });

  it('covers the whole range of starts and nothing beyond it', () => {
    const length = 1000;
    const lastStart = length - T - 1;
    const seen = new Uint32Array(lastStart + 1);
    let outOfRange = 0;
    for (let step = 0; step < 2000; step++) {
      for (const s of windowStarts(length, 5, step, 8, T)) {
        if (s > lastStart) outOfRange++;
        else seen[s]++;
      }
    }
    expect(outOfRange).toBe(0);
    // 16 000 draws over 984 starts: a fair sampler misses none and stays near 16 per start.
    expect(seen.indexOf(0)).toBe(-1);
    expect(Math.max(...seen)).toBeLessThan(48);
  });

  it('handles data with exactly one possible window', () => {
    const tiny = testData(T + 1);
    const { inputs, targets } = batchFor(tiny, 3, 0, 2, T);
    expect(Array.from(inputs.subarray(0, T))).toEqual(Array.from(tiny.subarray(0, T)));
    expect(Array.from(targets.subarray(T))).toEqual(Array.from(tiny.subarray(1)));
  });

  it('rejects bad shapes', () => {
    expect(() => batchFor(testData(T), 1, 0, B, T)).toThrow(RangeError);
    expect(() => batchFor(data, 1, -1, B, T)).toThrow(RangeError);
    expect(() => batchFor(data, 1, 0, 0, T)).toThrow(RangeError);
    expect(() => batchFor(data, 1, 0, B, 2.5)).toThrow(RangeError);
  });
});

describe('validationBatches', () => {
  const data = testData(5_000);
  const B = 3;
  const T = 32;

  it('returns the same evenly spaced windows every time, first at 0 and last at the end', () => {
    const a = validationBatches(data, B, T, 5);
    const b = validationBatches(data, B, T, 5);
    expect(a.length).toBe(5);
    for (let i = 0; i < 5; i++) {
      expect(equalArrays(a[i].inputs, b[i].inputs)).toBe(true);
      expect(equalArrays(a[i].targets, b[i].targets)).toBe(true);
    }
    expect(Array.from(a[0].inputs.subarray(0, T))).toEqual(Array.from(data.subarray(0, T)));
    const last = a[4].targets.subarray((B - 1) * T);
    expect(Array.from(last)).toEqual(Array.from(data.subarray(data.length - T)));
    // Window w of 15 starts at floor(w · lastStart / 14).
    const lastStart = data.length - T - 1;
    const w = 7; // batch 2, row 1
    const start = Math.floor((w * lastStart) / 14);
    expect(Array.from(a[2].inputs.subarray(T, 2 * T))).toEqual(Array.from(data.subarray(start, start + T)));
  });
});

describe('unigramEntropy', () => {
  it('is ln 256 for uniform bytes, ln 2 for two equal symbols, 0 for one symbol', () => {
    const uniform = new Uint8Array(256 * 4).map((_, i) => i & 255);
    expect(unigramEntropy(uniform)).toBeCloseTo(Math.log(256), 12);
    expect(unigramEntropy(new Uint8Array([7, 9, 9, 7]))).toBeCloseTo(Math.LN2, 12);
    expect(unigramEntropy(new Uint8Array(100).fill(65))).toBe(0);
    expect(unigramEntropy(new Uint8Array(0))).toBe(0);
  });

  it('matches a hand count on a short string', () => {
    // "abca": p(a) = 1/2, p(b) = p(c) = 1/4 → 1.5 bits.
    expect(unigramEntropy(new TextEncoder().encode('abca')) / Math.LN2).toBeCloseTo(1.5, 12);
  });
});
