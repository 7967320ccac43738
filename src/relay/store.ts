// RelayStore: everything the relay keeps across a crash, behind one small
// interface. The embedded default is FileRelayStore (plain files, fsync'd,
// one relay process). PostgresRelayStore (postgres-store.ts) keeps the
// records (run, state, rounds, submissions, ledger, evaluations) in
// PostgreSQL and the blobs (submission frames, checkpoints, round updates) in
// a BlobStore (a local directory or an S3-compatible bucket), so several relay
// replicas can serve one run.
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
//     CorruptStoreError rather than return damaged bytes;
//   - one round, one close: claimClose hands at most one live claim per round
//     across every process that shares the store, and putState with that
//     claim commits only if the claim still holds (a replica that lost its
//     claim, e.g. to a database restart and another replica's takeover,
//     commits nothing). An implementation may hold what a close writes before
//     its commit (rows of aggregate, checkpoint, scores, round record) and write it
//     in the commit itself; blobs are written at once (content-addressed, so
//     a repeated close writes the same objects);
//   - putSubmission is the arbiter of "one per address per round" and of
//     "the round is still open" across processes: it answers 'duplicate' or
//     'closed' instead of storing.
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

/** What putSubmission did. `count`: submissions stored for the round so far, by every process sharing the store. */
export type SubmissionWrite = { outcome: 'stored'; count: number } | { outcome: 'duplicate' } | { outcome: 'closed' };

/** The right to close one round (claimClose). */
export interface CloseClaim {
  readonly round: number;
  /** Gives the claim up (after the commit, after an extension, or when the close failed). Never throws. */
  release(): Promise<void>;
}

/** A change another process committed to a shared store (watch). */
export type StoreChange =
  | { kind: 'state'; state: RelayStateRecord }
  | { kind: 'evaluation'; evaluation: EvaluationRecord }
  /** Another process claimed the close of `round`: it takes no more submissions; watch that the close completes. */
  | { kind: 'closing'; round: number }
  /** Submissions stored for an open round by every process (so a quorum reached through several is noticed). */
  | { kind: 'submissions'; round: number; count: number }
  /** Changes may have been missed (the notification channel was down): read the state again. */
  | { kind: 'resync' };

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

/** putState with a claim another process has taken over (or that the store no longer knows). */
export class LostClaimError extends Error {
  constructor(round: number) {
    super(`the close of round ${round} is no longer this process's to commit`);
    this.name = 'LostClaimError';
  }
}

export interface RelayStore {
  getRun(): Promise<StoredRun | null>;
  putRun(run: StoredRun): Promise<void>;
  getState(): Promise<RelayStateRecord | null>;
  /**
   * The commit point (see the file header). With `claim`: a round close or
   * extension, committed only while the claim holds (else it throws
   * LostClaimError and writes nothing). Without: genesis only.
   */
  putState(state: RelayStateRecord, claim?: CloseClaim): Promise<void>;

  /**
   * Durable before it resolves 'stored': the relay acknowledges only after
   * this. The store keeps `verifiedBy` bound to the frame's bytes
   * (listSubmissions gives it back only for the very same frame, address,
   * round and time).
   */
  putSubmission(round: number, submission: StoredSubmission): Promise<SubmissionWrite>;
  /**
   * Records that a stored frame (checked again at a start, e.g. after the
   * checks got stricter) passed the checks of `verifiedBy`, so the next start
   * trusts it. Best effort: a store may keep the old record.
   */
  recordVerified(round: number, submission: StoredSubmission & { verifiedBy: number }): Promise<void>;
  /** How many submissions the store holds for `round` (every process's). */
  countSubmissions(round: number): Promise<number>;
  /** The round's stored submissions, except those of the addresses in `skip` (the caller holds them already). */
  listSubmissions(round: number, skip?: ReadonlySet<string>): Promise<StoredSubmission[]>;

  /**
   * The right to close `round`, or null when another process holds it or the
   * round is no longer open. Once claimed, putSubmission answers 'closed' for
   * the round, so the set of submissions the close reads is final.
   */
  claimClose(round: number): Promise<CloseClaim | null>;
  /** Calls back with changes other processes commit. Returns the unsubscribe function. */
  watch(listener: (change: StoreChange) => void): () => void;

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
  /** Every committed round record from round `fromRound` on (default 0), ascending by round. */
  listRoundRecords(fromRound?: number): Promise<RoundRecord[]>;

  /** Idempotent per version (replicas may both measure a version after a restart). */
  appendEvaluation(evaluation: EvaluationRecord): Promise<void>;
  listEvaluations(): Promise<EvaluationRecord[]>;

  /**
   * Where a tab may download θ(version) ('checkpoint') or the update that
   * made it ('update') straight from object storage, or null: the relay
   * serves it. Optional: stores without object storage leave it out.
   */
  downloadUrl?(object: 'checkpoint' | 'update', version: number): Promise<string | null>;

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
