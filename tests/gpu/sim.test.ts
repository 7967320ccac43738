// The swarm simulator on the real engine (Dawn on SwiftShader): a tiny run of
// each algorithm (nano, R = 2, H = 3, 2 rounds, B = 2, T = 32) must lower the
// validation loss, count bytes as specified, feed every algorithm the same
// tokens, and — for SparseLoCo — reproduce the global model bit for bit, also
// with the GPU compressor in place of the CPU reference; the CPU reference
// engine must follow the GPU engine to rounding.
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import type { GpuContext } from '../../src/gpu/runtime.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { buildLayout } from '../../src/model/layout.ts';
import { ensureDataset } from '../../src/data/prepare.ts';
import { encodeUpdate } from '../../src/compress/codec.ts';
import type { CompressedUpdate } from '../../src/compress/sparseloco.ts';
import { CpuReplicaCompressor, type ReplicaCompressor } from '../../src/sim/compressor.ts';
import { replicaDataSeed, runSimulation, type SimAlgorithm, type SimulationOptions, type SimulationResult } from '../../src/sim/simulate.ts';

const config = GPT_PRESETS.nano;
const layout = buildLayout(config);
const R = 2;
const H = 3;
const ROUNDS = 2;

let ctx: GpuContext;
let data: { train: Uint8Array; val: Uint8Array };

const options = (algo: SimAlgorithm): SimulationOptions => ({
  ctx,
  algo,
  model: config,
  modelName: 'nano',
  peers: R,
  inner: H,
  rounds: ROUNDS,
  batch: 2,
  seq: 32,
  seed: 7,
  data,
  evalBatches: 2,
});

beforeAll(async () => {
  ctx = await gpuContext();
  data = ensureDataset();
});

function expectTrained(result: SimulationResult): void {
  const losses = result.rounds.map((r) => r.val_loss);
  console.log(`${result.algo}: val ${result.initial_val_loss.toFixed(4)} → ${losses.map((l) => l.toFixed(4)).join(' → ')}`);
  expect(result.rounds.map((r) => r.round)).toEqual([1, 2]);
  for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
  expect(losses.at(-1)!).toBeLessThan(result.initial_val_loss);
  expect(result.tokens_per_round).toBe(R * H * 2 * 32);
}

