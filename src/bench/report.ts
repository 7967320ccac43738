// Shared bench plumbing: repeat-until-stable timing and table/JSON output.
// Every bench compares against a baseline measured in the same run on the
// same machine; absolute numbers only hold for the machine that made them.

import type { GptPresetName } from '../model/config.ts';

export interface BenchOptions {
  json: boolean;
  /** Stop repeating a measurement after this many milliseconds. */
  budgetMs: number;
  /** Filters from the command line (main.ts); each bench reads those it knows, undefined: its defaults. */
  models?: GptPresetName[]; // --models nano,tiny
  shapes?: [number, number, number][]; // --shapes MxKxN,… (matmul)
  submissions?: number[]; // --submissions 10,100 (relay; download: R)
  stores?: ('file' | 'postgres')[]; // --stores file,postgres (relay)
  replicas?: number[]; // --replicas 1,3 (relay, postgres rows)
  inFlight?: number; // --in-flight 64 (relay)
  checkThreads?: number; // --check-threads N (relay; default: the relay's)
  batchSize?: number; // --B (step)
  seqLen?: number; // --T (step)
  stored?: number; // --stored 2400 (restart)
  repeat?: number; // --repeat 5 (restart; relay: rounds per row; compile: fresh devices)
}

/** Median wall time of `run` (ms): one warm-up call, then repeats until the budget is spent (≥ 1, ≤ maxRuns). */
export async function timeIt(run: () => Promise<void>, budgetMs: number, maxRuns = 20): Promise<number> {
  await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxRuns && (times.length === 0 || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]);
  const cell = (v: string | number) => (typeof v === 'number' ? formatNumber(v) : v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  console.log(`\n${title}`);
  console.log(columns.map((c, i) => c.padStart(widths[i])).join('  '));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(columns.map((c, i) => cell(row[c]).padStart(widths[i])).join('  '));
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

export const round = (v: number, digits = 3): number => Number(v.toFixed(digits));
