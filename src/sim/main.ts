// `npm run sim`: R replicas of the GPT trained in this process, synchronised
// by SparseLoCo, DiLoCo or data-parallel AdamW at equal tokens (simulate.ts).
//
//   npm run sim -- --algo sparseloco|diloco|ddp --peers R --inner H --rounds N
//                  --model nano|tiny|small|medium [--batch B] [--seq T] [--seed S]
//                  [--lr LR] [--warmup STEPS] [--eval-batches N] [--topk K] [--chunk N]
//                  [--engine gpu|cpu] [--compressor cpu|gpu] [--json]
//   SparseLoCo only:
//                  [--rule mean|selected-mean] [--token-cap C] [--outer-lr α]
//                  [--download float|submissions|quantized]
//                  [--speeds s1,s2,…] [--schedule fixed|time-boxed] [--round-seconds W]
//                  [--min-steps N] [--max-steps N] [--lr-past-nominal hold|continue]
//
// Prints one line per round (validation loss of the global model, bytes sent
// per peer); with --json the last line is the whole result as JSON. The engine
// (engine.ts) is the GPT on WebGPU (Dawn; SwiftShader where there is no GPU;
// the default) or the plain-TypeScript reference GPT: --engine cpu with the
// cpu compressor starts no GPU at all.
// Leaves out: anything the relay or a tab does beyond the arithmetic (no
// network, signatures or scoring).
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { GPT_PRESET_NAMES, GPT_PRESETS } from '../model/config.ts';
import { ensureDataset } from '../data/prepare.ts';
import { defaultCompressConfig } from '../compress/sparseloco.ts';
import { AGGREGATION_RULES, defaultAggregationOptions } from '../compress/aggregate.ts';
import { choiceFlag, integerFlag, numberFlag, parseCommandLine, runCli, UsageError } from '../node/cli.ts';
import { LR_PAST_NOMINAL, ROUND_SCHEDULES, SIM_ALGORITHMS, runSimulation } from './simulate.ts';
import { SIM_ENGINES } from './engine.ts';
import { DOWNLOAD_FORMS } from './download.ts';

const USAGE = `usage: npm run sim -- --algo ${SIM_ALGORITHMS.join('|')} --peers R --inner H --rounds N --model ${GPT_PRESET_NAMES.join('|')}
                    [--batch B] [--seq T] [--seed S] [--lr LR] [--warmup STEPS] [--eval-batches N]
                    [--topk K] [--chunk N] [--engine ${SIM_ENGINES.join('|')}] [--compressor cpu|gpu] [--json]
  SparseLoCo only:  [--rule ${AGGREGATION_RULES.join('|')}] [--token-cap C] [--outer-lr α] [--download ${DOWNLOAD_FORMS.join('|')}]
                    [--speeds s1,s2,…] [--schedule ${ROUND_SCHEDULES.join('|')}] [--round-seconds W] [--min-steps N] [--max-steps N]
                    [--lr-past-nominal ${LR_PAST_NOMINAL.join('|')}]`;

/** A required flag. */
function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`--${flag} is required`);
  return value;
}

/** A number flag that must be > 0 (undefined when absent). */
function positiveFlag(value: string | undefined, flag: string): number | undefined {
  const n = numberFlag(value, flag);
  if (n !== undefined && !(n > 0)) throw new UsageError(`--${flag} must be a positive number, got ${value}`);
  return n;
}

