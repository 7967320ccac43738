// Reference ops checked against themselves and against arithmetic done by hand:
// every backward is compared with central finite differences of its forward
// (in float64: the ops accept Float64Array, so no float32 rounding hides a
// wrong term), every backward is checked to ACCUMULATE into pre-filled
// gradients, forwards are checked against independent formulas, and AdamW /
// grad-norm against hand-computed numbers.
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../compare.ts';
import { encoderBackward, encoderForward } from '../../src/reference/encoder.ts';
import { layernormBackward, layernormForward } from '../../src/reference/layernorm.ts';
import { attentionBackward, attentionForward } from '../../src/reference/attention.ts';
import { geluBackward, geluForward } from '../../src/reference/gelu.ts';
import { residualBackward, residualForward } from '../../src/reference/residual.ts';
import { crossentropySoftmaxBackward, crossentropySoftmaxForward } from '../../src/reference/crossentropy.ts';
import { adamwUpdate } from '../../src/reference/adamw.ts';
import { clipScale, gradNorm, scaleInPlace } from '../../src/reference/grad-norm.ts';
import { matmulBackward, matmulForward } from '../../src/reference/matmul.ts';

const random64 = (n: number, seed: number, scale = 1) => Float64Array.from(randomFloats(n, seed, scale));

/** Σ out · w: a scalar whose gradient with respect to out is w. */
function dot(out: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * w[i];
  return s;
}

type Grads = Record<string, Float64Array | Float32Array>;

interface GradientCase {
  name: string;
  /** The tensors to perturb, by name; the forward reads them in place. */
  inputs: Grads;
  /** Runs the op's forward and returns the scalar loss. */
  loss: () => number;
  /** Runs the op's backward, accumulating into grads[name] for every input. */
  backward: (grads: Grads) => void;
  h: number;
  atol: number;
  rtol: number;
}

/**
 * Analytic gradients (from gradient buffers pre-filled with noise, to check
 * accumulation) against central differences on up to 150 elements per input.
 */
function checkGradients(c: GradientCase): void {
  c.loss(); // the backward reads caches (att, mean, probs…) of the unperturbed forward
  const prefill: Grads = {};
  const grads: Grads = {};
  for (const [name, x] of Object.entries(c.inputs)) {
    const ctor = x instanceof Float32Array ? Float32Array : Float64Array;
    prefill[name] = new ctor(randomFloats(x.length, 7 + x.length, 0.5));
    grads[name] = new ctor(prefill[name]);
  }
  c.backward(grads);
  for (const [name, x] of Object.entries(c.inputs)) {
    const stride = Math.max(1, Math.floor(x.length / 150));
    let maxAbs = 0;
    for (let i = 0; i < x.length; i += stride) {
      const saved = x[i];
      x[i] = saved + c.h;
      const plus = c.loss();
      x[i] = saved - c.h;
      const minus = c.loss();
      x[i] = saved;
      const numeric = (plus - minus) / (2 * c.h);
      const analytic = grads[name][i] - prefill[name][i];
      const err = Math.abs(numeric - analytic);
      maxAbs = Math.max(maxAbs, err);
      if (!(err <= c.atol + c.rtol * Math.abs(numeric))) {
        throw new Error(`${c.name} d${name}[${i}]: analytic ${analytic}, numeric ${numeric}`);
      }
    }
    console.log(`${`${c.name} d${name}`.padEnd(32)} finite-difference max abs err ${maxAbs.toExponential(2)}`);
  }
  c.loss(); // leave outputs consistent with the restored inputs
}

// float64 central differences: truncation ~h², rounding ~1e-16/h.
const F64 = { h: 1e-5, atol: 1e-9, rtol: 1e-6 };

