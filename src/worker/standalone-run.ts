// The training Worker's standalone mode (no relay): 'start' opens a
// StandaloneRun (one at a time: run-slot.ts) — the tab's device, the training and validation text, the
// kernels compiled, the model built and restored from this run's checkpoint
// (or initialised) — then trains step after step with the shared inner loop
// (src/train/inner-loop.ts), reporting every step, evaluating and
// checkpointing every so many steps.
//
//   start → preparing (progress events) → training ⇄ paused → stopped | failed
//
// Pause and throttle are session-control.ts's gate between chunks of steps.
// Device loss stops the run with a 'device-lost' error the user can restart
// from (the next start gets a new device from tab-device.ts and resumes from
// the last checkpoint).
// Leaves out: relay rounds, compression and signing (swarm-run.ts runs those
// when the page was served by a relay).
import { GPT_PRESETS, defaultTrainConfig, type GptConfig, type TrainConfig } from '../model/config.ts';
import { GptGpu } from '../model/gpt-gpu.ts';
import { initGptParameters } from '../model/init.ts';
import { gptParamCount } from '../model/layout.ts';
import { hashToHex, modelHash } from '../protocol/header.ts';
import { loadLatestCheckpoint, saveCheckpoint, type TesseraDatabase } from '../storage/index.ts';
import { evaluate, runInnerLoop } from '../train/inner-loop.ts';
import { compileKernels } from './compile-kernels.ts';
import { errorEvent } from './error-event.ts';
import type { DownloadCache } from './fetch-bytes.ts';
import { trainingFlopsPerStep } from './flops.ts';
import { eventTime, type TrainingSetup } from './protocol.ts';
import type { SessionControl } from './session-control.ts';
import type { TabDevice } from './tab-device.ts';

/** Validation batches per local evaluation: a few forwards, cheap next to training. */
const EVAL_BATCHES = 2;

export interface StandaloneEnvironment {
  control: SessionControl;
  device: TabDevice;
  downloads: DownloadCache;
  /** The tab's database, or null where there is none (training then cannot resume). */
  database(): Promise<TesseraDatabase | null>;
}

interface StandaloneParts {
  setup: TrainingSetup;
  env: StandaloneEnvironment;
  config: GptConfig;
  train: TrainConfig;
  model: GptGpu;
  trainData: Uint8Array;
  valData: Uint8Array;
  db: TesseraDatabase | null;
  resumed: { step: number; tokens: number } | null;
  release: () => void;
}

export class StandaloneRun {
  readonly finished: Promise<void>;
  private stopping = false;
  private lost = false; // the GPU device was lost
  private snapshotWanted = false;
  private step: number; // next global step
  private tokens: number;

  private constructor(private readonly parts: StandaloneParts) {
    this.step = parts.resumed?.step ?? 0;
    this.tokens = parts.resumed?.tokens ?? 0;
    this.finished = this.loop().finally(parts.release);
  }

  static async open(setup: TrainingSetup, env: StandaloneEnvironment): Promise<StandaloneRun> {
    const { control } = env;
    const config: GptConfig = GPT_PRESETS[setup.preset];
    const train: TrainConfig = { ...defaultTrainConfig(config), batchSize: setup.batchSize, seqLen: setup.seqLen };
    let run: StandaloneRun | null = null;
    let lostBeforeStart = false;
    let unsubscribe = () => {};
    let model: GptGpu | null = null;
    try {
      control.progress('acquiring-device', null);
      const { ctx } = await env.device.acquire();
      unsubscribe = env.device.onLost((error) => {
        if (run) run.lose();
        else lostBeforeStart = true;
        control.post(errorEvent(error, true));
      });
      const download = (url: string, label: string) => env.downloads.get(url, (fraction) => control.progress('downloading-data', fraction, label));
      const trainData = await download(setup.trainUrl, 'training text');
      const valData = await download(setup.valUrl, 'validation text');
      const db = await env.database();
      const training = await compileKernels(ctx, control, { BT: setup.batchSize * setup.seqLen, C: config.nEmbd }, db);
      control.progress('allocating-model', null);
      model = await GptGpu.create(training, config, setup.batchSize, setup.seqLen);
      control.progress('restoring-checkpoint', null);
      const resumed = await restoreOrInit(model, setup, config, db, control);
      control.post({
        kind: 'ready',
        adapter: ctx.gpu.adapter,
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
        compression: null,
      });
      const built = model;
      const release = () => {
        built.destroy();
        unsubscribe();
      };
      run = new StandaloneRun({ setup, env, config, train, model, trainData, valData, db, resumed, release });
      if (lostBeforeStart) run.lose();
      return run;
    } catch (error) {
      model?.destroy();
      unsubscribe();
      // After a device loss every GPU call fails; the loss itself was reported.
      if (!lostBeforeStart) control.report(error, true);
      throw error;
    }
  }

