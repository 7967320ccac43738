// The page's side of the training Worker: creates it, sends typed requests,
// and fans its events out to subscribers after checking each one's kind
// (protocol.ts parseWorkerEvent: unknown kinds are refused, not ignored).
// A Worker that fails to load or crashes becomes an 'error' event too, so the
// UI has one place to listen.
// The pause reasons and the throttle are the page's word, kept here and sent
// to every Worker this client creates: a pause asked for before the Worker
// exists (the battery check answers early) or before a crashed Worker is
// replaced is never dropped.
// Leaves out: deciding when to pause (pause-conditions.ts) and what to show
// (src/app/).
import type { PushEvent } from '../protocol/api.ts';
import { parseWorkerEvent, type PauseReason, type SwarmSetup, type TrainingSetup, type WorkerEvent, type WorkerRequest } from './protocol.ts';

export type WorkerEventListener = (event: WorkerEvent) => void;

/** The part of a Worker the client uses (a real Worker fits; tests may pass another). */
export interface WorkerLike {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
}

export function createTrainingWorker(): WorkerLike {
  // Vite bundles the Worker from this exact expression (new URL + import.meta.url).
  return new Worker(new URL('./training-worker.ts', import.meta.url), { type: 'module', name: 'tessera-training' });
}

export class TrainingClient {
  private worker: WorkerLike | null = null;
  private readonly listeners = new Set<WorkerEventListener>();
  private readonly pausedFor = new Set<PauseReason>();
  private throttle: number | null = null;

  constructor(private readonly createWorker: () => WorkerLike = createTrainingWorker) {}

  subscribe(listener: WorkerEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: WorkerEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private ensureWorker(): WorkerLike {
    if (this.worker) return this.worker;
    const worker = this.createWorker();
    worker.onmessage = (message) => {
      let event: WorkerEvent;
      try {
        event = parseWorkerEvent(message.data);
      } catch (error) {
        event = { kind: 'error', code: 'internal', message: (error as Error).message, advice: 'This is a bug in Tessera; please report it.', fatal: false, canRestart: false };
      }
      this.emit(event);
    };
    worker.onerror = (error) => {
      error.preventDefault?.();
      this.emit({
        kind: 'error',
        code: 'internal',
        message: `The training worker crashed: ${error.message || 'no message'}`,
        advice: 'Reload the page. If it happens again, please report it with your browser version.',
        fatal: true,
        canRestart: true,
      });
      this.worker?.terminate();
      this.worker = null;
    };
    this.worker = worker;
    for (const reason of this.pausedFor) worker.postMessage({ kind: 'pause', reason } satisfies WorkerRequest);
    if (this.throttle !== null) worker.postMessage({ kind: 'setThrottle', throttle: this.throttle } satisfies WorkerRequest);
    return worker;
  }

  private send(request: WorkerRequest): void {
    this.ensureWorker().postMessage(request);
  }

  /** The tab's GPU: answered with 'device' and 'self-test' events (starts the Worker). */
  probe(): void {
    this.send({ kind: 'probe' });
  }
  start(setup: TrainingSetup): void {
    this.send({ kind: 'start', setup });
  }
  /** Swarm mode: run the relay's rounds; signatures are asked for with 'sign-request' events. */
  join(setup: SwarmSetup): void {
    this.send({ kind: 'join', setup });
  }
  /** A relay push event for the swarm session (the page holds the tab's one WebSocket). */
  push(event: PushEvent): void {
    if (this.worker) this.send({ kind: 'push', event });
  }
  /** The wallet's answer to a 'sign-request' (exactly one of signature and error). */
  signResult(id: number, signature: string | null, error: string | null): void {
    if (this.worker) this.send({ kind: 'sign-result', id, signature, error });
  }
  /** Kept for every Worker to come (see the file header); sent now if one runs. */
  pause(reason: PauseReason): void {
    this.pausedFor.add(reason);
    if (this.worker) this.send({ kind: 'pause', reason });
  }
  resume(reason: PauseReason): void {
    this.pausedFor.delete(reason);
    if (this.worker) this.send({ kind: 'resume', reason });
  }
  setThrottle(throttle: number): void {
    this.throttle = throttle;
    if (this.worker) this.send({ kind: 'setThrottle', throttle });
  }
  stop(): void {
    if (this.worker) this.send({ kind: 'stop' });
  }
  requestSnapshot(): void {
    if (this.worker) this.send({ kind: 'snapshot' });
  }

  /** Ends the Worker at once (GPU memory is freed with it). */
  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
