// The Worker sessions' sleep: a request must cut a long nap short.
import { describe, expect, it, vi } from 'vitest';
import { WakeableSleep } from '../../src/worker/wakeable-sleep.ts';

describe('WakeableSleep', () => {
  it('wakeUp ends a nap before its time; a nap also ends on its own', async () => {
    vi.useFakeTimers();
    try {
      const sleeper = new WakeableSleep();
      let woke = false;
      const nap = sleeper.sleep(60_000).then(() => (woke = true));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(woke).toBe(false);
      sleeper.wakeUp();
      await nap;
      expect(woke).toBe(true);

      let done = false;
      const timed = sleeper.sleep(500).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(499);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await timed;
      expect(done).toBe(true);
      sleeper.wakeUp(); // nothing to wake: harmless
    } finally {
      vi.useRealTimers();
    }
  });
});
