// `npm run relay -- [options]`: start (or resume) a run and serve app, API and
// events on one origin. Prints the URL. Ctrl+C stops after in-flight work.
// A run no tab could complete (H = 0, an odd top-k, a sequence longer than
// the model's context…) is refused at start, by the parser the tabs run on
// GET /api/run, with a message naming the flag (RUN_FLAGS below).
// Leaves out: the configuration's defaults and checks (config.ts), assembly (launch.ts).
import { resolve } from 'node:path';
import { GPT_PRESET_NAMES } from '../model/config.ts';
import { choiceFlag, integerFlag, numberFlag, parseCommandLine, runCli, UsageError } from '../node/cli.ts';
import { isValidAddress } from '../protocol/index.ts';
import { RunConfigError, type RelayOptions, type RunConfigInput } from './config.ts';
import { launchRelay } from './launch.ts';

const USAGE = `usage: npm run relay -- [options]
  --port 8787  --host 127.0.0.1  --data-dir .tessera/relay  --dist dist|none
run (only when the data directory is new; afterwards the stored run wins):
  --preset ${GPT_PRESET_NAMES.join('|')}  --run-id ID  --inner-steps H  --batch-size B  --seq-len T
  --lr 1e-3  --warmup-steps N  --planned-rounds N  --chunk-size 4096  --top-k 64
  --init-seed N  --eval-batches N
  --gauntlet on|off  --top-g 20  --evaluations 20  --copy-grace 2  --bma-warmup 0
relay (any time):
  --round-ms 120000  --quorum 16  --min-submissions 1  --allow ADDR,ADDR
  --evaluation-timeout-ms 60000  --no-eval  --trust-proxy  --help`;

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  'data-dir': { type: 'string', default: '.tessera/relay' },
  dist: { type: 'string' },
  preset: { type: 'string', default: 'nano' },
  'run-id': { type: 'string' },
  'inner-steps': { type: 'string' },
  'batch-size': { type: 'string' },
  'seq-len': { type: 'string' },
  lr: { type: 'string' },
  'warmup-steps': { type: 'string' },
  'planned-rounds': { type: 'string' },
  'chunk-size': { type: 'string' },
  'top-k': { type: 'string' },
  'init-seed': { type: 'string' },
  'eval-batches': { type: 'string' },
  gauntlet: { type: 'string' },
  'top-g': { type: 'string' },
  evaluations: { type: 'string' },
  'copy-grace': { type: 'string' },
  'bma-warmup': { type: 'string' },
  'evaluation-timeout-ms': { type: 'string' },
  'round-ms': { type: 'string' },
  quorum: { type: 'string' },
  'min-submissions': { type: 'string' },
  allow: { type: 'string' },
  'no-eval': { type: 'boolean', default: false },
  'trust-proxy': { type: 'boolean', default: false },
} as const;

/** The flag behind each field the start-time check can refuse (RunConfigError.field). */
const RUN_FLAGS: Record<string, keyof typeof FLAGS> = {
  'run.runId': 'run-id',
  'run.innerSteps': 'inner-steps',
  'run.roundMs': 'round-ms',
  'run.swarm.train.batchSize': 'batch-size',
  'run.swarm.train.seqLen': 'seq-len',
  'run.swarm.train.learningRate': 'lr',
  'run.swarm.train.warmupSteps': 'warmup-steps',
  'run.swarm.train.totalSteps': 'planned-rounds',
  'run.swarm.compression.chunkSize': 'chunk-size',
  'run.swarm.compression.topK': 'top-k',
  'run.swarm.quorum': 'quorum',
  minSubmissions: 'min-submissions',
  initSeed: 'init-seed',
  'evaluation.batches': 'eval-batches',
  'gauntlet.selection.topG': 'top-g',
  'gauntlet.evaluation.maxSubmissions': 'evaluations',
  'gauntlet.copy.graceRounds': 'copy-grace',
  'gauntlet.bma.warmupRounds': 'bma-warmup',
  evaluationTimeoutMs: 'evaluation-timeout-ms',
};

