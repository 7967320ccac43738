// A sleep that a request can cut short: the Worker sessions nap between steps
// (throttle) and while paused, and pause/resume/stop/throttle changes must
// take effect at once rather than after the nap.

export class WakeableSleep {
  private wake: (() => void) | null = null;

  /** Resolves after ms, or as soon as wakeUp() is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
