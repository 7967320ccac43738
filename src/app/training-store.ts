// The page's view of training: folds the Worker's events into one state object
// that React reads with useSyncExternalStore, shared by the dashboard and the
// demo screen. Series for the charts are plain arrays grown in place (a new
// state object per event, the same arrays), so a long run does not copy
// thousands of points per step.
// Leaves out: relay state (the swarm module will add its own store).
import { useSyncExternalStore } from 'react';
import { TrainingClient } from '../worker/client.ts';
import type { PauseReason, ProgressPhase, TrainingSetup, TrainingState, WorkerEvent } from '../worker/protocol.ts';

type EventOf<K extends WorkerEvent['kind']> = Extract<WorkerEvent, { kind: K }>;

/** Longest series kept for the charts; past it the older half is dropped (amortized O(1) per point). */
const MAX_POINTS = 20_000;
/** Steps averaged for tokens/s and GFLOP/s: smooths SwiftShader's and the browser's jitter. */
const RATE_WINDOW = 8;

export interface Series {
  x: number[];
  y: number[];
}

export interface TrainingView {
  state: TrainingState | 'idle';
  pausedFor: PauseReason[];
  throttle: number;
  progress: { phase: ProgressPhase; fraction: number | null; detail: string | null } | null;
  ready: EventOf<'ready'> | null;
  lastStep: EventOf<'step'> | null;
  stepsThisSession: number;
  innerLoss: Series; // per step
  validationLoss: Series; // local evaluations, by step
  tokensPerSecond: number | null;
  gflops: number | null;
  tokensThisSession: number;
  lastCheckpoint: EventOf<'checkpoint'> | null;
  error: EventOf<'error'> | null; // the last fatal error
  warning: EventOf<'error'> | null; // the last non-fatal one
  revision: number;
}

const initial = (): TrainingView => ({
  state: 'idle',
  pausedFor: [],
  throttle: 1,
  progress: null,
  ready: null,
  lastStep: null,
  stepsThisSession: 0,
  innerLoss: { x: [], y: [] },
  validationLoss: { x: [], y: [] },
  tokensPerSecond: null,
  gflops: null,
  tokensThisSession: 0,
  lastCheckpoint: null,
  error: null,
  warning: null,
  revision: 0,
});

function push(series: Series, x: number, y: number): void {
  series.x.push(x);
  series.y.push(y);
  if (series.x.length > MAX_POINTS) {
    series.x.splice(0, MAX_POINTS / 2);
    series.y.splice(0, MAX_POINTS / 2);
  }
}

export class TrainingStore {
  private view: TrainingView = initial();
  private readonly listeners = new Set<() => void>();
  private readonly recent: EventOf<'step'>[] = [];
  private readonly snapshotWaiters: ((event: EventOf<'snapshot'>) => void)[] = [];

  constructor(readonly client: TrainingClient = new TrainingClient()) {
    client.subscribe((event) => this.apply(event));
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): TrainingView => this.view;

  private update(patch: Partial<TrainingView>): void {
    this.view = { ...this.view, ...patch, revision: this.view.revision + 1 };
    for (const listener of this.listeners) listener();
  }

  private apply(event: WorkerEvent): void {
    switch (event.kind) {
      case 'progress':
        this.update({ progress: { phase: event.phase, fraction: event.fraction, detail: event.detail } });
        break;
      case 'ready': {
        // A fresh model (or an older checkpoint) restarts the step axis: drop the series it would overlap.
        const lastX = this.view.innerLoss.x.at(-1);
        if (lastX !== undefined && lastX >= (event.resumedFromStep ?? 0)) {
          for (const series of [this.view.innerLoss, this.view.validationLoss]) {
            series.x.length = 0;
            series.y.length = 0;
          }
          this.update({ ready: event, error: null, lastStep: null });
        } else this.update({ ready: event, error: null });
        break;
      }
      case 'status':
        this.update({
          state: event.state,
          pausedFor: event.pausedFor,
          throttle: event.throttle,
          progress: event.state === 'preparing' ? this.view.progress : event.state === 'training' && this.view.lastStep === null ? this.view.progress : null,
        });
        break;
      case 'step': {
        push(this.view.innerLoss, event.step, event.loss);
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
        this.update({});
        break;
      case 'checkpoint':
        this.update({ lastCheckpoint: event });
        break;
      case 'round':
        // Relay rounds arrive with the swarm module; standalone training sends none.
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

  start(setup: TrainingSetup): void {
    this.recent.length = 0;
    this.update({ error: null, warning: null, progress: null, state: 'preparing' });
    this.client.start(setup);
  }

  /** The current parameters from the Worker (for sampling). */
  snapshot(): Promise<EventOf<'snapshot'>> {
    return new Promise((resolve) => {
      this.snapshotWaiters.push(resolve);
      this.client.requestSnapshot();
    });
  }
}

let shared: TrainingStore | null = null;

/** The page's one training store (one Worker per tab). */
export function trainingStore(): TrainingStore {
  shared ??= new TrainingStore();
  return shared;
}

export function useTraining(store: TrainingStore = trainingStore()): TrainingView {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