describe('encoder', () => {
  const B = 2, T = 3, C = 5, V = 7, maxT = 4;
  const inp = Int32Array.from([1, 6, 1, 0, 1, 3]); // token 1 repeats: its gradient must add up
  const wte = random64(V * C, 1);
  const wpe = random64(maxT * C, 2);
  const out = new Float64Array(B * T * C);
  const w = random64(B * T * C, 3);

  it('forward adds the token row and the position row', () => {
    encoderForward(out, inp, wte, wpe, B, T, C);
    // b = 1, t = 2: token 3, position 2, channel 4
    expect(out[(1 * T + 2) * C + 4]).toBe(wte[3 * C + 4] + wpe[2 * C + 4]);
  });

  it('backward matches finite differences and accumulates', () => {
    checkGradients({
      name: 'encoder',
      inputs: { wte, wpe },
      loss: () => (encoderForward(out, inp, wte, wpe, B, T, C), dot(out, w)),
      backward: (g) => encoderBackward(g.wte, g.wpe, w, inp, B, T, C),
      ...F64,
    });
  });
});

describe('layernorm', () => {
  const B = 2, T = 3, C = 8;
  const inp = random64(B * T * C, 10, 2);
  const weight = random64(C, 11);
  const bias = random64(C, 12);
  const out = new Float64Array(B * T * C);
  const mean = new Float64Array(B * T);
  const rstd = new Float64Array(B * T);
  const w = random64(B * T * C, 13);

  it('forward normalises each row to mean 0, variance v/(v+eps)', () => {
    const ones = new Float64Array(C).fill(1);
    const zeros = new Float64Array(C);
    layernormForward(out, mean, rstd, inp, ones, zeros, B, T, C);
    for (let bt = 0; bt < B * T; bt++) {
      const row = Array.from(inp.subarray(bt * C, bt * C + C));
      const m = row.reduce((a, b) => a + b, 0) / C;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / C;
      expect(mean[bt]).toBeCloseTo(m, 12);
      expect(rstd[bt]).toBeCloseTo(1 / Math.sqrt(v + 1e-5), 10);
      const o = Array.from(out.subarray(bt * C, bt * C + C));
      expect(o.reduce((a, b) => a + b, 0) / C).toBeCloseTo(0, 12);
      expect(o.reduce((a, b) => a + b * b, 0) / C).toBeCloseTo(v / (v + 1e-5), 10);
    }
  });

  it('backward matches finite differences and accumulates', () => {
    checkGradients({
      name: 'layernorm',
      inputs: { inp, weight, bias },
      loss: () => (layernormForward(out, mean, rstd, inp, weight, bias, B, T, C), dot(out, w)),
      backward: (g) => layernormBackward(g.inp, g.weight, g.bias, w, inp, weight, mean, rstd, B, T, C),
      ...F64,
    });
  });
});

describe('attention', () => {
  const B = 2, T = 5, C = 8, NH = 2;
  const hs = C / NH;
  const inp = random64(B * T * 3 * C, 20, 1.5);
  const out = new Float64Array(B * T * C);
  const preatt = new Float64Array(B * NH * T * T);
  const att = new Float64Array(B * NH * T * T);
  const w = random64(B * T * C, 21);

  it('forward equals a direct causal softmax(q·kᵀ/√hs)·v', () => {
    attentionForward(out, preatt, att, inp, B, T, C, NH);
    const at = (b: number, t: number, part: number, h: number, i: number) =>
      inp[(b * T + t) * 3 * C + part * C + h * hs + i];
    let maxErr = 0;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const scores: number[] = [];
          for (let t2 = 0; t2 <= t; t2++) {
            let s = 0;
            for (let i = 0; i < hs; i++) s += at(b, t, 0, h, i) * at(b, t2, 1, h, i);
            scores.push(s / Math.sqrt(hs));
          }
          const e = scores.map(Math.exp);
          const z = e.reduce((a, x) => a + x, 0);
          for (let i = 0; i < hs; i++) {
            let o = 0;
            for (let t2 = 0; t2 <= t; t2++) o += (e[t2] / z) * at(b, t2, 2, h, i);
            maxErr = Math.max(maxErr, Math.abs(o - out[(b * T + t) * C + h * hs + i]));
          }
          for (let t2 = t + 1; t2 < T; t2++) expect(att[((b * NH + h) * T + t) * T + t2]).toBe(0);
        }
      }
    }
    expect(maxErr).toBeLessThan(1e-12);
  });

  it('backward matches finite differences and accumulates', () => {
    checkGradients({
      name: 'attention',
      inputs: { inp },
      loss: () => (attentionForward(out, preatt, att, inp, B, T, C, NH), dot(out, w)),
      backward: (g) => {
        const dpreatt = new Float64Array(B * NH * T * T);
        const datt = new Float64Array(B * NH * T * T);
        attentionBackward(g.inp, dpreatt, datt, w, inp, att, B, T, C, NH);
      },
      ...F64,
    });
  });
});

