// `npm run sim`: R replicas of the GPT trained in this process, synchronised
// by SparseLoCo, DiLoCo or data-parallel AdamW at equal tokens (simulate.ts).
//
//   npm run sim -- --algo sparseloco|diloco|ddp --peers R --inner H --rounds N
//                  --model nano|tiny|small|medium [--batch B] [--seq T] [--seed S]
//                  [--lr LR] [--warmup STEPS] [--eval-batches N] [--topk K] [--chunk N]
//                  [--engine gpu|cpu] [--compressor cpu|gpu] [--json]
//   SparseLoCo only:
//                  [--rule mean|selected-mean] [--token-cap C] [--outer-lr α] [--ef-beta β]
//                  [--download float|submissions|quantized]
//                  [--speeds s1,s2,…] [--schedule fixed|time-boxed] [--round-seconds W]
//                  [--min-steps N] [--max-steps N] [--lr-past-nominal hold|continue]
//
// Prints one line per round (validation loss of the global model, bytes sent
// per peer); with --json the last line is the whole result as JSON. The engine
// (engine.ts) is the GPT on WebGPU (Dawn; SwiftShader where there is no GPU;
// the default) or the plain-TypeScript reference GPT: --engine cpu with the
// cpu compressor starts no GPU at all.
//
// A swarm under attack (attack.ts; SparseLoCo, closed by the relay's Gauntlet
// code, aggregated by the run's rule and published as the relay publishes):
//   npm run sim -- --gauntlet on|off --peers R [--attackers noise:1,flip:1,…] --inner H --rounds N
//                  --model nano [--batch B] [--seq T] [--seed S] [--engine gpu|cpu]
//                  [--rule mean|selected-mean] [--token-cap C] [--outer-lr α] [--download float|quantized]
//                  [--copy-grace N] [--bma-warmup N] [--trial-scale X] [--eval-sequences N] [--probe] [--json]
// R peers in all: the attackers (classes: noise, flip, copycat, free-rider,
// wrong-data, sybil) arrive after the R − attackers honest ones.
// Leaves out: anything the relay or a tab does beyond the arithmetic (no
// network or signatures).
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { GPT_PRESET_NAMES, GPT_PRESETS } from '../model/config.ts';
import { ensureDataset } from '../data/prepare.ts';
import { defaultCompressConfig } from '../compress/sparseloco.ts';
import { AGGREGATION_RULES, DEFAULT_OUTER_LEARNING_RATE, defaultAggregationOptions } from '../compress/aggregate.ts';
import { choiceFlag, integerFlag, numberFlag, parseCommandLine, runCli, UsageError } from '../node/cli.ts';
import { PUBLISHED_UPDATE_FORMS } from '../compress/codec.ts';
import { LR_PAST_NOMINAL, ROUND_SCHEDULES, SIM_ALGORITHMS, runSimulation } from './simulate.ts';
import { SIM_ENGINES } from './engine.ts';
import { DOWNLOAD_FORMS } from './download.ts';
import { PEER_CLASSES, runAttackSimulation, type AttackRoundResult, type PeerClass } from './attack.ts';
import { checkGauntletConfig, gauntletConfigWith } from '../gauntlet/config.ts';
import { protocolReady } from '../protocol/index.ts';

const USAGE = `usage: npm run sim -- --algo ${SIM_ALGORITHMS.join('|')} --peers R --inner H --rounds N --model ${GPT_PRESET_NAMES.join('|')}
                    [--batch B] [--seq T] [--seed S] [--lr LR] [--warmup STEPS] [--eval-batches N]
                    [--topk K] [--chunk N] [--engine ${SIM_ENGINES.join('|')}] [--compressor cpu|gpu] [--json]
  SparseLoCo only:  [--rule ${AGGREGATION_RULES.join('|')}] [--token-cap C] [--outer-lr α] [--ef-beta β] [--download ${DOWNLOAD_FORMS.join('|')}]
                    [--speeds s1,s2,…] [--schedule ${ROUND_SCHEDULES.join('|')}] [--round-seconds W] [--min-steps N] [--max-steps N]
                    [--lr-past-nominal ${LR_PAST_NOMINAL.join('|')}]
       npm run sim -- --gauntlet on|off --peers R [--attackers ${PEER_CLASSES.filter((c) => c !== 'honest').join('|')}:N,…] --inner H --rounds N
                    --model ${GPT_PRESET_NAMES.join('|')} [--batch B] [--seq T] [--seed S] [--engine ${SIM_ENGINES.join('|')}]
                    [--rule ${AGGREGATION_RULES.join('|')}] [--token-cap C] [--outer-lr α] [--download ${PUBLISHED_UPDATE_FORMS.join('|')}]
                    [--copy-grace N] [--bma-warmup N] [--trial-scale X] [--eval-sequences N] [--probe] [--json]`;

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
  'ef-beta': { type: 'string' },
  download: { type: 'string' },
  speeds: { type: 'string' },
  schedule: { type: 'string' },
  'round-seconds': { type: 'string' },
  'min-steps': { type: 'string' },
  'max-steps': { type: 'string' },
  'lr-past-nominal': { type: 'string' },
  gauntlet: { type: 'string' },
  attackers: { type: 'string' },
  'copy-grace': { type: 'string' },
  'bma-warmup': { type: 'string' },
  'trial-scale': { type: 'string' },
  'eval-sequences': { type: 'string' },
  probe: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parseCommandLine<typeof FLAGS>>['values'];

