// What the page and the training Worker say to each other: requests (page →
// Worker) and events (Worker → page) as discriminated unions on `kind`, with a
// `switch` on every receiving side that rejects unknown kinds (web-llm's
// message.ts style). Requests are validated field by field when they arrive:
// the Worker is a boundary, and a bad setting should fail loudly there.
//
// Why not comlink: comlink turns the Worker into RPC calls, but most of this
// traffic is a stream the Worker pushes (progress, steps, evaluations, errors)
// and the page only sends a handful of fire-and-forget commands. With comlink
// every stream would become a Comlink.proxy callback with its own lifetime to
// release, and the message shapes would hide behind method signatures. Plain
// postMessage with one typed union keeps each message visible, serializable
// (the events can be logged or replayed in tests), and transferable (snapshot
// parameters move without a copy).
//
// The tab's one GPUDevice lives in the Worker: 'probe' asks it to report the
// adapter ('device') and to run the GPU self-test ('self-test'); the page
// never touches WebGPU itself.
// Two modes share the controls (pause, throttle, stop, snapshot):
//   standalone  'start' with a TrainingSetup: the tab trains its own model;
//   swarm       'join' with a SwarmSetup: the tab runs the relay's round loop
//               (src/swarm/volunteer.ts). Signing happens where the wallet
//               lives, on the page (extension-dapp needs `window`): the Worker
//               asks with a 'sign-request' event and the page answers with a
//               'sign-result' request carrying the signature or the refusal.
// Leaves out: the round logic itself (src/swarm/, src/worker/swarm-run.ts).
import type { AdapterSummary } from '../gpu/device.ts';
import type { GpuErrorCode } from '../gpu/errors.ts';
import type { CompressionPath } from '../swarm/compressor.ts';
import { GPT_PRESETS, type GptConfig, type GptPresetName } from '../model/config.ts';
import { parsePushEvent, type PushEvent } from '../protocol/api.ts';

/** Why training is paused; training runs only while no reason holds. */
export type PauseReason = 'user' | 'hidden' | 'battery';
export const PAUSE_REASONS: readonly PauseReason[] = ['user', 'hidden', 'battery'];

export interface TrainingSetup {
  runId: string; // 'local' when training standalone (no relay); names the checkpoints
  preset: GptPresetName;
  batchSize: number; // B
  seqLen: number; // T ≤ blockSize
  seed: number; // data seed (safe integer) and, standalone, the init seed
  totalSteps: number; // LR schedule horizon (steps to the cosine floor)
  evalEvery: number; // steps between local validation evaluations; 0 = never
  checkpointEvery: number; // steps between checkpoints; 0 = never
  throttle: number; // share of time the GPU works, [0.1, 1]
  trainUrl: string; // absolute URL of the training bytes (the Worker resolves relative URLs against its own script)
  valUrl: string; // absolute URL of the validation bytes
}

/** What the Worker needs to join a relay's swarm; the run itself comes from the relay. */
export interface SwarmSetup {
  relayUrl: string; // absolute URL of the relay (the page's own origin)
  address: string; // SS58-42 account that signs this tab's submissions
  throttle: number; // share of time the GPU works, [0.1, 1]
  clientVersion: string; // printable ASCII, 1..64 bytes: signed into every header
}

export type { AdapterSummary, CompressionPath };

export type WorkerRequest =
  /** Report the tab's GPU ('device') and check its arithmetic ('self-test'); answered again when asked again. */
  | { kind: 'probe' }
  | { kind: 'start'; setup: TrainingSetup }
  | { kind: 'join'; setup: SwarmSetup }
  /** The page's answer to a 'sign-request': the wallet's signature, or why there is none. */
  | { kind: 'sign-result'; id: number; signature: string | null; error: string | null }
  /** A relay push event the page received: one WebSocket per tab, the Worker hears through the page. */
  | { kind: 'push'; event: PushEvent }
  | { kind: 'pause'; reason: PauseReason }
  | { kind: 'resume'; reason: PauseReason }
  | { kind: 'setThrottle'; throttle: number }
  | { kind: 'stop' }
  /** Ask for the current parameters (for sampling text on the page). */
  | { kind: 'snapshot' };

