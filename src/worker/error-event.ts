// Any failure inside the Worker, as the one 'error' event the page shows:
// a plain message, what the user can do, whether it stopped training, and
// whether pressing restart can help. Both sessions (standalone and swarm)
// report through here, so a failure reads the same in either mode.
// Leaves out: deciding whether a failure is fatal (the caller knows).
import { GpuError } from '../gpu/errors.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { StorageError } from '../storage/errors.ts';
import { ModelDivergedError } from '../swarm/volunteer.ts';
import { RelayRequestError } from '../swarm/relay-client.ts';
import { NonFiniteLossError } from '../train/inner-loop.ts';
import { DataUnavailableError } from './fetch-bytes.ts';
import { SubmissionNotSavedError } from './outbox-sender.ts';
import type { WorkerEvent } from './protocol.ts';

export type ErrorEvent = Extract<WorkerEvent, { kind: 'error' }>;

/** Another tab of this browser already trains for this relay (they would share one checkpoint and outbox). */
export class TabBusyError extends Error {
  constructor() {
    super('Another tab of this browser is already training for this swarm.');
    this.name = 'TabBusyError';
  }
}

export function errorEvent(error: unknown, fatal: boolean): ErrorEvent {
  const event = (code: ErrorEvent['code'], message: string, advice: string, canRestart: boolean): ErrorEvent => ({ kind: 'error', code, message, advice, fatal, canRestart });
  if (error instanceof GpuError) {
    const canRestart = error.code === 'device-lost' || error.code === 'out-of-memory' || error.code === 'validation';
    return event(error.code, error.message, error.advice, canRestart);
  }
  if (error instanceof NonFiniteLossError) {
    return event('diverged', error.message, 'Restart training: it resumes from the last checkpoint. If it happens again, lower the learning rate or the batch size.', true);
  }
  if (error instanceof DataUnavailableError) {
    return event('data-unavailable', `The training text could not be downloaded: ${error.message}`, 'Check the connection to the server that served this page, then restart.', true);
  }
  if (error instanceof StorageError) return event('storage', error.message, error.advice, false);
  if (error instanceof SubmissionNotSavedError) {
    const advice = error.cause instanceof StorageError ? error.cause.advice : 'Training goes on with the next round; if this repeats, reload the page.';
    return event('storage', `Round not sent: ${error.message}`, advice, true);
  }
  if (error instanceof TabBusyError) {
    return event('busy', error.message, 'Keep training in that tab, or stop it there and press "Rejoin the swarm" here: two tabs of one browser would share one checkpoint and one outbox.', true);
  }
  if (error instanceof RelayRequestError) {
    return event('relay', `The relay answered: ${error.message} (${error.code})`, 'Check that the relay still runs (reload this page to see), then press restart.', true);
  }
  if (error instanceof ModelDivergedError || error instanceof ProtocolError) {
    return event('relay', `This tab's model does not match the relay's: ${error.message}`, 'Press restart: the tab downloads the relay\'s current model. If it keeps happening, please report it.', true);
  }
  const message = error instanceof Error ? error.message : String(error);
  return event('internal', `Training stopped unexpectedly: ${message}`, 'Reload the page; if it happens again, please report it with your browser version.', true);
}
