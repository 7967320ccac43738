// One swarm session's run, from 'join' to stop: this tab runs the relay's
// round loop (src/swarm/volunteer.ts) against the relay that served the page.
//
//   open (async factory: every part exists once the run does)
//        tab lock → device → run info → training bytes (length + SHA-256
//        from the run) → trainer (kernels compiled) → compressor (GPU or
//        CPU, as measured) → restore this run's checkpoint
//        (round-persistence.ts) → Volunteer → 'ready'
//   loop replay the outbox a previous visit left (exactly once:
//        outbox-sender.ts), then rounds:
//        sync (catch up from the checkpoint's version by the published
//        aggregates, each hash-checked; or download θ) → save → H inner
//        steps → compress → the page's wallet signs → outbox + checkpoint in
//        one transaction → POST → wait for the close → apply → save
//
// A tab reloaded after it signed round r finds lastRound = r in its
// checkpoint and does not train r again: it delivers the saved frame (if the
// relay does not have it yet) and waits for r to close.
// A wallet refusal (or a frame that could not be saved) leaves the round
// unsent: the Volunteer put its update back into the residual; the page is
// told, and the tab waits for the next round.
// The relay unreachable: the state is kept and the loop tries again with
// backoff. Device loss: the run stops with a 'device-lost' error the page can
// restart from; the restart resumes from the last checkpoint like a reload.
// Every part comes from a SwarmEnvironment, so tier-1 tests run this loop
// with a fake device, a fake clock and fake-indexeddb against a real relay
// (tests/unit/worker-swarm-run.test.ts).
// One run at a time (run-slot.ts): a new 'join' stops the previous one first.
// Leaves out: the message switch (training-worker.ts), what is saved
// (round-persistence.ts), delivery (outbox-sender.ts).
import { decodeUpdate } from '../compress/codec.ts';
import type { TensorManifest } from '../compress/manifest.ts';
import { buildLayout } from '../model/layout.ts';
import { decodeSubmission, isProtocolError, protocolReady, type PushEvent } from '../protocol/index.ts';
import type { TesseraDatabase } from '../storage/index.ts';
import type { RoundCompressor } from '../swarm/compressor.ts';
import { RelayRequestError } from '../swarm/relay-client.ts';
import { gptConfigOf, type SwarmRunInfo } from '../protocol/index.ts';
import { TrainingStoppedError, type LocalTrainer, type Pace } from '../swarm/trainer.ts';
import { Volunteer, type VolunteerEvent } from '../swarm/volunteer.ts';
import { retryDelay } from '../storage/outbox.ts';
import type { Clock } from './clock.ts';
import { countingFetch } from './counting-fetch.ts';
import { errorEvent } from './error-event.ts';
import type { DownloadCache } from './fetch-bytes.ts';
import { trainingFlopsPerStep } from './flops.ts';
import { isTransient, OutboxSender, SubmissionNotSavedError } from './outbox-sender.ts';
import { PageSigner } from './page-signer.ts';
import { eventTime, type SwarmSetup } from './protocol.ts';
import { IndexedDbPersistence, MemoryOnlyPersistence, restoreCheckpoint, type RoundPersistence } from './round-persistence.ts';
import type { RoundDevice } from './round-device.ts';
import { RoundEvents } from './round-events.ts';
import type { SessionControl } from './session-control.ts';
import { TabRelayClient } from './tab-relay-client.ts';

/** What a swarm run needs from the world: the Worker passes the real parts, tier-1 tests fakes. */
export interface SwarmEnvironment {
  control: SessionControl;
  fetch: typeof fetch;
  clock: Clock;
  downloads: DownloadCache;
  /** The tab's database, or null where there is none (nothing is saved then). */
  database(): Promise<TesseraDatabase | null>;
  /** One swarm session per browser and relay (tab-lock.ts); resolves to the release. */
  holdTabLock(relayUrl: string): Promise<() => void>;
  openDevice(db: TesseraDatabase | null): Promise<RoundDevice>;
  /**
   * How often the Volunteer asks for the round while waiting. Push events
   * (the page forwards them) wake it at once; the poll only covers a dropped
   * socket, so it can be slow enough that a room of tabs costs the relay little.
   */
  pollMs: number;
}

