// Delivery of signed submissions through the outbox, exactly once.
//
// OutboxSender.submit() is how the Worker's Volunteer sends a frame: the
// frame is first saved (outbox entry + checkpoint, one transaction:
// src/storage/round-state.ts, through round-persistence.ts), then POSTed:
//
//   200 ack                    delivered: the entry leaves the outbox
//   transient refusal          backoff (storage/outbox.ts retryDelay, or
//                              Retry-After), retry while the round is open;
//                              which codes are transient (the network, 429,
//                              5xx…) is listed in protocol/error-codes.ts
//   any other refusal          definitive — unless the relay already has this
//                              very frame: a replay answered 'duplicate' (or
//                              'wrong-round' once the round closed) counts as
//                              delivered when the relay's ledger lists our
//                              payload hash for that round and address
//
// Why the ledger check: the answer to an earlier attempt can be lost (the
// connection dropped, the tab was closed or reloaded mid-request) after the
// relay stored the frame. Without the check, the retry's 'duplicate' would
// make the tab put an update back into its residual that is already in the
// aggregate — counting it twice.
//
// A definitive refusal does not delete the entry here: the persistence
// removes it in the same transaction that saves the residual with the update
// put back (src/storage/round-state.ts explains the invariant).
// A stop while retrying throws TrainingStoppedError and leaves the entry for
// the next visit, whose replay() delivers it.
// Leaves out: signing and compression (the Volunteer), the checkpoint
// contents (round-persistence.ts).
import { decodeSubmission, hashToHex, type SubmissionAck, type SubmissionHeader } from '../protocol/index.ts';
import { retryDelay } from '../storage/outbox.ts';
import { RelayRequestError, type RelayClient } from '../swarm/relay-client.ts';
import { TrainingStoppedError } from '../swarm/trainer.ts';
import type { Clock } from './clock.ts';

/**
 * The frame could not be saved first, so it was not sent: a frame that left
 * the tab unsaved could be delivered without the saved residual knowing, and
 * a reload would then train and sign its round again.
 */
export class SubmissionNotSavedError extends Error {
  constructor(cause: unknown) {
    super(`this round's signed update could not be saved before sending, so it was not sent (${(cause as Error)?.message ?? String(cause)})`, { cause });
    this.name = 'SubmissionNotSavedError';
  }
}

/** Where signed frames wait for the relay (round-persistence.ts). */
export interface Outbox {
  /**
   * Saves the frame (with the round's checkpoint) before it is sent; returns
   * the entry id, or null where nothing can be saved (no IndexedDB: the frame
   * is sent unsaved, and there is no checkpoint to resume from either).
   * Throws SubmissionNotSavedError when saving fails (nothing is sent then).
   */
  enqueue(frame: Uint8Array, header: SubmissionHeader): Promise<number | null>;
  /** The relay has the frame: the entry leaves the outbox. */
  acknowledge(id: number): Promise<void>;
  /** Counts a failed attempt; returns the backoff delay before the next one (ms). */
  recordFailure(id: number, reason: string): Promise<number>;
  /** The relay refused the entry for good: settle it with the next checkpoint. */
  refused(id: number): void;
}

export type DeliveryEvent =
  | { type: 'sending'; round: number; frameBytes: number; payloadBytes: number; replay: boolean }
  | { type: 'retrying'; round: number; code: string; message: string; delayMs: number }
  | { type: 'acknowledged'; round: number; frameBytes: number; payloadBytes: number; replay: boolean; alreadyStored: boolean }
  | { type: 'refused'; round: number; code: string; message: string };

export type DeliveryResult = { delivered: true; ack: SubmissionAck } | { delivered: false; error: RelayRequestError };

/** Network failures, a relay that is briefly overloaded or restarting, rate limits (protocol/error-codes.ts). */
export function isTransient(error: RelayRequestError): boolean {
  return error.transient;
}

export class OutboxSender {
  constructor(
    private readonly client: RelayClient,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly onDelivery: (event: DeliveryEvent) => void,
    private readonly signal: AbortSignal,
  ) {}

  /** Saves the frame in the outbox, then delivers it (the Volunteer's send step). */
  async submit(frame: Uint8Array): Promise<SubmissionAck> {
    const { header } = decodeSubmission(frame);
    const id = await this.outbox.enqueue(frame, header);
    const result = await this.deliver(id, frame, header, false);
    if (result.delivered) return result.ack;
    if (id !== null) this.outbox.refused(id);
    throw result.error;
  }

  /** Delivers a frame a previous visit saved (entry `id`); a definitive refusal is the caller's to settle. */
  replay(id: number, frame: Uint8Array, header: SubmissionHeader): Promise<DeliveryResult> {
    return this.deliver(id, frame, header, true);
  }

  /** POSTs one saved frame until it is delivered or definitively refused (see the file header). */
  private async deliver(id: number | null, frame: Uint8Array, header: SubmissionHeader, replay: boolean): Promise<DeliveryResult> {
    const sizes = { round: header.round, frameBytes: frame.length, payloadBytes: header.payloadBytes };
    let attempts = 0;
    for (;;) {
      if (this.signal.aborted) throw new TrainingStoppedError();
      this.onDelivery({ type: 'sending', ...sizes, replay });
      let refusal: RelayRequestError;
      try {
        const ack = await this.client.submit(frame);
        if (id !== null) await this.outbox.acknowledge(id);
        this.onDelivery({ type: 'acknowledged', ...sizes, replay, alreadyStored: false });
        return { delivered: true, ack };
      } catch (error) {
        if (!(error instanceof RelayRequestError)) throw error;
        refusal = error;
      }
      if (this.signal.aborted) throw new TrainingStoppedError();
      try {
        if (!isTransient(refusal)) {
          // Definitive, unless an earlier attempt (or a previous visit) already got it in.
          const stored = await this.storedAck(header);
          if (stored) {
            if (id !== null) await this.outbox.acknowledge(id);
            this.onDelivery({ type: 'acknowledged', ...sizes, replay, alreadyStored: true });
            return { delivered: true, ack: stored };
          }
          this.onDelivery({ type: 'refused', round: header.round, code: refusal.code, message: refusal.message });
          return { delivered: false, error: refusal };
        }
        attempts += 1;
        const backoff = id !== null ? await this.outbox.recordFailure(id, `${refusal.code}: ${refusal.message}`) : retryDelay(attempts);
        const delayMs = Math.max(backoff, (refusal.retryAfterSeconds ?? 0) * 1000);
        this.onDelivery({ type: 'retrying', round: header.round, code: refusal.code, message: refusal.message, delayMs });
        await this.clock.sleep(delayMs, this.signal);
        // Once the round has moved on the frame cannot count any more; the next POST says so
        // (wrong-round) and the ledger check above tells whether it arrived in time.
      } catch (error) {
        // The ledger could not be read: try the whole attempt again after a pause.
        if (!(error instanceof RelayRequestError)) throw error;
        await this.clock.sleep(retryDelay(++attempts), this.signal);
      }
    }
  }

  /** The relay's acknowledgement of exactly this frame (same round, address and payload hash), if it stored one. */
  private async storedAck(header: SubmissionHeader): Promise<SubmissionAck | null> {
    const ledger = await this.client.ledger(header.address);
    const payloadHash = hashToHex(header.payloadHash);
    const line = ledger.entries.find((entry) => entry.round === header.round && entry.payloadHash === payloadHash);
    return line ? { round: header.round, address: header.address, payloadHash, receivedAt: line.receivedAt } : null;
  }
}
