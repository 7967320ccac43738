// The controls both Worker sessions (standalone and swarm) share: the
// training state the page shows, the set of pause reasons, the throttle,
// progress and error events, and the naps between chunks of work. One
// instance per Worker: pause reasons and the throttle belong to the tab, so
// they carry over when the page switches from one mode to the other.
//
// Throttle: after each chunk of steps the session sleeps so that the GPU
// works the given share of the time (sleep = work · (1 − share) / share).
// The rest lasts its whole length unless something it depends on changes (a
// pause, the throttle, a stop): any other request that wakes the session
// (a resume of a reason that did not hold, a visibility change) does not cut
// it short — that is what let a 25 % throttle work far more than 25 %.
// Unthrottled, steps go in chunks of a few, so the inner loop keeps two
// steps in flight yet a pause waits at most that many steps.
// Pause reasons (user, hidden tab, battery) are a set: training runs only
// when it is empty, so resuming after the tab becomes visible never overrides
// the user's own pause. The page decides when a reason holds (Workers cannot
// see visibility or the battery): pause-conditions.ts.
// Leaves out: what a session does between the gates (the session files).
import { errorEvent } from './error-event.ts';
import { eventTime, type PauseReason, type ProgressPhase, type TrainingState, type WorkerErrorCode, type WorkerEvent, type WorkerRequest } from './protocol.ts';
import { WakeableSleep } from './wakeable-sleep.ts';

export type PostEvent = (event: WorkerEvent, transfer?: Transferable[]) => void;

/** Steps per inner-loop call when unthrottled: keeps two in flight, yet a pause waits at most this many steps. */
const UNTHROTTLED_CHUNK = 4;
/** How long a paused session sleeps before it looks again (any request wakes it at once). */
const PAUSED_NAP_MS = 60_000;

export type ControlRequest = Extract<WorkerRequest, { kind: 'pause' | 'resume' | 'setThrottle' }>;

export class SessionControl {
  private state: TrainingState = 'stopped';
  private readonly pausedFor = new Set<PauseReason>();
  private throttle = 1;
  private readonly sleeper = new WakeableSleep();

  constructor(readonly post: PostEvent) {}

  get currentState(): TrainingState {
    return this.state;
  }

  get paused(): boolean {
    return this.pausedFor.size > 0;
  }

  /** Steps per chunk: a throttled session sleeps after every step. */
  chunkSteps(): number {
    return this.throttle >= 1 ? UNTHROTTLED_CHUNK : 1;
  }

  /** A pause, resume or throttle request from the page. */
  handle(request: ControlRequest): void {
    switch (request.kind) {
      case 'pause':
        this.pausedFor.add(request.reason);
        this.wakeUp();
        // The GPU stops after the chunk in flight; a swarm round's wait goes on.
        if (this.state === 'training') this.setState('paused');
        else this.postStatus();
        break;
      case 'resume':
        this.pausedFor.delete(request.reason);
        this.wakeUp();
        if (this.state === 'paused' && !this.paused) this.setState('training');
        else this.postStatus();
        break;
      case 'setThrottle':
        this.setThrottle(request.throttle);
        break;
      default: {
        const unknown: never = request;
        throw new Error(`unhandled control ${JSON.stringify(unknown)}`);
      }
    }
  }

  setThrottle(throttle: number): void {
    this.throttle = throttle;
    this.wakeUp();
    this.postStatus();
  }

  setState(state: TrainingState): void {
    this.state = state;
    this.postStatus();
  }

  /** 'training', or 'paused' while a reason holds: the state a session enters when its work begins. */
  resumeWork(): void {
    this.setState(this.paused ? 'paused' : 'training');
  }

  postStatus(): void {
    this.post({ kind: 'status', state: this.state, pausedFor: [...this.pausedFor], throttle: this.throttle });
  }

  progress(phase: ProgressPhase, fraction: number | null, detail: string | null = null): void {
    this.post({ kind: 'progress', phase, fraction, detail, at: eventTime() });
  }

  fail(code: WorkerErrorCode, message: string, advice: string, fatal: boolean, canRestart: boolean): void {
    this.post({ kind: 'error', code, message, advice, fatal, canRestart });
  }

  /** Posts an 'error' event for any failure, with the user-facing message and advice. */
  report(error: unknown, fatal: boolean): void {
    this.post(errorEvent(error, fatal));
  }

  /** Sleeps up to ms, or until a request changes something. */
  nap(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  wakeUp(): void {
    this.sleeper.wakeUp();
  }

  /**
   * Between chunks of work: after a chunk that took lastWorkMs, sleeps so the
   * GPU works the throttle's share; then waits while a pause reason holds
   * (until stopping() says the session ends).
   */
  async gate(lastWorkMs: number, stopping: () => boolean): Promise<void> {
    const throttle = this.throttle;
    if (throttle < 1 && lastWorkMs > 0) {
      const until = Date.now() + (lastWorkMs * (1 - throttle)) / throttle;
      for (let rest = until - Date.now(); rest > 0 && !stopping() && !this.paused && this.throttle === throttle; rest = until - Date.now()) await this.nap(rest);
    }
    while (this.paused && !stopping()) {
      if (this.state !== 'paused') this.setState('paused');
      await this.nap(PAUSED_NAP_MS);
    }
    if (!stopping() && this.state !== 'training') this.setState('training');
  }
}
