// What a tab's swarm session keeps in IndexedDB, and the rules for resuming
// from it (src/storage/ does the transactions; this file decides what goes
// in them):
//
//   restore    the run's newest checkpoint, unless it is foreign (ahead of
//              the relay: the relay's data directory was reset under the same
//              run id) or damaged (its θ does not hash to its modelHash, or
//              does not fit the run's layout): those are dropped with the
//              run's outbox, and the tab starts from the relay's model.
//              Otherwise the residual, AdamW's moments and the counters come
//              back, and θ(v) goes to the Volunteer, whose sync then catches
//              up by the published aggregates (or downloads θ if it cannot).
//   enqueue    before a signed frame is sent: the frame + the checkpoint of
//              the round (θ(v), the residual with the update taken out,
//              AdamW's moments as the round's training left them, counters
//              with lastRound = the round), one transaction
//   save       after a round (or a catch-up): θ(v+1), the residual, the
//              moments, and the removal of the entries refused since, whose
//              updates the residual holds again — one transaction
//
// Invariant (src/storage/round-state.ts): an outbox entry exists exactly
// when the newest checkpoint's residual assumes its delivery. counters
// .lastRound is how a resumed tab knows it signed the open round already and
// must not train it again.
// The model θ(v) is tracked from the Volunteer's events (synced, applied),
// so nothing here reaches into the Volunteer.
// Without IndexedDB (MemoryOnlyPersistence) the counters live in memory, the
// outbox saves nothing and frames are sent unsaved.
// Leaves out: HTTP (outbox-sender.ts), the round loop (swarm-run.ts).
import { buildLayout } from '../model/layout.ts';
import { hashToHex, modelHash, type HexHash, type SubmissionHeader } from '../protocol/index.ts';
import {
  acknowledgeSubmission,
  deleteRunCheckpoints,
  discardSubmission,
  loadLatestCheckpoint,
  pendingSubmissions,
  readFrame,
  recordFailure,
  retryDelay,
  saveCheckpointAndSettle,
  saveCheckpointWithSubmission,
  type CheckpointCounters,
  type CheckpointState,
  type TesseraDatabase,
} from '../storage/index.ts';
import type { RoundCompressor } from '../swarm/compressor.ts';
import type { RoundStatus } from '../protocol/index.ts';
import { gptConfigOf, type SwarmRunInfo } from '../protocol/index.ts';
import type { LocalTrainer } from '../swarm/trainer.ts';
import type { Clock } from './clock.ts';
import { SubmissionNotSavedError, type Outbox } from './outbox-sender.ts';

/** θ(v) as the tab holds it. */
export interface HeldModel {
  version: number;
  modelHash: HexHash;
  params: Float32Array; // (P), never changed in place (the Volunteer replaces it)
}

/** A frame a previous visit saved and did not see acknowledged. */
export interface SavedFrame {
  id: number;
  round: number;
  frame: Uint8Array;
}

export interface RestoredState {
  model: HeldModel; // for Volunteer.startFrom
  counters: CheckpointCounters;
}

/** Why a saved checkpoint was not used; null when it was (or there was none). */
export type DroppedCheckpoint = 'foreign' | 'damaged' | null;

export interface RoundPersistence extends Outbox {
  readonly counters: CheckpointCounters;
  /** The Volunteer's model changed (synced, applied). */
  modelChanged(model: HeldModel): void;
  /** A round was trained: count its steps and tokens and read AdamW's moments as it left them (before signing). */
  trained(steps: number, tokens: number): void;
  /** Saves the state after a round or a catch-up, settling refused entries; a no-op when nothing changed unless forced. */
  save(force?: boolean): Promise<void>;
  /** Frames of this run that a previous visit left unacknowledged, oldest first. */
  savedFrames(): Promise<SavedFrame[]>;
  /** A saved frame that cannot be sent (damaged): it leaves the outbox. */
  discard(id: number): Promise<void>;
}

