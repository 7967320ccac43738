// The training Worker's swarm mode: this tab runs the relay's round loop
// (src/swarm/volunteer.ts) against the relay that served the page.
//
//   join → preparing: open the GPU, fetch the run, download and check the
//          training bytes (length + SHA-256 from the run), compile every
//          kernel, build the model, restore this run's checkpoint
//        → deliver the outbox a previous visit left (exactly once: see
//          outbox-sender.ts)
//        → rounds: sync (catch up from the checkpoint's version by the
//          published aggregates, each hash-checked; or download θ) →
//          H inner steps → compress → the page's wallet signs → outbox +
//          checkpoint in one transaction → POST → wait for the close →
//          apply → checkpoint {θ(v+1), residual, AdamW m/v, counters}
//
// A tab reloaded after it signed round r finds lastRound = r in its
// checkpoint and does not train r again: it delivers the saved frame (if the
// relay does not have it yet) and waits for r to close.
// The wallet lives on the page: signRaw here posts a 'sign-request' and waits
// for the page's 'sign-result'. A refusal leaves the round unsent (its update
// goes back into the residual), is shown on the page, and the tab waits for
// the next round.
// Device loss stops the session with a 'device-lost' error the page can
// restart from; the restart resumes from the last checkpoint like a reload.
// Progress is reported for every long wait: the device, the data, the
// kernels, the model download (byte progress through a counting fetch), the
// catch-up, the first step, signing, sending and the round's close.
// Leaves out: compression on the GPU (the CPU reference runs here; the GPU
// kernels of src/compress/sparseloco-gpu.ts could replace it), choosing B
// from the device's speed (the run's B is used), scoring.
import { decodeUpdate } from '../compress/codec.ts';
import { acquireDevice, type GpuDevice } from '../gpu/device.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { compileAll } from '../kernels/index.ts';
import type { GptConfig } from '../model/config.ts';
import { buildLayout } from '../model/layout.ts';
import { decodeSubmission, hashToHex, isProtocolError, protocolReady, type RawSigner, type SubmissionHeader } from '../protocol/index.ts';
import {
  deleteRunCheckpoints,
  discardSubmission,
  loadLatestCheckpoint,
  pendingSubmissions,
  readFrame,
  recordFailure,
  retryDelay,
  acknowledgeSubmission,
  saveCheckpointAndSettle,
  saveCheckpointWithSubmission,
  type CheckpointCounters,
  type CheckpointState,
  type TesseraDatabase,
} from '../storage/index.ts';
import { CpuRoundCompressor } from '../swarm/compressor.ts';
import { RelayRequestError } from '../swarm/relay-client.ts';
import { gptConfigOf, type SwarmRunInfo } from '../protocol/index.ts';
import { Volunteer, type VolunteerEvent } from '../swarm/volunteer.ts';
import { errorEvent, TabBusyError } from './error-event.ts';
import { DataUnavailableError, fetchBytes } from './fetch-bytes.ts';
import { trainingFlopsPerStep } from './flops.ts';
import { isTransient, OutboxRelayClient, SubmissionNotSavedError, type DeliveryEvent, type OutboxStore } from './outbox-sender.ts';
import { PacedTrainer, TrainingStoppedError, type Pace } from './paced-trainer.ts';
import { eventTime, type PauseReason, type ProgressPhase, type RoundPhase, type SwarmSetup, type TrainingState, type WorkerErrorCode, type WorkerEvent, type WorkerRequest } from './protocol.ts';
import type { SessionEnvironment } from './training-session.ts';
import { WakeableSleep } from './wakeable-sleep.ts';

/** Steps per inner-loop call when unthrottled: a pause waits at most this many steps. */
const UNTHROTTLED_CHUNK = 4;
/**
 * How often the Volunteer asks for the round while waiting. Push events (the
 * page forwards them) wake it at once; the poll only covers a dropped socket,
 * so it can be slow enough that a room of tabs costs the relay little.
 */
const POLL_MS = 5_000;
/**
 * How long a joining tab waits for another tab of this browser to let go of
 * the swarm (a reloaded page's old Worker is gone within moments).
 */
const TAB_LOCK_WAIT_MS = 10_000;

/**
 * One swarm session per browser and relay (Web Locks: released when the
 * holding Worker ends, a reload included). Two would share one checkpoint and
 * outbox in IndexedDB. Resolves to the release function; TabBusyError if
 * another tab keeps it.
 */
