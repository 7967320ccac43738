// The training Worker's swarm mode, as the message switch sees it: 'join'
// opens a SwarmRun (swarm-run.ts: the round loop against the relay that
// served the page), 'stop' ends it, and the page's signature answers, push
// events and snapshot requests go to the run in progress. One run at a time;
// a new 'join' stops the previous one first.
// Leaves out: the run itself (swarm-run.ts), pause and throttle
// (session-control.ts, shared with the standalone mode).
import type { GptPresetName } from '../model/config.ts';
import type { PushEvent } from '../protocol/index.ts';
import { gptConfigOf } from '../swarm/run-spec.ts';
import type { SwarmSetup } from './protocol.ts';
import { SwarmRun, type SwarmEnvironment } from './swarm-run.ts';

export class SwarmSession {
  private run: SwarmRun | null = null;
  private starting: Promise<void> = Promise.resolve(); // the last start, until its run exists (or failed)

  constructor(private readonly env: SwarmEnvironment) {}

  /** Stops the run in progress, then opens one; a stop that arrives meanwhile waits for it and stops it. */
  start(setup: SwarmSetup): Promise<void> {
    this.starting = this.stop().then(() => this.open(setup));
    return this.starting;
  }

  private async open(setup: SwarmSetup): Promise<void> {
    this.env.control.setThrottle(setup.throttle);
    this.env.control.setState('preparing');
    try {
      this.run = await SwarmRun.open(setup, this.env);
    } catch {
      // SwarmRun.open reported it (or the device loss did).
      this.env.control.setState('failed');
    }
  }

  /** Stops after the step in flight (a half-trained round is dropped, never signed); resolves when all is released. */
  async stop(): Promise<void> {
    await this.starting;
    const run = this.run;
    if (!run) return;
    run.halt();
    await run.finished.catch(() => undefined);
    this.run = null;
    if (this.env.control.currentState !== 'failed') this.env.control.setState('stopped');
  }

  signResult(id: number, signature: string | null, error: string | null): void {
    this.run?.signResult(id, signature, error); // after a stop nothing waits for it any more
  }

  push(event: PushEvent): void {
    this.run?.push(event);
  }

  /** The model this tab holds, for a text sample on the page. */
  snapshot(): void {
    const model = this.run?.model();
    if (!model?.params) {
      this.env.control.fail('bad-request', "There is no model yet: wait until this tab has the swarm's model.", 'Join the swarm first.', false, false);
      return;
    }
    const params = model.params.slice();
    const preset = model.info.swarm.model.preset as GptPresetName;
    this.env.control.post({ kind: 'snapshot', step: model.version, preset, config: gptConfigOf(model.info.swarm), params }, [params.buffer]);
  }
}
