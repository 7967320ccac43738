// The relay's state and its round lifecycle, in one object (y-webrtc's server
// style): the current model θ(v), the open round with its acknowledged
// submissions, the ledger, and the listeners that get push events. The HTTP
// and WebSocket plumbing lives in server.ts; this file knows nothing of it.
//
// Lifecycle of round r (trains from θ(v)):
//   open     state.json says {round r, version v, deadline}; the timer is set
//   collect  submit(): checks (below), durable write, then the acknowledgement
//   close    on `quorum` acknowledged submissions, or at the deadline with at
//            least `minSubmissions` (fewer: the deadline moves by roundMs)
//   score    Gauntlet (src/gauntlet/round.ts): evaluate a bounded draw of the
//            submissions in a worker thread (with a deadline), rate, detect
//            copies, penalise, select the top G, compute the payout vector
//   aggregate  aggregateUpdates over the selected submissions (ids =
//            addresses, so the result does not depend on arrival order),
//            with the run's rule and token weights (each header's tokens);
//            an empty selection makes an empty aggregate (θ unchanged)
//   publish  G in the run's update form (2-bit by default: codec.ts
//            encodePublishedAggregate); the bytes are what tabs download
//   outer step θ(v+1) = θ(v) − α·Ĝ, Ĝ = what those bytes decode to, exactly
//            what every tab applies (applyAggregate, on a copy: θ(v) may
//            still be streaming to a client)
//   persist  aggregate, checkpoint, scores (signed receipt, weights, Gauntlet
//            state), round record, then state.json {r+1, v+1}: the commit
//            point (store.ts)
//   publish  round-closed, round-opened, stats to every listener; then the
//            held-out loss of θ(v+1) is measured in the background
//
// Checks on a submission, cheapest first, each a typed error (errors.ts), in
// one pipeline that a new POST and a frame restored from the store both pass.
// Before it, the server has applied the per-IP submission rate and the
// uploads-in-flight limits, before reading the body (server.ts). On the event
// loop (checkFrame): frame and header (decodeSubmission: truncation, size,
// trailing bytes, header fields, SS58 prefix) → allowlist* → run, round, base
// version and hash (checkHeaderForRound) → deadline* → one per address per
// round*; then per-address rate limit* (refused at once if the address has no
// token left). In the checker's worker threads (submission-check-worker.ts):
// sr25519 signature over <Bytes>header</Bytes> and payload hash
// (verifySignedSubmission) → inner steps within the run's stepRange and
// tokens = steps·B·T (checkSubmissionCounts, in the protocol) → codec decode
// (every tensor, indices, finiteness, bounds); a frame whose signature verified spends one token of its address.
// (* a new POST only: these judge the request, not the bytes.) Then the
// durable write (the store answers 'duplicate' or 'closed' for another relay's
// copy or a round another relay is closing) and the acknowledgement. Nothing
// before the write changes any state; a refusal leaves the relay as it was.
//
// Relays sharing a store (PostgreSQL): exactly one closes a round (the store's
// claim); the others learn of the commit through watch() and follow it
// (applyCommittedState): load the new checkpoint, round records and
// Gauntlet's scores, switch, tell their push clients.
//
// Leaves out: sharding the aggregation across processes (the evaluation
// jobs can run in scoring workers: launch.ts, queued-gauntlet-evaluator.ts).
import { u8aToHex } from '@polkadot/util';
import { aggregateUpdates, applyAggregate, emptyAggregate } from '../compress/aggregate.ts';
import { decodePublishedAggregate, decodeUpdate, encodePublishedAggregate } from '../compress/codec.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import type { CompressedUpdate } from '../compress/sparseloco.ts';
import { buildLayout, type ParameterLayout } from '../model/layout.ts';
import { initGptParameters } from '../model/init.ts';
import { gauntletConfigWith } from '../gauntlet/config.ts';
import type { GauntletEvaluator } from '../gauntlet/evaluator.ts';
import { initialGauntletState, scoreRound, type RoundSubmission } from '../gauntlet/round.ts';
import {
  MAX_RECENT_SUBMISSIONS,
  checkHeaderForRound,
  encodeReceipt,
  encodeRoundArchive,
  receiptSigningBytes,
  stateHash,
  weightsHash,
  type ExclusionReason,
  type GauntletRunInfo,
  type GauntletState,
  type Scoreboard,
  type Receipt,
  type SignedReceiptBody,
  type WeightsFile,
  decodeSubmission,
  encodeBundle,
  hashToHex,
  hexToHash,
  modelHash,
  payloadHash,
  ProtocolError,
  type AddressLedger,
  type HexHash,
  type LeaderboardRow,
  type LedgerEntry,
  type PushEvent,
  type RoundState,
  type RoundStatus,
  type RoundSummary,
  type StatsBody,
  type StatsEvent,
  type Submission,
  type SubmissionAck,
  type RelayRunInfo,
} from '../protocol/index.ts';
import { runInfoFor, type RelayOptions, type RunConfig } from './config.ts';
import { RelayError } from './errors.ts';
import type { Evaluator } from './evaluator.ts';
import { failpoint } from './failpoint.ts';
import { silentLogger, type Logger } from './log.ts';
import { RelayMetrics } from './metrics.ts';
import { RateLimiter } from './rate-limit.ts';
import type { ReceiptSigner } from './relay-key.ts';
import {
  LostClaimError,
  STORE_FORMAT,
  type CloseClaim,
  type EvaluationRecord,
  type RelayStateRecord,
  type RelayStore,
  type RoundRecord,
  type RoundScoresRecord,
  type StoredSubmission,
  type StoreChange,
  type SubmissionRecord,
} from './store.ts';
import { InlineSubmissionChecker, SubmissionCheckPool, type SubmissionChecker } from './submission-check-pool.ts';
import { checkFailureError } from './submission-check-worker.ts';

/**
 * Version of the checks submit() runs (signature, payload hash, codec, counts).
 * A stored frame recorded as verified under this version is not verified again
 * at a restart; bump it whenever a check gets stricter, so frames accepted by
 * an older relay are checked once more under the new rules.
 */
export const SUBMISSION_CHECKS = 2;

/** How long a failed close waits before it tries again (storage trouble, e.g. a full disk). */
const CLOSE_RETRY_MS = 5_000;
/** Closed-round summaries kept in memory for /api/stats. */
const HISTORY_LENGTH = 500;

interface Accepted {
  record: SubmissionRecord;
  payload: Uint8Array;
  /** Null for a frame restored from its verification record: decoded in the background (decodeRestored), before any close. */
  update: CompressedUpdate | null;
}

