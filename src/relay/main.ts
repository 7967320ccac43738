// `npm run relay -- [options]`: start (or resume) a run and serve app, API and
// events on one origin. Prints the URL. Ctrl+C stops after in-flight work.
//
//   --port 8787  --host 127.0.0.1  --data-dir .tessera/relay  --dist dist|none
//   run (only when the data directory is new; afterwards the stored run wins):
//   --preset nano  --run-id ID  --inner-steps H  --batch-size B  --seq-len T
//   --lr 1e-3  --warmup-steps N  --planned-rounds N  --chunk-size 4096  --top-k 64
//   --init-seed N  --eval-batches N
//   relay (any time):
//   --round-ms 120000  --quorum 16  --min-submissions 1  --allow ADDR,ADDR
//   --no-eval  --trust-proxy
import { resolve } from 'node:path';
import { GPT_PRESETS, type GptPresetName } from '../model/config.ts';
import { isValidAddress } from '../protocol/index.ts';
import { launchRelay } from './launch.ts';
import type { RelayOptions } from './config.ts';
import type { RunConfigInput } from './config.ts';

function parseArgs(argv: string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) args.set(a.slice(2), 'true');
    else args.set(a.slice(2), argv[++i]);
  }
  return args;
}

function number(args: Map<string, string>, key: string): number | undefined {
  const text = args.get(key);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${key} needs a number, got ${text}`);
  return value;
}

const args = parseArgs(process.argv.slice(2));
const preset = (args.get('preset') ?? 'nano') as GptPresetName;
if (!(preset in GPT_PRESETS)) throw new Error(`--preset must be one of ${Object.keys(GPT_PRESETS).join(', ')}`);

const run: Omit<RunConfigInput, 'data'> = {
  preset,
  runId: args.get('run-id'),
  innerSteps: number(args, 'inner-steps'),
  plannedRounds: number(args, 'planned-rounds'),
  initSeed: number(args, 'init-seed'),
  train: Object.fromEntries(
    Object.entries({
      batchSize: number(args, 'batch-size'),
      seqLen: number(args, 'seq-len'),
      learningRate: number(args, 'lr'),
      warmupSteps: number(args, 'warmup-steps'),
    }).filter(([, v]) => v !== undefined),
  ),
  compression: Object.fromEntries(
    Object.entries({ chunkSize: number(args, 'chunk-size'), topK: number(args, 'top-k') }).filter(([, v]) => v !== undefined),
  ),
  evaluation: args.has('eval-batches') ? { batches: number(args, 'eval-batches') } : undefined,
};

const allow = args.get('allow')?.split(',').map((a) => a.trim()).filter(Boolean);
for (const address of allow ?? []) if (!isValidAddress(address)) throw new Error(`--allow: ${address} is not an SS58 prefix-42 address`);
const relay: Partial<RelayOptions> = Object.fromEntries(
  Object.entries({
    roundMs: number(args, 'round-ms'),
    quorum: number(args, 'quorum'),
    minSubmissions: number(args, 'min-submissions'),
    allowlist: allow,
    trustProxy: args.has('trust-proxy') ? true : undefined,
  }).filter(([, v]) => v !== undefined),
);

const dist = args.get('dist');
const server = await launchRelay({
  dataDir: resolve(args.get('data-dir') ?? '.tessera/relay'),
  host: args.get('host') ?? '127.0.0.1',
  port: number(args, 'port') ?? 8787,
  distDir: dist === 'none' ? null : dist ? resolve(dist) : undefined,
  run,
  relay,
  evaluate: !args.has('no-eval'),
  log: (message) => console.log(`[relay] ${message}`),
});

const info = server.relay.runInfo();
console.log(`Tessera relay listening on ${server.url}`);
console.log(`  run ${info.runId}: ${info.model.name} (${info.model.parameterCount} parameters), H = ${info.innerSteps}, quorum ${info.swarm.quorum}, rounds of ${info.roundMs / 1000} s`);
console.log(`  volunteer: npm run volunteer -- --relay ${server.url.replace(/\/$/, '')} --key //Alice`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) process.exit(1); // a second Ctrl+C does not wait
  stopping = true;
  console.log(`[relay] ${signal}: finishing in-flight work…`);
  server.close().then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