export type ProgressPhase =
  | 'acquiring-device'
  | 'downloading-data'
  | 'downloading-model' // relay mode: θ(v) from the relay
  | 'catching-up' // relay mode: applying missed aggregates
  | 'compiling-shaders'
  | 'allocating-model'
  | 'measuring-compression' // swarm, once per adapter and model: GPU or CPU compression, whichever is faster
  | 'restoring-checkpoint'
  | 'first-step'
  | 'delivering-outbox' // swarm: signed submissions a previous visit left unsent
  | 'signing' // swarm: waiting for the wallet
  | 'sending' // swarm: POSTing the update (retries with backoff while the round is open)
  | 'waiting-for-round'; // swarm: submitted; waiting for the other volunteers and the round's close

export const PHASE_LABELS: Record<ProgressPhase, string> = {
  'acquiring-device': 'Opening the GPU',
  'downloading-data': 'Downloading training text',
  'downloading-model': 'Downloading the current model',
  'catching-up': 'Catching up with the swarm',
  'compiling-shaders': 'Compiling GPU kernels',
  'allocating-model': 'Allocating the model on the GPU',
  'measuring-compression': 'Measuring whether this GPU or the CPU compresses faster',
  'restoring-checkpoint': 'Restoring the saved checkpoint',
  'first-step': 'Running the first training step',
  'delivering-outbox': 'Delivering submissions saved on an earlier visit',
  signing: 'Waiting for your wallet to sign this round\'s update',
  sending: 'Sending the update to the relay',
  'waiting-for-round': 'Waiting for the round to close',
};

export type TrainingState = 'preparing' | 'training' | 'paused' | 'stopped' | 'failed';

export type WorkerErrorCode = GpuErrorCode | 'data-unavailable' | 'diverged' | 'storage' | 'bad-request' | 'relay' | 'busy' | 'internal';

/** What happened to this tab's submission of one round (swarm mode). */
export type RoundPhase =
  | 'trained' // H inner steps done; compressing and signing next
  | 'sending' // signed and saved in the outbox; POSTing
  | 'retrying' // the relay was unreachable or busy; the outbox retries with backoff
  | 'acknowledged' // the relay stored it (or already had it: a replay answered 'duplicate')
  | 'refused' // not taken (the relay's code, or 'signer-refused'): its update went back into the residual
  | 'closed'; // the round closed and this tab applied its aggregate

/** How this tab compresses its updates (swarm mode) and why. */
export interface CompressionChoice {
  path: CompressionPath; // what runs
  reason: string; // the measurement (or the failure) behind it, in words
  gpuMs: number | null; // measured ms per round on each path; null where not measured or the GPU failed
  cpuMs: number | null;
}

/** The self-test's verdict: the GPU's matmul forward and backward against the plain-TypeScript reference. */
export interface SelfTestResult {
  ok: boolean;
  checks: { name: string; maxAbsError: number; ok: boolean }[];
  ms: number;
}