/** What the last restart did with the open round's stored frames. */
export interface RestoreCounts {
  /** Trusted by their verification record (same bytes, round, address): no signature check, decoded later. */
  fromRecord: number;
  /** Checked in full now (no record, an older checks version, or a record that no longer matches), then recorded. */
  checkedNow: number;
  /** Failed their checks (a damaged or altered file): ignored and logged. */
  refused: number;
}

interface OpenRound {
  round: number;
  version: number;
  modelHash: HexHash;
  openedAt: number;
  deadline: number;
  /** Acknowledged (durably stored) submissions, by address. */
  submissions: Map<string, Accepted>;
  /** Addresses whose write is in flight: a second submission from them is a duplicate. */
  reserved: Set<string>;
  /** In-flight writes; a close waits for them, so every acknowledged submission is aggregated. */
  writes: Set<Promise<unknown>>;
  /** Submissions the store holds for the round, by every relay sharing it (as last reported to this one). */
  storedCount: number;
  closing: boolean;
}

/** What a new POST adds to the checks: when it arrived (its address's limits were applied by the server). */
interface Arrival {
  now: number;
}

export interface RelayDependencies {
  /** Measures θ's held-out loss after every outer step; null turns evaluation off. */
  evaluator: Evaluator | null;
  /** Runs Gauntlet's evaluation jobs (a worker thread); needed when the run's Gauntlet is enabled. */
  scorer: GauntletEvaluator | null;
  /** The relay's own key: signs every round's receipt. */
  signer: ReceiptSigner;
  /** The run's training bytes (Gauntlet rebuilds assigned and random windows from them). */
  trainData: Uint8Array;
  /** The relay's clock (ms since the epoch). Tests move it to reach a deadline without waiting. */
  now?: () => number;
  /** Structured logs (log.ts); default: none. */
  logger?: Logger;
  /** Default: a fresh registry (metrics.ts). */
  metrics?: RelayMetrics;
  /** Worker threads for signature checks and payload decoding (submission-check-pool.ts); 0 or absent: inline. */
  checkThreads?: number;
}

export type PushListener = (event: PushEvent) => void;

export class Relay {
  readonly layout: ParameterLayout;
  readonly manifest: TensorManifest;
  private readonly info: RelayRunInfo & GauntletRunInfo; // GET /api/run: fixed by the run, the options and the key
  private params: Float32Array; // (layout.size) θ(version); replaced, never mutated
  private paramBytes: Uint8Array; // the same memory as little-endian bytes, for streaming
  private round: OpenRound;
  private readonly ledger = new Map<string, LedgerEntry[]>();
  private readonly history: RoundSummary[] = [];
  private readonly evaluations: EvaluationRecord[] = [];
  private readonly listeners = new Set<PushListener>();
  private readonly addressLimiter: RateLimiter;
  private readonly allowlist: Set<string> | null;
  private readonly now: () => number;
  private readonly logger: Logger;
  readonly metrics: RelayMetrics;
  private readonly checker: SubmissionChecker;
  private readonly unwatch: () => void;
  /** Changes other relays committed, applied one at a time. */
  private following: Promise<void> = Promise.resolve();
  private tokensClosed = 0;
  /** Addresses with at least one accepted submission (the demo screen's "contributors"). */
  private readonly contributors = new Set<string>();
  /** Addresses in the last closed round: with the open round's, the tabs training now. */
  private lastRoundAddresses = new Set<string>();
  private peers = 0;
  private deadlineTimer: ReturnType<typeof setTimeout> | null = null;
  private statsTimer: ReturnType<typeof setTimeout> | null = null;
  private closing: Promise<void> | null = null;
  private evaluation: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Gauntlet's per-address state: the input of the open round. */
  private gauntletState: GauntletState;
  /** The payout vector after the last closed round (null before the first close with Gauntlet). */
  private latestWeights: WeightsFile | null = null;
  /** Milliseconds the last close took from scoring to commit (the bench reads it). */
  lastCloseMs: number | null = null;
  /** Gauntlet's part of the last close: submissions drawn and measured, evaluation and copy-overlap milliseconds (the bench reads it). */
  lastScoring: { drawn: number; measured: number; evaluationMs: number; overlapMs: number } | null = null;
  /** How the open round's frames were restored at the last start. */
  lastRestore: RestoreCounts = { fromRecord: 0, checkedNow: 0, refused: 0 };
  /** Decoding of restored frames, running in the background; a close waits for it. */
  private restoredDecoding: Promise<void> = Promise.resolve();
  /** Verification records of frames checked at this start, written in the background. */
  private recording: Promise<void> = Promise.resolve();

  private constructor(
    readonly config: RunConfig,
    readonly options: RelayOptions,
    private readonly store: RelayStore,
    private readonly evaluator: Evaluator | null,
    state: RelayStateRecord,
    params: Float32Array,
    private readonly deps: RelayDependencies,
    gauntletState: GauntletState,
  ) {
    this.gauntletState = gauntletState;
    this.layout = buildLayout(config.model);
    this.manifest = this.layout.tensors;
    this.info = { ...runInfoFor(config, options), relayAddress: deps.signer.address, gauntlet: config.gauntlet };
    this.params = params;
    this.paramBytes = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    this.round = openRound(state);
    this.addressLimiter = new RateLimiter(options.addressRateLimit);
    this.allowlist = options.allowlist ? new Set(options.allowlist) : null;
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger ?? silentLogger();
    this.metrics = deps.metrics ?? new RelayMetrics();
    this.metrics.observe(() => ({ round: this.round.round, version: this.round.version, submissions: Math.max(this.round.storedCount, this.round.submissions.size) }));
    const checkSettings = { maxPayloadBytes: options.maxPayloadBytes, manifest: this.manifest, compression: config.compression, swarm: this.info.swarm };
    this.checker = deps.checkThreads ? new SubmissionCheckPool(checkSettings, deps.checkThreads) : new InlineSubmissionChecker(checkSettings);
    this.unwatch = store.watch((change) => this.onStoreChange(change));
  }

