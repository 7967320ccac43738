// What a volunteer needs to know about a run beyond RunInfo, and the one
// check that a run is one a tab can complete. The relay builds the spec
// (src/relay/config.ts) and runs parseSwarmSpec over it when it starts; every
// tab runs the same parser on GET /api/run before it joins. So a run no tab
// could complete (H = 0, an odd top-k, a sequence longer than the model's
// context, a batch no accepted GPU can hold) is refused where the operator
// typed it, not after the tabs have trained. Plain TypeScript: no Node, no DOM.
//
// GET /api/run answers a RunInfo (api.ts) with one more member, `swarm`
// (RunInfo's parser ignores unknown members, so older tabs still parse it):
// the model shape, the inner-loop settings, the compression config, β (error
// feedback), α (outer step), the run seed, the training data, the range of
// inner steps a submission may report, and how the relay aggregates.
//
// Time-boxed rounds: a tab trains until the round's training deadline, so it
// reports any count of inner steps in stepRange [min, max] (RunInfo.innerSteps,
// H, is the nominal count, min ≤ H ≤ max), and exactly steps·B·T tokens
// (tokensForSteps). Step i of a round from model version v runs at the
// learning rate of schedule step v·H + min(i, H − 1) (train/schedule.ts
// roundScheduleStep): every tab's rate is defined whatever it manages.
//
// The rules themselves live with what they protect — validateGptConfig and
// validateTrainConfig (model/config.ts), checkCompressConfig
// (compress/sparseloco.ts), the adapter floors (gpu/device.ts) — and are
// called from here, so they are written once.
//
// Leaves out: how the relay picks these values (src/relay/config.ts) and HTTP.
import { checkCompressConfig, CompressConfigError, ONE_DIM_POLICIES, type CompressConfig } from '../compress/sparseloco.ts';
import { AGGREGATION_RULES, type AggregationOptions } from '../compress/aggregate.ts';
import { PUBLISHED_UPDATE_FORMS, type PublishedUpdateForm } from '../compress/codec.ts';
import { TRAINING_LIMIT_FLOORS } from '../gpu/device.ts';
import { ConfigError, GPT_PRESET_NAMES, validateGptConfig, validateTrainConfig, type GptConfig, type GptPresetName } from '../model/config.ts';
import { ProtocolError } from './errors.ts';
import type { HexHash } from './header.ts';
import { count, finite, hexHash, object, oneOf, text, type JsonObject } from './json.ts';

/** Inner-loop settings every volunteer of the run uses (TrainConfig plus the schedule's length). */
export interface SwarmTrainSpec {
  batchSize: number; // B
  seqLen: number; // T
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  warmupSteps: number;
  minLrFraction: number;
  gradClip: number;
  /** Global step at which the cosine schedule reaches its floor (rounds planned × H). */
  totalSteps: number;
}

export interface SwarmSpec {
  /** Model preset name and its exact shape (a tab checks its layout against RunInfo.model.parameterCount). */
  model: GptConfig & { preset: GptPresetName };
  train: SwarmTrainSpec;
  compression: CompressConfig;
  /** β of the error feedback, SPEC §1 step 3. */
  errorFeedbackBeta: number;
  /** α of the outer step θ ← θ − α·G, SPEC §1 step 7. */
  outerLearningRate: number;
  /** The run-wide data seed: a peer's batches come from deriveDataSeed(runSeed, address, round). */
  runSeed: HexHash;
  /** Training bytes: where a tab fetches them, and what they must hash to. */
  data: { name: string; trainUrl: string; trainBytes: number; trainSha256: string };
  /** Submissions that close a round before its deadline. */
  quorum: number;
  /** Inner steps a submission may report: min ≤ H ≤ max (time-boxed rounds; see the file header). */
  stepRange: StepRange;
  /** The rule and token weighting the relay aggregates with (compress/aggregate.ts). */
  aggregation: AggregationOptions;
  /**
   * How the relay publishes each round's aggregate: 'quantized' (2-bit, wire
   * kind 3) or 'float' (kind 2). Both relay and tabs apply what the published
   * bytes decode to; a tab reads either kind.
   */
  update: PublishedUpdateForm;
}