describe('gelu', () => {
  it('forward matches known values of the tanh approximation', () => {
    const out = new Float64Array(4);
    geluForward(out, Float64Array.from([0, 1, -1, 3]), 4);
    expect(out[0]).toBe(0);
    expect(out[1]).toBeCloseTo(0.8411919906, 9);
    expect(out[2]).toBeCloseTo(-0.1588080094, 9);
    expect(out[3]).toBeCloseTo(2.9963626079, 9); // values from Python's math module
  });

  it('backward matches finite differences and accumulates', () => {
    const N = 64;
    const inp = random64(N, 30, 4);
    const out = new Float64Array(N);
    const w = random64(N, 31);
    checkGradients({
      name: 'gelu',
      inputs: { inp },
      loss: () => (geluForward(out, inp, N), dot(out, w)),
      backward: (g) => geluBackward(g.inp, inp, w, N),
      ...F64,
    });
  });
});

describe('residual', () => {
  it('forward adds; backward matches finite differences and accumulates', () => {
    const N = 37;
    const a = random64(N, 40);
    const b = random64(N, 41);
    const out = new Float64Array(N);
    const w = random64(N, 42);
    residualForward(out, a, b, N);
    expect(out[36]).toBe(a[36] + b[36]);
    checkGradients({
      name: 'residual',
      inputs: { a, b },
      loss: () => (residualForward(out, a, b, N), dot(out, w)),
      backward: (g) => residualBackward(g.a, g.b, w, N),
      ...F64,
    });
  });
});

describe('crossentropy (fused softmax)', () => {
  const B = 2, T = 3, V = 11;
  const targets = Int32Array.from([0, 10, 5, 5, 3, 7]);

  it('uniform logits give loss ln V; probs sum to 1 and loss = −log p[y]', () => {
    const losses = new Float64Array(B * T);
    const probs = new Float64Array(B * T * V);
    crossentropySoftmaxForward(losses, probs, new Float64Array(B * T * V), targets, B, T, V);
    for (const l of losses) expect(l).toBeCloseTo(Math.log(V), 12);
    const logits = random64(B * T * V, 50, 5);
    crossentropySoftmaxForward(losses, probs, logits, targets, B, T, V);
    for (let bt = 0; bt < B * T; bt++) {
      let s = 0;
      for (let i = 0; i < V; i++) s += probs[bt * V + i];
      expect(s).toBeCloseTo(1, 12);
      expect(losses[bt]).toBeCloseTo(-Math.log(probs[bt * V + targets[bt]]), 12);
    }
  });

  it('backward matches finite differences and accumulates', () => {
    const logits = random64(B * T * V, 51, 3);
    const losses = new Float64Array(B * T);
    const probs = new Float64Array(B * T * V);
    const dlosses = random64(B * T, 52); // stands in for 1/(B·T) of the mean loss, with signs
    checkGradients({
      name: 'crossentropy',
      inputs: { logits },
      loss: () => (crossentropySoftmaxForward(losses, probs, logits, targets, B, T, V), dot(losses, dlosses)),
      backward: (g) => crossentropySoftmaxBackward(g.logits, probs, targets, dlosses, B, T, V),
      ...F64,
    });
  });
});

