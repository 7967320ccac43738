// Markdown tables from simulator runs, so every table in docs/results.md is
// rebuilt from the runs' own output rather than copied by hand:
//
//   npx tsx src/sim/tables.ts summary LOG…
//   npx tsx src/sim/tables.ts curve rounds|seconds|tokens N1,N2,… LOG…
//   npx tsx src/sim/tables.ts grid LOG…
//
// A LOG is what `npm run sim -- … --json` printed: round lines, then the whole
// result as one JSON line (the last line starting with "{"). `summary` gives
// one row per run (settings, final validation loss, tokens, bytes up and down
// per peer); `curve` gives the validation loss of each run after the given
// rounds, simulated seconds or tokens (the first round at or past each point);
// `grid` lays SparseLoCo runs out by aggregation (rows: rule, α, R) and
// compression (columns: top-k, H), each cell the final validation loss.
// Leaves out: running the simulations (the run.sh beside each set of logs).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { RoundResult, SimulationResult } from './simulate.ts';
import { DEFAULT_EF_BETA } from '../compress/sparseloco.ts';

type Report = Omit<SimulationResult, 'finalParams'> & { compress: { topK: number } | null };

function readReport(path: string): Report {
  const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.startsWith('{'));
  if (!lines.length) throw new Error(`${path}: no JSON result line (did the run finish?)`);
  return JSON.parse(lines[lines.length - 1]) as Report;
}

const name = (path: string) => basename(path).replace(/\.log$/, '');
const loss = (v: number) => v.toFixed(3);

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function summary(paths: string[]): string {
  const rows = paths.map((path) => {
    const r = readReport(path);
    const setting =
      r.algo === 'sparseloco'
        ? `top-${r.compress?.topK}, ${r.aggregation?.rule}, α ${r.outer_lr}${r.ef_beta != null && r.ef_beta !== DEFAULT_EF_BETA ? `, EF β ${r.ef_beta}` : ''}${r.download && r.download !== 'float' ? `, ${r.download} download` : ''}${r.schedule === 'time-boxed' ? `, time-boxed ≤ ${r.step_range?.max}, cap ${r.aggregation?.tokenCap}` : ''}`
        : r.algo;
    const rounds = r.rounds.length;
    return [
      name(path),
      setting,
      `${r.model} R ${r.peers} H ${r.inner} B ${r.batch} T ${r.seq}`,
      String(rounds),
      r.total_tokens.toLocaleString('en-US'),
      loss(r.rounds[rounds - 1].val_loss),
      Math.round(r.total_bytes_up_per_peer).toLocaleString('en-US'),
      ((8 * r.total_bytes_up_per_peer) / (r.params * rounds)).toFixed(3),
      Math.round(r.total_bytes_down_per_peer).toLocaleString('en-US'),
      `${(r.ms / 1000).toFixed(0)} s`,
    ];
  });
  return table(['run', 'setting', 'shape', 'rounds', 'tokens', 'final val loss', 'bytes up per peer', 'up bits/param/round', 'bytes down per peer', 'wall time'], rows);
}

const AXES = {
  rounds: (r: RoundResult) => r.round,
  seconds: (r: RoundResult) => r.sim_seconds,
  tokens: (r: RoundResult, report: Report) => report.rounds.slice(0, r.round).reduce((sum, x) => sum + x.tokens, 0),
} as const;

function curve(axis: keyof typeof AXES, points: number[], paths: string[]): string {
  const at = AXES[axis];
  const rows = paths.map((path) => {
    const report = readReport(path);
    return [
      name(path),
      loss(report.initial_val_loss),
      ...points.map((point) => {
        const round = report.rounds.find((r) => at(r, report) >= point);
        return round ? loss(round.val_loss) : '–';
      }),
    ];
  });
  return table(['run', '0', ...points.map((p) => p.toLocaleString('en-US'))], rows);
}

function grid(paths: string[]): string {
  const reports = paths.map(readReport).filter((r) => r.algo === 'sparseloco');
  const rowOf = (r: Report) => `${r.aggregation?.rule}, α ${r.outer_lr}, R ${r.peers}`;
  const columnOf = (r: Report) => `top-${r.compress?.topK}, H ${r.inner}`;
  const order = (key: (r: Report) => (string | number)[]) => (a: Report, b: Report) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  };
  const rows = [...new Set([...reports].sort(order((r) => [r.peers, r.aggregation?.rule ?? '', r.outer_lr ?? 0])).map(rowOf))];
  const columns = [...new Set([...reports].sort(order((r) => [r.compress?.topK ?? 0, r.inner])).map(columnOf))];
  const cell = (row: string, column: string) => {
    const r = reports.find((x) => rowOf(x) === row && columnOf(x) === column);
    return r ? loss(r.rounds[r.rounds.length - 1].val_loss) : '–';
  };
  return table(['rule', ...columns], rows.map((row) => [row, ...columns.map((column) => cell(row, column))]));
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'grid' && rest.length) {
  console.log(grid(rest));
} else if (command === 'summary' && rest.length) {
  console.log(summary(rest));
} else if (command === 'curve' && rest.length >= 3 && rest[0] in AXES) {
  const points = rest[1].split(',').map(Number);
  if (!points.every((p) => Number.isFinite(p) && p >= 0)) throw new Error(`points must be numbers, got ${rest[1]}`);
  console.log(curve(rest[0] as keyof typeof AXES, points, rest.slice(2)));
} else {
  console.error('usage: npx tsx src/sim/tables.ts summary LOG… | curve rounds|seconds|tokens N1,N2,… LOG… | grid LOG…');
  process.exit(2);
}
