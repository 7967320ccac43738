// One volunteer's round loop (DESIGN "The round, end to end", right column),
// the same in the headless Node volunteer and the browser Worker:
//
//   sync     have θ(v) of the open round? else catch up by applying the
//            published aggregates (each checked against the relay's hash),
//            or download the checkpoint
//   train    inner AdamW steps on the batches of samplerSeed(runSeed,
//            address, round), from step v·H: exactly H in a fixed round;
//            until the training deadline in a time-boxed one (the run's
//            stepRange min < max): the round's deadline minus this
//            volunteer's own measured time to compress, sign and send
//            (round-timing.ts), at least min and at most max steps, at the
//            learning rate of step v·H + min(i, H − 1) (roundScheduleStep)
//   compress EF + top-k + 2-bit (RoundCompressor), encode (codec v1)
//   sign     header {run, round, v, modelHash(θ(v)), payload hash, …},
//            wallet signRaw (extension or keyring signer)
//   submit   POST the frame; a refusal puts the update back into EF
//   wait     until the relay publishes a newer version (push event or poll)
//   apply    the round's aggregate → θ(v+1); its modelHash must equal the
//            relay's, else the volunteer re-downloads the checkpoint
//
// No Node imports: fetch, WebSocket and the GPU come from the caller.
// A tab that saved its state resumes through startFrom() (θ(v) from its
// checkpoint; sync() then catches up from there) and, when it already
// submitted to the open round before a reload, through sync() and
// waitForNewerModel() instead of contribute(), so no round is trained twice.
// After each round it reports the GPU's share of the round's time and the
// round's tokens over its wall time ('round-work'), what the dashboard shows.
// Leaves out: persistence between sessions (the tab's storage layer keeps
// θ, EF and the outbox), scoring.
import { applyAggregate } from '../compress/aggregate.ts';
import { decodePublishedAggregate, encodeUpdate } from '../compress/codec.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import { buildLayout } from '../model/layout.ts';
import { roundScheduleStep } from '../train/schedule.ts';
import {
  encodeSubmission,
  gptConfigOf,
  hashToHex,
  hexToHash,
  modelHash,
  payloadHash,
  samplerSeed,
  signHeader,
  SUBMISSION_DOMAIN,
  type HexHash,
  type PushEvent,
  type RawSigner,
  type RoundState,
  type RoundStatus,
  type SubmissionAck,
  type SwarmRunInfo,
} from '../protocol/index.ts';
import { CpuRoundCompressor, type RoundCompressor } from './compressor.ts';
import { RelayRequestError, type RelayClient } from './relay-client.ts';
import type { LocalTrainer, TimeBox } from './trainer.ts';
import { SubmitMargin, trainingDeadline } from './round-timing.ts';

export type VolunteerEvent =
  | { type: 'synced'; version: number; modelHash: HexHash; via: 'checkpoint' | 'updates'; params: Float32Array /* (P) θ(version), never changed in place */ }
  | { type: 'trained'; round: number; version: number; steps: number; tokens: number; lastLoss: number; ms: number }
  | { type: 'submitted'; round: number; payloadBytes: number; ack: SubmissionAck }
  | { type: 'refused'; round: number; code: string; message: string }
  | { type: 'applied'; version: number; modelHash: HexHash; params: Float32Array /* (P) */ }
  | { type: 'mismatch'; version: number; expected: HexHash; actual: HexHash }
  /** A time-boxed round with no time left to train and still submit: this volunteer waits for the next one. */
  | { type: 'skipped'; round: number; reason: string }
  /** After a round: its steps and tokens, the GPU's work time and the round's wall time (from its sync to the next model). */
  | { type: 'round-work'; round: number; steps: number; tokens: number; workMs: number; periodMs: number }
  | { type: 'problem'; message: string };

export interface RoundOutcome {
  round: number;
  /** The relay acknowledged this volunteer's submission. */
  submitted: boolean;
  /** Error code when it was refused. */
  refusedWith: string | null;
  /** Model version and hash after the round (equal to the relay's). */
  version: number;
  modelHash: HexHash;
}