describe('swarm simulator', () => {
  const results: Partial<Record<SimAlgorithm, SimulationResult>> = {};

  it('SparseLoCo lowers the validation loss and reports the encoded payload length', async () => {
    // Wraps the reference compressor (the swap point a GPU compressor uses) to encode each update independently.
    const payloadLengths: number[][] = [];
    const result = await runSimulation({
      ...options('sparseloco'),
      compressor: ({ manifest, config: compressConfig, beta }): ReplicaCompressor => {
        const inner = new CpuReplicaCompressor(manifest, compressConfig, beta);
        let calls = 0;
        return {
          name: 'recording',
          async compress(replica, globalParams, model): Promise<CompressedUpdate> {
            const update = await inner.compress(replica, globalParams, model);
            const round = Math.floor(calls++ / R);
            (payloadLengths[round] ??= []).push(encodeUpdate(update, manifest, compressConfig).length);
            return update;
          },
          destroy: () => inner.destroy(),
        };
      },
    });
    results.sparseloco = result;
    expectTrained(result);
    expect(result.compressor).toBe('recording');
    expect(payloadLengths.map((l) => l.length)).toEqual([R, R]);
    expect(result.rounds.map((r) => r.bytes_up_per_peer)).toEqual(payloadLengths.map((l) => Math.max(...l)));
    // ≥ 64 kept values per full 4096-chunk at ≥ 2 bits each; far below dense float32.
    for (const r of result.rounds) {
      expect(r.bytes_up_per_peer).toBeGreaterThan(layout.paramCount / 64 / 4);
      expect(r.bytes_up_per_peer).toBeLessThan((4 * layout.paramCount) / 50);
      expect(r.bytes_down_per_peer).toBeGreaterThan(0);
    }
    expect(result.total_bytes_up_per_peer).toBe(result.rounds[0].bytes_up_per_peer + result.rounds[1].bytes_up_per_peer);
  });

  // The second run swaps in the GPU compressor: the same bits prove both determinism and that the swap point works.
  it('SparseLoCo is deterministic: a second run (GPU compressor) gives the same global model, bit for bit', async () => {
    const first = results.sparseloco!;
    const second = await runSimulation({ ...options('sparseloco'), compressor: 'gpu' });
    expect(second.compressor).toBe('gpu');
    const a = new Uint32Array(first.finalParams.buffer, first.finalParams.byteOffset, first.finalParams.length);
    const b = new Uint32Array(second.finalParams.buffer, second.finalParams.byteOffset, second.finalParams.length);
    let differing = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++;
    expect(differing).toBe(0);
    expect(second.rounds.map((r) => [r.val_loss, r.bytes_up_per_peer, r.bytes_down_per_peer])).toEqual(
      first.rounds.map((r) => [r.val_loss, r.bytes_up_per_peer, r.bytes_down_per_peer]),
    );
  });

  it('DiLoCo lowers the validation loss and sends 4 bytes per parameter per round', async () => {
    const result = await runSimulation(options('diloco'));
    results.diloco = result;
    expectTrained(result);
    for (const r of result.rounds) {
      expect(r.bytes_up_per_peer).toBe(4 * layout.paramCount);
      expect(r.bytes_down_per_peer).toBe(4 * layout.paramCount);
    }
    const sparse = results.sparseloco!;
    const ratio = result.total_bytes_up_per_peer / sparse.total_bytes_up_per_peer;
    console.log(`bytes up per peer: DiLoCo ${result.total_bytes_up_per_peer}, SparseLoCo ${sparse.total_bytes_up_per_peer} (${ratio.toFixed(1)}×)`);
    expect(ratio).toBeGreaterThan(50);
  });

  it('DDP lowers the validation loss and sends 4 bytes per parameter per step', async () => {
    const result = await runSimulation(options('ddp'));
    expectTrained(result);
    for (const r of result.rounds) expect(r.bytes_up_per_peer).toBe(4 * layout.paramCount * H);
    expect(result.total_bytes_up_per_peer).toBe(4 * layout.paramCount * H * ROUNDS);
  });

  // The two engines do the same arithmetic in a different order (float64 sums on the CPU), so they agree to rounding only.
  it('the CPU reference engine follows the GPU engine to rounding (SparseLoCo)', async () => {
    const gpu = results.sparseloco!;
    const cpu = await runSimulation({ ...options('sparseloco'), engine: 'cpu' });
    expect(cpu.engine).toBe('cpu-reference');
    expect(gpu.engine).toBe('gpu');
    console.log(`val loss per round: gpu ${gpu.rounds.map((r) => r.val_loss.toFixed(5)).join(', ')}; cpu ${cpu.rounds.map((r) => r.val_loss.toFixed(5)).join(', ')}`);
    expect(Math.abs(cpu.initial_val_loss - gpu.initial_val_loss)).toBeLessThan(1e-4);
    for (let i = 0; i < ROUNDS; i++) expect(Math.abs(cpu.rounds[i].val_loss - gpu.rounds[i].val_loss)).toBeLessThan(1e-3);
  });

  it('replica data seeds differ across replicas and rounds and are pure', () => {
    const seeds = new Set<bigint>();
    for (let r = 0; r < 4; r++) for (let round = 0; round < 4; round++) seeds.add(replicaDataSeed(7, r, round));
    expect(seeds.size).toBe(16);
    expect(replicaDataSeed(7, 1, 2)).toBe(replicaDataSeed(7, 1, 2));
    expect(replicaDataSeed(8, 1, 2)).not.toBe(replicaDataSeed(7, 1, 2));
  });
});