  halt(): void {
    this.stopping = true;
    this.parts.env.control.wakeUp();
  }

  lose(): void {
    this.lost = true;
    this.halt();
  }

  /** The current parameters for a text sample on the page, sent between chunks of steps. */
  snapshot(): void {
    this.snapshotWanted = true;
    this.parts.env.control.wakeUp();
  }

  private async loop(): Promise<void> {
    const { setup, env, model, config } = this.parts;
    const { control } = env;
    let lastEval = -1;
    let lastCheckpoint = this.step;
    let first = true;
    let lastWorkMs = 0;
    try {
      control.resumeWork();
      if (setup.evalEvery > 0) {
        await this.evaluateNow();
        lastEval = this.step;
      }
      while (!this.stopping) {
        if (this.snapshotWanted) await this.sendSnapshot();
        await control.gate(lastWorkMs, () => this.stopping || this.snapshotWanted);
        if (this.stopping) break;
        if (this.snapshotWanted) continue;
        if (first) control.progress('first-step', null);
        const started = performance.now();
        await runInnerLoop({
          model,
          train: this.parts.train,
          data: this.parts.trainData,
          seed: setup.seed,
          steps: control.chunkSteps(),
          firstStep: this.step,
          totalSteps: setup.totalSteps,
          onStep: (report) => {
            first = false;
            this.step = report.step + 1;
            this.tokens += report.tokens;
            control.post({ kind: 'step', ...report, flops: trainingFlopsPerStep(config, model.B, model.T), at: eventTime() });
          },
        });
        lastWorkMs = performance.now() - started;
        if (this.stopping) break;
        if (setup.evalEvery > 0 && this.step - lastEval >= setup.evalEvery) {
          await this.evaluateNow();
          lastEval = this.step;
        }
        if (setup.checkpointEvery > 0 && this.step - lastCheckpoint >= setup.checkpointEvery) {
          await this.checkpoint();
          lastCheckpoint = this.step;
        }
      }
      control.setState(this.lost ? 'failed' : 'stopped');
    } catch (error) {
      // After a device loss every GPU call fails; the loss itself was reported.
      if (!this.lost) control.report(error, true);
      control.setState('failed');
    }
  }

  private async evaluateNow(): Promise<void> {
    const loss = await evaluate(this.parts.model, this.parts.valData, EVAL_BATCHES);
    this.parts.env.control.post({ kind: 'evaluation', step: this.step, loss });
  }

  private async sendSnapshot(): Promise<void> {
    this.snapshotWanted = false;
    const params = await this.parts.model.readParams();
    this.parts.env.control.post({ kind: 'snapshot', step: this.step, preset: this.parts.setup.preset, config: this.parts.config, params }, [params.buffer]);
  }

  private async checkpoint(): Promise<void> {
    const { db, model, setup, env } = this.parts;
    if (!db) return;
    const started = performance.now();
    const { ctx } = model;
    const [params, adamM, adamV] = await Promise.all([model.readParams(), ctx.readFloat32(model.m, model.layout.size), ctx.readFloat32(model.v, model.layout.size)]);
    try {
      await saveCheckpoint(db, {
        runId: setup.runId,
        version: 0, // standalone: no global version; each save replaces the last
        modelHash: hashToHex(modelHash(params)),
        params,
        errorFeedback: null,
        adamM,
        adamV,
        counters: { globalStep: this.step, tokens: this.tokens, rounds: 0, lastRound: null },
      });
      env.control.post({ kind: 'checkpoint', step: this.step, bytes: params.byteLength * 3, ms: performance.now() - started });
    } catch (error) {
      env.control.report(error, false); // training goes on; only resuming suffers
    }
  }
}

/** Loads this run's newest checkpoint into the model, or initialises it from the seed; returns where training resumes. */
async function restoreOrInit(model: GptGpu, setup: TrainingSetup, config: GptConfig, db: TesseraDatabase | null, control: SessionControl): Promise<{ step: number; tokens: number } | null> {
  const saved = db ? await loadLatestCheckpoint(db, setup.runId).catch((error: unknown) => (control.report(error, false), null)) : null;
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
