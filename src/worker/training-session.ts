// The training Worker's state machine, standalone mode (no relay): open
// the GPU, download the data, compile every kernel, build the model (restoring
// this run's checkpoint when there is one), then train step after step with
// the shared inner loop (src/train/inner-loop.ts), reporting every step.
//
//   start → preparing (progress events) → training ⇄ paused → stopped | failed
//
// Throttle: after each step the Worker sleeps so that the GPU works the given
// share of the time (sleep = work · (1 − share) / share). Unthrottled, steps go
// in chunks of a few so the inner loop keeps two steps in flight.
// Pause reasons (user, hidden tab, battery) are a set: training runs only when
// it is empty, so resuming after the tab becomes visible never overrides the
// user's own pause. The page decides when a reason holds (Workers cannot see
// visibility or the battery): pause-conditions.ts.
// Device loss arrives through GpuDevice.lost; it is reported as a fatal error
// the user can restart from (the next start reacquires a device and resumes
// from the last checkpoint).
// Leaves out: relay rounds, compression and signing (swarm-session.ts runs
// those when the page was served by a relay).
import { acquireDevice, type GpuDevice } from '../gpu/device.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { compileAll } from '../kernels/index.ts';
import { GPT_PRESETS, defaultTrainConfig, type GptConfig, type TrainConfig } from '../model/config.ts';
import { GptGpu } from '../model/gpt-gpu.ts';
import { initGptParameters } from '../model/init.ts';
import { gptParamCount } from '../model/layout.ts';
import { hashToHex, modelHash } from '../protocol/header.ts';
import { loadLatestCheckpoint, saveCheckpoint, type TesseraDatabase } from '../storage/index.ts';
import { evaluate, runInnerLoop } from '../train/inner-loop.ts';
import { errorEvent } from './error-event.ts';
import { fetchBytes } from './fetch-bytes.ts';
import { trainingFlopsPerStep } from './flops.ts';
import { eventTime, type PauseReason, type ProgressPhase, type TrainingSetup, type TrainingState, type WorkerErrorCode, type WorkerEvent, type WorkerRequest } from './protocol.ts';
import { WakeableSleep } from './wakeable-sleep.ts';

export interface SessionEnvironment {
  /** navigator.gpu of the Worker (or Dawn's GPU in Node). */
  gpu: GPU | undefined;
  post(event: WorkerEvent, transfer?: Transferable[]): void;
  /** The tab's database, or null where there is no IndexedDB (training then cannot resume). */
  openDatabase(): Promise<TesseraDatabase> | null;
}

/** Steps per inner-loop call when unthrottled: keeps two in flight, yet pauses and snapshots wait at most this long. */
const UNTHROTTLED_CHUNK = 4;
/** Validation batches per local evaluation: a few forwards, cheap next to training. */
const EVAL_BATCHES = 2;

interface Run {
  setup: TrainingSetup;
  config: GptConfig;
  train: TrainConfig;
  gpu: GpuDevice;
  ctx: GpuContext;
  model: GptGpu;
  trainData: Uint8Array;
  valData: Uint8Array;
  step: number; // next global step
  tokens: number;
  stopping: boolean;
  lost: boolean; // the GPU device was lost (not destroyed by us)
  controller: AbortController | null;
  finished: Promise<void>;
}

export class TrainingSession {
  private run: Run | null = null;
  private starting: Promise<void> | null = null;
  private readonly pausedFor = new Set<PauseReason>();
  private throttle = 1;
  private state: TrainingState = 'stopped';
  private snapshotWanted = false;
  private readonly sleeper = new WakeableSleep();
  private readonly dataCache = new Map<string, Uint8Array>();
  private db: TesseraDatabase | null | undefined;

  constructor(private readonly env: SessionEnvironment) {}

  /** One request from the page (already validated by parseWorkerRequest). */
  handle(request: WorkerRequest): void {
    switch (request.kind) {
      case 'start':
        this.throttle = request.setup.throttle;
        void this.start(request.setup);
        break;
      case 'pause':
        this.pausedFor.add(request.reason);
        this.run?.controller?.abort();
        this.wakeUp();
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
      case 'snapshot':
        if (!this.run) this.fail('bad-request', 'There is no model yet: start training first.', 'Press "Start training".', false, false);
        else {
          this.snapshotWanted = true;
          this.wakeUp();
        }
        break;
      case 'join':
      case 'sign-result':
      case 'push':
        // training-worker.ts routes these to the swarm session.
        throw new Error(`the standalone session does not handle '${request.kind}'`);
      default: {
        const unknown: never = request;
        throw new Error(`unhandled request ${JSON.stringify(unknown)}`);
      }
    }
  }

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