async function holdTabLock(relayUrl: string): Promise<() => void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return () => {};
  return new Promise((resolve, reject) => {
    let release!: () => void;
    const held = new Promise<void>((done) => (release = done));
    locks
      .request(`tessera-swarm ${new URL(relayUrl).origin}`, { signal: AbortSignal.timeout(TAB_LOCK_WAIT_MS) }, async () => {
        resolve(release);
        await held;
      })
      .catch((error: Error) => reject(error.name === 'TimeoutError' || error.name === 'AbortError' ? new TabBusyError() : error));
  });
}

interface PendingSignature {
  resolve: (value: { signature: string }) => void;
  reject: (error: Error) => void;
}

interface SwarmRun {
  setup: SwarmSetup;
  gpu: GpuDevice;
  controller: AbortController;
  stopping: boolean;
  lost: boolean; // the GPU device was lost (not destroyed by us)
  db: TesseraDatabase | null;
  client: OutboxRelayClient;
  info: SwarmRunInfo | null;
  config: GptConfig | null;
  volunteer: Volunteer | null;
  trainer: PacedTrainer | null;
  compressor: CpuRoundCompressor | null;
  counters: CheckpointCounters;
  savedVersion: number; // version of the newest checkpoint this session saved or restored (−1: none)
  trained: { round: number; version: number } | null; // the round being worked on
  trainedMoments: Promise<{ m: Float32Array; v: Float32Array }> | null; // AdamW's moments read back when it was trained
  refusedPosted: number | null; // round whose refusal the outbox already reported
  firstStepDone: boolean;
  pendingSignatures: Map<number, PendingSignature>;
  finished: Promise<void>;
}

export class SwarmSession {
  private run: SwarmRun | null = null;
  private starting: Promise<void> | null = null;
  private readonly pausedFor = new Set<PauseReason>();
  private throttle = 1;
  private state: TrainingState = 'stopped';
  private readonly sleeper = new WakeableSleep();
  private nextSignatureId = 1;
  private readonly dataCache = new Map<string, Uint8Array>();
  private db: TesseraDatabase | null | undefined;

  constructor(private readonly env: SessionEnvironment) {}

  /** One request from the page (already validated by parseWorkerRequest). */
  handle(request: WorkerRequest): void {
    switch (request.kind) {
      case 'join':
        this.throttle = request.setup.throttle;
        void this.start(request.setup);
        break;
      case 'pause':
        this.pausedFor.add(request.reason);
        this.wakeUp();
        // The GPU stops after the chunk in flight; the round's wait goes on.
        if (this.run && this.state === 'training') this.setState('paused');
        else this.postStatus();
        break;
      case 'resume':
        this.pausedFor.delete(request.reason);
        this.wakeUp();
        if (this.run && this.state === 'paused' && this.pausedFor.size === 0) this.setState('training');
        else this.postStatus();
        break;
      case 'setThrottle':
        this.throttle = request.throttle;
        this.wakeUp();
        this.postStatus();
        break;
      case 'stop':
        void this.stop();
        break;
      case 'snapshot': {
        const model = this.run?.volunteer?.model();
        if (!this.run?.info || !this.run.config || !model?.params) {
          this.fail('bad-request', 'There is no model yet: wait until this tab has the swarm\'s model.', 'Join the swarm first.', false, false);
          break;
        }
        const params = model.params.slice();
        this.env.post({ kind: 'snapshot', step: model.version, preset: this.run.info.swarm.model.preset, config: this.run.config, params }, [params.buffer]);
        break;
      }
      case 'sign-result': {
        const pending = this.run?.pendingSignatures.get(request.id);
        if (!pending) break; // answered after a stop: nothing waits for it any more
        this.run!.pendingSignatures.delete(request.id);
        if (request.signature !== null) pending.resolve({ signature: request.signature });
        else pending.reject(new Error(request.error ?? 'the wallet did not sign'));
        break;
      }
      case 'push':
        this.run?.client.pushEvent(request.event);
        break;
      case 'start':
        // training-worker.ts routes this to the standalone session.
        throw new Error("the swarm session does not handle 'start'");
      default: {
        const unknown: never = request;
        throw new Error(`unhandled request ${JSON.stringify(unknown)}`);
      }
    }
  }

  // ---------------------------------------------------------------- plumbing

