// Watches the relay that served the page (same origin) and keeps the page's
// view of it, a snapshot React reads (useRelay): the run, the open round with
// its deadline, swarm statistics (tabs training now among them), the global
// validation loss per model version, closed rounds, contributors, the
// leaderboard, the live activity (submissions and closes as their push events
// arrive), the global model's latest text sample, one address's ledger,
// Gauntlet's scoreboard and that address's latest receipt, verified here
// against the run's relay key.
// It needs no training: the demo screen on a machine that only displays uses
// it alone. Push events (WebSocket /api/events) say when something changed;
// the history behind them comes from GET /api/stats, /api/round and
// /api/ledger, /api/ledger/:address and /api/sample (read through the
// protocol's parsers, via RelayClient),
// refreshed at most once at a time (a burst of events costs one
// refresh, plus one more if events arrived during it).
// A page served without a relay (vite preview, a static host) finds no
// /api/run and stays 'absent': the app then trains standalone.
// Leaves out: training and signing (training-feed.ts), the tab's own bytes.
import { useSyncExternalStore } from 'react';
import type { LeaderboardRow, LedgerEntry, PushEvent, ReceiptEntry, RoundStatus, RoundSummary, SampleBody, Scoreboard, StatsEvent, SwarmRunInfo } from '../protocol/index.ts';
import { RelayClient } from '../swarm/relay-client.ts';

/** One line of the swarm's live activity, newest first in RelayView.activity. */
export type ActivityItem =
  | { kind: 'submission'; key: string; at: number; address: string; round: number; tokens: number }
  | { kind: 'round-closed'; key: string; at: number; round: number; submitted: number; accepted: number; version: number }; // accepted: aggregated

/** Lines of live activity kept. */
const ACTIVITY_LENGTH = 12;

export interface RelayView {
  status: 'probing' | 'connected' | 'absent';
  /** Why the relay is absent or a refresh failed (not an error for a static page). */
  problem: string | null;
  run: SwarmRunInfo | null;
  /** The open round (a round-opened event does not say when it opened, so neither does this). */
  round: Omit<RoundStatus, 'openedAt' | 'now'> | null;
  /** Latest push stats: connected tabs, submissions this round, tokens across the run, latest loss. */
  stats: Omit<StatsEvent, 'type'> | null;
  /** The relay's model version and hash. */
  version: number | null;
  modelHash: string | null;
  /** Global validation loss by model version (the relay's held-out evaluation after every outer step). */
  losses: { x: number[]; y: number[] };
  /** Recently closed rounds, oldest first. */
  rounds: RoundSummary[];
  /** Addresses with at least one accepted round. */
  contributors: number | null;
  /** Tokens per second across the swarm over the recent closed rounds (null before two closes). */
  swarmTokensPerSecond: number | null;
  /** The watched address's submissions as the relay recorded them, newest first. */
  ledger: LedgerEntry[] | null;
  /** The relay's receipt-signing address from its run info (null: it signs no receipts). */
  relayAddress: string | null;
  /** Gauntlet's scoreboard (null from a relay without one). */
  scoreboard: Scoreboard | null;
  /** The watched address's latest closed round, from the relay's signed receipt, verified in this page. */
  receipt: MyReceipt | null;
  /** Addresses by tokens contributed, as GET /api/ledger ranks them. */
  leaderboard: LeaderboardRow[] | null;
  /** What happened lately, newest first: submissions received and rounds closed. */
  activity: ActivityItem[];
  /** The global model's latest text sample (one per model version). */
  sample: SampleBody | null;
  revision: number;
}

/** The tab's own line of a round's receipt, after this page checked the relay's signature. */
export interface MyReceipt {
  round: number;
  /** The relay key that signed it (the run's published relayAddress). */
  signer: string;
  /** null: verified; otherwise why the receipt did not verify. */
  problem: string | null;
  entry: ReceiptEntry | null;
  /** Rank of this submission's score among the round's evaluated submissions (1 = best), and how many were evaluated. */
  rank: number | null;
  evaluated: number;
  submissions: number;
}

/** The watched address's entry of round `round`'s receipt, with its rank among the evaluated. */
export function receiptView(round: number, signer: string, entries: readonly ReceiptEntry[], address: string): MyReceipt {
  const entry = entries.find((e) => e.address === address) ?? null;
  const evaluated = entries.filter((e) => e.status === 'evaluated').sort((a, b) => b.score - a.score);
  const at = entry && entry.status === 'evaluated' ? evaluated.findIndex((e) => e.address === address) : -1;
  return { round, signer, problem: entry ? null : 'this address is not in the receipt', entry, rank: at >= 0 ? at + 1 : null, evaluated: evaluated.length, submissions: entries.length };
}