  /**
   * Opens the run in `store`, creating it from `config` when the store is
   * empty, and resumes the open round with every acknowledged submission.
   * An existing run keeps its stored configuration; `config` must name the same run.
   */
  static async open(store: RelayStore, config: RunConfig, options: RelayOptions, deps: RelayDependencies): Promise<Relay> {
    let run = await store.getRun();
    if (run && run.config.runId !== config.runId) {
      throw new Error(`the data directory holds run "${run.config.runId}", not "${config.runId}"; use another --data-dir`);
    }
    if (!run) {
      // Genesis: θ(0) first, then the run, then the state that points at both.
      const { params } = initGptParameters(config.model, config.initSeed);
      const genesisHash = hashToHex(modelHash(params));
      await store.putCheckpoint(0, params, genesisHash);
      run = { format: STORE_FORMAT, config, genesisHash, createdAt: (deps.now ?? Date.now)() };
      await store.putRun(run);
      run = (await store.getRun()) ?? run; // another replica may have created it first
    }
    // A run created before Gauntlet keeps its rules: every submission aggregated.
    const runConfig: RunConfig = { ...run.config, gauntlet: run.config.gauntlet ?? gauntletConfigWith({ enabled: false }) };
    let state = await store.getState();
    if (!state) {
      const now = (deps.now ?? Date.now)();
      state = { format: STORE_FORMAT, round: 0, version: 0, modelHash: run.genesisHash, openedAt: now, deadline: now + options.roundMs };
      await store.putState(state);
      state = (await store.getState()) ?? state;
    }
    const params = await store.getCheckpoint(state.version, state.modelHash);
    if (!params) throw new Error(`checkpoint v${state.version} named by state.json is missing from the store`);
    await store.prune(state, options.keepCheckpoints);

    // Gauntlet picks up where the last committed close left it (a run from before Gauntlet starts fresh at its round).
    const previous = state.round > 0 ? await store.getRoundScores(state.round - 1) : null;
    const gauntletState = previous?.state ?? { ...initialGauntletState(), round: state.round };
    if (runConfig.gauntlet.enabled && !deps.scorer) throw new Error('this run scores with Gauntlet: the relay needs an evaluator for it');
    const relay = new Relay(runConfig, options, store, deps.evaluator, state, params, deps, gauntletState);
    deps.scorer?.prepare(runConfig.model); // the first close should not wait for the worker to start
    relay.latestWeights = previous?.weights ?? null;
    try {
      await relay.restore();
    } catch (error) {
      relay.unwatch();
      await relay.checker.close();
      throw error;
    }
    return relay;
  }

  /** Rebuilds ledger, history and the open round's submissions from the store. */
  private async restore(): Promise<void> {
    for (const record of await this.store.listRoundRecords()) {
      if (record.round >= this.round.round) continue; // pruned already; defensive
      this.recordClosedRound(record, null);
    }
    this.evaluations.push(...(await this.store.listEvaluations()));
    const counts = await this.loadStoredSubmissions(this.round);
    this.lastRestore = counts;
    this.logger.info(
      { round: this.round.round, version: this.round.version, submissions: this.round.submissions.size, ...counts },
      'resumed the open round (fromRecord: trusted by their verification record; checkedNow: checked in full; refused: failed their checks)',
    );
    if (this.evaluator && !this.evaluations.some((e) => e.version === this.round.version)) this.queueEvaluation(this.round.version, this.round.modelHash, this.params);
    this.scheduleDeadline();
    if (this.round.submissions.size >= this.options.quorum) void this.closeRound('quorum');
  }

  private async recordVerified(round: number, frames: (StoredSubmission & { verifiedBy: number })[]): Promise<void> {
    for (const stored of frames) {
      if (this.stopped) return;
      try {
        await this.store.recordVerified(round, stored);
      } catch (error) {
        this.logger.warn({ round, address: stored.address, reason: (error as Error).message }, 'recording the check of a frame failed; it is checked again at the next start');
      }
    }
  }