  private setState(state: TrainingState): void {
    this.state = state;
    this.postStatus();
  }

  private postStatus(): void {
    this.env.post({ kind: 'status', state: this.state, pausedFor: [...this.pausedFor], throttle: this.throttle });
  }

  private progress(phase: ProgressPhase, fraction: number | null, detail: string | null = null): void {
    this.env.post({ kind: 'progress', phase, fraction, detail, at: eventTime() });
  }

  private fail(code: WorkerErrorCode, message: string, advice: string, fatal: boolean, canRestart: boolean): void {
    this.env.post({ kind: 'error', code, message, advice, fatal, canRestart });
  }

  private report(error: unknown, fatal: boolean): void {
    this.env.post(errorEvent(error, fatal));
  }

  private postRound(run: SwarmRun, phase: RoundPhase, round: number, extra: Partial<Extract<WorkerEvent, { kind: 'round' }>> = {}): void {
    this.env.post({
      kind: 'round',
      phase,
      round,
      frameBytes: null,
      payloadBytes: null,
      denseBytes: run.info ? 4 * run.info.model.parameterCount : null,
      version: null,
      code: null,
      message: null,
      ...extra,
    });
  }

  private wakeUp(): void {
    this.sleeper.wakeUp();
  }

  /** Sleeps up to ms, or until a request changes something. */
  private nap(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  private async database(): Promise<TesseraDatabase | null> {
    if (this.db !== undefined) return this.db;
    try {
      this.db = (await this.env.openDatabase()) ?? null;
    } catch (error) {
      this.db = null;
      this.report(error, false);
    }
    return this.db;
  }

  /** Waits while a pause reason holds; after a chunk of work, sleeps so the GPU works the throttle's share. */
  private async gate(run: SwarmRun, lastWorkMs: number): Promise<void> {
    const throttle = this.throttle;
    if (throttle < 1 && lastWorkMs > 0) await this.nap((lastWorkMs * (1 - throttle)) / throttle);
    while (this.pausedFor.size && !run.stopping) {
      if (this.state !== 'paused') this.setState('paused');
      await this.nap(60_000);
    }
    if (!run.stopping && this.state !== 'training') this.setState('training');
  }

  private pace(run: SwarmRun): Pace {
    return {
      chunkSteps: () => (this.throttle >= 1 ? UNTHROTTLED_CHUNK : 1),
      gate: async (lastWorkMs) => {
        await this.gate(run, lastWorkMs);
        if (!run.firstStepDone) this.progress('first-step', null);
      },
      onStep: (report) => {
        run.firstStepDone = true;
        const flops = run.config && run.trainer ? trainingFlopsPerStep(run.config, run.trainer.batchSize, run.trainer.seqLen) : 0;
        this.env.post({ kind: 'step', ...report, flops, at: eventTime() });
      },
    };
  }

  /** fetch for the RelayClient that reports byte progress of the model download and the catch-up bundle. */
  private progressFetch(): typeof fetch {
    return async (input, init) => {
      const response = await fetch(input, init);
      const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
      const phase: ProgressPhase | null = path === '/api/checkpoint' ? 'downloading-model' : path === '/api/updates' ? 'catching-up' : null;
      if (!phase || !response.ok || !response.body) return response;
      const total = Number(response.headers.get('content-length')) || 0;
      let received = 0;
      this.progress(phase, total ? 0 : null, 'downloading');
      const counted = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, controller) => {
            received += chunk.byteLength;
            this.progress(phase, total ? Math.min(1, received / total) : null, `${(received / 1024).toFixed(0)} KiB`);
            controller.enqueue(chunk);
          },
        }),
      );
      return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
  }

  /** The run's training bytes, checked against the length and SHA-256 the relay published. */
  private async trainingData(info: SwarmRunInfo, relayUrl: string): Promise<Uint8Array> {
    const { trainUrl, trainBytes, trainSha256 } = info.swarm.data;
    const url = new URL(trainUrl, relayUrl).href;
    let bytes = this.dataCache.get(url);
    if (!bytes) {
      this.progress('downloading-data', 0, 'training text');
      bytes = await fetchBytes(url, (fraction) => this.progress('downloading-data', fraction, 'training text'));
      if (bytes.length !== trainBytes) throw new DataUnavailableError(url, `it has ${bytes.length} bytes, the run expects ${trainBytes}`);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      if (hex !== trainSha256) throw new DataUnavailableError(url, `its SHA-256 is ${hex}, the run's is ${trainSha256}`);
      this.dataCache.set(url, bytes);
    }
    return bytes;
  }

  // -------------------------------------------------------------- lifecycle

  private async start(setup: SwarmSetup): Promise<void> {
    await this.stop();
    const starting = this.prepare(setup);
    this.starting = starting;
    await starting;
    if (this.starting === starting) this.starting = null;
  }

  private async prepare(setup: SwarmSetup): Promise<void> {
    this.setState('preparing');
    let run: SwarmRun | null = null;
    let released = false;
    let gpu: GpuDevice | null = null;
    let unlock = () => {};
    try {
      unlock = await holdTabLock(setup.relayUrl);
      this.progress('acquiring-device', null);
      gpu = await acquireDevice(this.env.gpu, {
        onLost: (error) => {
          if (released) return; // we destroyed it ourselves
          if (run) {
            run.lost = true;
            this.halt(run);
          }
          this.wakeUp();
          this.env.post(errorEvent(error, true));
        },
      });
      await protocolReady();
      const db = await this.database();
      const ctx = new GpuContext(gpu);
      const controller = new AbortController();
      const current: SwarmRun = {
        setup,
        gpu,
        controller,
        stopping: false,
        lost: false,
        db,
        client: null as unknown as OutboxRelayClient, // set just below; the closures need `current` first
        info: null,
        config: null,
        volunteer: null,
        trainer: null,
        compressor: null,
        counters: { globalStep: 0, tokens: 0, rounds: 0, lastRound: null },
        savedVersion: -1,
        trained: null,
        trainedMoments: null,
        refusedPosted: null,
        firstStepDone: false,
        pendingSignatures: new Map(),
        finished: Promise.resolve(),
      };
      run = current;
      current.client = new OutboxRelayClient(setup.relayUrl, {
        fetch: this.progressFetch(),
        outbox: db ? this.outboxStore(current, db) : null,
        onDelivery: (event) => this.onDelivery(current, event),
        signal: controller.signal,
      });
      current.volunteer = await Volunteer.join({
        client: current.client,
        signer: this.pageSigner(current),
        address: setup.address,
        clientVersion: setup.clientVersion,
        pollMs: POLL_MS,
        signal: controller.signal,
        onEvent: (event) => this.onVolunteerEvent(current, event),
        createTrainer: async (info) => {
          current.info = info;
          current.config = gptConfigOf(info.swarm);
          const data = await this.trainingData(info, setup.relayUrl);
          this.progress('compiling-shaders', 0);
          await compileAll(ctx, (done, total) => this.progress('compiling-shaders', done / total, `${done} of ${total} kernels`));
          this.progress('allocating-model', null);
          current.trainer = await PacedTrainer.create(ctx, current.config, info.swarm.train, data, this.pace(current));
          return current.trainer;
        },
        createCompressor: (info, manifest, paramCount) => {
          current.compressor = new CpuRoundCompressor(paramCount, manifest, info.swarm.compression, info.swarm.errorFeedbackBeta);
          return current.compressor;
        },
      });
      this.progress('restoring-checkpoint', null);
      const resumedVersion = await this.restore(current);
      const info = current.info!;
      const trainer = current.trainer!;
      const device = gpu;
      const release = () => {
        released = true;
        current.volunteer?.close();
        device.device.destroy();
        unlock();
      };
      this.run = current;
      this.env.post({
        kind: 'ready',
        adapter: gpu.adapter,
        preset: info.swarm.model.preset,
        config: current.config!,
        parameterCount: info.model.parameterCount,
        batchSize: trainer.batchSize,
        seqLen: trainer.seqLen,
        flopsPerStep: trainingFlopsPerStep(current.config!, trainer.batchSize, trainer.seqLen),
        resumedFromStep: resumedVersion === null ? null : current.counters.globalStep,
        mode: 'swarm',
        runId: info.runId,
        resumedFromVersion: resumedVersion,
      });
      current.finished = this.loop(current).finally(release);
    } catch (error) {
      released = true;
      if (run?.volunteer) run.volunteer.close();
      else run?.trainer?.destroy();
      gpu?.device.destroy();
      unlock();
      this.run = null;
      if (!run?.lost) this.report(error, true);
      this.setState('failed');
    }
  }

  /** Stops the run's work: aborts training and waits, refuses pending signatures. */
  private halt(run: SwarmRun): void {
    run.stopping = true;
    run.controller.abort();
    for (const pending of run.pendingSignatures.values()) pending.reject(new TrainingStoppedError());
    run.pendingSignatures.clear();
    this.wakeUp();
  }

  /** Stops after the step in flight (a half-trained round is dropped, never signed) and frees the GPU. */
  async stop(): Promise<void> {
    await this.starting;
    const run = this.run;
    if (!run) return;
    this.halt(run);
    await run.finished.catch(() => undefined);
    this.run = null;
    if (this.state !== 'failed') this.setState('stopped');
  }

  // ------------------------------------------------------------ persistence

  /**
   * Restores this run's newest checkpoint into the Volunteer, the compressor
   * and the trainer. A checkpoint ahead of the relay (its data directory was
   * reset under the same run id) belongs to another incarnation of the run and
   * is dropped with its outbox. Returns the restored version, or null.
   */
  private async restore(run: SwarmRun): Promise<number | null> {
    const { db, info } = run;
    if (!db || !info) return null;
    let saved: CheckpointState | null = null;
    try {
      saved = await loadLatestCheckpoint(db, info.runId);
    } catch (error) {
      this.report(error, false);
    }
    if (!saved) return null;
    const state = await run.client.round();
    const foreign = saved.version > state.version || (saved.counters.lastRound ?? -1) > state.round;
    if (!foreign) {
      try {
        run.volunteer!.startFrom(saved);
        if (saved.errorFeedback) run.compressor!.load(saved.errorFeedback);
        if (saved.adamM && saved.adamV) run.trainer!.setMoments(saved.adamM, saved.adamV);
        run.counters = { ...saved.counters };
        run.savedVersion = saved.version;
        this.env.post({ kind: 'model', version: saved.version, modelHash: saved.modelHash, via: 'saved' });
        return saved.version;
      } catch (error) {
        this.report(error, false); // a damaged checkpoint: start over from the relay's model
      }
    }
    await deleteRunCheckpoints(db, info.runId).catch((error: unknown) => this.report(error, false));
    for (const entry of await pendingSubmissions(db)) if (entry.runId === info.runId) await discardSubmission(db, entry.id!);
    return null;
  }

  /** The checkpoint of the tab's current state: θ(v) as the Volunteer holds it, the residual, AdamW's moments. */
  private async snapshotState(run: SwarmRun, counters: CheckpointCounters, moments_?: Promise<{ m: Float32Array; v: Float32Array }> | null): Promise<CheckpointState | null> {
    const model = run.volunteer!.model();
    if (!model.params || model.modelHash === null) return null;
    const params = model.params.slice(); // the Volunteer may swap θ while the moments are read back
    const [errorFeedback, moments] = await Promise.all([run.compressor!.residual(), moments_ ?? run.trainer!.moments()]);
    return { runId: run.info!.runId, version: model.version, modelHash: model.modelHash, params, errorFeedback, adamM: moments.m, adamV: moments.v, counters };
  }

  /**
   * Saves the state after a round (or a catch-up) and removes the outbox
   * entries that were refused, whose updates the residual now holds again.
   */
  private async saveState(run: SwarmRun, force = false): Promise<void> {
    const db = run.db;
    if (!db || !run.volunteer || run.stopping) return;
    const settled = [...run.client.refusedEntries];
    if (!force && settled.length === 0 && run.volunteer.model().version === run.savedVersion) return;
    const started = performance.now();
    const state = await this.snapshotState(run, { ...run.counters });
    if (!state) {
      for (const id of settled) await discardSubmission(db, id);
      run.client.refusedEntries.splice(0, settled.length);
      return;
    }
    try {
      await saveCheckpointAndSettle(db, state, settled);
      run.client.refusedEntries.splice(0, settled.length);
      run.savedVersion = state.version;
      this.env.post({ kind: 'checkpoint', step: state.counters.globalStep, bytes: state.params.byteLength * 4, ms: performance.now() - started });
    } catch (error) {
      this.report(error, false); // training goes on; only resuming suffers
    }
  }

  /** The outbox as outbox-sender.ts sees it: each entry saved with the checkpoint that assumes its delivery. */
  private outboxStore(run: SwarmRun, db: TesseraDatabase): OutboxStore {
    return {
      enqueue: async (frame: Uint8Array, header: SubmissionHeader) => {
        const counters: CheckpointCounters = { ...run.counters, rounds: run.counters.rounds + 1, lastRound: header.round };
        try {
          // AdamW's moments as the round's training left them, read back when it ended (before signing):
          // a device lost after the signature cannot stop this round's save.
          const state = await this.snapshotState(run, counters, run.trainedMoments);
          if (!state) throw new Error('this tab has no model yet');
          const id = await saveCheckpointWithSubmission(db, state, {
            runId: run.info!.runId,
            round: header.round,
            address: header.address,
            payloadHash: hashToHex(header.payloadHash),
            frame,
          });
          run.counters = counters;
          run.savedVersion = state.version;
          return id;
        } catch (error) {
          throw new SubmissionNotSavedError(error);
        }
      },
      // The relay has the frame whatever happens here: a failed delete leaves an entry that the next
      // visit replays, which the relay answers 'duplicate' and the ledger confirms — still delivered once.
      acknowledge: async (id: number) => {
        await acknowledgeSubmission(db, id).catch((error: unknown) => this.report(error, false));
      },
      recordFailure: async (id: number, reason: string) => {
        const record = await recordFailure(db, id, reason).catch((error: unknown) => (this.report(error, false), null));
        return record ? Math.max(0, record.nextAttemptAt - Date.now()) : retryDelay(1);
      },
    };
  }

  /**
   * Delivers the signed submissions a previous visit left in the outbox. A
   * refused one has its update put back into the residual, and leaves the
   * outbox in the same transaction that saves that residual.
   */
  private async deliverSaved(run: SwarmRun): Promise<void> {
    const { db, info } = run;
    if (!db || !info) return;
    const entries = (await pendingSubmissions(db)).filter((entry) => entry.runId === info.runId);
    const manifest = buildLayout(run.config!).tensors;
    for (const [i, entry] of entries.entries()) {
      if (run.stopping) return;
      this.progress('delivering-outbox', i / entries.length, `${i + 1} of ${entries.length}`);
      const frame = await readFrame(entry);
      let submission;
      try {
        submission = decodeSubmission(frame);
      } catch {
        await discardSubmission(db, entry.id!); // damaged: the relay would refuse it too
        continue;
      }
      const result = await run.client.deliver(entry.id!, frame, submission.header, true);
      if (result.delivered) continue;
      try {
        await run.compressor!.restore(decodeUpdate(submission.payload, manifest, info.swarm.compression));
      } catch {
        // Not decodable with this run's layout: nothing to put back.
      }
      run.client.refusedEntries.push(entry.id!);
      await this.saveState(run, true);
    }
  }

  // ------------------------------------------------------------------ rounds

  private async loop(run: SwarmRun): Promise<void> {
    const volunteer = run.volunteer!;
    try {
      this.setState(this.pausedFor.size ? 'paused' : 'training');
      await this.deliverSaved(run);
      let unreachable = 0; // consecutive failures to reach the relay
      while (!run.stopping) {
        await this.gate(run, 0);
        if (run.stopping) break;
        try {
          const state = await volunteer.sync();
          await this.saveState(run);
          if ((run.counters.lastRound ?? -1) >= state.round) {
            // Signed before a reload (or refused for good): never train a round twice.
            this.progress('waiting-for-round', null, `round ${state.round}: this tab's update is in`);
            await volunteer.waitForNewerModel(state.version);
            continue;
          }
          const outcome = await volunteer.contribute();
          unreachable = 0;
          this.postRound(run, 'closed', outcome.round, { version: outcome.version });
        } catch (error) {
          if (run.stopping || error instanceof TrainingStoppedError) break;
          const unsaved = error instanceof SubmissionNotSavedError;
          if (unsaved || isProtocolError(error, 'signer-refused') || isProtocolError(error, 'signer-unsupported')) {
            // The update went back into the residual; this round goes on without us.
            if (unsaved) this.report(error, false);
            const trained = run.trained!;
            this.progress('waiting-for-round', null, `round ${trained.round}: ${unsaved ? 'not saved' : 'not signed'}, so not sent`);
            await volunteer.waitForNewerModel(trained.version);
            continue;
          }
          if (!(error instanceof RelayRequestError) || !isTransient(error)) throw error;
          // The relay restarts or the network dropped: keep the state, try again with backoff.
          const delayMs = retryDelay(++unreachable);
          this.fail('relay', `The relay cannot be reached (${error.message}); trying again in ${Math.ceil(delayMs / 1000)} s.`, 'Nothing to do: training resumes when the relay answers.', false, false);
          await this.nap(delayMs);
          continue;
        }
        await this.saveState(run);
      }
      this.setState(run.lost ? 'failed' : 'stopped');
    } catch (error) {
      // A lost device fails the GPU work in flight before `lost` resolves: give it a moment, so the
      // page shows the loss (reported by onLost, with its advice) rather than its symptom.
      if (!run.lost && !run.stopping) await Promise.race([run.gpu.lost, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      if (!run.lost && !run.stopping && !(error instanceof TrainingStoppedError)) this.report(error, true);
      this.setState(run.lost || !run.stopping ? 'failed' : 'stopped');
    }
  }

  /** A RawSigner whose signRaw asks the page (where the wallet lives) and waits for its answer. */
  private pageSigner(run: SwarmRun): RawSigner {
    return {
      signRaw: ({ address, data }) =>
        new Promise((resolve, reject) => {
          if (run.stopping) return reject(new TrainingStoppedError());
          const id = this.nextSignatureId++;
          run.pendingSignatures.set(id, { resolve, reject });
          const round = run.trained?.round ?? -1;
          this.progress('signing', null, `round ${round}`);
          this.env.post({ kind: 'sign-request', id, address, data, round });
        }),
    };
  }

  private onVolunteerEvent(run: SwarmRun, event: VolunteerEvent): void {
    switch (event.type) {
      case 'synced':
        this.env.post({ kind: 'model', version: event.version, modelHash: event.modelHash, via: event.via });
        break;
      case 'applied':
        this.env.post({ kind: 'model', version: event.version, modelHash: event.modelHash, via: 'updates' });
        break;
      case 'trained':
        run.trained = { round: event.round, version: event.version };
        run.trainedMoments = run.trainer!.moments();
        run.trainedMoments.catch(() => undefined); // a lost device fails it; enqueue reports that
        run.counters = { ...run.counters, globalStep: run.counters.globalStep + event.steps, tokens: run.counters.tokens + event.tokens };
        this.postRound(run, 'trained', event.round, { version: event.version });
        break;
      case 'submitted':
        break; // the outbox reported the acknowledgement with its sizes
      case 'refused':
        if (run.stopping || run.refusedPosted === event.round) break;
        this.postRound(run, 'refused', event.round, { code: event.code, message: event.message });
        break;
      case 'mismatch':
        this.fail('relay', `Model v${event.version} did not match the relay's after applying its update; downloading the relay's model instead.`, 'Nothing to do: the tab repairs itself.', false, false);
        break;
      case 'problem':
        this.fail('relay', event.message, 'Nothing to do unless it repeats: the tab retries by itself.', false, false);
        break;
      default: {
        const unknown: never = event;
        throw new Error(`unhandled volunteer event ${JSON.stringify(unknown)}`);
      }
    }
  }

  private onDelivery(run: SwarmRun, event: DeliveryEvent): void {
    switch (event.type) {
      case 'sending':
        this.progress('sending', null, event.replay ? `round ${event.round}, saved before this page was reloaded` : `round ${event.round}`);
        this.postRound(run, 'sending', event.round, { frameBytes: event.frameBytes, payloadBytes: event.payloadBytes });
        break;
      case 'retrying':
        this.progress('sending', null, `round ${event.round}: ${event.message}; trying again in ${Math.ceil(event.delayMs / 1000)} s`);
        this.postRound(run, 'retrying', event.round, { code: event.code, message: event.message });
        break;
      case 'acknowledged':
        this.progress('waiting-for-round', null, `round ${event.round}`);
        this.postRound(run, 'acknowledged', event.round, {
          frameBytes: event.frameBytes,
          payloadBytes: event.payloadBytes,
          message: event.alreadyStored ? 'the relay already had it (a replay after a lost answer or a reload)' : null,
        });
        break;
      case 'refused':
        run.refusedPosted = event.round;
        this.postRound(run, 'refused', event.round, { code: event.code, message: event.message });
        break;
      default: {
        const unknown: never = event;
        throw new Error(`unhandled delivery event ${JSON.stringify(unknown)}`);
      }
    }
  }
}
