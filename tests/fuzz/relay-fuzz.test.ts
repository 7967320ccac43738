// The fuzz tier: the hostile client of hostile-client.ts against a relay child
// process, a bounded number of cases in CI (TESSERA_FUZZ_CASES, default 10,000;
// TESSERA_FUZZ_SEED replays a run). `npm run fuzz -- --cases N` runs more.
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../unit/relay-fixtures.ts';
import { CLASS_WEIGHTS, formatReport, runFuzz } from './hostile-client.ts';

const CASES = Number(process.env.TESSERA_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 20_261_130);

afterAll(() => removeTempDirs());

describe('relay fuzz', () => {
  it(`survives ${CASES} hostile cases (seed ${SEED}) and loses nothing it acknowledged`, async () => {
    const report = await runFuzz({ cases: CASES, seed: SEED, log: (line) => console.log(line) });
    console.log(formatReport(report).join('\n'));
    expect(report.processExits).toBe(0);
    expect(report.failures.map((f) => `case ${f.index} (${f.caseClass}: ${f.label}): ${f.problem}`)).toEqual([]);
    expect(report.cases).toBe(CASES);
    // Every class ran, honest traffic got through, and what was acknowledged survived kill -9.
    for (const caseClass of Object.keys(CLASS_WEIGHTS)) expect(report.byClass[caseClass]?.cases ?? 0, caseClass).toBeGreaterThan(0);
    expect(report.honest.acknowledged).toBeGreaterThan(0);
    expect(report.acknowledged).toBeGreaterThanOrEqual(report.honest.acknowledged);
    expect(report.restart).toEqual({ ledgerIntact: true, honestAfterRestart: true, sigtermExit: 0 });
  });
});
