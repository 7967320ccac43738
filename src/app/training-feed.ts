// The page's feed from the training Worker: folds the Worker's events into
// one state object (TrainingView) that React reads with useSyncExternalStore,
// shared by the dashboard and the demo screen. The tab's GPU is the
// Worker's: the device panel and the self-test read what it reported
// ('device', 'self-test', asked for with probe()); the page holds no
// GPUDevice. Series for the charts are plain arrays grown in place (a new
// state object per event, the same arrays), so a long run does not copy
// thousands of points per step.
// In swarm mode it is also where the Worker's signature requests are answered:
// the wallet lives on the page (extension-dapp needs `window`), so a
// 'sign-request' is signed here with the account the tab joined with and the
// answer goes back as 'sign-result'. A refusal becomes a plain message.
// Timing: the first inner step after the page opened is marked
// (performance.mark 'tessera:first-inner-step', measured from navigation
// start, with a mark per preparation phase) and logged once.
// History: the loss series of a run are saved now and then (src/storage/
// chart-history.ts) and read back when the same run starts again, so a reload
// continues the curve. Activity: the steps of the last minute give the GPU's
// busy share and wall-clock tokens/s (gpu-activity.ts).
// Leaves out: the relay's own figures (relay-watcher.ts).
import { useSyncExternalStore } from 'react';
import { loadChartHistory, saveChartHistory } from '../storage/index.ts';
import { explainWalletError, signerFor, WalletError, type WalletAccount } from '../wallet/index.ts';
import { TrainingClient } from '../worker/client.ts';
import type { AdapterSummary, PauseReason, ProgressPhase, RoundPhase, SelfTestResult, SwarmSetup, TrainingSetup, TrainingState, WorkerEvent } from '../worker/protocol.ts';
import { activityOver, trimIntervals, type Activity, type WorkInterval } from './gpu-activity.ts';
import { pageDatabase } from './local-data.ts';
import { relayWatcher } from './relay-watcher.ts';

type EventOf<K extends WorkerEvent['kind']> = Extract<WorkerEvent, { kind: K }>;

/** Longest series kept for the charts; past it the older half is dropped (amortized O(1) per point). */
const MAX_POINTS = 20_000;
/** Steps averaged for tokens/s and GFLOP/s: smooths SwiftShader's and the browser's jitter. */
const RATE_WINDOW = 8;
/** How often new chart points are saved (and when the page is hidden): a reload loses at most this much of the curve. */
const HISTORY_SAVE_MS = 15_000;

export interface Series {
  x: number[];
  y: number[];
}

/** This tab's submission of one round, as its Worker reported it. */
export interface RoundView {
  round: number;
  phase: RoundPhase;
  frameBytes: number | null;
  payloadBytes: number | null;
  denseBytes: number | null;
  version: number | null;
  code: string | null;
  message: string | null;
}

/** The tab's GPU as the Worker reported it. */
export type DeviceView =
  | { status: 'pending' }
  | { status: 'ready'; adapter: AdapterSummary }
  | { status: 'failed'; problem: { code: string; message: string; advice: string } };

export type SelfTestView = { status: 'idle' | 'running' } | { status: 'done'; result: SelfTestResult } | { status: 'error'; message: string };