export interface PersistenceParts {
  info: SwarmRunInfo;
  trainer: LocalTrainer;
  compressor: RoundCompressor;
  clock: Clock;
  /** A checkpoint was saved (for the page's 'checkpoint' event). */
  onSaved: (step: number, bytes: number, ms: number) => void;
  /** Non-fatal storage failures: training goes on, only resuming suffers. */
  report: (error: unknown) => void;
}

/**
 * The rules of `restore` above: the saved state to resume from (already
 * loaded into the trainer and compressor), or null with the reason it was
 * not used (dropped along with the run's outbox).
 */
export async function restoreCheckpoint(
  db: TesseraDatabase,
  parts: PersistenceParts,
  relay: RoundStatus,
): Promise<{ restored: RestoredState | null; dropped: DroppedCheckpoint }> {
  const { info, trainer, compressor, report } = parts;
  let saved: CheckpointState | null = null;
  try {
    saved = await loadLatestCheckpoint(db, info.runId);
  } catch (error) {
    report(error);
  }
  if (!saved) return { restored: null, dropped: null };
  let dropped: DroppedCheckpoint = null;
  if (saved.version > relay.version || (saved.counters.lastRound ?? -1) > relay.round) dropped = 'foreign';
  else if (saved.params.length !== buildLayout(gptConfigOf(info.swarm)).size || hashToHex(modelHash(saved.params)) !== saved.modelHash) dropped = 'damaged';
  if (!dropped) {
    try {
      if (saved.errorFeedback) compressor.load(saved.errorFeedback);
      if (saved.adamM && saved.adamV) trainer.setMoments(saved.adamM, saved.adamV);
      return { restored: { model: { version: saved.version, modelHash: saved.modelHash, params: saved.params }, counters: { ...saved.counters } }, dropped: null };
    } catch (error) {
      report(error); // tensors of the wrong size: start over from the relay's model
      dropped = 'damaged';
    }
  }
  await deleteRunCheckpoints(db, info.runId).catch(report);
  for (const entry of await pendingSubmissions(db)) if (entry.runId === info.runId) await discardSubmission(db, entry.id).catch(report);
  return { restored: null, dropped };
}

const FRESH_COUNTERS: CheckpointCounters = { globalStep: 0, tokens: 0, rounds: 0, lastRound: null };

/** Checkpoints and the outbox in the tab's IndexedDB. */
export class IndexedDbPersistence implements RoundPersistence {
  private model: HeldModel | null;
  private savedVersion: number; // version of the newest checkpoint saved or restored (−1: none)
  private trainedMoments: Promise<{ m: Float32Array; v: Float32Array }> | null = null;
  private readonly refusedIds: number[] = [];
  counters: CheckpointCounters;

  constructor(
    private readonly db: TesseraDatabase,
    private readonly parts: PersistenceParts,
    restored: RestoredState | null,
  ) {
    this.model = restored?.model ?? null;
    this.savedVersion = restored?.model.version ?? -1;
    this.counters = restored?.counters ?? { ...FRESH_COUNTERS };
  }

  modelChanged(model: HeldModel): void {
    this.model = model;
  }

  trained(steps: number, tokens: number): void {
    // A device lost after the signature must not stop this round's save: read the moments now.
    this.trainedMoments = this.parts.trainer.moments();
    this.trainedMoments.catch(() => undefined); // a lost device fails it; enqueue reports that
    this.counters = { ...this.counters, globalStep: this.counters.globalStep + steps, tokens: this.counters.tokens + tokens };
  }

  /** The checkpoint of the tab's current state. */
  private async snapshot(counters: CheckpointCounters, moments: Promise<{ m: Float32Array; v: Float32Array }> | null): Promise<CheckpointState | null> {
    const model = this.model;
    if (!model) return null;
    const params = model.params.slice();
    const [errorFeedback, { m, v }] = await Promise.all([this.parts.compressor.residual(), moments ?? this.parts.trainer.moments()]);
    return { runId: this.parts.info.runId, version: model.version, modelHash: model.modelHash, params, errorFeedback, adamM: m, adamV: v, counters };
  }