export type WorkerEvent =
  | { kind: 'progress'; phase: ProgressPhase; fraction: number | null; detail: string | null; at: number }
  /** The tab's GPU: its adapter, or why there is none (problem). Sent on every acquisition and every 'probe'. */
  | { kind: 'device'; adapter: AdapterSummary | null; problem: { code: WorkerErrorCode; message: string; advice: string } | null }
  /** The GPU self-test on the tab's device; error when it could not run. */
  | { kind: 'self-test'; result: SelfTestResult | null; error: string | null }
  | {
      kind: 'ready';
      adapter: AdapterSummary;
      preset: GptPresetName;
      config: GptConfig;
      parameterCount: number; // P
      batchSize: number; // B
      seqLen: number; // T
      flopsPerStep: number; // estimated forward + backward FLOPs of one step
      resumedFromStep: number | null; // global step of the restored checkpoint, null for a fresh model
      mode: 'standalone' | 'swarm';
      runId: string;
      resumedFromVersion: number | null; // swarm: global model version of the restored checkpoint
      compression: CompressionChoice | null; // swarm: GPU or CPU compression; null standalone
    }
  | { kind: 'status'; state: TrainingState; pausedFor: PauseReason[]; throttle: number }
  | { kind: 'step'; step: number; loss: number; lr: number; tokens: number; ms: number; flops: number; at: number }
  | { kind: 'evaluation'; step: number; loss: number } // local validation loss (not the swarm's)
  | { kind: 'checkpoint'; step: number; bytes: number; ms: number }
  | {
      kind: 'round';
      phase: RoundPhase;
      round: number;
      frameBytes: number | null; // bytes POSTed (header + signature + payload)
      payloadBytes: number | null; // the compressed update alone
      denseBytes: number | null; // 4·P: what a dense float32 update would have been
      version: number | null; // 'closed': the global model version the round produced
      code: string | null; // 'refused' / 'retrying': the reason's code
      message: string | null;
    }
  /**
   * Swarm, after each round: its steps and tokens, the share of the round's
   * wall time the GPU was given work (busyShare, 0..1), and the round's
   * tokens over that wall time (the actual average, pauses and waits included).
   */
  | { kind: 'round-work'; round: number; steps: number; tokens: number; busyShare: number; tokensPerSecond: number }
  /** Swarm: the tab's copy of the global model changed (downloaded, caught up, applied, or restored). */
  | { kind: 'model'; version: number; modelHash: `0x${string}`; via: 'checkpoint' | 'updates' | 'saved' }
  /** Swarm: please have the wallet sign `data` (hex of the header bytes) for `address`; answer with 'sign-result'. */
  | { kind: 'sign-request'; id: number; address: string; data: string; round: number }
  | { kind: 'snapshot'; step: number; preset: GptPresetName; config: GptConfig; params: Float32Array }
  | { kind: 'error'; code: WorkerErrorCode; message: string; advice: string; fatal: boolean; canRestart: boolean };

export type WorkerEventKind = WorkerEvent['kind'];

/**
 * When something happened, in ms since the epoch on the high-resolution clock
 * (timeOrigin + now()): comparable between the Worker and the page, so the
 * page can place the Worker's phases on its own timeline (performance marks)
 * whatever the delay before it reads the message.
 */
export function eventTime(): number {
  return performance.timeOrigin + performance.now();
}

/** A request the Worker could not accept; the Worker answers with an 'error' event of code 'bad-request'. */
export class WorkerMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerMessageError';
  }
}

type Fields = Record<string, unknown>;

function fields(value: unknown, path: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WorkerMessageError(`${path}: expected an object`);
  return value as Fields;
}

function integer(o: Fields, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new WorkerMessageError(`setup.${key}: expected an integer in ${min}..${max}, got ${String(v)}`);
  return v;
}

function url(o: Fields, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !/^(https?|blob|data):/.test(v)) throw new WorkerMessageError(`setup.${key}: expected an absolute URL, got ${String(v)}`);
  return v;
}

export function parseThrottle(value: unknown, path = 'throttle'): number {
  if (typeof value !== 'number' || !(value >= 0.1 && value <= 1)) throw new WorkerMessageError(`${path}: expected a number in [0.1, 1], got ${String(value)}`);
  return value;
}

function pauseReason(value: unknown): PauseReason {
  if (!PAUSE_REASONS.includes(value as PauseReason)) throw new WorkerMessageError(`reason: expected one of ${PAUSE_REASONS.join(', ')}, got ${String(value)}`);
  return value as PauseReason;
}