/** Closed rounds averaged for the swarm's tokens/s. */
const RATE_ROUNDS = 10;

function initial(): RelayView {
  return {
    status: 'probing',
    problem: null,
    run: null,
    round: null,
    stats: null,
    version: null,
    modelHash: null,
    losses: { x: [], y: [] },
    rounds: [],
    contributors: null,
    swarmTokensPerSecond: null,
    ledger: null,
    relayAddress: null,
    scoreboard: null,
    receipt: null,
    leaderboard: null,
    activity: [],
    sample: null,
    revision: 0,
  };
}

/** The activity with new items added (newest first, one line per key). */
export function withActivity(activity: readonly ActivityItem[], items: readonly ActivityItem[]): ActivityItem[] {
  const seen = new Set(activity.map((item) => item.key));
  const fresh = items.filter((item) => !seen.has(item.key));
  if (fresh.length === 0) return activity as ActivityItem[];
  return [...fresh, ...activity].sort((a, b) => b.at - a.at).slice(0, ACTIVITY_LENGTH);
}

/** Tokens trained per wall-clock second between the first and the last of the recent closes. */
export function swarmRate(rounds: readonly Pick<RoundSummary, 'closedAt' | 'tokens'>[]): number | null {
  const recent = rounds.slice(-RATE_ROUNDS);
  if (recent.length < 2) return null;
  const seconds = (recent[recent.length - 1].closedAt - recent[0].closedAt) / 1000;
  if (!(seconds > 0)) return null;
  let tokens = 0;
  for (const r of recent.slice(1)) tokens += r.tokens;
  return tokens / seconds;
}

export class RelayWatcher {
  private view: RelayView = initial();
  private readonly listeners = new Set<() => void>();
  readonly client: RelayClient;
  private events: { close(): void } | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private address: string | null = null;
  private started = false;
  private readonly pushListeners = new Set<(event: PushEvent) => void>();

  constructor(readonly origin: string) {
    this.client = new RelayClient(origin);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    this.start();
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): RelayView => this.view;

  private update(patch: Partial<RelayView>): void {
    this.view = { ...this.view, ...patch, revision: this.view.revision + 1 };
    for (const listener of this.listeners) listener();
  }

  /** Probes /api/run once; if a relay answers, subscribes to its push channel and loads the history. */
  private start(): void {
    if (this.started) return;
    this.started = true;
    this.client.run().then(
      async (run) => {
        // A relay from before Gauntlet signs no receipts: no address, no receipt panel.
        const relayAddress = await this.client.gauntletRunInfo().then((g) => g.relayAddress, () => null);
        this.update({ status: 'connected', run, relayAddress });
        this.events = this.client.events(
          (event) => this.onPush(event),
          () => this.refreshSoon(),
        );
        this.refreshSoon();
      },
      (error: Error) => this.update({ status: 'absent', problem: error.message }),
    );
  }

  /** Also fetch this address's ledger on every refresh (the "my submissions" list). */
  watchAddress(address: string | null): void {
    if (address === this.address) return;
    this.address = address;
    this.update({ ledger: null });
    if (this.view.status === 'connected') this.refreshSoon();
  }

