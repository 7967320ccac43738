// The training Web Worker's entry point: validates each request from the page
// (protocol.ts) and hands it to the TrainingSession; everything the session
// says goes back as typed events. WebGPU is acquired here, in the Worker
// (navigator.gpu exists in dedicated Workers), so the page's main thread never
// waits on the GPU.
// Leaves out: everything else (training-session.ts).
/// <reference lib="webworker" />
import { openDatabase } from '../storage/index.ts';
import { WorkerMessageError, parseWorkerRequest, type WorkerEvent } from './protocol.ts';
import { TrainingSession } from './training-session.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(event: WorkerEvent, transfer: Transferable[] = []): void {
  scope.postMessage(event, { transfer });
}

const session = new TrainingSession({
  gpu: navigator.gpu,
  post,
  openDatabase: () => (typeof indexedDB === 'undefined' ? null : openDatabase()),
});

scope.onmessage = (message: MessageEvent<unknown>) => {
  try {
    session.handle(parseWorkerRequest(message.data));
  } catch (error) {
    const text = error instanceof WorkerMessageError ? error.message : String(error);
    post({ kind: 'error', code: 'bad-request', message: `The training worker refused a request: ${text}`, advice: 'This is a bug in Tessera; please report it.', fatal: false, canRestart: false });
  }
};
