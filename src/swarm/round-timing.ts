// When a volunteer's training must stop in a time-boxed round: the round's
// submission deadline (relay clock) minus the time this volunteer needs
// after training — compress, encode, sign, send — as measured on its own
// last rounds.
//
//   training deadline = t₀ + (deadline − relayNow) − margin
//
// t₀ is the local clock (performance.now()) when GET /api/round answered
// with relayNow, so the relay's and the tab's clocks never need to agree;
// only the request's own latency is unaccounted (the margin's slack covers
// it). margin = 1.5 × the slowest of the last MARGIN_ROUNDS submissions + 1 s:
// the wallet's signature is the slow and variable part (an extension may wait
// for a click), and a round that ends late loses the whole round's work to
// 'late'. Before any round is measured: a quarter of the round, at most 15 s.
// Leaves out: how many steps fit (the trainer measures its own pace).

/** Rounds of submit time the margin looks back on. */
const MARGIN_ROUNDS = 8;
/** Head room on the slowest measured submission: a slower signature or upload than any so far. */
const MARGIN_FACTOR = 1.5;
/** Added to every margin: the round request's latency, scheduling jitter. */
const MARGIN_SLACK_MS = 1_000;
/** Margin before any measurement, as a share of the round and in absolute terms. */
const FIRST_MARGIN_SHARE = 0.25;
const FIRST_MARGIN_MAX_MS = 15_000;

export class SubmitMargin {
  private readonly recent: number[] = []; // ms from the end of training to the acknowledgement, newest last

  constructor(private readonly roundMs: number) {}

  /** One round's time from the end of training to the relay's acknowledgement. */
  record(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.recent.push(ms);
    if (this.recent.length > MARGIN_ROUNDS) this.recent.shift();
  }

  /** Milliseconds to keep free before the deadline. */
  ms(): number {
    if (!this.recent.length) return Math.min(FIRST_MARGIN_SHARE * this.roundMs, FIRST_MARGIN_MAX_MS);
    return MARGIN_FACTOR * Math.max(...this.recent) + MARGIN_SLACK_MS;
  }
}

/**
 * The training deadline on the local clock, from a round status the relay
 * answered at local time `fetchedAt`: see the file header.
 */
export function trainingDeadline(round: { deadline: number; now: number }, fetchedAt: number, marginMs: number): number {
  return fetchedAt + (round.deadline - round.now) - marginMs;
}