/** Leaves out the keys whose value is undefined (so the defaults apply). */
function given<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function main(): Promise<'keep-running' | void> {
  const { values } = parseCommandLine(process.argv.slice(2), FLAGS);
  // Run settings stay plain numbers here: whether they make a run is the tabs' parser's call (config.ts checkRun).
  const run: Omit<RunConfigInput, 'data'> = {
    preset: choiceFlag(values.preset, 'preset', GPT_PRESET_NAMES),
    runId: values['run-id'],
    innerSteps: numberFlag(values['inner-steps'], 'inner-steps'),
    plannedRounds: numberFlag(values['planned-rounds'], 'planned-rounds'),
    initSeed: numberFlag(values['init-seed'], 'init-seed'),
    train: given({
      batchSize: numberFlag(values['batch-size'], 'batch-size'),
      seqLen: numberFlag(values['seq-len'], 'seq-len'),
      learningRate: numberFlag(values.lr, 'lr'),
      warmupSteps: numberFlag(values['warmup-steps'], 'warmup-steps'),
    }),
    compression: given({ chunkSize: numberFlag(values['chunk-size'], 'chunk-size'), topK: numberFlag(values['top-k'], 'top-k') }),
    evaluation: given({ batches: numberFlag(values['eval-batches'], 'eval-batches') }),
    gauntlet: {
      ...given({ enabled: values.gauntlet === undefined ? undefined : choiceFlag(values.gauntlet, 'gauntlet', ['on', 'off'] as const) === 'on' }),
      selection: given({ topG: numberFlag(values['top-g'], 'top-g') }),
      evaluation: given({ maxSubmissions: numberFlag(values.evaluations, 'evaluations') }),
      copy: given({ graceRounds: numberFlag(values['copy-grace'], 'copy-grace') }),
      bma: given({ warmupRounds: numberFlag(values['bma-warmup'], 'bma-warmup') }),
    },
  };
  const allow = values.allow?.split(',').map((a) => a.trim()).filter(Boolean);
  for (const address of allow ?? []) if (!isValidAddress(address)) throw new UsageError(`--allow: ${address} is not an SS58 prefix-42 address`);
  const relay: Partial<RelayOptions> = given({
    roundMs: numberFlag(values['round-ms'], 'round-ms'),
    quorum: numberFlag(values.quorum, 'quorum'),
    minSubmissions: numberFlag(values['min-submissions'], 'min-submissions'),
    allowlist: allow,
    trustProxy: values['trust-proxy'] || undefined,
    evaluationTimeoutMs: numberFlag(values['evaluation-timeout-ms'], 'evaluation-timeout-ms'),
  });

  let server;
  try {
    server = await launchRelay({
      dataDir: resolve(values['data-dir']),
      host: values.host,
      port: integerFlag(values.port, 'port') ?? 8787,
      distDir: values.dist === 'none' ? null : values.dist ? resolve(values.dist) : undefined,
      run,
      relay,
      evaluate: !values['no-eval'],
      log: (message) => console.log(`[relay] ${message}`),
    });
  } catch (error) {
    if (!(error instanceof RunConfigError)) throw error;
    const flag = RUN_FLAGS[error.field];
    const typed = flag === undefined ? undefined : values[flag];
    const setting = typed === undefined ? 'this run is refused' : `--${flag} ${typed} is refused`;
    const why = error.field.startsWith('run.') ? ' (every tab checks a run with this same rule when it joins)' : '';
    throw new UsageError(`${setting}: ${error.message}${why}`);
  }

  const info = server.relay.runInfo();
  console.log(`Tessera relay listening on ${server.url}`);
  console.log(`  run ${info.runId}: ${info.model.name} (${info.model.parameterCount} parameters), H = ${info.innerSteps}, quorum ${info.swarm.quorum}, rounds of ${info.roundMs / 1000} s`);
  const g = info.gauntlet;
  console.log(`  receipts signed by ${info.relayAddress}; Gauntlet ${g.enabled ? `on (top ${g.selection.topG}, at most ${g.evaluation.maxSubmissions} evaluations per round)` : 'off'}`);
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
  return 'keep-running';
}

runCli(USAGE, main);
