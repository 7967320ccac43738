// The costly part of a submission's checks as one pure function of the frame's
// bytes, so it can run in a worker thread (submission-check-pool.ts) or inline:
//   1. decodeSubmission + verifySignedSubmission: sr25519 over
//      <Bytes>header</Bytes> (@polkadot/wasm-crypto), then the payload hash
//   2. the header's counts against the run (checkSubmissionCounts, in the
//      protocol: inner steps in the run's stepRange, exactly B·T tokens per step)
//   3. the codec's full decode of the payload (every check of the codec)
// `verified` says whether step 1 passed: the relay charges the address's
// rate limit only for frames its key really signed (relay.ts).
// A failure comes back as {error, code, message} of its typed error
// (ProtocolError, CodecError, RelayError), because an Error's class does not
// survive postMessage; checkFailureError rebuilds it, so the relay answers
// exactly as if it had run the step itself.
// Loaded in a worker through submission-check-worker.mjs (which registers tsx).
// Leaves out: every check that reads relay state (relay.ts runs those).
import { workerData } from 'node:worker_threads';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { CodecError, decodeUpdate, type CodecErrorCode } from '../compress/codec.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import type { CompressConfig, CompressedUpdate } from '../compress/sparseloco.ts';
import { checkSubmissionCounts, decodeSubmission, ProtocolError, verifySignedSubmission, type ProtocolErrorCode, type RelayErrorCode, type SwarmSpec } from '../protocol/index.ts';
import { RelayError } from './errors.ts';

/** What the checks need besides the frame: fixed for a relay's run, sent to each worker once. */
export interface CheckSettings {
  maxPayloadBytes: number;
  manifest: TensorManifest;
  compression: CompressConfig;
  /** The run's step range, B and T: what a header's counts must match. */
  swarm: Pick<SwarmSpec, 'train' | 'stepRange'>;
}

export type CheckFailure =
  | { error: 'protocol'; code: ProtocolErrorCode; message: string }
  | { error: 'codec'; code: CodecErrorCode; message: string; offset: number }
  | { error: 'relay'; code: RelayErrorCode; message: string };

export type CheckResult = { verified: false; failure: CheckFailure } | { verified: true; failure: CheckFailure } | { verified: true; update: CompressedUpdate };

function failureOf(error: unknown): CheckFailure {
  if (error instanceof ProtocolError) return { error: 'protocol', code: error.code, message: error.message };
  if (error instanceof CodecError) return { error: 'codec', code: error.code, message: error.message, offset: error.offset };
  if (error instanceof RelayError) return { error: 'relay', code: error.code, message: error.message };
  throw error;
}

export function checkSubmissionBytes(frame: Uint8Array, settings: CheckSettings): CheckResult {
  let submission;
  try {
    submission = decodeSubmission(frame, { maxPayloadBytes: settings.maxPayloadBytes });
    verifySignedSubmission(submission);
  } catch (error) {
    return { verified: false, failure: failureOf(error) };
  }
  try {
    checkSubmissionCounts(submission.header, settings.swarm);
    return { verified: true, update: decodeUpdate(submission.payload, settings.manifest, settings.compression) };
  } catch (error) {
    return { verified: true, failure: failureOf(error) };
  }
}

/** The typed error a failure stands for. */
export function checkFailureError(failure: CheckFailure): Error {
  if (failure.error === 'protocol') return new ProtocolError(failure.code, failure.message);
  if (failure.error === 'relay') return new RelayError(failure.code, failure.message);
  // CodecError appends " (byte n)" to its message; the worker's message has it already.
  const error = new CodecError(failure.code, '', failure.offset);
  error.message = failure.message;
  return error;
}

// A decoded update holds dozens of small typed arrays (nano: 66). Cloning
// them one by one through postMessage cost about as much as decoding them, so
// the worker copies them all into one ArrayBuffer and transfers it (no copy
// on the way back); the pool rebuilds views over it.

type ArrayKind = 'Uint8Array' | 'Uint32Array' | 'Float32Array';
const ARRAY_TYPES = { Uint8Array, Uint32Array, Float32Array };

/** A CompressedUpdate whose typed arrays are [kind, byteOffset, length] into `buffer`. */
export interface PackedUpdate {
  buffer: ArrayBuffer;
  chunkSize: number;
  topK: number;
  tensors: Record<string, number | string | [ArrayKind, number, number]>[];
}

export function packUpdate(update: CompressedUpdate): PackedUpdate {
  let bytes = 0;
  for (const tensor of update.tensors) for (const value of Object.values(tensor)) if (ArrayBuffer.isView(value)) bytes += Math.ceil(value.byteLength / 4) * 4;
  const buffer = new ArrayBuffer(bytes);
  let at = 0;
  const tensors = update.tensors.map((tensor) => {
    const out: PackedUpdate['tensors'][number] = {};
    for (const [field, value] of Object.entries(tensor)) {
      if (value instanceof Uint8Array || value instanceof Uint32Array || value instanceof Float32Array) {
        new Uint8Array(buffer, at, value.byteLength).set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        out[field] = [value.constructor.name as ArrayKind, at, value.length];
        at += Math.ceil(value.byteLength / 4) * 4; // every view starts 4-aligned
      } else out[field] = value as number | string;
    }
    return out;
  });
  return { buffer, chunkSize: update.chunkSize, topK: update.topK, tensors };
}

export function unpackUpdate(packed: PackedUpdate): CompressedUpdate {
  const tensors = packed.tensors.map((tensor) => {
    const out: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(tensor)) {
      out[field] = Array.isArray(value) ? new ARRAY_TYPES[value[0]](packed.buffer, value[1], value[2]) : value;
    }
    return out as CompressedUpdate['tensors'][number];
  });
  return { chunkSize: packed.chunkSize, topK: packed.topK, tensors };
}

/** What a worker sends back: the result, its update packed. */
export type WorkerCheckResult = Exclude<CheckResult, { update: CompressedUpdate }> | { verified: true; packed: PackedUpdate };

const ready = cryptoWaitReady();

/** The worker's task (piscina calls the default export): the settings came once, as workerData. */
export default async function checkInWorker(frame: Uint8Array): Promise<WorkerCheckResult | object> {
  await ready; // the wasm backend: sr25519 in wasm is ~10× the JavaScript path
  const result = checkSubmissionBytes(frame, workerData as CheckSettings);
  if ('failure' in result) return result;
  const answer: WorkerCheckResult = { verified: true, packed: packUpdate(result.update) };
  // piscina's transfer protocol: the value to send and what to move rather than copy.
  return move({ [transferableSymbol]: [answer.packed.buffer], [valueSymbol]: answer });
}
