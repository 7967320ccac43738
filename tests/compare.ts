// Tolerance checks shared by the test tiers: max absolute / relative error,
// printed per tensor so a failing kernel says where and by how much; and the
// deterministic inputs they compare on.

export interface ErrorStats {
  maxAbs: number;
  maxRel: number;
  worstIndex: number;
}

/** max |a-b| and max |a-b| / max(|b|, floor) over all elements. */
export function errorStats(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-3): ErrorStats {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let worstIndex = -1;
  for (let i = 0; i < actual.length; i++) {
    const abs = Math.abs(actual[i] - expected[i]);
    if (!(abs <= maxAbs)) {
      // NaN lands here too and poisons the result on purpose.
      maxAbs = Number.isNaN(abs) ? Infinity : abs;
      worstIndex = i;
    }
    const rel = abs / Math.max(Math.abs(expected[i]), floor);
    if (rel > maxRel || Number.isNaN(rel)) maxRel = Number.isNaN(rel) ? Infinity : rel;
  }
  return { maxAbs, maxRel, worstIndex };
}

/** Throws with a readable message unless every element is within atol + rtol·|expected|. */
export function expectClose(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol, rtol }: { atol: number; rtol: number },
): ErrorStats {
  const stats = errorStats(actual, expected);
  for (let i = 0; i < actual.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= atol + rtol * Math.abs(expected[i]);
    if (!ok) {
      throw new Error(
        `${name}: element ${i} is ${actual[i]}, expected ${expected[i]} ` +
          `(atol ${atol}, rtol ${rtol}; max abs err ${stats.maxAbs.toExponential(2)})`,
      );
    }
  }
  console.log(`${name.padEnd(40)} max abs ${stats.maxAbs.toExponential(2)}  max rel ${stats.maxRel.toExponential(2)}`);
  return stats;
}

/** Deterministic float32 test inputs in [−scale, scale): the code base's one PRNG (src/model/random.ts). */
export { uniformFloats as randomFloats } from '../src/model/random.ts';