/** Stopping and device loss, shared by the run and the parts that must stop with it. */
class Lifecycle {
  readonly controller = new AbortController();
  stopping = false;
  lost = false; // the GPU device was lost (not released by us)
  private readonly onHalt: (() => void)[] = [];
  /** Resolves when the device is lost. */
  readonly lostSignal: Promise<void>;
  private readonly markLost: () => void;

  constructor(private readonly control: SessionControl) {
    let markLost = () => {};
    this.lostSignal = new Promise<void>((resolve) => (markLost = resolve));
    this.markLost = markLost;
  }

  whenHalted(action: () => void): void {
    this.onHalt.push(action);
  }

  /** Stops the run's work: aborts training and waits, refuses pending signatures. */
  halt(): void {
    this.stopping = true;
    this.controller.abort();
    for (const action of this.onHalt) action();
    this.control.wakeUp();
  }

  lose(): void {
    this.lost = true;
    this.markLost();
    this.halt();
  }
}

/** What the loop needs to know about the round in hand. */
interface RoundInHand {
  trained: { round: number; version: number } | null; // the last round trained (set before it is signed)
}

interface RunParts {
  env: SwarmEnvironment;
  lifecycle: Lifecycle;
  info: SwarmRunInfo;
  manifest: TensorManifest;
  client: TabRelayClient;
  volunteer: Volunteer;
  compressor: RoundCompressor; // the Volunteer's, for replayed refusals
  persistence: RoundPersistence;
  sender: OutboxSender;
  signer: PageSigner;
  events: RoundEvents;
  inHand: RoundInHand;
  release: () => void;
}

export class SwarmRun {
  /** Settles when the loop has ended and everything the run held is released. */
  readonly finished: Promise<void>;

  private constructor(private readonly parts: RunParts) {
    this.finished = this.loop().finally(parts.release);
  }