  private async bytes(url: string, label: string): Promise<Uint8Array> {
    const cached = this.dataCache.get(url);
    if (cached) return cached;
    this.progress('downloading-data', 0, label);
    const bytes = await fetchBytes(url, (fraction) => this.progress('downloading-data', fraction, label));
    this.dataCache.set(url, bytes);
    return bytes;
  }

  private async start(setup: TrainingSetup): Promise<void> {
    await this.stop();
    const starting = this.prepare(setup);
    this.starting = starting;
    await starting;
    if (this.starting === starting) this.starting = null;
  }

  private async prepare(setup: TrainingSetup): Promise<void> {
    this.setState('preparing');
    let gpu: GpuDevice | null = null;
    let model: GptGpu | null = null;
    try {
      const config: GptConfig = GPT_PRESETS[setup.preset];
      const train: TrainConfig = { ...defaultTrainConfig(config), batchSize: setup.batchSize, seqLen: setup.seqLen };

      this.progress('acquiring-device', null);
      let released = false;
      let current: Run | null = null;
      gpu = await acquireDevice(this.env.gpu, {
        onLost: (error) => {
          if (released) return; // we destroyed it ourselves
          if (current) {
            current.lost = true;
            current.stopping = true;
            current.controller?.abort();
          }
          this.wakeUp();
          this.fail('device-lost', error.message, error.advice, true, true);
        },
      });

      const trainData = await this.bytes(setup.trainUrl, 'training text');
      const valData = await this.bytes(setup.valUrl, 'validation text');

      const ctx = new GpuContext(gpu);
      this.progress('compiling-shaders', 0);
      await compileAll(ctx, (done, total) => this.progress('compiling-shaders', done / total, `${done} of ${total} kernels`));

      this.progress('allocating-model', null);
      model = await GptGpu.create(ctx, config, setup.batchSize, setup.seqLen);

      this.progress('restoring-checkpoint', null);
      const resumed = await this.restoreOrInit(model, setup, config);

      const run: Run = {
        setup,
        config,
        train,
        gpu,
        ctx,
        model,
        trainData,
        valData,
        step: resumed?.step ?? 0,
        tokens: resumed?.tokens ?? 0,
        stopping: false,
        lost: false,
        controller: null,
        finished: Promise.resolve(),
      };
      current = run;
      const device = gpu;
      const release = () => {
        released = true;
        run.model.destroy();
        device.device.destroy();
      };
      this.run = run;
      this.env.post({
        kind: 'ready',
        adapter: gpu.adapter,
        preset: setup.preset,
        config,
        parameterCount: gptParamCount(config),
        batchSize: setup.batchSize,
        seqLen: setup.seqLen,
        flopsPerStep: trainingFlopsPerStep(config, setup.batchSize, setup.seqLen),
        resumedFromStep: resumed ? resumed.step : null,
        mode: 'standalone',
        runId: setup.runId,
        resumedFromVersion: null,
      });
      run.finished = this.trainLoop(run).finally(release);
    } catch (error) {
      model?.destroy();
      gpu?.device.destroy();
      this.run = null;
      this.report(error, true);
      this.setState('failed');
    }
  }

  private async restoreOrInit(model: GptGpu, setup: TrainingSetup, config: GptConfig): Promise<{ step: number; tokens: number } | null> {
    const db = await this.database();
    const saved = db ? await loadLatestCheckpoint(db, setup.runId).catch((error: unknown) => (this.report(error, false), null)) : null;
    if (saved && saved.params.length === model.layout.size) {
      model.uploadParams(saved.params);
      if (saved.adamM && saved.adamV) {
        model.ctx.write(model.m, saved.adamM);
        model.ctx.write(model.v, saved.adamV);
      }
      return { step: saved.counters.globalStep, tokens: saved.counters.tokens };
    }
    model.uploadParams(initGptParameters(config, setup.seed).params);
    return null;
  }

