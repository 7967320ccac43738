// `npm run bench -- [matmul|step|compress|compile|download|relay|gauntlet|restart|throttle|shards …] [--json] [--budget-ms N] [filters]`
// Benches: matmul, step, compress, compile, download, relay, gauntlet, restart,
// throttle, shards (all when none is named). With --json the last line of
// stdout is one JSON object. Filters (each bench reads those it knows):
// --models nano,tiny  --shapes 512x512x512,…  --submissions 10,100 (download:
// 4,16,100)  --stores file,postgres  --replicas 1,3  --in-flight 64
// --check-threads N  --B 4  --T 64  --stored 2400  --repeat 5 (restart;
// relay: rounds per row; compile: fresh devices, 3).
// Leaves out: the measurements themselves (one file per bench).
import { GPT_PRESET_NAMES } from '../model/config.ts';
import { choiceFlag, integerFlag, parseCommandLine, runCli, UsageError } from '../node/cli.ts';
import { benchCompile } from './compile.ts';
import { benchCompress } from './compress.ts';
import { benchDownload } from './download.ts';
import { benchMatmul } from './matmul.ts';
import { benchRelay } from './relay.ts';
import { benchGauntlet } from './gauntlet.ts';
import { benchRestart } from './restart.ts';
import type { BenchOptions } from './report.ts';
import { benchShards } from './shards.ts';
import { benchStep } from './step.ts';
import { benchThrottle } from './throttle.ts';

const BENCHES: Record<string, (options: BenchOptions) => Promise<object>> = {
  matmul: benchMatmul,
  step: benchStep,
  compress: benchCompress,
  download: benchDownload,
  relay: benchRelay,
  gauntlet: benchGauntlet,
  restart: benchRestart,
  throttle: benchThrottle,
  shards: benchShards,
  compile: benchCompile,
};

const USAGE = `usage: npm run bench -- [${Object.keys(BENCHES).join('|')} …] [--json] [--budget-ms 1500]
                    [--models ${GPT_PRESET_NAMES.join(',')}] [--shapes MxKxN,…] [--submissions 10,100] [--B 4] [--T 64]
                    [--stored 2400] [--repeat 5]
                    relay: [--stores file,postgres] [--replicas 1,3] [--in-flight 64] [--check-threads N]`;

const FLAGS = {
  json: { type: 'boolean', default: false },
  'budget-ms': { type: 'string' },
  models: { type: 'string' },
  shapes: { type: 'string' },
  submissions: { type: 'string' },
  stores: { type: 'string' },
  replicas: { type: 'string' },
  'in-flight': { type: 'string' },
  'check-threads': { type: 'string' },
  B: { type: 'string' },
  T: { type: 'string' },
  stored: { type: 'string' },
  repeat: { type: 'string' },
} as const;

/** A comma-separated list, each item read by `item` (which names the flag in its errors). */
function list<T>(value: string | undefined, item: (text: string) => T): T[] | undefined {
  return value?.split(',').map((text) => item(text.trim()));
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine(process.argv.slice(2), FLAGS, { positionals: true });
  const names = positionals.length ? positionals : Object.keys(BENCHES);
  const unknown = names.filter((n) => !BENCHES[n]);
  if (unknown.length) throw new UsageError(`unknown bench: ${unknown.join(', ')} (choose from ${Object.keys(BENCHES).join(', ')})`);
  const options: BenchOptions = {
    json: values.json,
    budgetMs: integerFlag(values['budget-ms'], 'budget-ms', 1) ?? 1500,
    models: list(values.models, (name) => choiceFlag(name, 'models', GPT_PRESET_NAMES)!),
    shapes: list(values.shapes, (shape) => {
      const dims = shape.split('x').map((d) => integerFlag(d, 'shapes', 1)!);
      if (dims.length !== 3) throw new UsageError(`--shapes takes MxKxN triples, got ${JSON.stringify(shape)}`);
      return [dims[0], dims[1], dims[2]];
    }),
    submissions: list(values.submissions, (n) => integerFlag(n, 'submissions', 1)!),
    stores: list(values.stores, (name) => choiceFlag(name, 'stores', ['file', 'postgres'] as const)!),
    replicas: list(values.replicas, (n) => integerFlag(n, 'replicas', 1)!),
    inFlight: integerFlag(values['in-flight'], 'in-flight', 1),
    checkThreads: integerFlag(values['check-threads'], 'check-threads', 0),
    batchSize: integerFlag(values.B, 'B', 1),
    seqLen: integerFlag(values.T, 'T', 1),
    stored: integerFlag(values.stored, 'stored', 1),
    repeat: integerFlag(values.repeat, 'repeat', 1),
  };
  const results = [];
  for (const name of names) results.push(await BENCHES[name](options));
  if (options.json) console.log(JSON.stringify(results.length === 1 ? results[0] : { benches: results }));
}

runCli(USAGE, main);