const FLAGS = {
  algo: { type: 'string' },
  peers: { type: 'string' },
  inner: { type: 'string' },
  rounds: { type: 'string' },
  model: { type: 'string', default: 'nano' },
  batch: { type: 'string' },
  seq: { type: 'string' },
  seed: { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  'eval-batches': { type: 'string' },
  topk: { type: 'string' },
  chunk: { type: 'string' },
  engine: { type: 'string', default: 'gpu' },
  compressor: { type: 'string', default: 'cpu' },
  rule: { type: 'string' },
  'token-cap': { type: 'string' },
  'outer-lr': { type: 'string' },
  download: { type: 'string' },
  speeds: { type: 'string' },
  schedule: { type: 'string' },
  'round-seconds': { type: 'string' },
  'min-steps': { type: 'string' },
  'max-steps': { type: 'string' },
  'lr-past-nominal': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** Flags that shape SparseLoCo's rounds; refused with another algorithm rather than ignored. */
const SPARSELOCO_FLAGS = ['rule', 'token-cap', 'outer-lr', 'download', 'speeds', 'schedule', 'round-seconds', 'min-steps', 'max-steps', 'lr-past-nominal'] as const;

async function main(): Promise<void> {
  const { values } = parseCommandLine(process.argv.slice(2), FLAGS);
  const algo = required(choiceFlag(values.algo, 'algo', SIM_ALGORITHMS), 'algo');
  const modelName = required(choiceFlag(values.model, 'model', GPT_PRESET_NAMES), 'model');
  const config = GPT_PRESETS[modelName];
  const peers = required(integerFlag(values.peers, 'peers'), 'peers');
  const inner = required(integerFlag(values.inner, 'inner'), 'inner');
  const rounds = required(integerFlag(values.rounds, 'rounds'), 'rounds');
  const batch = integerFlag(values.batch, 'batch') ?? 4;
  const seq = integerFlag(values.seq, 'seq') ?? config.blockSize;
  const seed = integerFlag(values.seed, 'seed') ?? 1;
  const lr = positiveFlag(values.lr, 'lr');
  const warmup = integerFlag(values.warmup, 'warmup');
  const evalBatches = integerFlag(values['eval-batches'], 'eval-batches') ?? 8;
  const compress = {
    ...defaultCompressConfig,
    topK: integerFlag(values.topk, 'topk') ?? defaultCompressConfig.topK,
    chunkSize: integerFlag(values.chunk, 'chunk') ?? defaultCompressConfig.chunkSize,
  };
  const engine = required(choiceFlag(values.engine, 'engine', SIM_ENGINES), 'engine');
  const compressor = required(choiceFlag(values.compressor, 'compressor', ['cpu', 'gpu']), 'compressor');

  const given = SPARSELOCO_FLAGS.filter((flag) => values[flag] !== undefined);
  if (algo !== 'sparseloco' && given.length) throw new UsageError(`${given.map((f) => `--${f}`).join(', ')}: for --algo sparseloco only`);
  const rule = choiceFlag(values.rule, 'rule', AGGREGATION_RULES) ?? defaultAggregationOptions.rule;
  const tokenCap = numberFlag(values['token-cap'], 'token-cap') ?? defaultAggregationOptions.tokenCap;
  if (!(tokenCap >= 1)) throw new UsageError(`--token-cap must be ≥ 1, got ${values['token-cap']}`);
  const outerLr = positiveFlag(values['outer-lr'], 'outer-lr');
  const download = choiceFlag(values.download, 'download', DOWNLOAD_FORMS);
  const speeds = values.speeds?.split(',').map((text) => positiveFlag(text, 'speeds')!);
  const schedule = choiceFlag(values.schedule, 'schedule', ROUND_SCHEDULES);
  const roundSeconds = positiveFlag(values['round-seconds'], 'round-seconds');
  const minSteps = integerFlag(values['min-steps'], 'min-steps', 1);
  const maxSteps = integerFlag(values['max-steps'], 'max-steps', 1);
  const stepRange = minSteps === undefined && maxSteps === undefined ? undefined : { min: minSteps ?? 1, max: maxSteps ?? 16 * inner };
  const lrPastNominal = choiceFlag(values['lr-past-nominal'], 'lr-past-nominal', LR_PAST_NOMINAL);

  // The reference engine with the reference compressor needs no GPU; do not start one.
  const gpu = engine === 'gpu' || compressor === 'gpu' ? await acquireNodeDevice() : null;
  const ctx = gpu ? new GpuContext(gpu) : undefined;
  const adapter = gpu ? `${gpu.adapter.vendor || 'unknown'}/${gpu.adapter.architecture || 'unknown'}` : 'cpu';
  const data = ensureDataset();
  console.log(
    `sim ${algo}: ${modelName}, R=${peers} H=${inner} rounds=${rounds} B=${batch} T=${seq} seed=${seed}` +
      `${algo === 'sparseloco' ? ` top-${compress.topK}/${compress.chunkSize} (${compressor} compressor) rule ${rule} α ${outerLr ?? 1} download ${download ?? 'float'}` : ''}` +
      `${speeds ? ` speeds ${speeds.join(',')}` : ''}${schedule ? ` ${schedule}` : ''} on ${engine === 'cpu' ? 'the CPU reference engine' : adapter}`,
  );
  const result = await runSimulation({
    ctx,
    engine,
    algo,
    model: config,
    modelName,
    peers,
    inner,
    rounds,
    batch,
    seq,
    seed,
    data,
    evalBatches,
    compress,
    compressor,
    ...(algo === 'sparseloco' && {
      aggregation: { rule, tokenCap },
      outerLr,
      download,
      speeds,
      schedule,
      roundSeconds,
      stepRange,
      lrPastNominal,
    }),
    train: { ...(lr !== undefined && { learningRate: lr }), ...(warmup !== undefined && { warmupSteps: warmup }) },
    onRound: (r) =>
      console.log(
        `round ${String(r.round).padStart(3)}  val ${r.val_loss.toFixed(4)}  train ${r.train_loss.toFixed(4)}  ` +
          `up ${r.bytes_up_per_peer} B/peer  down ${r.bytes_down_per_peer} B/peer  ` +
          `${speeds || schedule ? `steps ${r.steps.join('/')} busy ${(100 * r.busy_share).toFixed(0)}% t ${r.sim_seconds}  ` : ''}${(r.ms / 1000).toFixed(1)} s`,
      ),
  });
  console.log(
    `initial val ${result.initial_val_loss.toFixed(4)} → final ${result.rounds.at(-1)!.val_loss.toFixed(4)}; ` +
      `${result.params} params, ${result.tokens_per_round} tokens/round, ` +
      `${result.total_bytes_up_per_peer} bytes up per peer in total, ${(result.ms / 1000).toFixed(1)} s`,
  );
  if (values.json) {
    const { finalParams: _params, ...report } = result;
    console.log(JSON.stringify({ ...report, adapter, compress: algo === 'sparseloco' ? compress : null }));
  }
  gpu?.device.destroy();
}

runCli(USAGE, main);
