// Time as the swarm session's outbox sees it: now() for the retry schedule
// and sleep() for the backoff between attempts. The Worker uses the real
// clock; tier-1 tests pass a fake one, so a backoff of a minute costs them
// nothing and its length can be checked.
// Leaves out: the naps of pause and throttle (session-control.ts: requests
// from the page cut those short).

export interface Clock {
  /** ms since the Unix epoch. */
  now(): number;
  /** Resolves after ms, or at once when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
    }),
};
