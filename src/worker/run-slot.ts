// One run at a time, for either Worker session: start() stops the run in
// progress first, then opens the next (state 'preparing', then whatever the
// run reports; 'failed' if it cannot open); stop() waits for a start in
// progress, halts its run and waits until everything the run held is freed.
// Leaves out: what a run is (swarm-run.ts, standalone-run.ts).
import type { SessionControl } from './session-control.ts';

export interface Run {
  /** Stops after the work in flight; `finished` settles once all is released. */
  halt(): void;
  readonly finished: Promise<void>;
  /** Posts the current parameters (a 'snapshot' event) for a text sample on the page. */
  snapshot(): void;
}

export class RunSlot<R extends Run> {
  private run: R | null = null;
  private starting: Promise<void> = Promise.resolve(); // the last start, until its run exists (or failed)

  constructor(private readonly control: SessionControl) {}

  /** The run in progress (it may have ended by itself: a fatal error). */
  get current(): R | null {
    return this.run;
  }

  /** open() reports its own failure; a stop that arrives meanwhile waits for it and stops the run it made. */
  start(throttle: number, open: () => Promise<R>): Promise<void> {
    this.starting = this.stop().then(async () => {
      this.control.setThrottle(throttle);
      this.control.setState('preparing');
      try {
        this.run = await open();
      } catch {
        this.control.setState('failed');
      }
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    await this.starting;
    const run = this.run;
    if (!run) return;
    run.halt();
    await run.finished.catch(() => undefined);
    this.run = null;
    if (this.control.currentState !== 'failed') this.control.setState('stopped');
  }
}