export interface TrainingView {
  device: DeviceView;
  selfTest: SelfTestView;
  state: TrainingState | 'idle';
  mode: 'standalone' | 'swarm' | null; // of the last start/join
  /** Swarm: the address signing this tab's submissions. */
  swarmAddress: string | null;
  /** Swarm: this tab's copy of the global model. */
  model: EventOf<'model'> | null;
  /** Swarm: this tab's submissions in this session, newest first (at most 50). */
  rounds: RoundView[];
  /** Swarm: the last submission the relay acknowledged (what "bytes per round" shows). */
  lastSent: RoundView | null;
  /** Swarm: a signature request waiting for the wallet. */
  signing: { round: number } | null;
  /** Swarm: the wallet did not sign the last request (message and advice), until the next signature. */
  walletProblem: { code: string; message: string; advice: string; round: number } | null;
  /** Milliseconds from opening the page to the first inner step, once it ran. */
  firstStepMs: number | null;
  /** When each preparation phase first showed, ms after opening the page. */
  phaseTimes: { phase: ProgressPhase; ms: number }[];
  pausedFor: PauseReason[];
  throttle: number;
  progress: { phase: ProgressPhase; fraction: number | null; detail: string | null } | null;
  ready: EventOf<'ready'> | null;
  lastStep: EventOf<'step'> | null;
  stepsThisSession: number;
  innerLoss: Series; // per step
  validationLoss: Series; // local evaluations, by step
  /** Tokens per second of the last steps while training (the GPU's rate, pauses and waits excluded). */
  tokensPerSecond: number | null;
  /** Swarm: the last round's work — the GPU's share of the round's time and its tokens over the round's wall time. */
  roundWork: EventOf<'round-work'> | null;
  /** Swarm: the GPU's busy share per round (x = round). */
  busyShare: Series;
  gflops: number | null;
  tokensThisSession: number;
  lastCheckpoint: EventOf<'checkpoint'> | null;
  error: EventOf<'error'> | null; // the last fatal error
  warning: EventOf<'error'> | null; // the last non-fatal one
  revision: number;
}

const initial = (): TrainingView => ({
  device: { status: 'pending' },
  selfTest: { status: 'idle' },
  state: 'idle',
  mode: null,
  swarmAddress: null,
  model: null,
  rounds: [],
  lastSent: null,
  signing: null,
  walletProblem: null,
  firstStepMs: null,
  phaseTimes: [],
  pausedFor: [],
  throttle: 1,
  progress: null,
  ready: null,
  lastStep: null,
  stepsThisSession: 0,
  innerLoss: { x: [], y: [] },
  validationLoss: { x: [], y: [] },
  tokensPerSecond: null,
  roundWork: null,
  busyShare: { x: [], y: [] },
  gflops: null,
  tokensThisSession: 0,
  lastCheckpoint: null,
  error: null,
  warning: null,
  revision: 0,
});

function push(series: Series, x: number, y: number): void {
  // A resumed run repeats steps past its checkpoint: the newer points replace the saved ones from there on.
  if (series.x.length && series.x[series.x.length - 1] >= x) {
    let keep = series.x.length;
    while (keep > 0 && series.x[keep - 1] >= x) keep--;
    series.x.length = keep;
    series.y.length = keep;
  }
  series.x.push(x);
  series.y.push(y);
  if (series.x.length > MAX_POINTS) {
    series.x.splice(0, MAX_POINTS / 2);
    series.y.splice(0, MAX_POINTS / 2);
  }
}