export function parseTrainingSetup(value: unknown): TrainingSetup {
  const o = fields(value, 'setup');
  const preset = o.preset as GptPresetName;
  if (typeof preset !== 'string' || !Object.hasOwn(GPT_PRESETS, preset)) {
    throw new WorkerMessageError(`setup.preset: expected one of ${Object.keys(GPT_PRESETS).join(', ')}, got ${String(preset)}`);
  }
  const runId = o.runId;
  if (typeof runId !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(runId)) throw new WorkerMessageError(`setup.runId: expected 1..64 characters of [A-Za-z0-9._:-]`);
  return {
    runId,
    preset,
    batchSize: integer(o, 'batchSize', 1, 512),
    seqLen: integer(o, 'seqLen', 1, GPT_PRESETS[preset].blockSize),
    seed: integer(o, 'seed', 0),
    totalSteps: integer(o, 'totalSteps', 1),
    evalEvery: integer(o, 'evalEvery', 0),
    checkpointEvery: integer(o, 'checkpointEvery', 0),
    throttle: parseThrottle(o.throttle, 'setup.throttle'),
    trainUrl: url(o, 'trainUrl'),
    valUrl: url(o, 'valUrl'),
  };
}

export function parseSwarmSetup(value: unknown): SwarmSetup {
  const o = fields(value, 'setup');
  const relayUrl = url(o, 'relayUrl');
  if (!/^https?:/.test(relayUrl)) throw new WorkerMessageError(`setup.relayUrl: expected an http(s) URL, got ${relayUrl}`);
  const address = o.address;
  if (typeof address !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{46,48}$/.test(address)) throw new WorkerMessageError(`setup.address: expected an SS58 address, got ${String(address)}`);
  const clientVersion = o.clientVersion;
  if (typeof clientVersion !== 'string' || !/^[\x20-\x7e]{1,64}$/.test(clientVersion)) throw new WorkerMessageError('setup.clientVersion: expected 1..64 printable ASCII characters');
  return { relayUrl, address, clientVersion, throttle: parseThrottle(o.throttle, 'setup.throttle') };
}

function signResult(o: Fields): Extract<WorkerRequest, { kind: 'sign-result' }> {
  const id = o.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new WorkerMessageError(`sign-result.id: expected a positive integer, got ${String(id)}`);
  const signature = o.signature ?? null;
  const error = o.error ?? null;
  if (signature !== null && (typeof signature !== 'string' || !/^0x[0-9a-fA-F]+$/.test(signature))) throw new WorkerMessageError('sign-result.signature: expected 0x hex or null');
  if (error !== null && typeof error !== 'string') throw new WorkerMessageError('sign-result.error: expected a string or null');
  if ((signature === null) === (error === null)) throw new WorkerMessageError('sign-result: expected exactly one of signature and error');
  return { kind: 'sign-result', id, signature, error };
}

/** Validates a message that arrived at the Worker; unknown kinds are refused. */
export function parseWorkerRequest(data: unknown): WorkerRequest {
  const o = fields(data, 'request');
  const kind = o.kind as WorkerRequest['kind'];
  switch (kind) {
    case 'start':
      return { kind, setup: parseTrainingSetup(o.setup) };
    case 'join':
      return { kind, setup: parseSwarmSetup(o.setup) };
    case 'sign-result':
      return signResult(o);
    case 'push':
      try {
        return { kind, event: parsePushEvent(o.event) };
      } catch (error) {
        throw new WorkerMessageError(`push.event: ${(error as Error).message}`);
      }
    case 'pause':
    case 'resume':
      return { kind, reason: pauseReason(o.reason) };
    case 'setThrottle':
      return { kind, throttle: parseThrottle(o.throttle) };
    case 'probe':
    case 'stop':
    case 'snapshot':
      return { kind };
    default:
      throw new WorkerMessageError(`unknown request kind ${JSON.stringify(kind)}`);
  }
}

/** Checks that a message from the Worker is an event of a known kind (the page's side of the switch). */
export function parseWorkerEvent(data: unknown): WorkerEvent {
  const o = fields(data, 'event');
  const kind = o.kind as WorkerEventKind;
  switch (kind) {
    case 'progress':
    case 'device':
    case 'self-test':
    case 'ready':
    case 'status':
    case 'step':
    case 'evaluation':
    case 'checkpoint':
    case 'round':
    case 'round-work':
    case 'model':
    case 'sign-request':
    case 'snapshot':
    case 'error':
      // Events come from our own Worker bundle; their fields are typed at the source.
      return o as unknown as WorkerEvent;
    default:
      throw new WorkerMessageError(`unknown event kind ${JSON.stringify(kind)}`);
  }
}
