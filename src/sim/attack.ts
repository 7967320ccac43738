// A swarm under attack, in one process: honest peers and adversaries submit
// SparseLoCo updates round after round, and the round closes exactly as the
// relay closes it — the same Gauntlet code (src/gauntlet/round.ts: plan,
// copy detection, evaluation in a worker thread with onnxruntime-web,
// decisions, weights), the same aggregation and outer step (aggregate.ts) —
// with Gauntlet on, or off (every submission aggregated, the relay before
// Gauntlet). What it leaves out of the relay is the network: no HTTP,
// signatures or storage.
//
// Peers, in arrival order (one class each, `--peers honest:6,noise:1,…`):
//   honest      H AdamW steps on its assigned batches (src/gauntlet/assigned-data.ts),
//               EF + top-k + 2-bit (the CPU reference compressor)
//   noise       a compressed uniform random vector of ±NOISE_AMPLITUDE: random directions
//   flip        trains honestly, then sends its update × −FLIP_SCALE (sign-flipped, scaled)
//   copycat     re-sends the payload bytes of the first honest peer, after it
//   free-rider  an all-zero update (valid bytes, no work)
//   wrong-data  trains honestly on batches assigned to an address outside the
//               swarm ("someone else's data")
//   sybil       a fresh key sending the negated previous aggregate × SYBIL_SCALE
//               plus its own noise: harmful, valid, and not a byte copy; several
//               of them form a Sybil swarm
// Each peer has its own sr25519 address (from the seed i + 1, like the tests'
// wallets), which fixes its data. θ(0) comes from --seed; the run seed is the
// relay's default. Data, evaluation batches and decisions are deterministic;
// the evaluation's timing is not part of any decision.
//
// Reported per round: the global model's validation loss, which classes were
// aggregated, evaluation figures per class; at the end, each class's share
// of the payout (the final vector, and everything paid over the run).
// With `probe`, every evaluated submission is also measured under other
// evaluation settings (trial scale, sequences per batch), which decide
// nothing: docs/results.md uses them to choose the defaults.
// Leaves out: the network, signatures, storage, late or missing submissions.
import { encodeAddress, sr25519PairFromSeed } from '@polkadot/util-crypto';
import { aggregateUpdates, applyAggregate, DEFAULT_OUTER_LEARNING_RATE, defaultAggregationOptions, type AggregationOptions } from '../compress/aggregate.ts';
import { decodePublishedAggregate, decodeUpdate, encodePublishedAggregate, encodeUpdate, type PublishedUpdateForm } from '../compress/codec.ts';
import { compress, decompress, DEFAULT_EF_BETA, defaultCompressConfig, type CompressConfig, type CompressedUpdate } from '../compress/sparseloco.ts';
import { WorkerEvaluator } from '../gauntlet/evaluator.ts';
import { updateOverlap } from '../gauntlet/overlap.ts';
import { evaluationJob, initialGauntletState, scoreRound, type RoundInput, type RoundSubmission } from '../gauntlet/round.ts';
import type { RoundPlan } from '../gauntlet/plan.ts';
import { dataIndicator, relativeImprovement } from '../gauntlet/scores.ts';
import type { GpuContext } from '../gpu/runtime.ts';
import type { GptConfig, TrainConfig } from '../model/config.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import { initGptParameters } from '../model/init.ts';
import { hashToHex, modelHash, payloadHash, SS58_PREFIX, type GauntletConfig, type HexHash, type WeightEntry } from '../protocol/index.ts';
import { samplerSeed } from '../protocol/index.ts';
import { CpuReplicaCompressor } from './compressor.ts';
import { createReplicaEngine, type SimEngineName } from './engine.ts';
import { manifestOf, simulationTrainConfig } from './simulate.ts';

export const PEER_CLASSES = ['honest', 'noise', 'flip', 'copycat', 'free-rider', 'wrong-data', 'sybil'] as const;
export type PeerClass = (typeof PEER_CLASSES)[number];

