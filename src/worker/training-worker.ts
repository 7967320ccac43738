// The training Web Worker's entry point: validates each request from the page
// (protocol.ts) and hands it to the session of the current mode — standalone
// ('start': training-session.ts) or swarm ('join': swarm-session.ts).
// Starting one mode stops the other first, so one GPU device and one model
// exist at a time. Controls (pause, resume, throttle, stop, snapshot) go to
// the mode that was started last. WebGPU is acquired here, in the Worker
// (navigator.gpu exists in dedicated Workers), so the page's main thread
// never waits on the GPU.
// Leaves out: everything else (the two session files).
/// <reference lib="webworker" />
import { openDatabase } from '../storage/index.ts';
import { WorkerMessageError, parseWorkerRequest, type WorkerEvent, type WorkerRequest } from './protocol.ts';
import { SwarmSession } from './swarm-session.ts';
import { TrainingSession, type SessionEnvironment } from './training-session.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(event: WorkerEvent, transfer: Transferable[] = []): void {
  scope.postMessage(event, { transfer });
}

const environment: SessionEnvironment = {
  gpu: navigator.gpu,
  post,
  openDatabase: () => (typeof indexedDB === 'undefined' ? null : openDatabase()),
};
const standalone = new TrainingSession(environment);
const swarm = new SwarmSession(environment);
let mode: 'standalone' | 'swarm' = 'standalone';
// Requests run one after another: a 'join' right after a 'start' must wait until the standalone run has stopped.
let queue: Promise<void> = Promise.resolve();

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.kind) {
    case 'start':
      await swarm.stop();
      mode = 'standalone';
      standalone.handle(request);
      break;
    case 'join':
      await standalone.stop();
      mode = 'swarm';
      swarm.handle(request);
      break;
    case 'sign-result':
    case 'push':
      swarm.handle(request);
      break;
    default:
      (mode === 'swarm' ? swarm : standalone).handle(request);
  }
}

function refuse(error: unknown): void {
  const text = error instanceof WorkerMessageError ? error.message : String(error);
  post({ kind: 'error', code: 'bad-request', message: `The training worker refused a request: ${text}`, advice: 'This is a bug in Tessera; please report it.', fatal: false, canRestart: false });
}

scope.onmessage = (message: MessageEvent<unknown>) => {
  let request: WorkerRequest;
  try {
    request = parseWorkerRequest(message.data);
  } catch (error) {
    refuse(error);
    return;
  }
  // A signature answer must not wait behind a queued request (the session waiting for it may be what that request awaits);
  // push events go to the swarm session whatever runs.
  if (request.kind === 'sign-result' || request.kind === 'push') {
    swarm.handle(request);
    return;
  }
  queue = queue.then(() => handle(request)).catch(refuse);
};