/** The flags both simulations share: the model and the run's shape. */
function runShape(values: Values, defaultBatch: number) {
  const modelName = required(choiceFlag(values.model, 'model', GPT_PRESET_NAMES), 'model');
  const model = GPT_PRESETS[modelName];
  return {
    modelName,
    model,
    inner: required(integerFlag(values.inner, 'inner'), 'inner'),
    rounds: required(integerFlag(values.rounds, 'rounds'), 'rounds'),
    batch: integerFlag(values.batch, 'batch') ?? defaultBatch,
    seq: integerFlag(values.seq, 'seq') ?? model.blockSize,
    seed: integerFlag(values.seed, 'seed') ?? 1,
  };
}

/** The run's aggregation options from --rule and --token-cap (defaults: the relay's). */
function aggregationFlags(values: Values) {
  const rule = choiceFlag(values.rule, 'rule', AGGREGATION_RULES) ?? defaultAggregationOptions.rule;
  const tokenCap = numberFlag(values['token-cap'], 'token-cap') ?? defaultAggregationOptions.tokenCap;
  if (!(tokenCap >= 1)) throw new UsageError(`--token-cap must be ≥ 1, got ${values['token-cap']}`);
  return { rule, tokenCap };
}

/** Flags that shape SparseLoCo's rounds; refused with another algorithm rather than ignored. */
const SPARSELOCO_FLAGS = ['rule', 'token-cap', 'outer-lr', 'ef-beta', 'download', 'speeds', 'schedule', 'round-seconds', 'min-steps', 'max-steps', 'lr-past-nominal'] as const;

