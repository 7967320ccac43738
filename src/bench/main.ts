// `npm run bench -- <name> [--json] [--budget-ms N] [--key value]`
// Benches: matmul, step, compress, relay. With --json the last line of stdout is one JSON object.
import { benchMatmul } from './matmul.ts';
import { benchStep } from './step.ts';
import { benchCompress } from './compress.ts';
import { benchRelay } from './relay.ts';
import type { BenchOptions } from './report.ts';

const BENCHES: Record<string, (options: BenchOptions) => Promise<object>> = {
  matmul: benchMatmul,
  step: benchStep,
  compress: benchCompress,
  relay: benchRelay,
};

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const key = a.slice(2);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) args[key] = 'true';
      else args[key] = argv[++i];
    } else positional.push(a);
  }
  return { positional, args };
}

const { positional, args } = parseArgs(process.argv.slice(2));
const names = positional.length ? positional : Object.keys(BENCHES);
const unknown = names.filter((n) => !BENCHES[n]);
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')} (choose from ${Object.keys(BENCHES).join(', ')})`);
  process.exit(2);
}
const options: BenchOptions = { json: args.json === 'true', budgetMs: Number(args['budget-ms'] ?? 1500), args };
const results = [];
for (const name of names) results.push(await BENCHES[name](options));
if (options.json) console.log(JSON.stringify(results.length === 1 ? results[0] : { benches: results }));
process.exit(0);
