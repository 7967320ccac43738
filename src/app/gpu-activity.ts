// The honest figures of what this tab's GPU did lately: the share of wall-clock
// time it had training work in flight, and tokens per second over wall-clock
// time (pauses, the throttle's rests and the waits between rounds included).
// Per-step rates alone flatter a throttled or waiting tab: they leave out the
// time it did nothing.
// A step report says when the step completed (`end`, ms since the epoch) and
// how long since the previous completion in its chunk, or since its chunk
// started (`ms`): [end − ms, end] is time the GPU had our work. The window
// is the last WINDOW_MS, or less while the session is younger than that.
// Leaves out: the GPU's own timestamps (timestamp queries are optional in
// WebGPU and absent on many adapters): work in flight is what a tab controls.

/** One training step as the Worker reported it. */
export interface WorkInterval {
  end: number; // ms since the epoch, when the step completed
  ms: number; // work time up to that completion
  tokens: number;
}

export interface Activity {
  /** Share of the window the GPU had training work, 0..1. */
  busyShare: number;
  /** Tokens over the window's wall-clock time. */
  tokensPerSecond: number;
  /** Length of the window the figures cover, ms. */
  windowMs: number;
}

/** The figures cover the last minute: long enough to span a round's rests, short enough to follow a throttle change. */
export const WINDOW_MS = 60_000;

/**
 * Busy share and wall-clock tokens/s over the window ending at `now`.
 * `since` is when the session began (its first step started): a younger
 * session is measured over its own age. Null before any work.
 */
export function activityOver(intervals: readonly WorkInterval[], now: number, since: number | null, windowMs = WINDOW_MS): Activity | null {
  if (since === null || intervals.length === 0) return null;
  const from = Math.max(now - windowMs, since);
  const span = now - from;
  if (!(span > 0)) return null;
  let busy = 0;
  let tokens = 0;
  for (const { end, ms, tokens: stepTokens } of intervals) {
    const start = end - ms;
    const overlap = Math.min(end, now) - Math.max(start, from);
    if (overlap <= 0) continue;
    busy += overlap;
    // A step counts its tokens in proportion to the part of it inside the window.
    tokens += ms > 0 ? (stepTokens * overlap) / ms : stepTokens;
  }
  return { busyShare: Math.min(1, busy / span), tokensPerSecond: (tokens / span) * 1000, windowMs: span };
}

/** Drops intervals that ended before the window could reach them. */
export function trimIntervals(intervals: WorkInterval[], now: number, windowMs = WINDOW_MS): void {
  let drop = 0;
  while (drop < intervals.length && intervals[drop].end < now - windowMs) drop++;
  if (drop) intervals.splice(0, drop);
}
