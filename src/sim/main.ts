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
import { parseArgs } from 'node:util';
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { GPT_PRESETS, type GptPresetName } from '../model/config.ts';
import { ensureDataset } from '../data/prepare.ts';
import { defaultCompressConfig } from '../compress/sparseloco.ts';
import { SIM_ALGORITHMS, runSimulation, type SimAlgorithm } from './simulate.ts';

const USAGE = `usage: npm run sim -- --algo ${SIM_ALGORITHMS.join('|')} --peers R --inner H --rounds N --model ${Object.keys(GPT_PRESETS).join('|')}
                    [--batch B] [--seq T] [--seed S] [--lr LR] [--warmup STEPS] [--eval-batches N]
                    [--topk K] [--chunk N] [--compressor cpu|gpu] [--json]`;

class UsageError extends Error {}

function integer(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}

function positiveNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name} must be a positive number, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
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
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const algo = values.algo as SimAlgorithm;
  if (!SIM_ALGORITHMS.includes(algo)) throw new UsageError(`--algo must be one of ${SIM_ALGORITHMS.join(', ')}`);
  const modelName = values.model as GptPresetName;
  const config = GPT_PRESETS[modelName];
  if (!config) throw new UsageError(`--model must be one of ${Object.keys(GPT_PRESETS).join(', ')}`);
  const peers = integer(values.peers, 'peers');
  const inner = integer(values.inner, 'inner');
  const rounds = integer(values.rounds, 'rounds');
  const batch = integer(values.batch, 'batch', 4);
  const seq = integer(values.seq, 'seq', config.blockSize);
  const seed = integer(values.seed, 'seed', 1);
  const lr = positiveNumber(values.lr, 'lr');
  const warmup = values.warmup === undefined ? undefined : integer(values.warmup, 'warmup');
  const evalBatches = integer(values['eval-batches'], 'eval-batches', 8);
  const compress = {
    ...defaultCompressConfig,
    topK: integer(values.topk, 'topk', defaultCompressConfig.topK),
    chunkSize: integer(values.chunk, 'chunk', defaultCompressConfig.chunkSize),
  };

  const compressor = values.compressor;
  if (compressor !== 'cpu' && compressor !== 'gpu') throw new UsageError(`--compressor must be cpu or gpu, got ${compressor}`);

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

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`${e.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(e);
    process.exit(1);
  },
);