  async enqueue(frame: Uint8Array, header: SubmissionHeader): Promise<number> {
    const counters: CheckpointCounters = { ...this.counters, rounds: this.counters.rounds + 1, lastRound: header.round };
    try {
      const state = await this.snapshot(counters, this.trainedMoments);
      if (!state) throw new Error('this tab has no model yet');
      const id = await saveCheckpointWithSubmission(
        this.db,
        state,
        { runId: state.runId, round: header.round, address: header.address, payloadHash: hashToHex(header.payloadHash), frame },
        { now: this.parts.clock.now() },
      );
      this.counters = counters;
      this.savedVersion = state.version;
      return id;
    } catch (error) {
      throw new SubmissionNotSavedError(error);
    }
  }

  // The relay has the frame whatever happens here: a failed delete leaves an entry that the next
  // visit replays, which the relay answers 'duplicate' and the ledger confirms — still delivered once.
  async acknowledge(id: number): Promise<void> {
    await acknowledgeSubmission(this.db, id).catch(this.parts.report);
  }

  async recordFailure(id: number, reason: string): Promise<number> {
    const now = this.parts.clock.now();
    const record = await recordFailure(this.db, id, reason, now).catch((error: unknown) => (this.parts.report(error), null));
    return record ? Math.max(0, record.nextAttemptAt - now) : retryDelay(1);
  }

  refused(id: number): void {
    this.refusedIds.push(id);
  }

  async save(force = false): Promise<void> {
    const settled = [...this.refusedIds];
    if (!force && settled.length === 0 && this.model?.version === this.savedVersion) return;
    const started = performance.now();
    const state = await this.snapshot({ ...this.counters }, null);
    try {
      if (!state) {
        // No model to save with: the refused entries' updates are in the residual in memory only.
        for (const id of settled) await discardSubmission(this.db, id);
      } else {
        await saveCheckpointAndSettle(this.db, state, settled, { now: this.parts.clock.now() });
        this.savedVersion = state.version;
        this.parts.onSaved(state.counters.globalStep, state.params.byteLength * 4, performance.now() - started);
      }
      this.refusedIds.splice(0, settled.length);
    } catch (error) {
      this.parts.report(error); // training goes on; only resuming suffers
    }
  }

  async savedFrames(): Promise<SavedFrame[]> {
    const entries = (await pendingSubmissions(this.db)).filter((entry) => entry.runId === this.parts.info.runId);
    return Promise.all(entries.map(async (entry) => ({ id: entry.id, round: entry.round, frame: await readFrame(entry) })));
  }

  async discard(id: number): Promise<void> {
    await discardSubmission(this.db, id).catch(this.parts.report);
  }
}

/** No IndexedDB in this browser: counters in memory, frames sent unsaved, nothing to resume from. */
export class MemoryOnlyPersistence implements RoundPersistence {
  counters: CheckpointCounters = { ...FRESH_COUNTERS };

  modelChanged(): void {}

  trained(steps: number, tokens: number): void {
    this.counters = { ...this.counters, globalStep: this.counters.globalStep + steps, tokens: this.counters.tokens + tokens };
  }

  async enqueue(_frame: Uint8Array, header: SubmissionHeader): Promise<null> {
    this.counters = { ...this.counters, rounds: this.counters.rounds + 1, lastRound: header.round };
    return null;
  }

  async acknowledge(): Promise<void> {}

  async recordFailure(): Promise<number> {
    return retryDelay(1);
  }

  refused(): void {}

  async save(): Promise<void> {}

  async savedFrames(): Promise<SavedFrame[]> {
    return [];
  }

  async discard(): Promise<void> {}
}