describe('matmul (src/reference/matmul.ts, float32 only)', () => {
  it('backward matches finite differences and accumulates', () => {
    const BT = 6, C = 5, OC = 7;
    const inp = randomFloats(BT * C, 60);
    const weight = randomFloats(OC * C, 61);
    const bias = randomFloats(OC, 62);
    const out = new Float32Array(BT * OC);
    const w = random64(BT * OC, 63);
    // The loss is linear in each input, so a large step has no truncation error
    // and keeps float32 rounding of out small against the difference.
    checkGradients({
      name: 'matmul',
      inputs: { inp, weight, bias },
      loss: () => (matmulForward(out, inp, weight, bias, BT, C, OC), dot(out, w)),
      backward: (g) => {
        const dout = Float32Array.from(w);
        matmulBackward(g.inp as Float32Array, g.weight as Float32Array, g.bias as Float32Array, dout, inp, weight, BT, C, OC);
      },
      h: 0.25,
      atol: 2e-5,
      rtol: 1e-4,
    });
  });
});

describe('adamw', () => {
  it('matches two hand-computed steps, with and without decay', () => {
    const lr = 1e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
    const params = Float64Array.from([1, 1, -2]);
    const m = new Float64Array(3);
    const v = new Float64Array(3);
    const mask = Float64Array.from([1, 0, 1]);
    // step 1, g = 0.5: m = 0.05, v = 0.0125, m̂ = 0.5, v̂ = 0.25, m̂/√v̂ = 1
    adamwUpdate(params, Float64Array.from([0.5, 0.5, 0]), m, v, 3, lr, b1, b2, eps, wd, 1, mask);
    const step1 = 0.5 / (0.5 + eps);
    expect(params[0]).toBeCloseTo(1 - lr * (step1 + wd * 1), 14);
    expect(params[1]).toBeCloseTo(1 - lr * step1, 14); // mask 0: no decay
    expect(params[2]).toBeCloseTo(-2 - lr * (0 / (0 + eps) + wd * -2), 14); // zero gradient: decay only
    expect(m[0]).toBeCloseTo(0.05, 15);
    expect(v[0]).toBeCloseTo(0.0125, 15);
    // step 2, g = −0.25: m = 0.045 − 0.025 = 0.02, v = 0.011875 + 0.003125 = 0.015
    const p0 = params[0];
    adamwUpdate(params, Float64Array.from([-0.25, -0.25, 0]), m, v, 3, lr, b1, b2, eps, wd, 2, mask);
    expect(m[0]).toBeCloseTo(0.02, 15);
    expect(v[0]).toBeCloseTo(0.015, 15);
    const mHat = 0.02 / (1 - 0.81);
    const vHat = 0.015 / (1 - 0.9025);
    expect(params[0]).toBeCloseTo(p0 - lr * (mHat / (Math.sqrt(vHat) + eps) + wd * p0), 14);
  });

  it('null mask decays every element (llm.c)', () => {
    const p = Float32Array.from([2]);
    adamwUpdate(p, new Float32Array(1), new Float32Array(1), new Float32Array(1), 1, 0.5, 0.9, 0.95, 1e-8, 0.1, 1);
    expect(p[0]).toBeCloseTo(2 - 0.5 * 0.1 * 2, 6);
  });
});

describe('grad norm and clipping', () => {
  it('norm of [3, 4, 0] is 5 and clipping scales it to maxNorm', () => {
    const g = Float32Array.from([3, 4, 0]);
    const n = gradNorm(g, 3);
    expect(n).toBe(5);
    const s = clipScale(n, 1);
    expect(s).toBeCloseTo(1 / (5 + 1e-6), 15);
    scaleInPlace(g, 3, s);
    expect(gradNorm(g, 3)).toBeCloseTo(1, 6);
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(0, 1)).toBe(1);
    expect(clipScale(4, 2)).toBeCloseTo(2 / (4 + 1e-6), 15);
  });

  it('sums squares in float64 (1e6 equal elements)', () => {
    const g = new Float32Array(1_000_000).fill(1e-3);
    // A float32 running sum drifts by ~1e-3 relative here; float64 stays within 1e-10.
    expect(gradNorm(g, g.length)).toBeCloseTo(Math.sqrt(1e6 * Math.fround(1e-3) ** 2), 10);
  });
});
