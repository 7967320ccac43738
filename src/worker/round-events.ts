// Translates what the round loop reports — the Volunteer's events and the
// outbox sender's delivery events — into the page's events ('model',
// 'round', 'progress', non-fatal 'error'), so the page shows one line per
// round and phase whatever part of the loop it came from.
// Leaves out: deciding anything (it only reports).
import type { VolunteerEvent } from '../swarm/volunteer.ts';
import type { DeliveryEvent } from './outbox-sender.ts';
import type { RoundPhase, WorkerEvent } from './protocol.ts';
import type { SessionControl } from './session-control.ts';

export class RoundEvents {
  private refusedPosted: number | null = null; // round whose refusal the outbox already reported

  constructor(
    private readonly control: SessionControl,
    private readonly denseBytes: number, // 4·P: a dense float32 update
    private readonly stopping: () => boolean,
  ) {}

  round(phase: RoundPhase, round: number, extra: Partial<Extract<WorkerEvent, { kind: 'round' }>> = {}): void {
    this.control.post({ kind: 'round', phase, round, frameBytes: null, payloadBytes: null, denseBytes: this.denseBytes, version: null, code: null, message: null, ...extra });
  }

  volunteer(event: VolunteerEvent): void {
    switch (event.type) {
      case 'synced':
        this.control.post({ kind: 'model', version: event.version, modelHash: event.modelHash, via: event.via });
        break;
      case 'applied':
        this.control.post({ kind: 'model', version: event.version, modelHash: event.modelHash, via: 'updates' });
        break;
      case 'trained':
        this.round('trained', event.round, { version: event.version });
        break;
      case 'submitted':
        break; // the outbox reported the acknowledgement with its sizes
      case 'refused':
        if (this.stopping() || this.refusedPosted === event.round) break;
        this.round('refused', event.round, { code: event.code, message: event.message });
        break;
      case 'skipped':
        this.round('refused', event.round, { code: 'skipped', message: `not trained: ${event.reason}` });
        break;
      case 'round-work':
        this.control.post({
          kind: 'round-work',
          round: event.round,
          steps: event.steps,
          tokens: event.tokens,
          busyShare: event.periodMs > 0 ? Math.min(1, event.workMs / event.periodMs) : 0,
          tokensPerSecond: event.periodMs > 0 ? (1000 * event.tokens) / event.periodMs : 0,
        });
        break;
      case 'mismatch':
        this.control.fail('relay', `Model v${event.version} did not match the relay's after applying its update; downloading the relay's model instead.`, 'Nothing to do: the tab repairs itself.', false, false);
        break;
      case 'problem':
        this.control.fail('relay', event.message, 'Nothing to do unless it repeats: the tab retries by itself.', false, false);
        break;
      default: {
        const unknown: never = event;
        throw new Error(`unhandled volunteer event ${JSON.stringify(unknown)}`);
      }
    }
  }

  delivery(event: DeliveryEvent): void {
    switch (event.type) {
      case 'sending':
        this.control.progress('sending', null, event.replay ? `round ${event.round}, saved before this page was reloaded` : `round ${event.round}`);
        this.round('sending', event.round, { frameBytes: event.frameBytes, payloadBytes: event.payloadBytes });
        break;
      case 'retrying':
        this.control.progress('sending', null, `round ${event.round}: ${event.message}; trying again in ${Math.ceil(event.delayMs / 1000)} s`);
        this.round('retrying', event.round, { code: event.code, message: event.message });
        break;
      case 'acknowledged':
        this.control.progress('waiting-for-round', null, `round ${event.round}`);
        this.round('acknowledged', event.round, {
          frameBytes: event.frameBytes,
          payloadBytes: event.payloadBytes,
          message: event.alreadyStored ? 'the relay already had it (a replay after a lost answer or a reload)' : null,
        });
        break;
      case 'refused':
        this.refusedPosted = event.round;
        this.round('refused', event.round, { code: event.code, message: event.message });
        break;
      default: {
        const unknown: never = event;
        throw new Error(`unhandled delivery event ${JSON.stringify(unknown)}`);
      }
    }
  }
}