  /**
   * Decodes the payloads restored from their verification record, a slice at
   * a time, so a restart answers requests at once instead of after decoding
   * every stored frame. The record says each passed the codec under these
   * very checks, so a failure here means SUBMISSION_CHECKS was not bumped
   * when a check changed: the frame is dropped from the round, loudly.
   */
  private async decodeRestored(round: OpenRound): Promise<void> {
    let sliceStart = performance.now();
    for (const [address, accepted] of round.submissions) {
      if (accepted.update !== null) continue;
      try {
        accepted.update = decodeUpdate(accepted.payload, this.manifest, this.config.compression);
      } catch (error) {
        this.logger.error({ round: round.round, address, reason: (error as Error).message }, 'a recorded submission no longer decodes (bump SUBMISSION_CHECKS); dropped');
        round.submissions.delete(address);
        const entries = this.ledger.get(address);
        if (entries) this.ledger.set(address, entries.filter((e) => e.round !== round.round));
      }
      if (performance.now() - sliceStart > 20) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  }

  // ------------------------------------------------------------------ reads

  /** GET /api/run: the run, plus Gauntlet's rules and the key that signs receipts. */
  runInfo(): RelayRunInfo & GauntletRunInfo {
    return this.info;
  }

  roundState(): RoundState {
    const r = this.round;
    return { round: r.round, version: r.version, modelHash: r.modelHash, deadline: r.deadline, dataSeed: this.config.runSeed };
  }

  /** GET /api/round: RoundState plus what a dashboard shows about the open round. */
  roundStatus(): RoundStatus {
    return {
      ...this.roundState(),
      openedAt: this.round.openedAt,
      submissions: this.round.submissions.size,
      quorum: this.options.quorum,
      closing: this.round.closing,
      now: this.now(),
    };
  }

  /** The current θ as little-endian float32 bytes (shared memory: never mutated), its version and hash. */
  checkpoint(): { version: number; modelHash: HexHash; bytes: Uint8Array } {
    return { version: this.round.version, modelHash: this.round.modelHash, bytes: this.paramBytes };
  }

  /** Where a tab may download the current θ from object storage instead (store.ts downloadUrl), or null. */
  async checkpointUrl(): Promise<string | null> {
    return (await this.store.downloadUrl?.('checkpoint', this.round.version)) ?? null;
  }

  /**
   * Where a tab one version behind (`since` = current − 1) may download the
   * update as a one-entry bundle from object storage, or null (then, and for
   * a tab further behind, the relay assembles the bundle itself).
   */
  async updatesUrl(since: number): Promise<string | null> {
    if (since + 1 !== this.round.version) return null;
    return (await this.store.downloadUrl?.('update', since + 1)) ?? null;
  }

  /** Aggregates that take θ(since) forward, at most maxCatchUp of them, as a bundle (run-spec.ts). */
  async updatesSince(since: number): Promise<{ bundle: Uint8Array; latest: number }> {
    const latest = this.round.version;
    if (!Number.isSafeInteger(since) || since < 0 || since > latest) {
      throw new RelayError('bad-request', `since must be a model version in 0..${latest}`);
    }
    const last = Math.min(latest, since + this.options.maxCatchUp);
    const entries = [];
    for (let version = since + 1; version <= last; version++) {
      const stored = await this.store.getAggregate(version);
      if (!stored) throw new RelayError('gone', `the update to version ${version} is no longer kept; download the checkpoint`);
      entries.push({ version, modelHash: hexToHash(stored.modelHash), aggregate: stored.bytes });
    }
    return { bundle: encodeBundle(entries), latest };
  }

  /** GET /api/ledger/:address. */
  ledgerFor(address: string): AddressLedger {
    const entries = this.ledger.get(address) ?? [];
    let accepted = 0;
    let pending = 0;
    let tokens = 0;
    for (const e of entries) {
      if (e.status === 'accepted') {
        accepted++;
        tokens += e.tokens;
      } else pending++;
    }
    return { address, totals: { accepted, pending, tokens }, entries };
  }

  /** GET /api/ledger: addresses by tokens contributed in accepted rounds, largest first. */
  leaderboard(limit = 100): LeaderboardRow[] {
    const rows = [...this.ledger.keys()].map((address) => {
      const { totals } = this.ledgerFor(address);
      return { address, rounds: totals.accepted, tokens: totals.tokens };
    });
    return rows.sort((a, b) => b.tokens - a.tokens || (a.address < b.address ? -1 : 1)).slice(0, limit);
  }

  statsEvent(): StatsEvent {
    let pendingTokens = 0;
    for (const s of this.round.submissions.values()) pendingTokens += s.record.tokens;
    const loss = this.evaluations.length ? this.evaluations[this.evaluations.length - 1].loss : null;
    const trainers = new Set([...this.lastRoundAddresses, ...this.round.submissions.keys()]).size;
    const recent = [...this.round.submissions.values()]
      .map(({ record }) => ({ address: record.address, round: this.round.round, tokens: record.tokens, receivedAt: record.receivedAt }))
      .sort((a, b) => b.receivedAt - a.receivedAt || (a.address < b.address ? -1 : 1))
      .slice(0, MAX_RECENT_SUBMISSIONS);
    return { type: 'stats', round: this.round.round, peers: this.peers, trainers, recent, submissions: this.round.submissions.size, tokens: this.tokensClosed + pendingTokens, loss };
  }

  /** GET /api/stats. */
  stats(): StatsBody {
    return {
      ...this.statsEvent(),
      version: this.round.version,
      contributors: this.contributors.size,
      losses: this.evaluations.slice(-HISTORY_LENGTH),
      rounds: this.history.slice(-50),
    };
  }

  // ----------------------------------------------------------- Gauntlet reads

  /** The payout vector after `round` (default: the last closed round); null if none was written. */
  async weights(round?: number): Promise<WeightsFile | null> {
    if (round === undefined || round === this.latestWeights?.round) return this.latestWeights;
    this.checkClosed(round);
    return (await this.store.getRoundScores(round))?.weights ?? null;
  }

  /** Gauntlet's leaderboard: addresses by payout share, then by final score (top `limit`). */
  scoreboard(limit = 100): Scoreboard {
    const weightOf = new Map((this.latestWeights?.weights ?? []).map((w) => [w.address, w.weight]));
    const rows = this.gauntletState.peers
      .map((p) => ({ address: p.address, score: p.score, weight: weightOf.get(p.address) ?? 0, rounds: p.aggregated, submitted: p.submitted }))
      .sort((a, b) => b.weight - a.weight || b.score - a.score || (a.address < b.address ? -1 : 1))
      .slice(0, limit)
      .map((row, i) => ({ ...row, rank: i + 1 }));
    return { round: this.gauntletState.round - 1, rows };
  }

  private checkClosed(round: number): void {
    if (!Number.isSafeInteger(round) || round < 0 || round >= this.round.round) {
      throw new RelayError('not-found', `round ${round} has not closed (round ${this.round.round} is open)`);
    }
  }

  /** The signed receipt of a closed round (GET /api/rounds/:r/receipt). */
  async receipt(round: number): Promise<SignedReceiptBody> {
    this.checkClosed(round);
    const scores = await this.store.getRoundScores(round);
    if (!scores) throw new RelayError('not-found', `round ${round} closed before this relay signed receipts`);
    return { round, signer: this.deps.signer.address, bytes: scores.receipt.bytes, signature: scores.receipt.signature };
  }

  /** A closed round's submission frames in ascending address order (GET /api/rounds/:r/submissions). */
  async roundArchive(round: number): Promise<Uint8Array> {
    this.checkClosed(round);
    const stored = await this.store.listSubmissions(round);
    return encodeRoundArchive(stored.sort((a, b) => (a.address < b.address ? -1 : 1)).map((s) => ({ receivedAt: s.receivedAt, frame: s.frame })));
  }

  /** The Gauntlet state a closed or the open round started from (GET /api/rounds/:r/state). */
  async stateBefore(round: number): Promise<GauntletState> {
    if (round === this.round.round) return this.gauntletState;
    this.checkClosed(round);
    if (round === 0) return initialGauntletState();
    const scores = await this.store.getRoundScores(round - 1);
    if (!scores) throw new RelayError('not-found', `round ${round - 1} closed before this relay kept Gauntlet state`);
    return scores.state;
  }

  /** θ(0) as float32 LE bytes (kept forever, so any version can be rebuilt with the aggregates). */
  async genesisCheckpoint(): Promise<Uint8Array> {
    const run = await this.store.getRun();
    const params = await this.store.getCheckpoint(0, run?.genesisHash);
    if (!params) throw new RelayError('gone', 'θ(0) is missing from the store');
    return new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
  }

  // ------------------------------------------------------------ submissions

  /** Runs every check (file header), stores the frame durably, and acknowledges. */
  async submit(frame: Uint8Array): Promise<SubmissionAck> {
    if (this.stopped) throw new RelayError('unavailable', 'the relay is shutting down');
    const now = this.now();
    const round = this.round;
    const arrival = { now };
    const submission = this.checkFrame(frame, arrival);
    const { header } = submission;
    // Held from here to the write, so a second submission of this address is a duplicate meanwhile.
    round.reserved.add(header.address);
    let count: number;
    const record = submissionRecord(header, now);
    try {
      const update = await this.checkContent(submission, frame, arrival);
      // The costly checks ran off the event loop: the round may have started closing meanwhile.
      if (round !== this.round || round.closing) throw lateFor(round);
      const write = (async () => {
        let outcome;
        const storeTimer = this.metrics.storeSeconds.startTimer();
        try {
          outcome = await this.store.putSubmission(round.round, { address: header.address, frame, receivedAt: now, verifiedBy: SUBMISSION_CHECKS });
          storeTimer();
        } catch (error) {
          this.logger.error({ err: error, round: round.round, address: header.address }, 'storing a submission failed');
          throw new RelayError('unavailable', 'the relay could not store the submission; nothing was recorded, retry');
        }
        if (outcome.outcome === 'duplicate') throw new RelayError('duplicate', `${header.address} already submitted to round ${round.round}`);
        if (outcome.outcome === 'closed') throw lateFor(round);
        failpoint('submission:after-write');
        this.acceptInMemory(round, record, submission.payload, update);
        return outcome.count;
      })();
      round.writes.add(write);
      try {
        count = await write;
      } finally {
        round.writes.delete(write);
      }
    } finally {
      round.reserved.delete(header.address);
    }
    round.storedCount = Math.max(round.storedCount, count, round.submissions.size);
    this.statsSoon();
    if (round.storedCount >= this.options.quorum && round === this.round) void this.closeRound('quorum');
    return { round: round.round, address: header.address, payloadHash: record.payloadHash, receivedAt: now };
  }

  /**
   * The submission pipeline (file header), for a new POST (`arrival`) and for
   * a frame restored from the store (null: it was acknowledged once, so only
   * the checks on its bytes run again). This part is synchronous: the checks
   * that read the open round see one consistent round.
   */
  private checkFrame(frame: Uint8Array, arrival: Arrival | null): Submission {
    const submission = decodeSubmission(frame, { maxPayloadBytes: this.options.maxPayloadBytes });
    const { header } = submission;
    if (arrival && this.allowlist && !this.allowlist.has(header.address)) {
      throw new RelayError('not-allowed', `${header.address} is not on this run's allowlist`);
    }
    const round = this.round;
    checkHeaderForRound(header, this.config.runId, this.roundState());
    if (arrival) {
      if (round.closing || arrival.now > round.deadline) throw lateFor(round);
      if (round.submissions.has(header.address) || round.reserved.has(header.address)) {
        throw new RelayError('duplicate', `${header.address} already submitted to round ${round.round}`);
      }
    }
    return submission;
  }

  /**
   * The rest of the pipeline: signature and payload hash, counts and codec
   * decode run in the checker (a worker pool); the address's rate limit is
   * charged here, only for frames its key signed. A new POST is refused at
   * once when the address has no token left (peek), so signed junk never
   * reaches the pool faster than the limit allows; forged frames cannot
   * spend an honest address's tokens.
   */
  private async checkContent(submission: Submission, frame: Uint8Array, arrival: Arrival | null): Promise<CompressedUpdate> {
    const { address } = submission.header;
    if (arrival) {
      const wait = this.addressLimiter.peek(address, arrival.now);
      if (wait > 0) throw new RelayError('rate-limited', `too many submissions from ${address}; retry in ${wait} s`, wait);
    }
    const result = await this.checker.check(frame);
    if (arrival && result.verified) this.takeToken(this.addressLimiter, address, this.now());
    if ('failure' in result) throw checkFailureError(result.failure);
    return result.update;
  }

  /**
   * Takes the round's stored frames that `round` does not hold yet into
   * memory: at a start, and when a close claims the round (frames other
   * replicas stored). A frame whose record vouches it passed these very
   * checks (SUBMISSION_CHECKS) skips the signature check and is decoded in
   * the background (decodeRestored; a close waits for it); any other is
   * checked in full, in the pool, and recorded for the next start.
   */
  private async loadStoredSubmissions(round: OpenRound): Promise<RestoreCounts> {
    const counts: RestoreCounts = { fromRecord: 0, checkedNow: 0, refused: 0 };
    const toRecord: (StoredSubmission & { verifiedBy: number })[] = [];
    const stored = await this.store.listSubmissions(round.round, new Set(round.submissions.keys()));
    await Promise.all(
      stored.map(async (frame) => {
        try {
          const submission = this.checkFrame(frame.frame, null);
          if (submission.header.address !== frame.address) throw new ProtocolError('address-mismatch', `the frame is signed for ${submission.header.address}`);
          if (frame.verifiedBy === SUBMISSION_CHECKS) {
            if (!round.submissions.has(frame.address)) this.acceptInMemory(round, submissionRecord(submission.header, frame.receivedAt), submission.payload, null);
            counts.fromRecord += 1;
            return;
          }
          // No record (an older relay's file, older checks) or one that does not match: the whole pipeline, once.
          const update = await this.checkContent(submission, frame.frame, null);
          if (!round.submissions.has(frame.address)) this.acceptInMemory(round, submissionRecord(submission.header, frame.receivedAt), submission.payload, update);
          toRecord.push({ ...frame, verifiedBy: SUBMISSION_CHECKS });
          counts.checkedNow += 1;
        } catch (error) {
          counts.refused += 1;
          this.logger.warn({ round: round.round, address: frame.address, reason: (error as Error).message }, 'a stored submission fails its checks; ignored');
        }
      }),
    );
    round.storedCount = Math.max(round.storedCount, round.submissions.size);
    if (counts.fromRecord > 0) {
      const previous = this.restoredDecoding;
      this.restoredDecoding = previous.then(() => this.decodeRestored(round));
    }
    // Checked now, recorded in the background: the next start trusts them (a crash before that only means checking again).
    if (toRecord.length > 0) {
      const previous = this.recording;
      this.recording = previous.then(() => this.recordVerified(round.round, toRecord));
    }
    return counts;
  }

  /** One request from `key` (an IP or an address), or 'rate-limited' with the seconds to wait. */
  private takeToken(limiter: RateLimiter, key: string, now: number): void {
    const wait = limiter.take(key, now);
    if (wait > 0) throw new RelayError('rate-limited', `too many submissions from ${key}; retry in ${wait} s`, wait);
  }

  private acceptInMemory(round: OpenRound, record: SubmissionRecord, payload: Uint8Array, update: CompressedUpdate | null): void {
    round.submissions.set(record.address, { record, payload, update });
    this.ledgerEntries(record.address).push({
      round: round.round,
      status: 'pending',
      version: null,
      aggregated: null,
      reason: null,
      payloadHash: record.payloadHash,
      payloadBytes: record.payloadBytes,
      tokens: record.tokens,
      innerSteps: record.innerSteps,
      receivedAt: record.receivedAt,
    });
  }

  private ledgerEntries(address: string): LedgerEntry[] {
    let entries = this.ledger.get(address);
    if (!entries) this.ledger.set(address, (entries = []));
    return entries;
  }

  // ------------------------------------------------------------ round close

  /** Closes the open round (idempotent while a close runs). Resolves when it has committed, extended or failed. */
  closeRound(reason: 'quorum' | 'deadline'): Promise<void> {
    if (this.closing) return this.closing;
    this.round.closing = true;
    this.clearDeadline();
    this.closing = this.runClose(reason).finally(() => {
      this.closing = null;
    });
    return this.closing;
  }

  private async runClose(reason: 'quorum' | 'deadline'): Promise<void> {
    const round = this.round;
    await Promise.allSettled([...round.writes]);
    let claim: CloseClaim | null;
    try {
      claim = await this.store.claimClose(round.round);
    } catch (error) {
      this.logger.warn({ round: round.round, reason: (error as Error).message, retryMs: CLOSE_RETRY_MS }, 'claiming the close failed');
      this.retryClose(round, reason);
      return;
    }
    if (!claim) {
      this.logger.info({ round: round.round }, 'another replica is closing this round');
      // Another relay sharing the store closes this round (or has): its commit reaches us through
      // watch(). Until then this round takes no more submissions here either; if that relay dies,
      // the retry takes the close over.
      this.retryClose(round, reason);
      return;
    }
    try {
      // The claim made the round's set of submissions final: take in those other relays stored.
      await this.loadStoredSubmissions(round);
      await this.restoredDecoding; // every restored frame decoded (or dropped) before anything is aggregated
      const accepted = [...round.submissions.values()];
      if (accepted.length === 0 || (reason === 'deadline' && accepted.length < this.options.minSubmissions)) {
        await this.extendRound(round, claim);
        return;
      }
      const started = performance.now();
      const { compression, outerLearningRate } = this.config;
      const scoring = await this.scoreRound(round, accepted);
      failpoint('close:after-scoring');
      const selected = accepted.filter((s) => scoring.decision.aggregated.includes(s.record.address));
      const aggregate = selected.length
        ? aggregateUpdates(
            selected.map((s) => ({ id: s.record.address, update: s.update!, tokens: s.record.tokens })),
            this.manifest,
            compression,
            this.config.aggregation,
          )
        : emptyAggregate(this.manifest);
      // The relay applies what its published bytes decode to, exactly as every tab does.
      const aggregateBytes = encodePublishedAggregate(aggregate, this.config.update, this.manifest, compression);
      const next = this.params.slice(); // θ(v) may still be streaming to a client
      const skippedAll = applyAggregate(next, decodePublishedAggregate(aggregateBytes, this.manifest, compression), this.manifest, outerLearningRate);
      const skipped = selected.length ? skippedAll : []; // an empty aggregate skips by design, not for non-finite values
      const nextHash = hashToHex(modelHash(next));
      const version = round.version + 1;
      const closedAt = this.now();
      const scores = this.roundScores(round, scoring, version, nextHash, closedAt);
      await this.store.putAggregate({ version, modelHash: nextHash, bytes: aggregateBytes });
      failpoint('close:after-aggregate');
      await this.store.putCheckpoint(version, next, nextHash);
      failpoint('close:after-checkpoint');
      await this.store.putRoundScores(scores);
      failpoint('close:after-scores');
      const excluded = scoring.decision.entries.filter((e) => !e.aggregated).map((e) => ({ address: e.address, reason: e.reason! }));
      const record: RoundRecord = {
        round: round.round,
        baseVersion: round.version,
        version,
        modelHash: nextHash,
        aggregateHash: hashToHex(payloadHash(aggregateBytes)),
        aggregateBytes: aggregateBytes.length,
        reason,
        openedAt: round.openedAt,
        closedAt,
        skippedTensors: skipped,
        submissions: accepted.map((s) => s.record).sort((a, b) => (a.address < b.address ? -1 : 1)),
        excluded,
      };
      await this.store.putRoundRecord(record);
      failpoint('close:after-record');
      const state: RelayStateRecord = {
        format: STORE_FORMAT,
        round: round.round + 1,
        version,
        modelHash: nextHash,
        openedAt: closedAt,
        deadline: closedAt + this.options.roundMs,
      };
      await this.store.putState(state, claim); // commit
      failpoint('close:after-state');
      this.lastCloseMs = performance.now() - started;
      this.lastScoring = { drawn: scoring.evaluated, measured: scoring.measured, evaluationMs: scoring.evaluationMs, overlapMs: scoring.overlapMs };

      // Committed: switch the in-memory state over and tell everyone.
      this.recordClosedRound(record, this.lastCloseMs);
      this.gauntletState = scoring.decision.state;
      this.latestWeights = scores.weights;
      this.params = next;
      this.paramBytes = new Uint8Array(next.buffer, next.byteOffset, next.byteLength);
      this.round = openRound(state);
      this.logger.info(
        {
          round: record.round,
          reason,
          submissions: accepted.length,
          aggregated: selected.length,
          evaluated: scoring.evaluated,
          measured: scoring.measured,
          evaluationMs: Math.round(scoring.evaluationMs),
          version,
          modelHash: nextHash,
          closeMs: Math.round(this.lastCloseMs),
          ...(skipped.length ? { skippedTensors: skipped } : {}),
        },
        'round closed',
      );
      this.metrics.roundsClosed.inc({ reason });
      if (scoring.evaluated > 0) this.metrics.evaluationSeconds.observe({ job: 'gauntlet' }, scoring.evaluationMs / 1000);
      this.metrics.closeSeconds.observe(this.lastCloseMs / 1000);
      this.metrics.roundDuration.observe({ reason }, (closedAt - record.openedAt) / 1000);
      this.broadcast({ type: 'round-closed', round: record.round, submitted: accepted.length, accepted: selected.length, version, modelHash: nextHash });
      this.broadcast({ type: 'round-opened', state: this.roundState() });
      this.broadcast(this.statsEvent());
      this.scheduleDeadline();
      this.store.prune(state, this.options.keepCheckpoints).catch((error: Error) => this.logger.warn({ reason: error.message }, 'pruning failed'));
      if (this.evaluator) this.queueEvaluation(version, nextHash, next);
    } catch (error) {
      if (error instanceof LostClaimError) {
        // Another relay took the close over (this one lost its database session meanwhile): follow it.
        this.logger.warn({ round: round.round }, `${error.message}; following the store`);
      } else {
        // Storage trouble: nothing was committed and every submission is still stored. Retry later.
        this.logger.error({ err: error, round: round.round, retryMs: CLOSE_RETRY_MS }, 'closing the round failed');
      }
      this.retryClose(round, reason);
    } finally {
      await claim.release();
    }
  }

  /**
   * Tries the close again in CLOSE_RETRY_MS, after reading the committed state
   * (another relay may have closed the round; a missed notification is caught
   * up here) and counting the round's stored submissions: the close goes on
   * if the quorum is met or the deadline has passed; otherwise the round
   * reopens here. The round takes no submissions meanwhile.
   */
  private retryClose(round: OpenRound, reason: 'quorum' | 'deadline'): void {
    if (this.stopped) return;
    this.clearDeadline();
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      void this.resync()
        .then(async () => {
          if (this.round !== round || this.stopped || this.closing) return;
          round.storedCount = Math.max(round.storedCount, await this.store.countSubmissions(round.round));
          if (this.round !== round || this.stopped || this.closing) return;
          if (round.storedCount >= this.options.quorum) void this.closeRound('quorum');
          else if (this.now() >= round.deadline) void this.closeRound(reason === 'quorum' ? 'deadline' : reason);
          else {
            round.closing = false;
            this.scheduleDeadline();
          }
        })
        .catch((error: Error) => {
          this.logger.warn({ round: round.round, reason: error.message }, 'retrying the close failed; trying again');
          if (this.round === round) this.retryClose(round, reason);
        });
    }, CLOSE_RETRY_MS);
  }

  /**
   * Gauntlet for the closing round (src/gauntlet/round.ts): the evaluation runs
   * in the scorer's worker within evaluationTimeoutMs; what does not come back
   * in time is the relay's failure (no penalty).
   */
  private async scoreRound(round: OpenRound, accepted: Accepted[]) {
    const submissions: RoundSubmission[] = accepted.map((s) => ({
      address: s.record.address,
      payloadHash: s.record.payloadHash,
      receivedAt: s.record.receivedAt,
      update: s.update!, // a close waits for the restored frames' decoding
      steps: s.record.innerSteps,
    }));
    const c = this.config;
    let outcomes = 0;
    const { decision, measurements, timings } = await scoreRound(
      this.gauntletState,
      {
        config: c.gauntlet,
        runSeed: c.runSeed,
        round: round.round,
        version: round.version,
        modelHash: round.modelHash,
        params: this.params,
        model: c.model,
        manifest: this.manifest,
        compression: c.compression,
        outerLearningRate: c.outerLearningRate,
        innerSteps: c.innerSteps,
        batchSize: c.train.batchSize,
        seqLen: c.train.seqLen,
        data: this.deps.trainData,
        submissions,
      },
      this.deps.scorer!,
      this.options.evaluationTimeoutMs,
      () => {
        outcomes += 1;
        if (outcomes === 1) failpoint('close:during-evaluation');
      },
    );
    const measured = [...measurements.outcomes.values()].filter((o) => !('error' in o)).length;
    return { decision, seed: measurements.plan.seed, evaluated: measurements.plan.evaluate.length, measured, ...timings };
  }

  /** The round's receipt (signed by the relay's key), weights and Gauntlet state, as one record for the store. */
  private roundScores(
    round: OpenRound,
    scoring: Awaited<ReturnType<Relay['scoreRound']>>,
    version: number,
    nextHash: HexHash,
    closedAt: number,
  ): RoundScoresRecord {
    const weights: WeightsFile = { round: round.round, version, burn: this.config.gauntlet.weights.burn, weights: scoring.decision.weights };
    const receipt: Receipt = {
      runId: this.config.runId,
      round: round.round,
      baseVersion: round.version,
      modelHashBefore: round.modelHash,
      version,
      modelHashAfter: nextHash,
      stateHashBefore: stateHash(this.gauntletState),
      stateHashAfter: stateHash(scoring.decision.state),
      weightsHash: weightsHash(weights),
      roundSeed: scoring.seed,
      relayAddress: this.deps.signer.address,
      closedAt,
      entries: scoring.decision.entries,
    };
    const bytes = encodeReceipt(receipt);
    const signature = this.deps.signer.sign(receiptSigningBytes(bytes));
    return { round: round.round, receipt: { bytes: u8aToHex(bytes), signature: u8aToHex(signature) }, weights, state: scoring.decision.state };
  }

  /** No (or too few) submissions at the deadline: keep the round open for another roundMs. */
  private async extendRound(round: OpenRound, claim: CloseClaim): Promise<void> {
    const now = this.now();
    const state: RelayStateRecord = {
      format: STORE_FORMAT,
      round: round.round,
      version: round.version,
      modelHash: round.modelHash,
      openedAt: round.openedAt,
      deadline: now + this.options.roundMs,
    };
    try {
      await this.store.putState(state, claim);
      round.deadline = state.deadline;
      this.broadcast({ type: 'round-opened', state: this.roundState() });
    } catch (error) {
      this.logger.warn({ round: round.round, reason: (error as Error).message }, 'extending the round failed');
      round.deadline = now + CLOSE_RETRY_MS;
    }
    round.closing = false;
    this.scheduleDeadline();
  }

  /** Ledger, totals and history for a committed round (the ledger's pending entries of the round become accepted). */
  private recordClosedRound(record: RoundRecord, closeMs: number | null): void {
    this.lastRoundAddresses = new Set(record.submissions.map((s) => s.address));
    let tokens = 0;
    const excluded = new Map((record.excluded ?? []).map((e) => [e.address, e.reason]));
    for (const s of record.submissions) {
      tokens += s.tokens;
      this.contributors.add(s.address);
      const entries = this.ledgerEntries(s.address);
      const pending = entries.find((e) => e.round === record.round);
      if (pending) Object.assign(pending, { status: 'accepted', version: record.version, aggregated: !excluded.has(s.address), reason: excluded.get(s.address) ?? null });
      else {
        entries.push({
          round: record.round,
          status: 'accepted',
          version: record.version,
          aggregated: !excluded.has(s.address),
          reason: excluded.get(s.address) ?? null,
          payloadHash: s.payloadHash,
          payloadBytes: s.payloadBytes,
          tokens: s.tokens,
          innerSteps: s.innerSteps,
          receivedAt: s.receivedAt,
        });
      }
    }
    this.tokensClosed += tokens;
    this.history.push({
      round: record.round,
      version: record.version,
      modelHash: record.modelHash,
      submissions: record.submissions.length,
      aggregated: record.submissions.length - excluded.size,
      tokens,
      reason: record.reason,
      closedAt: record.closedAt,
      closeMs,
    });
    if (this.history.length > HISTORY_LENGTH) this.history.splice(0, this.history.length - HISTORY_LENGTH);
  }

  // ------------------------------------------------- relays sharing a store

  private onStoreChange(change: StoreChange): void {
    switch (change.kind) {
      case 'state':
        this.followStore(() => this.applyCommittedState(change.state));
        break;
      case 'evaluation':
        if (!this.evaluations.some((e) => e.version === change.evaluation.version)) {
          this.evaluations.push(change.evaluation);
          this.evaluations.sort((a, b) => a.version - b.version);
          this.broadcast(this.statsEvent());
        }
        break;
      case 'closing':
        // Another replica closes this round: if it dies before its commit, the retry takes the close over.
        if (change.round === this.round.round && !this.closing && !this.round.closing) {
          this.round.closing = true;
          this.retryClose(this.round, 'quorum');
        }
        break;
      case 'submissions':
        if (change.round === this.round.round && change.count > this.round.storedCount) {
          this.round.storedCount = change.count;
          this.statsSoon();
          if (change.count >= this.options.quorum && !this.round.closing) void this.closeRound('quorum');
        }
        break;
      case 'resync':
        void this.resync();
        break;
    }
  }

  /** Reads the committed state and catches up with it (a missed notification, a retry). */
  private resync(): Promise<void> {
    return this.followStore(async () => {
      const state = await this.store.getState();
      if (state) await this.applyCommittedState(state);
      for (const evaluation of await this.store.listEvaluations()) this.onStoreChange({ kind: 'evaluation', evaluation });
    });
  }

  private followStore(step: () => Promise<void>): Promise<void> {
    this.following = this.following.then(step).catch((error: Error) => this.logger.warn({ reason: error.message }, 'following the store failed'));
    return this.following;
  }

  /**
   * A state another relay committed: a deadline moved (the round was
   * extended), or rounds closed — then load their records and the new
   * checkpoint, switch over, and tell this relay's push clients.
   */
  private async applyCommittedState(state: RelayStateRecord): Promise<void> {
    if (this.stopped) return;
    // A close attempt of ours in flight ends first: it cannot commit what another replica committed.
    if (state.round >= this.round.round) await this.closing;
    if (this.stopped) return;
    if (state.round === this.round.round) {
      if (state.deadline !== this.round.deadline || this.round.closing) {
        this.round.deadline = state.deadline;
        this.round.closing = false;
        this.broadcast({ type: 'round-opened', state: this.roundState() });
        this.scheduleDeadline();
      }
      return;
    }
    const round = this.round;
    if (state.round <= round.round) return;
    const params = await this.store.getCheckpoint(state.version, state.modelHash);
    if (!params) throw new Error(`checkpoint v${state.version} named by the committed state is missing from the store`);
    const records = (await this.store.listRoundRecords(round.round)).filter((r) => r.round < state.round);
    // Gauntlet goes on from the committed round's state (absent for rounds closed before Gauntlet).
    const scores = await this.store.getRoundScores(state.round - 1);
    if (this.round !== round) return; // switched meanwhile
    for (const record of records) this.recordClosedRound(record, null);
    if (scores) {
      this.gauntletState = scores.state;
      this.latestWeights = scores.weights;
    }
    this.params = params;
    this.paramBytes = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    this.round = openRound(state);
    for (const record of records) {
      const count = record.submissions.length;
      const aggregated = count - (record.excluded?.length ?? 0);
      this.broadcast({ type: 'round-closed', round: record.round, submitted: count, accepted: aggregated, version: record.version, modelHash: record.modelHash });
    }
    this.broadcast({ type: 'round-opened', state: this.roundState() });
    this.broadcast(this.statsEvent());
    this.logger.info({ round: state.round, version: state.version, modelHash: state.modelHash }, 'followed another replica\'s close');
    this.scheduleDeadline();
  }

  private queueEvaluation(version: number, modelHash: HexHash, params: Float32Array): void {
    const evaluator = this.evaluator!;
    this.evaluation = this.evaluation.then(async () => {
      if (this.stopped) return;
      try {
        const timer = this.metrics.evaluationSeconds.startTimer({ job: 'validation-loss' });
        const loss = await evaluator.evaluate(params, { version, modelHash });
        timer();
        const record = { version, loss, evaluatedAt: this.now() };
        await this.store.appendEvaluation(record);
        this.evaluations.push(record);
        this.logger.info({ version, loss: Number(loss.toFixed(4)) }, 'validation loss');
        this.broadcast(this.statsEvent());
      } catch (error) {
        // The loss is advisory: a failed evaluation never stops the run.
        this.logger.warn({ version, reason: (error as Error).message }, 'evaluating the model failed');
      }
    });
  }

  /** Resolves when the records of frames checked at this start are written (bench, tests). */
  recordsWritten(): Promise<void> {
    return this.recording;
  }

  /** Resolves when the frames restored from their verification records are decoded (bench, tests). */
  restoredDecoded(): Promise<void> {
    return this.restoredDecoding;
  }

  /** Resolves when every queued evaluation has finished (tests, shutdown). */
  evaluationsSettled(): Promise<void> {
    return this.evaluation;
  }

  evaluationHistory(): readonly EvaluationRecord[] {
    return this.evaluations;
  }

  // ------------------------------------------------------------- deadlines

  private scheduleDeadline(): void {
    this.clearDeadline();
    if (this.stopped) return;
    const delay = Math.max(0, this.round.deadline - this.now());
    // setTimeout holds at most 2^31−1 ms; a longer wait re-arms itself.
    this.deadlineTimer = setTimeout(() => {
      if (this.now() >= this.round.deadline) void this.closeRound('deadline');
      else this.scheduleDeadline();
    }, Math.min(delay, 2 ** 31 - 1));
  }

  private clearDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  // ------------------------------------------------------------------ push

  subscribe(listener: PushListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Connected push clients (the server counts them). */
  setPeers(peers: number): void {
    this.peers = peers;
    this.metrics.connectedTabs.set(peers);
    this.statsSoon();
  }

  private broadcast(event: PushEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn({ reason: (error as Error).message }, 'a push listener failed');
      }
    }
  }

  /** Coalesces stats pushes to one per statsIntervalMs. */
  private statsSoon(): void {
    if (this.statsTimer || this.stopped) return;
    this.statsTimer = setTimeout(() => {
      this.statsTimer = null;
      this.broadcast(this.statsEvent());
    }, this.options.statsIntervalMs);
  }

  /** Stops timers and waits for an in-flight close and evaluation. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    this.clearDeadline();
    if (this.statsTimer) clearTimeout(this.statsTimer);
    this.statsTimer = null;
    await this.closing;
    await Promise.allSettled([...this.round.writes]);
    await this.recording;
    await this.evaluation;
    await this.following;
    this.clearDeadline();
    await this.checker.close();
    await this.deps.scorer?.close();
    await this.store.close();
  }
}

function openRound(state: RelayStateRecord): OpenRound {
  return {
    round: state.round,
    version: state.version,
    modelHash: state.modelHash,
    openedAt: state.openedAt,
    deadline: state.deadline,
    submissions: new Map(),
    reserved: new Set(),
    writes: new Set(),
    storedCount: 0,
    closing: false,
  };
}

function lateFor(round: OpenRound): RelayError {
  return new RelayError('late', `round ${round.round} closed for submissions at ${new Date(round.deadline).toISOString()}`);
}

function submissionRecord(
  header: { address: string; payloadHash: Uint8Array; payloadBytes: number; tokens: number; innerSteps: number; clientVersion: string },
  receivedAt: number,
): SubmissionRecord {
  return {
    address: header.address,
    payloadHash: hashToHex(header.payloadHash),
    payloadBytes: header.payloadBytes,
    tokens: header.tokens,
    innerSteps: header.innerSteps,
    clientVersion: header.clientVersion,
    receivedAt,
  };
}