export interface VolunteerOptions {
  client: RelayClient;
  signer: RawSigner;
  /** SS58 prefix-42 address the signer signs for. */
  address: string;
  /** Printable ASCII, 1..64 bytes: the build, for the relay's logs. */
  clientVersion: string;
  /** How a signed frame reaches the relay. Default: client.submit; the browser tab saves it in its outbox first. */
  send?: (frame: Uint8Array) => Promise<SubmissionAck>;
  onEvent?: (event: VolunteerEvent) => void;
  /** How often to ask for the round while waiting, besides push events. */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface JoinOptions extends VolunteerOptions {
  /** Builds the trainer once the run is known. */
  createTrainer: (run: SwarmRunInfo) => Promise<LocalTrainer>;
  /** Builds the compressor once the trainer exists. Default: the CPU reference compressor. */
  createCompressor?: (run: SwarmRunInfo, manifest: TensorManifest, paramCount: number) => Promise<RoundCompressor>;
}

/** The volunteer's copy of the model is not the relay's, even after a fresh download. */
export class ModelDivergedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelDivergedError';
  }
}

export class Volunteer {
  private params: Float32Array | null = null; // (P) θ(version)
  private version = -1;
  private hash: HexHash | null = null;
  private newestSeen = -1; // newest model version a push event announced
  private wake: (() => void) | null = null;
  private readonly manifest: TensorManifest;
  private readonly paramCount: number;
  private events: { close(): void } | null = null;
  private readonly margin: SubmitMargin;

  private constructor(
    readonly run: SwarmRunInfo,
    private readonly options: VolunteerOptions,
    private readonly trainer: LocalTrainer,
    private readonly compressor: RoundCompressor,
  ) {
    const layout = buildLayout(gptConfigOf(run.swarm));
    this.manifest = layout.tensors;
    this.paramCount = layout.size;
    this.margin = new SubmitMargin(run.roundMs);
  }

  /** Fetches the run and checks it is one this build can join (protocol, parameter layout). */
  static async fetchRun(client: RelayClient): Promise<SwarmRunInfo> {
    const run = await client.run();
    if (run.protocol !== SUBMISSION_DOMAIN) throw new Error(`the relay speaks ${run.protocol}; this volunteer speaks ${SUBMISSION_DOMAIN}`);
    const layout = buildLayout(gptConfigOf(run.swarm));
    if (layout.paramCount !== run.model.parameterCount) {
      throw new Error(`the run's model has ${run.model.parameterCount} parameters; this build lays it out with ${layout.paramCount}`);
    }
    return run;
  }

  /** A volunteer for a run from fetchRun, with its trainer and compressor; subscribes to push events. */
  static start(run: SwarmRunInfo, trainer: LocalTrainer, compressor: RoundCompressor, options: VolunteerOptions): Volunteer {
    const volunteer = new Volunteer(run, options, trainer, compressor);
    volunteer.events = options.client.events(
      (event) => volunteer.onPush(event),
      (message) => options.onEvent?.({ type: 'problem', message }),
    );
    return volunteer;
  }

  /** fetchRun, build the trainer and compressor, start. */
  static async join(options: JoinOptions): Promise<Volunteer> {
    const run = await Volunteer.fetchRun(options.client);
    const layout = buildLayout(gptConfigOf(run.swarm));
    const trainer = await options.createTrainer(run);
    let compressor: RoundCompressor;
    try {
      compressor =
        (await options.createCompressor?.(run, layout.tensors, layout.size)) ??
        new CpuRoundCompressor(layout.size, layout.tensors, run.swarm.compression, run.swarm.errorFeedbackBeta);
    } catch (error) {
      trainer.destroy();
      throw error;
    }
    return Volunteer.start(run, trainer, compressor, options);
  }

  get address(): string {
    return this.options.address;
  }

  /**
   * Starts from a saved θ(version) instead of nothing (a tab's checkpoint), so
   * the first sync catches up with the published aggregates rather than
   * downloading the whole model. Refused if the parameters do not hash to
   * `modelHash` or do not fit the run's layout.
   */
  startFrom(saved: { version: number; modelHash: HexHash; params: Float32Array }): void {
    if (saved.params.length !== this.paramCount) throw new Error(`a saved model of ${saved.params.length} floats does not fit this run's ${this.paramCount}`);
    const actual = hashToHex(modelHash(saved.params));
    if (actual !== saved.modelHash) throw new ModelDivergedError(`the saved model v${saved.version} hashes to ${actual}, not ${saved.modelHash}`);
    this.params = saved.params;
    this.version = saved.version;
    this.hash = actual;
  }