export class TrainingFeed {
  private view: TrainingView = initial();
  private readonly listeners = new Set<() => void>();
  private readonly recent: EventOf<'step'>[] = [];
  private readonly snapshotWaiters: ((event: EventOf<'snapshot'>) => void)[] = [];
  private swarmAccount: WalletAccount | null = null;
  /** Steps of the last minute, oldest first (gpu-activity.ts). */
  private readonly work: WorkInterval[] = [];
  /** When this session's first step started (ms since the epoch). */
  private workSince: number | null = null;
  /** The run whose chart history this page keeps, once its session is ready. */
  private historyRunId: string | null = null;
  private historyTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly client: TrainingClient = new TrainingClient()) {
    client.subscribe((event) => this.apply(event));
    if (typeof document !== 'undefined') {
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'hidden') void this.saveHistory();
      });
    }
  }

  /** The GPU's busy share and wall-clock tokens/s over the last minute (null before the first step). */
  activity(now = Date.now()): Activity | null {
    trimIntervals(this.work, now);
    return activityOver(this.work, now, this.workSince);
  }

  /**
   * Shows the run's saved chart points before the ones this session drew
   * (once per run): the page calls it as soon as it knows the relay's run, so
   * a reload shows the curve before training resumes; a session's 'ready'
   * calls it too. Points at or past `until` (beyond the checkpoint the run
   * resumes from: they will be trained again) are left out.
   */
  async showHistory(runId: string, until = Infinity): Promise<void> {
    if (this.historyRunId === runId) return;
    this.historyRunId = runId;
    try {
      const saved = await loadChartHistory(await pageDatabase(), runId);
      if (!saved || this.historyRunId !== runId) return;
      for (const [series, old] of [
        [this.view.innerLoss, saved.innerLoss],
        [this.view.validationLoss, saved.validationLoss],
      ] as const) {
        const first = series.x[0] ?? Infinity;
        const keep = old.x.findIndex((x) => x >= Math.min(until, first));
        const n = keep === -1 ? old.x.length : keep;
        series.x.unshift(...old.x.slice(0, n));
        series.y.unshift(...old.y.slice(0, n));
      }
      this.update({});
    } catch {
      // A missing history only costs the old part of the curve.
    }
  }

  private scheduleHistorySave(): void {
    if (this.historyTimer !== null || this.historyRunId === null) return;
    this.historyTimer = setTimeout(() => void this.saveHistory(), HISTORY_SAVE_MS);
  }

  private async saveHistory(): Promise<void> {
    if (this.historyTimer !== null) clearTimeout(this.historyTimer);
    this.historyTimer = null;
    const runId = this.historyRunId;
    if (runId === null || this.view.innerLoss.x.length === 0) return;
    try {
      await saveChartHistory(await pageDatabase(), runId, this.view.innerLoss, this.view.validationLoss);
    } catch {
      // Losing the curve's history is not worth interrupting training for.
    }
  }

  /** Forwards the page's relay push events to the Worker while it runs the swarm's rounds. */
  private listenToRelay(): void {
    this.stopListening ??= relayWatcher().listen((event) => {
      if (this.view.mode === 'swarm') this.client.push(event);
    });
  }
  private stopListening: (() => void) | null = null;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): TrainingView => this.view;

  private update(patch: Partial<TrainingView>): void {
    this.view = { ...this.view, ...patch, revision: this.view.revision + 1 };
    for (const listener of this.listeners) listener();
  }

  /** Asks the Worker for the tab's GPU and the self-test (once per page; the answers stay in the view). */
  probe(): void {
    if (this.probed) return;
    this.probed = true;
    this.update({ selfTest: { status: 'running' } });
    this.client.probe();
  }
  private probed = false;

  private apply(event: WorkerEvent): void {
    switch (event.kind) {
      case 'device':
        if (event.adapter) this.update({ device: { status: 'ready', adapter: event.adapter } });
        // No device, no self-test to wait for.
        else this.update({ device: { status: 'failed', problem: event.problem ?? { code: 'internal', message: 'the Worker found no adapter', advice: '' } }, selfTest: { status: 'idle' } });
        break;
      case 'self-test':
        this.update({ selfTest: event.result ? { status: 'done', result: event.result } : { status: 'error', message: event.error ?? 'unknown' } });
        break;
      case 'progress':
        this.markPhase(event.phase, event.at);
        this.update({ progress: { phase: event.phase, fraction: event.fraction, detail: event.detail } });
        break;
      case 'ready': {
        // A fresh model (or an older checkpoint) restarts the step axis: drop the series it would overlap.
        // (Swarm steps are global steps: the axis never restarts.)
        const lastX = this.view.innerLoss.x.at(-1);
        if (event.mode === 'standalone' && lastX !== undefined && lastX >= (event.resumedFromStep ?? 0)) {
          for (const series of [this.view.innerLoss, this.view.validationLoss]) {
            series.x.length = 0;
            series.y.length = 0;
          }
          this.update({ ready: event, mode: event.mode, error: null, lastStep: null });
        } else this.update({ ready: event, mode: event.mode, error: null });
        // Swarm steps are global: a repeated step replaces its saved point as it arrives (push).
        void this.showHistory(event.runId, event.mode === 'standalone' ? (event.resumedFromStep ?? 0) : Infinity);
        break;
      }
      case 'status':
        if (event.state === 'stopped' || event.state === 'paused') void this.saveHistory();
        this.update({
          // The Worker runs from page open (it holds the GPU) and answers pause/resume with its status:
          // until this page starts or joins, its 'stopped' means nothing ran yet.
          state: this.view.mode === null && event.state === 'stopped' ? 'idle' : event.state,
          pausedFor: event.pausedFor,
          throttle: event.throttle,
          progress: event.state === 'preparing' ? this.view.progress : event.state === 'training' && this.view.lastStep === null ? this.view.progress : null,
        });
        break;
      case 'step': {
        if (this.view.firstStepMs === null) this.markFirstStep(event.at);
        push(this.view.innerLoss, event.step, event.loss);
        this.workSince ??= event.at - event.ms;
        this.work.push({ end: event.at, ms: event.ms, tokens: event.tokens });
        trimIntervals(this.work, event.at);
        this.scheduleHistorySave();
        this.recent.push(event);
        if (this.recent.length > RATE_WINDOW) this.recent.shift();
        const ms = this.recent.reduce((sum, s) => sum + s.ms, 0);
        const tokens = this.recent.reduce((sum, s) => sum + s.tokens, 0);
        const flops = this.recent.reduce((sum, s) => sum + s.flops, 0);
        this.update({
          lastStep: event,
          progress: null,
          stepsThisSession: this.view.stepsThisSession + 1,
          tokensThisSession: this.view.tokensThisSession + event.tokens,
          tokensPerSecond: ms > 0 ? (tokens / ms) * 1000 : null,
          gflops: ms > 0 ? flops / ms / 1e6 : null,
        });
        break;
      }
      case 'evaluation':
        push(this.view.validationLoss, event.step, event.loss);
        this.scheduleHistorySave();
        this.update({});
        break;
      case 'checkpoint':
        this.update({ lastCheckpoint: event });
        break;
      case 'round': {
        const round: RoundView = {
          round: event.round,
          phase: event.phase,
          frameBytes: event.frameBytes,
          payloadBytes: event.payloadBytes,
          denseBytes: event.denseBytes,
          version: event.version,
          code: event.code,
          message: event.message,
        };
        const previous = this.view.rounds.find((r) => r.round === event.round);
        // Sizes arrive with 'sending'; later phases of the same round keep them.
        if (previous) {
          round.frameBytes ??= previous.frameBytes;
          round.payloadBytes ??= previous.payloadBytes;
        }
        const rounds = [round, ...this.view.rounds.filter((r) => r.round !== event.round)].sort((a, b) => b.round - a.round).slice(0, 50);
        this.update({
          rounds,
          lastSent: event.phase === 'acknowledged' ? round : this.view.lastSent,
          progress: event.phase === 'closed' ? null : this.view.progress,
          // A round went through: a warning about an earlier hiccup (relay unreachable, a retry) is stale.
          warning: event.phase === 'closed' ? null : this.view.warning,
        });
        break;
      }
      case 'round-work':
        push(this.view.busyShare, event.round, event.busyShare);
        this.update({ roundWork: event });
        break;
      case 'model':
        this.update({ model: event });
        break;
      case 'sign-request':
        this.update({ signing: { round: event.round } });
        void this.sign(event);
        break;
      case 'snapshot':
        for (const resolve of this.snapshotWaiters.splice(0)) resolve(event);
        break;
      case 'error':
        this.update(event.fatal ? { error: event, progress: null } : { warning: event });
        break;
      default: {
        const unknown: never = event;
        throw new Error(`unhandled worker event ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** A new session: its activity starts from nothing (the charts keep their points). */
  private resetActivity(): void {
    this.recent.length = 0;
    this.work.length = 0;
    this.workSince = null;
  }

  start(setup: TrainingSetup): void {
    this.resetActivity();
    this.swarmAccount = null;
    this.update({ error: null, warning: null, progress: null, state: 'preparing', mode: 'standalone', swarmAddress: null });
    this.client.start(setup);
  }

  /** Swarm mode: the Worker runs the relay's rounds; `account` signs them (it must be setup.address). */
  join(setup: SwarmSetup, account: WalletAccount): void {
    if (account.address !== setup.address) throw new Error('the joining account must be the one that signs');
    this.resetActivity();
    this.swarmAccount = account;
    this.listenToRelay();
    this.update({ error: null, warning: null, walletProblem: null, progress: null, state: 'preparing', mode: 'swarm', swarmAddress: account.address });
    this.client.join(setup);
  }

  /** Answers one of the Worker's signature requests with the joined account's wallet. */
  private async sign(request: EventOf<'sign-request'>): Promise<void> {
    try {
      const account = this.swarmAccount;
      if (!account || account.address !== request.address) throw new WalletError('failed', { detail: `the account ${request.address} is not the one this tab joined with` });
      const signer = await signerFor(await pageDatabase(), account);
      if (typeof signer.signRaw !== 'function') throw new WalletError('unsupported-signer');
      let signature: string;
      try {
        ({ signature } = await signer.signRaw({ address: request.address, data: request.data, type: 'bytes' }));
      } catch (cause) {
        // Duck-typed: the extension's error comes from its content script's realm.
        const message = (cause as { message?: unknown } | null)?.message;
        throw new WalletError('signature-refused', { cause, detail: typeof message === 'string' ? message : undefined });
      }
      this.client.signResult(request.id, signature, null);
      this.update({ signing: null, walletProblem: null });
    } catch (error) {
      const problem = explainWalletError(error);
      this.client.signResult(request.id, null, problem.message);
      this.update({ signing: null, walletProblem: { code: problem.code, message: problem.message, advice: problem.advice, round: request.round } });
    }
  }

  private markPhase(phase: ProgressPhase, at: number): void {
    if (this.view.firstStepMs !== null || this.view.phaseTimes.some((p) => p.phase === phase)) return;
    // Placed where the Worker says it happened, not where this thread got round to reading it.
    const ms = Math.max(0, at - performance.timeOrigin);
    performance.mark(`tessera:phase:${phase}`, { startTime: ms });
    this.view.phaseTimes.push({ phase, ms });
  }

  /** Marks and logs the time from opening the page (navigation start) to the end of the first inner step. */
  private markFirstStep(at: number): void {
    performance.mark('tessera:first-inner-step', { startTime: Math.max(0, at - performance.timeOrigin) });
    const measure = performance.measure('tessera:page-open-to-first-step', { start: 0, end: 'tessera:first-inner-step' });
    const phases = this.view.phaseTimes.map((p) => `${p.phase} at ${(p.ms / 1000).toFixed(1)} s`).join(', ');
    console.info(`Tessera: ${(measure.duration / 1000).toFixed(1)} s from opening the page to the first inner step (${phases})`);
    this.view = { ...this.view, firstStepMs: measure.duration };
  }

  /** The current parameters from the Worker (for sampling). */
  snapshot(): Promise<EventOf<'snapshot'>> {
    return new Promise((resolve) => {
      this.snapshotWaiters.push(resolve);
      this.client.requestSnapshot();
    });
  }
}

let shared: TrainingFeed | null = null;

/** The page's one training feed (one Worker per tab). */
export function trainingFeed(): TrainingFeed {
  shared ??= new TrainingFeed();
  return shared;
}

export function useTraining(feed: TrainingFeed = trainingFeed()): TrainingView {
  return useSyncExternalStore(feed.subscribe, feed.getSnapshot);
}