  /** Every push event as it arrives (the training Worker hears the relay through this, see outbox-sender.ts). */
  listen(listener: (event: PushEvent) => void): () => void {
    this.start();
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  private onPush(event: PushEvent): void {
    for (const listener of this.pushListeners) listener(event);
    switch (event.type) {
      case 'round-opened':
        this.update({
          round: { ...event.state, submissions: 0, quorum: this.view.round?.quorum ?? this.view.run?.swarm.quorum ?? 1, closing: false },
          version: event.state.version,
          modelHash: event.state.modelHash,
        });
        this.refreshSoon();
        break;
      case 'round-closed':
        this.update({
          version: event.version,
          modelHash: event.modelHash,
          activity: withActivity(this.view.activity, [
            { kind: 'round-closed', key: `closed:${event.round}`, at: Date.now(), round: event.round, submitted: event.submitted, accepted: event.accepted, version: event.version },
          ]),
        });
        this.refreshSoon();
        break;
      case 'stats': {
        const lossChanged = event.loss !== (this.view.stats?.loss ?? null);
        const round = this.view.round && this.view.round.round === event.round ? { ...this.view.round, submissions: event.submissions } : this.view.round;
        const { type: _type, ...stats } = event;
        this.update({ stats, round, activity: withActivity(this.view.activity, submissionItems(event)) });
        if (lossChanged) this.refreshSoon();
        break;
      }
      default: {
        const unknown: never = event;
        throw new Error(`unhandled push event ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** One refresh at a time; events during it schedule exactly one more. */
  refreshSoon(): void {
    if (this.view.status !== 'connected') return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.refresh().finally(() => {
      this.refreshing = null;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        this.refreshSoon();
      }
    });
  }

  private async refresh(): Promise<void> {
    const address = this.address;
    try {
      const [stats, round, ledger, leaderboard] = await Promise.all([
        this.client.stats(),
        this.client.round(),
        address ? this.client.ledger(address) : Promise.resolve(null),
        this.client.leaderboard(),
      ]);
      const rounds = [...stats.rounds].sort((a, b) => a.round - b.round);
      const losses = [...stats.losses].sort((a, b) => a.version - b.version);
      const [scoreboard, receipt] = await Promise.all([
        this.client.scoreboard().catch(() => null), // a relay from before Gauntlet
        address && ledger ? this.latestReceipt(address, ledger.entries) : Promise.resolve(null),
      ]);
      this.update({
        problem: null,
        stats: { round: stats.round, peers: stats.peers, trainers: stats.trainers, recent: stats.recent, submissions: stats.submissions, tokens: stats.tokens, loss: stats.loss },
        activity: withActivity(this.view.activity, [...submissionItems(stats), ...closedRoundItems(rounds)]),
        leaderboard,
        round,
        version: round.version,
        modelHash: round.modelHash,
        losses: { x: losses.map((l) => l.version), y: losses.map((l) => l.loss) },
        rounds,
        contributors: stats.contributors,
        swarmTokensPerSecond: swarmRate(rounds),
        ledger: address === this.address ? (ledger ? [...ledger.entries].sort((a, b) => b.round - a.round) : null) : this.view.ledger,
        scoreboard,
        receipt: address === this.address ? receipt : this.view.receipt,
      });
    } catch (error) {
      this.update({ problem: `could not read the relay's figures: ${(error as Error).message}` });
    }
    if (this.view.version !== null && this.view.sample?.version !== this.view.version) await this.fetchSample();
  }

  /** The global model's sample for the current version (the relay writes it on the first request). */
  private async fetchSample(): Promise<void> {
    try {
      const sample = await this.client.sample();
      if (sample.version >= (this.view.sample?.version ?? -1)) this.update({ sample });
    } catch {
      // No sample this time (the relay may be busy closing a round); the next refresh asks again.
    }
  }

  /**
   * The receipt of the newest closed round this address submitted to, checked
   * here (RelayClient.receipt: canonical bytes, the run's relay key). Fetched
   * once per round.
   */
  private async latestReceipt(address: string, ledger: readonly LedgerEntry[]): Promise<MyReceipt | null> {
    const closed = ledger.filter((l) => l.status === 'accepted').sort((a, b) => b.round - a.round)[0];
    const signer = this.view.relayAddress;
    if (!closed || !signer) return null;
    const previous = this.view.receipt;
    if (previous && previous.round === closed.round && previous.entry?.address === address) return previous;
    try {
      return receiptView(closed.round, signer, (await this.client.receipt(closed.round, signer)).entries, address);
    } catch (error) {
      return { round: closed.round, signer, problem: (error as Error).message, entry: null, rank: null, evaluated: 0, submissions: 0 };
    }
  }

  close(): void {
    this.events?.close();
    this.events = null;
  }
}

/** The stats event's newest submissions as activity lines. */
function submissionItems(stats: Pick<StatsEvent, 'recent'>): ActivityItem[] {
  return stats.recent.map((s) => ({ kind: 'submission', key: `submission:${s.round}:${s.address}`, at: s.receivedAt, address: s.address, round: s.round, tokens: s.tokens }));
}

/** The latest closed rounds as activity lines (a page opened after them still shows what happened lately). */
function closedRoundItems(rounds: readonly RoundSummary[]): ActivityItem[] {
  return rounds.slice(-ACTIVITY_LENGTH).map((r) => ({ kind: 'round-closed', key: `closed:${r.round}`, at: r.closedAt, round: r.round, submitted: r.submissions, accepted: r.aggregated, version: r.version }));
}

let shared: RelayWatcher | null = null;

/** The page's one relay watcher, of its own origin. */
export function relayWatcher(): RelayWatcher {
  shared ??= new RelayWatcher(location.origin);
  return shared;
}

export function useRelay(): RelayView {
  const watcher = relayWatcher();
  return useSyncExternalStore(watcher.subscribe, watcher.getSnapshot);
}