export interface StepRange {
  min: number;
  max: number;
}

/** Largest max/H a run may set: a fast tab's round stays within 64 nominal rounds of work. */
export const MAX_STEPS_PER_NOMINAL = 64;

/** Tokens a submission of `steps` inner steps reports: one batch of B sequences of T bytes per step. */
export function tokensForSteps(spec: Pick<SwarmSpec, 'train'>, steps: number): number {
  return steps * spec.train.batchSize * spec.train.seqLen;
}

/**
 * A header's counts against the run: innerSteps within stepRange
 * ('steps-out-of-range') and tokens exactly innerSteps·B·T ('tokens-mismatch').
 * The relay refuses a submission that breaks either; a tab checks its own.
 */
export function checkSubmissionCounts(header: { innerSteps: number; tokens: number }, spec: Pick<SwarmSpec, 'train' | 'stepRange'>): void {
  const { min, max } = spec.stepRange;
  if (!(header.innerSteps >= min && header.innerSteps <= max)) {
    throw new ProtocolError('steps-out-of-range', `the header reports ${header.innerSteps} inner steps; this run accepts ${min === max ? min : `${min}..${max}`}`);
  }
  const tokens = tokensForSteps(spec, header.innerSteps);
  if (header.tokens !== tokens) {
    throw new ProtocolError(
      'tokens-mismatch',
      `the header reports ${header.tokens} tokens; ${header.innerSteps} steps of B·T = ${spec.train.batchSize}·${spec.train.seqLen} are ${tokens}`,
    );
  }
}

const PRINTABLE = /^[\x20-\x7e]+$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Runs a validator of a config object; its ConfigError/CompressConfigError becomes 'bad-message' naming the field. */
function checked(path: string, validate: () => void): void {
  try {
    validate();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CompressConfigError) {
      const field = `${path}.${error.field}`;
      throw new ProtocolError('bad-message', `${field}: ${error.message}`, { field, cause: error });
    }
    throw error;
  }
}

function parseModel(o: JsonObject, path: string): SwarmSpec['model'] {
  const model = {
    preset: oneOf(o, 'preset', path, GPT_PRESET_NAMES),
    vocabSize: count(o, 'vocabSize', path, 1),
    blockSize: count(o, 'blockSize', path, 1),
    nLayer: count(o, 'nLayer', path, 1),
    nHead: count(o, 'nHead', path, 1),
    nEmbd: count(o, 'nEmbd', path, 1),
  };
  checked(path, () => validateGptConfig(gptConfigOf({ model })));
  return model;
}

function parseTrain(o: JsonObject, path: string, model: GptConfig): SwarmTrainSpec {
  const train = {
    batchSize: count(o, 'batchSize', path, 1),
    seqLen: count(o, 'seqLen', path, 1),
    learningRate: finite(o, 'learningRate', path, 0, 1),
    beta1: finite(o, 'beta1', path, 0, 1),
    beta2: finite(o, 'beta2', path, 0, 1),
    eps: finite(o, 'eps', path, 0, 1),
    weightDecay: finite(o, 'weightDecay', path, 0, 10),
    warmupSteps: count(o, 'warmupSteps', path),
    minLrFraction: finite(o, 'minLrFraction', path, 0, 1),
    gradClip: finite(o, 'gradClip', path, 0),
    totalSteps: count(o, 'totalSteps', path),
  };
  // Any volunteer may join, so the batch must fit the smallest GPU the runtime accepts.
  checked(path, () => validateTrainConfig(train, model, TRAINING_LIMIT_FLOORS.maxStorageBufferBindingSize));
  return train;
}

function parseCompression(o: JsonObject, path: string): CompressConfig {
  const compression = {
    chunkSize: count(o, 'chunkSize', path, 1),
    topK: count(o, 'topK', path, 1),
    oneDimPolicy: oneOf(o, 'oneDimPolicy', path, ONE_DIM_POLICIES),
    maxAbsValue: finite(o, 'maxAbsValue', path, 0),
  };
  checked(path, () => checkCompressConfig(compression));
  return compression;
}

