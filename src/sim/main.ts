// `npm run sim`: R replicas of the GPT trained in this process on the real
// WebGPU engine (Dawn; SwiftShader where there is no GPU), synchronised by
// SparseLoCo, DiLoCo or data-parallel AdamW at equal tokens (simulate.ts).
//
//   npm run sim -- --algo sparseloco|diloco|ddp --peers R --inner H --rounds N
//                  --model nano|tiny|small|medium [--batch B] [--seq T] [--seed S]
//                  [--lr LR] [--warmup STEPS] [--eval-batches N] [--topk K] [--chunk N]
//                  [--compressor cpu|gpu] [--json]
//
// Prints one line per round (validation loss of the global model, bytes sent
// per peer); with --json the last line is the whole result as JSON.
// Leaves out: anything the relay or a tab does beyond the arithmetic (no
// network, signatures or scoring).
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { GPT_PRESET_NAMES, GPT_PRESETS } from '../model/config.ts';
import { ensureDataset } from '../data/prepare.ts';
import { defaultCompressConfig } from '../compress/sparseloco.ts';
import { choiceFlag, integerFlag, numberFlag, parseCommandLine, runCli, UsageError } from '../node/cli.ts';
import { SIM_ALGORITHMS, runSimulation } from './simulate.ts';

const USAGE = `usage: npm run sim -- --algo ${SIM_ALGORITHMS.join('|')} --peers R --inner H --rounds N --model ${GPT_PRESET_NAMES.join('|')}
                    [--batch B] [--seq T] [--seed S] [--lr LR] [--warmup STEPS] [--eval-batches N]
                    [--topk K] [--chunk N] [--compressor cpu|gpu] [--json]`;

/** A required flag. */
function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`--${flag} is required`);
  return value;
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
  compressor: { type: 'string', default: 'cpu' },
  json: { type: 'boolean', default: false },
} as const;

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
  const lr = numberFlag(values.lr, 'lr');
  if (lr !== undefined && !(lr > 0)) throw new UsageError(`--lr must be a positive number, got ${values.lr}`);
  const warmup = integerFlag(values.warmup, 'warmup');
  const evalBatches = integerFlag(values['eval-batches'], 'eval-batches') ?? 8;
  const compress = {
    ...defaultCompressConfig,
    topK: integerFlag(values.topk, 'topk') ?? defaultCompressConfig.topK,
    chunkSize: integerFlag(values.chunk, 'chunk') ?? defaultCompressConfig.chunkSize,
  };
  const compressor = required(choiceFlag(values.compressor, 'compressor', ['cpu', 'gpu']), 'compressor');

  const gpu = await acquireNodeDevice();
  const ctx = new GpuContext(gpu);
  const adapter = `${gpu.adapter.vendor || 'unknown'}/${gpu.adapter.architecture || 'unknown'}`;
  const data = ensureDataset();
  console.log(
    `sim ${algo}: ${modelName}, R=${peers} H=${inner} rounds=${rounds} B=${batch} T=${seq} seed=${seed}` +
      `${algo === 'sparseloco' ? ` top-${compress.topK}/${compress.chunkSize} (${compressor} compressor)` : ''} on ${adapter}`,
  );
  const result = await runSimulation({
    ctx,
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
    train: { ...(lr !== undefined && { learningRate: lr }), ...(warmup !== undefined && { warmupSteps: warmup }) },
    onRound: (r) =>
      console.log(
        `round ${String(r.round).padStart(3)}  val ${r.val_loss.toFixed(4)}  train ${r.train_loss.toFixed(4)}  ` +
          `up ${r.bytes_up_per_peer} B/peer  down ${r.bytes_down_per_peer} B/peer  ${(r.ms / 1000).toFixed(1)} s`,
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
  gpu.device.destroy();
}

runCli(USAGE, main);
