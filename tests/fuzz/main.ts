// `npm run fuzz -- [--cases N] [--seed S] [--concurrency C] [--classes a,b]`:
// the relay fuzzer of the test tier, for long runs. Prints the seed first (a
// failure replays with --seed), progress, then the report; exits 1 on any failure.
import { parseArgs } from 'node:util';
import { removeTempDirs } from '../unit/relay-fixtures.ts';
import { CLASS_WEIGHTS, formatReport, runFuzz, type CaseClass } from './hostile-client.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '24' },
    classes: { type: 'string' },
  },
  strict: true,
});
const whole = (name: string, text: string | undefined): number => {
  if (text === undefined || !/^\d{1,12}$/.test(text)) {
    console.error(`fuzz: --${name} needs a whole number, got ${text}`);
    process.exit(2);
  }
  return Number(text);
};
const cases = whole('cases', values.cases);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : whole('seed', values.seed);
const concurrency = whole('concurrency', values.concurrency);
const classes = values.classes?.split(',') as CaseClass[] | undefined;
for (const c of classes ?? []) {
  if (!(c in CLASS_WEIGHTS)) {
    console.error(`fuzz: unknown class ${c}; classes: ${Object.keys(CLASS_WEIGHTS).join(', ')}`);
    process.exit(2);
  }
}

console.log(`relay fuzz: ${cases} cases, seed ${seed} (replay with --seed ${seed}), ${concurrency} at once`);
const report = await runFuzz({ cases, seed, concurrency, classes, log: (line) => console.log(line) });
console.log(formatReport(report).join('\n'));
removeTempDirs();
process.exit(report.failures.length === 0 && report.processExits === 0 ? 0 : 1);