/**
 * The `swarm` member of GET /api/run: strict on every field a volunteer
 * uses (unknown members are ignored), and refused unless a tab can run it.
 */
export function parseSwarmSpec(json: unknown, path = 'run.swarm'): SwarmSpec {
  const s = object(json, path);
  const model = parseModel(object(s.model, `${path}.model`), `${path}.model`);
  const train = parseTrain(object(s.train, `${path}.train`), `${path}.train`, model);
  const data = object(s.data, `${path}.data`);
  const trainBytes = count(data, 'trainBytes', `${path}.data`, 1);
  // Every training window is T + 1 bytes (inputs and next-byte targets).
  if (trainBytes < train.seqLen + 1) {
    const field = `${path}.train.seqLen`;
    throw new ProtocolError('bad-message', `${field}: windows of ${train.seqLen + 1} bytes do not fit the ${trainBytes} training bytes`, { field });
  }
  return {
    model,
    train,
    compression: parseCompression(object(s.compression, `${path}.compression`), `${path}.compression`),
    errorFeedbackBeta: finite(s, 'errorFeedbackBeta', path, 0, 1),
    outerLearningRate: finite(s, 'outerLearningRate', path, 0, 10),
    runSeed: hexHash(s, 'runSeed', path),
    data: {
      name: text(data, 'name', `${path}.data`, 256, PRINTABLE),
      trainUrl: text(data, 'trainUrl', `${path}.data`, 256, PRINTABLE),
      trainBytes,
      trainSha256: text(data, 'trainSha256', `${path}.data`, 64, SHA256_HEX),
    },
    quorum: count(s, 'quorum', path, 1),
    stepRange: parseStepRange(object(s.stepRange, `${path}.stepRange`), `${path}.stepRange`),
    aggregation: parseAggregation(object(s.aggregation, `${path}.aggregation`), `${path}.aggregation`),
    update: oneOf(s, 'update', path, PUBLISHED_UPDATE_FORMS),
  };
}

function parseStepRange(o: JsonObject, path: string): StepRange {
  const min = count(o, 'min', path, 1);
  const max = count(o, 'max', path, 1);
  if (max < min) throw new ProtocolError('bad-message', `${path}.max: ${max} is below min ${min}`, { field: `${path}.max` });
  return { min, max };
}

function parseAggregation(o: JsonObject, path: string): AggregationOptions {
  return { rule: oneOf(o, 'rule', path, AGGREGATION_RULES), tokenCap: finite(o, 'tokenCap', path, 1, 1e6) };
}

/**
 * H against the step range: min ≤ H ≤ max ≤ 64·H, so the nominal round is a
 * round a tab may submit and the schedule's hold (roundScheduleStep) covers a
 * bounded stretch. Throws ProtocolError('bad-message') naming the field.
 */
export function checkStepRange(innerSteps: number, range: StepRange, path = 'run.swarm.stepRange'): void {
  const refuse = (field: string, why: string): never => {
    throw new ProtocolError('bad-message', `${path}.${field}: ${why}`, { field: `${path}.${field}` });
  };
  if (range.min > innerSteps) refuse('min', `${range.min} exceeds the nominal inner steps H = ${innerSteps}`);
  if (range.max < innerSteps) refuse('max', `${range.max} is below the nominal inner steps H = ${innerSteps}`);
  if (range.max > MAX_STEPS_PER_NOMINAL * innerSteps) refuse('max', `${range.max} exceeds ${MAX_STEPS_PER_NOMINAL}·H = ${MAX_STEPS_PER_NOMINAL * innerSteps}`);
}

/** The model shape alone (validateGptConfig refuses extra members such as `preset`). */
export function gptConfigOf(spec: Pick<SwarmSpec, 'model'>): GptConfig {
  const { vocabSize, blockSize, nLayer, nHead, nEmbd } = spec.model;
  return { vocabSize, blockSize, nLayer, nHead, nEmbd };
}