  /** Builds every part of the run (see the file header), posts 'ready' and starts the loop. */
  static async open(setup: SwarmSetup, env: SwarmEnvironment): Promise<SwarmRun> {
    const { control } = env;
    const lifecycle = new Lifecycle(control);
    const cleanups: (() => void)[] = []; // undone in reverse if the run never starts
    const releaseAll = () => {
      for (const cleanup of cleanups.splice(0).reverse()) cleanup();
    };
    try {
      cleanups.push(await env.holdTabLock(setup.relayUrl));
      control.progress('acquiring-device', null);
      const db = await env.database();
      const device = await env.openDevice(db);
      cleanups.push(
        device.onLost((error) => {
          lifecycle.lose();
          control.post(errorEvent(error, true));
        }),
      );
      await protocolReady();
      const progress = control.progress.bind(control);
      const client = new TabRelayClient(setup.relayUrl, { fetch: countingFetch(env.fetch, progress) });
      const info = await Volunteer.fetchRun(client);
      const config = gptConfigOf(info.swarm);
      const { tensors: manifest, size: paramCount } = buildLayout(config);
      const { trainUrl, trainBytes, trainSha256 } = info.swarm.data;
      const data = await env.downloads.get(new URL(trainUrl, setup.relayUrl).href, (fraction) => progress('downloading-data', fraction, 'training text'), {
        bytes: trainBytes,
        sha256: trainSha256,
      });
      let firstStepDone = false;
      const pace: Pace = {
        chunkSteps: () => control.chunkSteps(),
        gate: async (lastWorkMs) => {
          await control.gate(lastWorkMs, () => lifecycle.stopping);
          if (!firstStepDone) progress('first-step', null);
        },
        onStep: (report) => {
          firstStepDone = true;
          control.post({ kind: 'step', ...report, flops: trainingFlopsPerStep(config, trainer.batchSize, trainer.seqLen), at: eventTime() });
        },
      };
      const trainer: LocalTrainer = await device.createTrainer(info, data, pace);
      let volunteer: Volunteer | null = null;
      cleanups.push(() => (volunteer ? volunteer.close() : trainer.destroy())); // the Volunteer owns both once it exists
      const { compressor, choice } = await device.createCompressor(info, manifest, paramCount);
      cleanups.push(() => {
        if (!volunteer) compressor.destroy();
      });

      control.progress('restoring-checkpoint', null);
      const persistenceParts = {
        info,
        trainer,
        compressor,
        clock: env.clock,
        onSaved: (step: number, bytes: number, ms: number) => control.post({ kind: 'checkpoint', step, bytes, ms }),
        report: (error: unknown) => control.report(error, false),
      };
      const { restored } = db ? await restoreCheckpoint(db, persistenceParts, await client.round()) : { restored: null };
      const persistence: RoundPersistence = db ? new IndexedDbPersistence(db, persistenceParts, restored) : new MemoryOnlyPersistence();

      const events = new RoundEvents(control, 4 * info.model.parameterCount, () => lifecycle.stopping);
      const inHand: RoundInHand = { trained: null };
      const sender = new OutboxSender(client, persistence, env.clock, (event) => events.delivery(event), lifecycle.controller.signal);
      const signer = new PageSigner(control.post, (round) => progress('signing', null, `round ${round}`));
      lifecycle.whenHalted(() => signer.close());
      const onVolunteerEvent = (event: VolunteerEvent) => {
        if (event.type === 'synced' || event.type === 'applied') persistence.modelChanged(event);
        if (event.type === 'trained') {
          inHand.trained = { round: event.round, version: event.version };
          persistence.trained(event.steps, event.tokens);
        }
        events.volunteer(event);
      };
      volunteer = Volunteer.start(info, trainer, compressor, {
        client,
        signer,
        address: setup.address,
        clientVersion: setup.clientVersion,
        pollMs: env.pollMs,
        signal: lifecycle.controller.signal,
        send: (frame) => sender.submit(frame),
        onEvent: onVolunteerEvent,
      });
      if (restored) {
        volunteer.startFrom(restored.model);
        control.post({ kind: 'model', version: restored.model.version, modelHash: restored.model.modelHash, via: 'saved' });
      }
      control.post({
        kind: 'ready',
        adapter: device.adapter,
        preset: info.swarm.model.preset,
        config,
        parameterCount: info.model.parameterCount,
        batchSize: trainer.batchSize,
        seqLen: trainer.seqLen,
        flopsPerStep: trainingFlopsPerStep(config, trainer.batchSize, trainer.seqLen),
        resumedFromStep: restored ? restored.counters.globalStep : null,
        mode: 'swarm',
        runId: info.runId,
        resumedFromVersion: restored ? restored.model.version : null,
        compression: choice,
      });
      return new SwarmRun({ env, lifecycle, info, manifest, client, volunteer, compressor, persistence, sender, signer, events, inHand, release: releaseAll });
    } catch (error) {
      lifecycle.halt();
      releaseAll();
      if (!lifecycle.lost) control.report(error, true);
      throw error;
    }
  }

  /** Stops after the step in flight (a half-trained round is dropped, never signed); `finished` settles when done. */
  halt(): void {
    this.parts.lifecycle.halt();
  }

  /** The page's answer to a 'sign-request'. */
  signResult(id: number, signature: string | null, error: string | null): void {
    this.parts.signer.answer(id, signature, error);
  }

  /** A push event the page heard on its WebSocket. */
  push(event: PushEvent): void {
    this.parts.client.pushEvent(event);
  }

  /** Posts θ(v) as this tab holds it, for a text sample on the page. */
  snapshot(): void {
    const { control } = this.parts.env;
    const { version, params } = this.parts.volunteer.model();
    if (!params) {
      control.fail('bad-request', "There is no model yet: wait until this tab has the swarm's model.", 'Nothing to do: it comes with the first sync.', false, false);
      return;
    }
    const copy = params.slice();
    const { swarm } = this.parts.info;
    control.post({ kind: 'snapshot', step: version, preset: swarm.model.preset, config: gptConfigOf(swarm), params: copy }, [copy.buffer]);
  }