  /** Brings θ to the open round's model (catch-up, or the checkpoint) and returns that round. */
  async sync(): Promise<RoundState> {
    return (await this.syncToOpenRound()).state;
  }

  /** Resolves once the relay has a model newer than `version` (or the signal aborts). */
  waitForNewerModel(version: number): Promise<void> {
    return this.waitForVersionAfter(version);
  }

  /** The volunteer's model version and hash (null before the first sync). */
  model(): { version: number; modelHash: HexHash | null; params: Float32Array | null } {
    return { version: this.version, modelHash: this.hash, params: this.params };
  }

  private emit(event: VolunteerEvent): void {
    this.options.onEvent?.(event);
  }

  private onPush(event: PushEvent): void {
    const version = event.type === 'round-closed' ? event.version : event.type === 'round-opened' ? event.state.version : -1;
    if (version > this.newestSeen) {
      this.newestSeen = version;
      this.wake?.();
    }
  }

  /** Contributes to `rounds` rounds (submitted or refused), or until the signal aborts. */
  async runRounds(rounds: number): Promise<RoundOutcome[]> {
    const outcomes: RoundOutcome[] = [];
    while (outcomes.length < rounds && !this.options.signal?.aborted) outcomes.push(await this.contribute());
    return outcomes;
  }

  /** One round: sync, train, compress, sign, submit, wait for the close, apply. */
  async contribute(): Promise<RoundOutcome> {
    const roundStarted = performance.now();
    const { state, fetchedAt } = await this.syncToOpenRound();
    const { swarm } = this.run;
    const H = this.run.innerSteps;
    const firstStep = state.version * H;
    const { min, max } = swarm.stepRange;
    let timeBox: TimeBox | undefined;
    if (min < max) {
      const deadline = trainingDeadline(state, fetchedAt, this.margin.ms());
      if (deadline <= performance.now()) {
        // Too late to train and still be in time: wait for the next round rather than sign an update bound to be 'late'.
        this.emit({ type: 'skipped', round: state.round, reason: `${Math.round((state.deadline - state.now) / 1000)} s left, ${Math.round(this.margin.ms() / 1000)} s needed to submit` });
        await this.waitForVersionAfter(state.version);
        const after = (await this.syncToOpenRound()).state;
        return { round: state.round, submitted: false, refusedWith: 'skipped', version: after.version, modelHash: after.modelHash };
      }
      timeBox = { minSteps: min, maxSteps: max, deadline };
    }
    const globalParams = this.params!;
    const trained = await this.trainer.train(globalParams, {
      seed: samplerSeed(swarm.runSeed, this.address, state.round),
      firstStep,
      steps: H,
      timeBox,
      scheduleStep: (step) => roundScheduleStep(step, firstStep, H),
      signal: this.options.signal,
    });
    const trainedAt = performance.now();
    this.emit({
      type: 'trained',
      round: state.round,
      version: state.version,
      steps: trained.steps,
      tokens: trained.tokens,
      lastLoss: trained.losses[trained.losses.length - 1] ?? NaN,
      ms: trained.ms,
    });

    const update = await this.compressor.compress(globalParams, trained.local);
    const payload = encodeUpdate(update, this.manifest, swarm.compression);
    let submitted = false;
    let refusedWith: string | null = null;
    let closeStillToCome = false;
    try {
      const signed = await signHeader(this.options.signer, {
        runId: this.run.runId,
        round: state.round,
        baseModelVersion: state.version,
        baseModelHash: hexToHash(state.modelHash),
        payloadHash: payloadHash(payload),
        payloadBytes: payload.length,
        address: this.address,
        innerSteps: trained.steps,
        tokens: trained.tokens,
        clientVersion: this.options.clientVersion,
      });
      const frame = encodeSubmission(signed, payload);
      const ack = await (this.options.send ? this.options.send(frame) : this.options.client.submit(frame));
      submitted = true;
      this.margin.record(performance.now() - trainedAt);
      this.emit({ type: 'submitted', round: state.round, payloadBytes: payload.length, ack });
    } catch (error) {
      // Not taken by the relay (late, a newer round, the relay unreachable, the user cancelled):
      // what was compressed stays in the residual for a later round.
      await this.compressor.restore(update);
      const code = (error as { code?: unknown }).code;
      refusedWith = typeof code === 'string' ? code : 'error';
      this.emit({ type: 'refused', round: state.round, code: refusedWith, message: (error as Error).message });
      if (!(error instanceof RelayRequestError)) throw error;
      // After 'late' or 'duplicate' this round's close is still to come; wait for it like a submitter.
      closeStillToCome = error.is('late') || error.is('duplicate');
    }

    if (submitted || closeStillToCome) await this.waitForVersionAfter(state.version);
    const after = (await this.syncToOpenRound()).state;
    this.emit({ type: 'round-work', round: state.round, steps: trained.steps, tokens: trained.tokens, workMs: trained.workMs, periodMs: performance.now() - roundStarted });
    return { round: state.round, submitted, refusedWith, version: after.version, modelHash: after.modelHash };
  }