/** Amplitude of the noise attacker's uniform values: a few times an honest round's largest residual entries. */
export const NOISE_AMPLITUDE = 0.05;
/** The flipper sends −FLIP_SCALE × its honest update. */
export const FLIP_SCALE = 4;
/** A Sybil sends −SYBIL_SCALE × the previous aggregate (plus noise). */
export const SYBIL_SCALE = 10;
/** The relay's default run seed (src/relay/config.ts). */
const RUN_SEED: HexHash = `0x${'00'.repeat(31)}01`;
/** "Someone else": an address outside the swarm, whose assigned data the wrong-data peer trains on. */
const OUTSIDER_SEED = 1_000_000;

export interface ProbeSetting {
  trialScale: number;
  sequences: number;
}

export interface AttackSimulationOptions {
  /** Needed by the gpu engine. */
  ctx?: GpuContext;
  /** What the peers train on (engine.ts); default gpu, the engine tabs run. */
  engine?: SimEngineName;
  /** The run's aggregation rule over the selected submissions; default the relay's (defaultAggregationOptions). */
  aggregation?: AggregationOptions;
  /** α of the outer step θ ← θ − α·G (also scales Gauntlet's trial step); default the relay's. */
  outerLr?: number;
  /** The published update form the relay applies; default the relay's ('quantized', wire kind 3). */
  update?: PublishedUpdateForm;
  model: GptConfig;
  modelName?: string;
  /** Class of each peer, in arrival order. */
  peers: PeerClass[];
  inner: number; // H
  rounds: number;
  batch: number; // B
  seq: number; // T
  /** Seeds θ(0) and the noise of the adversaries. */
  seed: number;
  data: { train: Uint8Array; val: Uint8Array };
  gauntlet: GauntletConfig;
  train?: Partial<Omit<TrainConfig, 'batchSize' | 'seqLen'>>;
  evalBatches?: number;
  compress?: CompressConfig;
  /** Extra evaluation settings measured for every evaluated submission (they decide nothing). */
  probe?: ProbeSetting[];
  onRound?: (round: AttackRoundResult) => void;
}

export interface ClassFigures {
  peers: number;
  aggregated: number;
  evaluated: number;
  /** Mean s and own improvement o over this round's evaluated submissions of the class (null if none). */
  meanScore: number | null;
  positiveScore: number | null;
  indicatorPlus: number | null;
  weight: number;
}

export interface AttackRoundResult {
  round: number;
  val_loss: number;
  train_loss: number;
  aggregated: number;
  classes: Partial<Record<PeerClass, ClassFigures>>;
  /** Pairwise top-k overlap among honest peers this round: mean and max. */
  honest_overlap: { mean: number; max: number } | null;
  ms: number;
  eval_ms: number;
}

export interface ProbeFigures {
  setting: ProbeSetting;
  /** Per class: evaluated submissions, fraction with s > 0, with b = +1 (against the consensus step; and SPEC's o > s), mean s. */
  classes: Partial<Record<PeerClass, { n: number; positive: number; indicatorPlus: number; specIndicatorPlus: number; meanScore: number }>>;
}

export interface AttackSimulationResult {
  model: string;
  gauntlet: boolean;
  engine: 'cpu-reference' | 'gpu';
  aggregation: AggregationOptions;
  outer_lr: number;
  update: PublishedUpdateForm;
  peers: PeerClass[];
  inner: number;
  rounds_run: number;
  batch: number;
  seq: number;
  seed: number;
  initial_val_loss: number;
  final_val_loss: number;
  rounds: AttackRoundResult[];
  /** Per class: its share of the final payout vector, and of everything paid over the run. */
  payout: Partial<Record<PeerClass, { final: number; run: number }>>;
  probe: ProbeFigures[] | null;
  ms: number;
}

/** The address of simulated peer i (seed i + 1, as the relay tests' wallets). */
export function simulatedAddress(i: number): string {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(28, i + 1, false);
  return encodeAddress(sr25519PairFromSeed(seed).publicKey, SS58_PREFIX);
}

/** xorshift32 values in (−amplitude, amplitude) for the manifest's tensors. */
function noiseVector(size: number, seed: number, amplitude: number): Float32Array {
  const out = new Float32Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = ((x / 4294967296) * 2 - 1) * amplitude;
  }
  return out;
}