  // ------------------------------------------------------------------ rounds

  private async loop(): Promise<void> {
    const { env, lifecycle, volunteer, persistence, events, inHand } = this.parts;
    const { control } = env;
    try {
      control.resumeWork();
      await this.replaySaved();
      let unreachable = 0; // consecutive failures to reach the relay
      while (!lifecycle.stopping) {
        await control.gate(0, () => lifecycle.stopping);
        if (lifecycle.stopping) break;
        try {
          const state = await volunteer.sync();
          if (!lifecycle.stopping) await persistence.save();
          if ((persistence.counters.lastRound ?? -1) >= state.round) {
            // Signed before a reload (or refused for good): never train a round twice.
            control.progress('waiting-for-round', null, `round ${state.round}: this tab's update is in`);
            await volunteer.waitForNewerModel(state.version);
            continue;
          }
          const outcome = await volunteer.contribute();
          unreachable = 0;
          events.round('closed', outcome.round, { version: outcome.version });
        } catch (error) {
          if (lifecycle.stopping || error instanceof TrainingStoppedError) break;
          const unsaved = error instanceof SubmissionNotSavedError;
          if (unsaved || isProtocolError(error, 'signer-refused') || isProtocolError(error, 'signer-unsupported')) {
            // The update went back into the residual; this round goes on without us.
            if (unsaved) control.report(error, false);
            const trained = inHand.trained ?? { round: -1, version: volunteer.model().version };
            control.progress('waiting-for-round', null, `round ${trained.round}: ${unsaved ? 'not saved' : 'not signed'}, so not sent`);
            await volunteer.waitForNewerModel(trained.version);
            continue;
          }
          if (!(error instanceof RelayRequestError) || !isTransient(error)) throw error;
          // The relay restarts or the network dropped: keep the state, try again with backoff.
          const delayMs = retryDelay(++unreachable);
          control.fail('relay', `The relay cannot be reached (${error.message}); trying again in ${Math.ceil(delayMs / 1000)} s.`, 'Nothing to do: training resumes when the relay answers.', false, false);
          await env.clock.sleep(delayMs, lifecycle.controller.signal);
          continue;
        }
        // A stopping run saves nothing more: its device may be gone (a loss), and the last save stands.
        if (!lifecycle.stopping) await persistence.save();
      }
      control.setState(lifecycle.lost ? 'failed' : 'stopped');
    } catch (error) {
      // A lost device fails the GPU work in flight before the loss is reported: give it a moment, so the
      // page shows the loss (with its advice) rather than its symptom.
      if (!lifecycle.lost && !lifecycle.stopping) await Promise.race([lifecycle.lostSignal, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      if (!lifecycle.lost && !lifecycle.stopping && !(error instanceof TrainingStoppedError)) control.report(error, true);
      control.setState(lifecycle.lost || !lifecycle.stopping ? 'failed' : 'stopped');
    }
  }

  /**
   * Delivers the signed submissions a previous visit left in the outbox. A
   * refused one has its update put back into the residual, and leaves the
   * outbox in the same transaction that saves that residual.
   */
  private async replaySaved(): Promise<void> {
    const { env, lifecycle, info, manifest, compressor, persistence, sender } = this.parts;
    const frames = await persistence.savedFrames();
    for (const [i, saved] of frames.entries()) {
      if (lifecycle.stopping) return;
      env.control.progress('delivering-outbox', i / frames.length, `${i + 1} of ${frames.length}`);
      let submission;
      try {
        submission = decodeSubmission(saved.frame);
      } catch {
        await persistence.discard(saved.id); // damaged: the relay would refuse it too
        continue;
      }
      const result = await sender.replay(saved.id, saved.frame, submission.header);
      if (result.delivered) continue;
      try {
        await compressor.restore(decodeUpdate(submission.payload, manifest, info.swarm.compression));
      } catch {
        // Not decodable with this run's layout: nothing to put back.
      }
      persistence.refused(saved.id);
      if (!lifecycle.stopping) await persistence.save(true);
    }
  }
}