  /**
   * Brings θ to the open round's version (catch-up first, checkpoint as the
   * fallback); returns that round and when (performance.now()) the relay said so.
   */
  private async syncToOpenRound(): Promise<{ state: RoundStatus; fetchedAt: number }> {
    for (let attempt = 0; ; attempt++) {
      const state = await this.options.client.round();
      const fetchedAt = performance.now();
      if (this.version === state.version && this.hash === state.modelHash) return { state, fetchedAt };
      if (this.params && this.version >= 0 && this.version < state.version) {
        try {
          await this.catchUp(state.version);
        } catch (error) {
          this.emit({ type: 'problem', message: `catch-up failed (${(error as Error).message}); downloading the checkpoint` });
        }
      }
      if (this.version !== state.version || this.hash !== state.modelHash) {
        const checkpoint = await this.options.client.checkpoint();
        this.params = checkpoint.params;
        this.version = checkpoint.version;
        this.hash = checkpoint.modelHash;
        this.emit({ type: 'synced', version: this.version, modelHash: this.hash, via: 'checkpoint', params: this.params });
      }
      if (this.version === state.version && this.hash === state.modelHash) return { state, fetchedAt };
      // The round moved on while we downloaded; look again (bounded: something is wrong if it keeps moving).
      if (attempt >= 5) throw new ModelDivergedError(`cannot match the relay's model v${state.version} ${state.modelHash}`);
    }
  }

  /** Applies published aggregates until θ reaches `target`, checking each result against the relay's hash. */
  private async catchUp(target: number): Promise<void> {
    const { swarm } = this.run;
    while (this.version < target) {
      const { entries } = await this.options.client.updates(this.version);
      if (entries.length === 0) throw new Error(`the relay has no updates after v${this.version}`);
      for (const entry of entries) {
        const aggregate = decodePublishedAggregate(entry.aggregate, this.manifest, swarm.compression);
        const next = this.params!.slice();
        applyAggregate(next, aggregate, this.manifest, swarm.outerLearningRate);
        const actual = hashToHex(modelHash(next));
        const expected = hashToHex(entry.modelHash);
        if (actual !== expected) {
          this.emit({ type: 'mismatch', version: entry.version, expected, actual });
          throw new ModelDivergedError(`applying the update to v${entry.version} gave ${actual}, the relay has ${expected}`);
        }
        this.params = next;
        this.version = entry.version;
        this.hash = actual;
        this.emit({ type: 'applied', version: this.version, modelHash: actual, params: next });
      }
    }
    this.emit({ type: 'synced', version: this.version, modelHash: this.hash!, via: 'updates', params: this.params! });
  }

  /** Resolves once the relay has a model newer than `version` (push event, or the poll every pollMs). */
  private async waitForVersionAfter(version: number): Promise<void> {
    const pollMs = this.options.pollMs ?? 2_000;
    while (!this.options.signal?.aborted) {
      if (this.newestSeen > version) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
      if (this.newestSeen > version) return;
      try {
        const state = await this.options.client.round();
        if (state.version > version) return;
      } catch (error) {
        this.emit({ type: 'problem', message: `polling the round failed: ${(error as Error).message}` });
      }
    }
  }

  /** The compressor that runs this volunteer's rounds. */
  get compressionPath(): RoundCompressor['path'] {
    return this.compressor.path;
  }

  /** Unsubscribes and frees the trainer and compressor. */
  close(): void {
    this.events?.close();
    this.events = null;
    this.wake?.();
    this.trainer.destroy();
    this.compressor.destroy();
  }
}
