// Finite-difference check of the reference matmul backward: the oracle every
// GPU matmul test trusts must itself be right. Loss L = Σ out ⊙ W_rand, so
// dL/dout = W_rand, and each analytic gradient is compared with a central
// difference of L computed in float64.
import { describe, expect, it } from 'vitest';
import { matmulBackward, matmulForward } from '../../src/reference/matmul.ts';
import { randomFloats } from '../compare.ts';

function loss(inp: Float32Array, weight: Float32Array, bias: Float32Array, probe: Float32Array, BT: number, C: number, OC: number) {
  // float64 forward for a clean finite difference
  let total = 0;
  for (let bt = 0; bt < BT; bt++)
    for (let o = 0; o < OC; o++) {
      let s = bias[o];
      for (let i = 0; i < C; i++) s += inp[bt * C + i] * weight[o * C + i];
      total += s * probe[bt * OC + o];
    }
  return total;
}

describe('reference matmul', () => {
  it('forward matches a hand-computed example', () => {
    // inp (2,3), weight (2,3), bias (2)
    const out = new Float32Array(4);
    matmulForward(out, new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([1, 0, -1, 2, 1, 0]), new Float32Array([10, 20]), 2, 3, 2);
    expect([...out]).toEqual([1 - 3 + 10, 2 + 2 + 20, 4 - 6 + 10, 8 + 5 + 20]);
  });

  for (const [BT, C, OC] of [[3, 4, 5], [1, 7, 2], [6, 1, 3]] as const) {
    it(`backward matches central differences, BT=${BT} C=${C} OC=${OC}`, () => {
      const inp = randomFloats(BT * C, 1);
      const weight = randomFloats(OC * C, 2);
      const bias = randomFloats(OC, 3);
      const probe = randomFloats(BT * OC, 4);
      const dinp = new Float32Array(BT * C);
      const dweight = new Float32Array(OC * C);
      const dbias = new Float32Array(OC);
      matmulBackward(dinp, dweight, dbias, probe, inp, weight, BT, C, OC);

      const h = 1e-2; // the loss is linear in each argument: central differences are exact up to rounding
      const check = (tensor: Float32Array, grad: Float32Array) => {
        for (let i = 0; i < tensor.length; i++) {
          const saved = tensor[i];
          tensor[i] = saved + h;
          const plus = loss(inp, weight, bias, probe, BT, C, OC);
          tensor[i] = saved - h;
          const minus = loss(inp, weight, bias, probe, BT, C, OC);
          tensor[i] = saved;
          const numeric = (plus - minus) / (2 * h);
          expect(Math.abs(numeric - grad[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(numeric)));
        }
      };
      check(inp, dinp);
      check(weight, dweight);
      check(bias, dbias);
    });
  }

  it('backward accumulates into existing gradients', () => {
    const [BT, C, OC] = [2, 3, 4];
    const inp = randomFloats(BT * C, 5);
    const weight = randomFloats(OC * C, 6);
    const dout = randomFloats(BT * OC, 7);
    const once = { dinp: new Float32Array(BT * C), dweight: new Float32Array(OC * C), dbias: new Float32Array(OC) };
    matmulBackward(once.dinp, once.dweight, once.dbias, dout, inp, weight, BT, C, OC);
    const twice = { dinp: once.dinp.slice(), dweight: once.dweight.slice(), dbias: once.dbias.slice() };
    matmulBackward(twice.dinp, twice.dweight, twice.dbias, dout, inp, weight, BT, C, OC);
    for (let i = 0; i < OC; i++) expect(twice.dbias[i]).toBeCloseTo(2 * once.dbias[i], 5);
    for (let i = 0; i < BT * C; i++) expect(twice.dinp[i]).toBeCloseTo(2 * once.dinp[i], 5);
  });

  // The loops are arranged for speed (rows of four, transposed operands); every
  // output must still be the textbook loop's float64 sum in the same order, bit for bit.
  for (const [BT, C, OC] of [[1, 1, 1], [5, 3, 7], [8, 16, 12], [13, 9, 6]] as const) {
    it(`forward and backward give the naive loops' bits, BT=${BT} C=${C} OC=${OC}`, () => {
      const inp = randomFloats(BT * C, 11);
      const weight = randomFloats(OC * C, 12);
      const bias = randomFloats(OC, 13);
      const dout = randomFloats(BT * OC, 14);
      const naive = {
        out: new Float32Array(BT * OC),
        dinp: randomFloats(BT * C, 15),
        dweight: randomFloats(OC * C, 16),
        dbias: randomFloats(OC, 17),
      };
      const fast = { out: new Float32Array(BT * OC), dinp: naive.dinp.slice(), dweight: naive.dweight.slice(), dbias: naive.dbias.slice() };
      for (let bt = 0; bt < BT; bt++)
        for (let o = 0; o < OC; o++) {
          let s = bias[o];
          for (let i = 0; i < C; i++) s += inp[bt * C + i] * weight[o * C + i];
          naive.out[bt * OC + o] = s;
        }
      for (let bt = 0; bt < BT; bt++)
        for (let i = 0; i < C; i++) {
          let s = 0;
          for (let o = 0; o < OC; o++) s += dout[bt * OC + o] * weight[o * C + i];
          naive.dinp[bt * C + i] += s;
        }
      for (let o = 0; o < OC; o++) {
        for (let i = 0; i < C; i++) {
          let s = 0;
          for (let bt = 0; bt < BT; bt++) s += dout[bt * OC + o] * inp[bt * C + i];
          naive.dweight[o * C + i] += s;
        }
        let s = 0;
        for (let bt = 0; bt < BT; bt++) s += dout[bt * OC + o];
        naive.dbias[o] += s;
      }
      matmulForward(fast.out, inp, weight, bias, BT, C, OC);
      matmulBackward(fast.dinp, fast.dweight, fast.dbias, dout, inp, weight, BT, C, OC);
      expect(Buffer.from(fast.out.buffer).equals(Buffer.from(naive.out.buffer))).toBe(true);
      expect(Buffer.from(fast.dinp.buffer).equals(Buffer.from(naive.dinp.buffer))).toBe(true);
      expect(Buffer.from(fast.dweight.buffer).equals(Buffer.from(naive.dweight.buffer))).toBe(true);
      expect(Buffer.from(fast.dbias.buffer).equals(Buffer.from(naive.dbias.buffer))).toBe(true);
    });
  }
});
