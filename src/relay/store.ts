// RelayStore: everything the relay keeps across a crash, behind one small
// interface. The embedded default is FileRelayStore (plain files, fsync'd);
// a deployment past one machine would put blobs (checkpoints, aggregates,
// submission frames) in object storage and records (state, rounds, ledger)
// in a shared database behind the same methods.
//
// The contract every implementation keeps:
//   - a method resolves only once what it wrote survives power loss;
//   - a write is all or nothing: a reader sees the old value or the new one,
//     never part of one;
//   - putState is the commit point of a round close: whatever a close writes
//     before it (aggregate, checkpoint, Gauntlet's scores, ratings, weights
//     and signed receipt, round record) is invisible to the relay after a
//     restart unless the state that points at it was committed. Those writes
//     are deterministic functions of the stored submissions (and the Gauntlet
//     state of the previous round), so a restart that closes the round again
//     writes the same content (a receipt's signature differs: sr25519 signs
//     with fresh randomness; an uncommitted receipt was never served);
//   - getCheckpoint/getAggregate verify content hashes and throw
//     CorruptStoreError rather than return damaged bytes.
//
// Leaves out: in-memory caching (the relay keeps θ and the open round in memory).
import type { ExclusionReason, GauntletState, HexHash, WeightsFile } from '../protocol/index.ts';
import type { RunConfig } from './config.ts';

export const STORE_FORMAT = 1;

/** The run as created: its configuration and θ(0)'s hash. Written once. */
export interface StoredRun {
  format: number;
  config: RunConfig;
  genesisHash: HexHash;
  createdAt: number;
}

/** The open round and the model it trains from: the relay's one mutable record. */
export interface RelayStateRecord {
  format: number;
  round: number;
  version: number;
  modelHash: HexHash;
  openedAt: number;
  deadline: number;
}

/** One acknowledged submission: the exact signed frame and when the relay received it. */
export interface StoredSubmission {
  address: string;
  frame: Uint8Array;
  receivedAt: number;
  /**
   * The version of the relay's submission checks (relay.ts SUBMISSION_CHECKS)
   * this exact frame passed, as recorded when it was written; null when there
   * is no record, or the record does not match this frame, address, round and
   * time (a damaged or altered file): then every check runs again.
   */
  verifiedBy: number | null;
}

/** What the ledger keeps about one submission (the frame itself stays in the store as evidence). */
export interface SubmissionRecord {
  address: string;
  payloadHash: HexHash;
  payloadBytes: number;
  tokens: number;
  innerSteps: number;
  clientVersion: string;
  receivedAt: number;
}

/** A closed round: who went into which aggregate, and the model it produced. */
export interface RoundRecord {
  round: number;
  baseVersion: number;
  /** Version and modelHash after the outer step. */
  version: number;
  modelHash: HexHash;
  /** payloadHash (BLAKE2b-256) of the aggregate bytes, and their length. */
  aggregateHash: HexHash;
  aggregateBytes: number;
  reason: 'quorum' | 'deadline';
  openedAt: number;
  closedAt: number;
  /** Tensors whose aggregate was not finite and were left unchanged (SPEC §1.5). */
  skippedTensors: string[];
  /** Every accepted submission of the round. */
  submissions: SubmissionRecord[];
  /** Submissions Gauntlet kept out of the aggregate, and why (absent in records from before Gauntlet: all were aggregated). */
  excluded?: { address: string; reason: ExclusionReason }[];
}

/**
 * Gauntlet's outcome of one round (SPEC §2), written with the close it belongs
 * to, before the commit: the signed receipt, the payout vector and the
 * per-address state the next round starts from.
 */
export interface RoundScoresRecord {
  round: number;
  /** The receipt's canonical bytes and the relay key's signature, 0x hex (src/protocol/receipt.ts). */
  receipt: { bytes: `0x${string}`; signature: `0x${string}` };
  weights: WeightsFile;
  /** The Gauntlet state after the round (the input of round + 1). */
  state: GauntletState;
}

export interface StoredAggregate {
  /** The model version this aggregate produces. */
  version: number;
  /** modelHash of that version. */
  modelHash: HexHash;
  bytes: Uint8Array;
}

export interface EvaluationRecord {
  version: number;
  /** Mean cross-entropy (nats per byte) on the held-out windows. */
  loss: number;
  evaluatedAt: number;
}

/** A stored object failed its integrity check (bad magic, length or hash). */
export class CorruptStoreError extends Error {
  constructor(
    readonly what: string,
    message: string,
  ) {
    super(`${what}: ${message}`);
    this.name = 'CorruptStoreError';
  }
}

export interface RelayStore {
  getRun(): Promise<StoredRun | null>;
  putRun(run: StoredRun): Promise<void>;
  getState(): Promise<RelayStateRecord | null>;
  /** The commit point (see the file header). */
  putState(state: RelayStateRecord): Promise<void>;

  /**
   * Durable before it resolves: the relay acknowledges only after this. The
   * store keeps `verifiedBy` bound to the frame's bytes (listSubmissions gives
   * it back only for the very same frame, address, round and time).
   */
  putSubmission(round: number, submission: StoredSubmission): Promise<void>;
  listSubmissions(round: number): Promise<StoredSubmission[]>;

  /** θ(version), as little-endian float32 with its modelHash. */
  putCheckpoint(version: number, params: Float32Array, modelHash: HexHash): Promise<void>;
  /** Verified against the stored hash and, when given, the expected one. Null if absent. */
  getCheckpoint(version: number, expectedHash?: HexHash): Promise<Float32Array | null>;
  listCheckpoints(): Promise<number[]>;

  putAggregate(aggregate: StoredAggregate): Promise<void>;
  /** Verified against its stored content hash. Null if absent (never written or pruned). */
  getAggregate(version: number): Promise<StoredAggregate | null>;

  putRoundRecord(record: RoundRecord): Promise<void>;

  /** Gauntlet's outcome of a round; part of its close, before the commit. */
  putRoundScores(record: RoundScoresRecord): Promise<void>;
  /** Null for a round closed before Gauntlet, an open round, or a close that never committed (pruned). */
  getRoundScores(round: number): Promise<RoundScoresRecord | null>;
  /** Every stored round record, ascending by round. */
  listRoundRecords(): Promise<RoundRecord[]>;

  appendEvaluation(evaluation: EvaluationRecord): Promise<void>;
  listEvaluations(): Promise<EvaluationRecord[]>;

  /**
   * Deletes what no committed state refers to: leftovers of a close that
   * crashed before its commit (objects beyond `state`: aggregates,
   * checkpoints, round records and scores) and checkpoints older than the
   * newest `keepCheckpoints` before the current one — except θ(0), which
   * stays so anyone can rebuild any version from it and the aggregates.
   */
  prune(state: RelayStateRecord, keepCheckpoints: number): Promise<void>;
  close(): Promise<void>;
}