/** The update × factor, re-compressed: a 2-bit update cannot be negated code by code (its bins are not symmetric). */
function scaleUpdate(update: CompressedUpdate, factor: number, manifest: TensorManifest, size: number, compression: CompressConfig): CompressedUpdate {
  const dense = new Float32Array(size); // (layout.size)
  decompress(update, manifest).forEach((c, t) => {
    const base = manifest[t].offset;
    c.values.forEach((v, j) => (dense[base + (c.kind === 'dense' ? j : c.indices[j])] = v * factor));
  });
  return compress(dense, manifest, compression);
}

function classFigures(): ClassFigures {
  return { peers: 0, aggregated: 0, evaluated: 0, meanScore: null, positiveScore: null, indicatorPlus: null, weight: 0 };
}

export async function runAttackSimulation(options: AttackSimulationOptions): Promise<AttackSimulationResult> {
  const { ctx, peers, inner: H, rounds, batch: B, seq: T, seed, data, gauntlet } = options;
  if (peers.length < 1) throw new RangeError('at least one peer');
  const totalSteps = rounds * H;
  const train = simulationTrainConfig(options.model, totalSteps, B, T, options.train);
  const compression = options.compress ?? defaultCompressConfig;
  const evalBatches = options.evalBatches ?? 8;
  const started = performance.now();
  const { params: initial, layout } = initGptParameters(options.model, seed);
  const manifest = manifestOf(layout);
  const addresses = peers.map((_, i) => simulatedAddress(i));
  const outsider = simulatedAddress(OUTSIDER_SEED);
  const firstHonest = peers.indexOf('honest');
  if (peers.includes('copycat') && (firstHonest < 0 || firstHonest > peers.indexOf('copycat'))) {
    throw new RangeError('a copycat needs an honest peer that arrives before it');
  }
  const engine = await createReplicaEngine(options.engine ?? 'gpu', { model: options.model, train, totalSteps, data }, ctx);
  const aggregation = options.aggregation ?? defaultAggregationOptions;
  const outerLr = options.outerLr ?? DEFAULT_OUTER_LEARNING_RATE;
  const updateForm = options.update ?? 'quantized';
  const compressor = new CpuReplicaCompressor(manifest, compression, DEFAULT_EF_BETA);
  const evaluator = new WorkerEvaluator();
  try {
    const globalParams = initial.slice(); // (layout.size) θ
    const initialValLoss = await engine.evaluate(globalParams, evalBatches);
    let state = initialGauntletState();
    let previousAggregate: Float32Array | null = null; // (layout.size) G of the last round, dense
    const results: AttackRoundResult[] = [];
    const weightHistory: WeightEntry[][] = [];
    const probeTotals = (options.probe ?? []).map((setting) => ({ setting, classes: new Map<PeerClass, { n: number; positive: number; plus: number; specPlus: number; sum: number }>() }));

    for (let round = 0; round < rounds; round++) {
      const roundStart = performance.now();
      const submissions: RoundSubmission[] = [];
      const bytesOf: Uint8Array[] = [];
      let trainLoss = 0;
      let trainers = 0;
      for (let i = 0; i < peers.length; i++) {
        const kind = peers[i];
        let update: CompressedUpdate;
        let bytes: Uint8Array | null = null;
        if (kind === 'honest' || kind === 'flip' || kind === 'wrong-data') {
          const dataSeed = samplerSeed(RUN_SEED, kind === 'wrong-data' ? outsider : addresses[i], round);
          trainLoss += await engine.innerLoop(i, globalParams, dataSeed, round * H, H);
          trainers++;
          update = await compressor.compress(i, globalParams, engine);
          if (kind === 'flip') update = scaleUpdate(update, -FLIP_SCALE, manifest, layout.size, compression);
        } else if (kind === 'noise') {
          update = compress(noiseVector(layout.size, seed * 7919 + round * 104729 + i, NOISE_AMPLITUDE), manifest, compression);
        } else if (kind === 'free-rider') {
          update = compress(new Float32Array(layout.size), manifest, compression);
        } else if (kind === 'copycat') {
          bytes = bytesOf[firstHonest];
          update = submissions[firstHonest].update;
        } else {
          const residual = noiseVector(layout.size, seed * 31337 + round * 7 + i, NOISE_AMPLITUDE / 10);
          if (previousAggregate) for (let j = 0; j < residual.length; j++) residual[j] -= SYBIL_SCALE * previousAggregate[j];
          for (let j = 0; j < residual.length; j++) residual[j] = Math.max(-compression.maxAbsValue, Math.min(compression.maxAbsValue, residual[j]));
          update = compress(residual, manifest, compression);
        }
        bytes ??= encodeUpdate(update, manifest, compression);
        bytesOf.push(bytes);
        // The relay sees only bytes: score and aggregate what decodes, as it would.
        submissions.push({ address: addresses[i], payloadHash: hashToHex(payloadHash(bytes)), receivedAt: round * 1_000_000 + i, update: decodeUpdate(bytes, manifest, compression), steps: H });
      }

      const input: RoundInput = {
        config: gauntlet,
        runSeed: RUN_SEED,
        round,
        version: round,
        modelHash: hashToHex(modelHash(globalParams)),
        params: globalParams,
        model: options.model,
        manifest,
        compression,
        outerLearningRate: outerLr,
        innerSteps: H,
        batchSize: B,
        seqLen: T,
        data: data.train,
        submissions,
      };
      const evalStart = performance.now();
      const { decision, measurements } = await scoreRound(state, input, evaluator, 600_000);
      const evalMs = performance.now() - evalStart;
      if (probeTotals.length && gauntlet.enabled) await probeRound(input, measurements.plan, probeTotals, peers, addresses, evaluator);
      state = decision.state;
      weightHistory.push(decision.weights);

      const selected = submissions.filter((s) => decision.aggregated.includes(s.address));
      if (selected.length > 0) {
        // As the relay closes a round: the run's rule over the selected submissions with their tokens (all H·B·T here), then what the published bytes decode to.
        const tokens = H * B * T;
        const published = encodePublishedAggregate(
          aggregateUpdates(selected.map((s) => ({ id: s.address, update: s.update, tokens })), manifest, compression, aggregation),
          updateForm,
          manifest,
          compression,
        );
        const aggregate = decodePublishedAggregate(published, manifest, compression);
        const before = globalParams.slice();
        const skipped = applyAggregate(globalParams, aggregate, manifest, outerLr);
        if (skipped.length) throw new Error(`round ${round + 1}: aggregate skipped non-finite tensors ${skipped.join(', ')}`);
        previousAggregate = before;
        for (let j = 0; j < before.length; j++) previousAggregate[j] = before[j] - globalParams[j];
      }
      const valLoss = await engine.evaluate(globalParams, evalBatches);

      const classes: Partial<Record<PeerClass, ClassFigures>> = {};
      const sums = new Map<PeerClass, { score: number; positive: number; plus: number }>();
      const weightOf = new Map(decision.weights.map((w) => [w.address, w.weight]));
      decision.entries.forEach((entry) => {
        const kind = peers[addresses.indexOf(entry.address)];
        const c = (classes[kind] ??= classFigures());
        c.peers++;
        if (entry.aggregated) c.aggregated++;
        c.weight += weightOf.get(entry.address) ?? 0;
        if (entry.status === 'evaluated') {
          c.evaluated++;
          const sum = sums.get(kind) ?? { score: 0, positive: 0, plus: 0 };
          sum.score += entry.score;
          sum.positive += entry.score > 0 ? 1 : 0;
          sum.plus += entry.indicator > 0 ? 1 : 0;
          sums.set(kind, sum);
        }
      });
      for (const [kind, sum] of sums) {
        const c = classes[kind]!;
        c.meanScore = sum.score / c.evaluated;
        c.positiveScore = sum.positive / c.evaluated;
        c.indicatorPlus = sum.plus / c.evaluated;
      }
      const result: AttackRoundResult = {
        round: round + 1,
        val_loss: valLoss,
        train_loss: trainers ? trainLoss / trainers : NaN,
        aggregated: decision.aggregated.length,
        classes,
        honest_overlap: honestOverlap(submissions, peers, manifest, compression),
        ms: performance.now() - roundStart,
        eval_ms: evalMs,
      };
      results.push(result);
      options.onRound?.(result);
    }

    const payout: AttackSimulationResult['payout'] = {};
    const shareOf = (weights: WeightEntry[], kind: PeerClass) =>
      weights.reduce((sum, w) => sum + (peers[addresses.indexOf(w.address)] === kind ? w.weight : 0), 0);
    // `run`: the class's part of everything paid over the run (rounds that paid nobody count for nothing).
    const paid = weightHistory.reduce((sum, w) => sum + w.reduce((s, e) => s + e.weight, 0), 0);
    for (const kind of new Set(peers)) {
      const final = shareOf(weightHistory.at(-1) ?? [], kind);
      const run = paid > 0 ? weightHistory.reduce((sum, w) => sum + shareOf(w, kind), 0) / paid : 0;
      payout[kind] = { final, run };
    }
    return {
      model: options.modelName ?? `L${options.model.nLayer}-C${options.model.nEmbd}`,
      gauntlet: gauntlet.enabled,
      engine: engine.name,
      aggregation,
      outer_lr: outerLr,
      update: updateForm,
      peers,
      inner: H,
      rounds_run: rounds,
      batch: B,
      seq: T,
      seed,
      initial_val_loss: initialValLoss,
      final_val_loss: results.at(-1)?.val_loss ?? initialValLoss,
      rounds: results,
      payout,
      probe: probeTotals.length
        ? probeTotals.map((p) => ({
            setting: p.setting,
            classes: Object.fromEntries(
              [...p.classes].map(([kind, t]) => [kind, { n: t.n, positive: t.positive / t.n, indicatorPlus: t.plus / t.n, specIndicatorPlus: t.specPlus / t.n, meanScore: t.sum / t.n }]),
            ),
          }))
        : null,
      ms: performance.now() - started,
    };
  } finally {
    await evaluator.close();
    compressor.destroy();
    engine.destroy();
  }
}

