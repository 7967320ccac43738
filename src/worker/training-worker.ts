// The training Worker's entry point: validates each request from the page
// (protocol.ts) and routes it — the message switch, nothing more. The Worker
// holds the tab's one GPUDevice (tab-device.ts: 'probe' reports it and runs
// the self-test; both modes train on it), one set of controls
// (session-control.ts: pause reasons, throttle, status) and one mode at a
// time, each run in its slot (run-slot.ts): standalone ('start':
// standalone-run.ts) or swarm ('join': swarm-run.ts). Starting one mode stops
// the other first. WebGPU lives here, in the Worker (navigator.gpu exists in
// dedicated Workers), so the page's main thread never waits on the GPU.
// Leaves out: everything else (the files named above).
/// <reference lib="webworker" />
import { openDatabase, type TesseraDatabase } from '../storage/index.ts';
import { realClock } from './clock.ts';
import { DownloadCache } from './fetch-bytes.ts';
import { WorkerMessageError, parseWorkerRequest, type WorkerEvent, type WorkerRequest } from './protocol.ts';
import { gpuRoundDevice } from './round-device.ts';
import { RunSlot } from './run-slot.ts';
import { SessionControl } from './session-control.ts';
import { StandaloneRun, type StandaloneEnvironment } from './standalone-run.ts';
import { SwarmRun, type SwarmEnvironment } from './swarm-run.ts';
import { TabDevice } from './tab-device.ts';
import { holdTabLock } from './tab-lock.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(event: WorkerEvent, transfer: Transferable[] = []): void {
  scope.postMessage(event, { transfer });
}

const control = new SessionControl(post);
const device = new TabDevice(navigator.gpu, post);
const downloads = new DownloadCache();
let db: Promise<TesseraDatabase | null> | null = null;
/** The tab's database, opened once; null where IndexedDB is missing or refuses (training then cannot resume). */
function database(): Promise<TesseraDatabase | null> {
  db ??= typeof indexedDB === 'undefined' ? Promise.resolve(null) : openDatabase().catch((error: unknown) => (control.report(error, false), null));
  return db;
}

/** How often a waiting swarm session asks for the round; push events forwarded by the page wake it at once. */
const POLL_MS = 5_000;

const standaloneEnv: StandaloneEnvironment = { control, device, downloads, database };
const swarmEnv: SwarmEnvironment = {
  control,
  fetch: (input, init) => fetch(input, init),
  clock: realClock,
  downloads,
  database,
  holdTabLock,
  openDevice: (tabDb) => gpuRoundDevice(device, control, tabDb),
  pollMs: POLL_MS,
};
const standalone = new RunSlot<StandaloneRun>(control);
const swarm = new RunSlot<SwarmRun>(control);
let mode: 'standalone' | 'swarm' = 'standalone';
const active = () => (mode === 'swarm' ? swarm : standalone);
// Mode changes run one after another: a 'join' right after a 'start' must wait until the standalone run has stopped.
let queue: Promise<void> = Promise.resolve();

async function switchModes(request: Extract<WorkerRequest, { kind: 'start' | 'join' | 'stop' | 'snapshot' }>): Promise<void> {
  switch (request.kind) {
    case 'start': {
      const { setup } = request;
      await swarm.stop();
      mode = 'standalone';
      void standalone.start(setup.throttle, () => StandaloneRun.open(setup, standaloneEnv));
      break;
    }
    case 'join': {
      const { setup } = request;
      await standalone.stop();
      mode = 'swarm';
      void swarm.start(setup.throttle, () => SwarmRun.open(setup, swarmEnv));
      break;
    }
    case 'stop':
      await active().stop();
      break;
    case 'snapshot': {
      const run = active().current;
      if (run) run.snapshot();
      else control.fail('bad-request', 'There is no model yet: start training or join the swarm first.', 'Press "Start training" or "Join the swarm".', false, false);
      break;
    }
    default: {
      const unknown: never = request;
      throw new Error(`unhandled request ${JSON.stringify(unknown)}`);
    }
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
  switch (request.kind) {
    // These never wait behind a queued mode change: a session may be waiting for them.
    case 'probe':
      void device.probe();
      break;
    case 'pause':
    case 'resume':
    case 'setThrottle':
      control.handle(request);
      break;
    case 'sign-result':
      swarm.current?.signResult(request.id, request.signature, request.error); // after a stop nothing waits for it
      break;
    case 'push':
      swarm.current?.push(request.event);
      break;
    default:
      queue = queue.then(() => switchModes(request)).catch(refuse);
  }
};