  private async trainLoop(run: Run): Promise<void> {
    const { setup, model } = run;
    let lastEval = -1;
    let lastCheckpoint = run.step;
    let first = true;
    try {
      this.setState(this.pausedFor.size ? 'paused' : 'training');
      if (setup.evalEvery > 0) {
        await this.evaluateNow(run);
        lastEval = run.step;
      }
      while (!run.stopping) {
        if (this.snapshotWanted) await this.sendSnapshot(run);
        if (this.pausedFor.size) {
          if (this.state !== 'paused') this.setState('paused');
          await this.nap(60_000);
          continue;
        }
        if (this.state !== 'training') this.setState('training');
        if (first) this.progress('first-step', null);
        const throttle = this.throttle;
        run.controller = new AbortController();
        const started = performance.now();
        await runInnerLoop({
          model,
          train: run.train,
          data: run.trainData,
          seed: setup.seed,
          steps: throttle >= 1 ? UNTHROTTLED_CHUNK : 1,
          firstStep: run.step,
          totalSteps: setup.totalSteps,
          signal: run.controller.signal,
          onStep: (report) => {
            first = false;
            run.step = report.step + 1;
            run.tokens += report.tokens;
            this.env.post({ kind: 'step', ...report, flops: trainingFlopsPerStep(run.config, model.B, model.T), at: eventTime() });
          },
        });
        const workMs = performance.now() - started;
        run.controller = null;
        if (run.stopping) break;
        if (setup.evalEvery > 0 && run.step - lastEval >= setup.evalEvery) {
          await this.evaluateNow(run);
          lastEval = run.step;
        }
        if (setup.checkpointEvery > 0 && run.step - lastCheckpoint >= setup.checkpointEvery) {
          await this.checkpoint(run);
          lastCheckpoint = run.step;
        }
        if (throttle < 1) await this.nap((workMs * (1 - throttle)) / throttle);
      }
      this.setState(run.lost ? 'failed' : 'stopped');
    } catch (error) {
      // After a device loss every GPU call fails; the loss itself was reported.
      if (!run.lost) this.report(error, true);
      this.setState('failed');
    }
  }

  private async evaluateNow(run: Run): Promise<void> {
    const loss = await evaluate(run.model, run.valData, EVAL_BATCHES);
    this.env.post({ kind: 'evaluation', step: run.step, loss });
  }

  private async sendSnapshot(run: Run): Promise<void> {
    this.snapshotWanted = false;
    const params = await run.model.readParams();
    this.env.post({ kind: 'snapshot', step: run.step, preset: run.setup.preset, config: run.config, params }, [params.buffer]);
  }

  private async checkpoint(run: Run): Promise<void> {
    const db = await this.database();
    if (!db) return;
    const started = performance.now();
    const { model, ctx } = run;
    const [params, adamM, adamV] = await Promise.all([model.readParams(), ctx.readFloat32(model.m, model.layout.size), ctx.readFloat32(model.v, model.layout.size)]);
    try {
      await saveCheckpoint(db, {
        runId: run.setup.runId,
        version: 0, // standalone: no global version; each save replaces the last
        modelHash: hashToHex(modelHash(params)),
        params,
        errorFeedback: null,
        adamM,
        adamV,
        counters: { globalStep: run.step, tokens: run.tokens, rounds: 0, lastRound: null },
      });
      this.env.post({ kind: 'checkpoint', step: run.step, bytes: params.byteLength * 3, ms: performance.now() - started });
    } catch (error) {
      this.report(error, false); // training goes on; only resuming suffers
    }
  }

  /** Stops training (after the step in flight) and frees the GPU; resolves when done. */
  async stop(): Promise<void> {
    await this.starting;
    const run = this.run;
    if (!run) return;
    run.stopping = true;
    run.controller?.abort();
    this.wakeUp();
    await run.finished.catch(() => undefined);
    this.run = null;
    if (this.state !== 'failed') this.setState('stopped');
  }

  /** Posts an 'error' event for any failure, with the user-facing message and advice. */
  private report(error: unknown, fatal: boolean): void {
    this.env.post(errorEvent(error, fatal));
  }
}