/** Pairwise overlap among the honest peers' updates of one round. */
function honestOverlap(submissions: RoundSubmission[], peers: PeerClass[], manifest: TensorManifest, compression: CompressConfig) {
  const honest = submissions.filter((_, i) => peers[i] === 'honest');
  const values: number[] = [];
  for (let i = 0; i < honest.length; i++) for (let j = i + 1; j < honest.length; j++) values.push(updateOverlap(honest[i].update, honest[j].update, manifest, compression));
  if (values.length === 0) return null;
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
}

/** Measures this round's evaluated submissions under each probe setting (decides nothing). */
async function probeRound(
  input: RoundInput,
  plan: RoundPlan,
  totals: { setting: ProbeSetting; classes: Map<PeerClass, { n: number; positive: number; plus: number; specPlus: number; sum: number }> }[],
  peers: PeerClass[],
  addresses: string[],
  evaluator: WorkerEvaluator,
): Promise<void> {
  const evaluate = plan.evaluate;
  if (evaluate.length === 0) return;
  for (const total of totals) {
    const job = evaluationJob(input, evaluate, plan.seed, total.setting);
    for (const outcome of await evaluator.evaluate(job, 600_000)) {
      if (!('losses' in outcome)) continue;
      const l = outcome.losses;
      const s = relativeImprovement(l.lossBeforeRandom, l.lossAfterRandom);
      const o = relativeImprovement(l.lossBeforeOwn, l.lossAfterOwn);
      const sRef = relativeImprovement(l.lossBeforeRandom, l.lossReferenceRandom);
      const oRef = relativeImprovement(l.lossBeforeOwn, l.lossReferenceOwn);
      const kind = peers[addresses.indexOf(outcome.address)];
      const t = total.classes.get(kind) ?? { n: 0, positive: 0, plus: 0, specPlus: 0, sum: 0 };
      t.n++;
      t.positive += s > 0 ? 1 : 0;
      t.plus += dataIndicator(s, o, sRef, oRef) > 0 ? 1 : 0;
      t.specPlus += dataIndicator(s, o) > 0 ? 1 : 0;
      t.sum += s;
      total.classes.set(kind, t);
    }
  }
}