async function main(): Promise<void> {
  const { values } = parseCommandLine(process.argv.slice(2), FLAGS);
  if (values.gauntlet !== undefined) return attackMain(values);
  const attackOnly = (['attackers', 'copy-grace', 'bma-warmup', 'trial-scale', 'eval-sequences'] as const).filter((flag) => values[flag] !== undefined);
  if (attackOnly.length || values.probe) throw new UsageError(`${[...attackOnly.map((f) => `--${f}`), ...(values.probe ? ['--probe'] : [])].join(', ')}: needs --gauntlet on|off`);
  const algo = required(choiceFlag(values.algo, 'algo', SIM_ALGORITHMS), 'algo');
  const shape = runShape(values, 4);
  const { modelName, model: config, inner, rounds, batch, seq, seed } = shape;
  const peers = required(integerFlag(values.peers, 'peers'), 'peers');
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
  const { rule, tokenCap } = aggregationFlags(values);
  const outerLr = positiveFlag(values['outer-lr'], 'outer-lr');
  const efBeta = numberFlag(values['ef-beta'], 'ef-beta');
  if (efBeta !== undefined && !(efBeta >= 0 && efBeta <= 1)) throw new UsageError(`--ef-beta must be in [0, 1], got ${values['ef-beta']}`);
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
      `${algo === 'sparseloco' ? ` top-${compress.topK}/${compress.chunkSize} (${compressor} compressor) rule ${rule} α ${outerLr ?? DEFAULT_OUTER_LEARNING_RATE}${efBeta === undefined ? '' : ` EF β ${efBeta}`} download ${download ?? 'float'}` : ''}` +
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
      efBeta,
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

/** The attackers' classes in order: "noise:1,flip:2" → [noise, flip, flip]. */
function parseAttackers(text: string | undefined): PeerClass[] {
  if (!text) return [];
  const attackerClasses = PEER_CLASSES.filter((c) => c !== 'honest');
  return text.split(',').flatMap((part) => {
    const [name, countText = '1'] = part.split(':');
    const kind = required(choiceFlag(name, 'attackers', attackerClasses), 'attackers');
    return Array.from({ length: required(integerFlag(countText, `attackers ${name}`), 'attackers') }, () => kind);
  });
}

function classLine(r: AttackRoundResult): string {
  return Object.entries(r.classes)
    .map(([kind, c]) => `${kind} ${c.aggregated}/${c.peers}${c.meanScore === null ? '' : ` s ${c.meanScore.toExponential(2)} b+ ${(100 * c.indicatorPlus!).toFixed(0)}%`} w ${(100 * c.weight).toFixed(1)}%`)
    .join(' | ');
}

async function attackMain(values: Values): Promise<void> {
  const mode = required(choiceFlag(values.gauntlet, 'gauntlet', ['on', 'off']), 'gauntlet');
  const refused = (['algo', 'ef-beta', 'speeds', 'schedule', 'round-seconds', 'min-steps', 'max-steps', 'lr-past-nominal', 'topk', 'chunk', 'lr', 'warmup'] as const).filter((flag) => values[flag] !== undefined);
  if (refused.length) throw new UsageError(`${refused.map((f) => `--${f}`).join(', ')}: not with --gauntlet (the attack simulator runs the relay's defaults)`);
  if (values.compressor !== 'cpu') throw new UsageError('--compressor: the attack simulator compresses on the CPU');
  const shape = runShape(values, 2);
  const engine = required(choiceFlag(values.engine, 'engine', SIM_ENGINES), 'engine');
  const aggregation = aggregationFlags(values);
  const outerLr = positiveFlag(values['outer-lr'], 'outer-lr');
  const update = choiceFlag(values.download, 'download', PUBLISHED_UPDATE_FORMS) ?? 'quantized';
  const { modelName, inner, rounds, batch, seq, seed } = shape;
  const total = required(integerFlag(values.peers, 'peers'), 'peers');
  const attackers = parseAttackers(values.attackers);
  if (attackers.length >= total) throw new UsageError(`--peers ${total} leaves no honest peer beside ${attackers.length} attackers`);
  const peers: PeerClass[] = [...Array.from({ length: total - attackers.length }, () => 'honest' as const), ...attackers];
  const grace = integerFlag(values['copy-grace'], 'copy-grace');
  const warmup = integerFlag(values['bma-warmup'], 'bma-warmup');
  const trialScale = numberFlag(values['trial-scale'], 'trial-scale');
  const sequences = integerFlag(values['eval-sequences'], 'eval-sequences');
  const gauntlet = checkGauntletConfig(
    gauntletConfigWith({
      enabled: mode === 'on',
      copy: grace === undefined ? {} : { graceRounds: grace },
      bma: warmup === undefined ? {} : { warmupRounds: warmup },
      evaluation: { ...(trialScale !== undefined && { trialScale }), ...(sequences !== undefined && { sequences }) },
    }),
  );
  await protocolReady();
  const gpu = engine === 'gpu' ? await acquireNodeDevice() : null;
  const ctx = gpu ? new GpuContext(gpu) : undefined;
  const adapter = gpu ? `${gpu.adapter.vendor || 'unknown'}/${gpu.adapter.architecture || 'unknown'}` : 'cpu';
  const data = ensureDataset();
  console.log(
    `sim attack: gauntlet ${mode}, ${modelName}, peers ${peers.join(',')}, H=${inner} rounds=${rounds} B=${batch} T=${seq} seed=${seed}` +
      ` rule ${aggregation.rule} α ${outerLr ?? DEFAULT_OUTER_LEARNING_RATE} download ${update} on ${engine === 'cpu' ? 'the CPU reference engine' : adapter}`,
  );
  const probe = values.probe ? [0.05, 0.1, 0.2, 1].flatMap((scale) => [4, 8, 16].map((n) => ({ trialScale: scale, sequences: n }))) : undefined;
  const result = await runAttackSimulation({
    ctx,
    engine,
    aggregation,
    outerLr,
    update,
    ...shape,
    peers,
    data,
    gauntlet,
    evalBatches: integerFlag(values['eval-batches'], 'eval-batches') ?? 8,
    probe,
    onRound: (r) =>
      console.log(
        `round ${String(r.round).padStart(3)}  val ${r.val_loss.toFixed(4)}  aggregated ${r.aggregated}  ${classLine(r)}` +
          `${r.honest_overlap ? `  honest overlap ${r.honest_overlap.mean.toFixed(3)}/${r.honest_overlap.max.toFixed(3)}` : ''}  ${(r.ms / 1000).toFixed(1)} s (eval ${(r.eval_ms / 1000).toFixed(2)} s)`,
      ),
  });
  console.log(
    `initial val ${result.initial_val_loss.toFixed(4)} → final ${result.final_val_loss.toFixed(4)}; payout ` +
      Object.entries(result.payout)
        .map(([kind, p]) => `${kind} ${(100 * p.final).toFixed(1)}% (run ${(100 * p.run).toFixed(1)}%)`)
        .join(', ') +
      `; ${(result.ms / 1000).toFixed(1)} s`,
  );
  for (const p of result.probe ?? []) {
    console.log(
      `probe scale ${p.setting.trialScale} sequences ${p.setting.sequences}: ` +
        Object.entries(p.classes)
          .map(([kind, c]) => `${kind} n ${c.n} s>0 ${(100 * c.positive).toFixed(0)}% b+ ${(100 * c.indicatorPlus).toFixed(0)}% (SPEC o>s ${(100 * c.specIndicatorPlus).toFixed(0)}%) mean s ${c.meanScore.toExponential(2)}`)
          .join(' | '),
    );
  }
  if (values.json) console.log(JSON.stringify({ ...result, adapter, gauntlet_config: gauntlet }));
  gpu?.device.destroy();
}

runCli(USAGE, main);
