// Shared pieces of the Worker's tier-1 tests (not a test file itself): the
// swarm session's round loop (src/worker/swarm-run.ts) runs in Node without a
// GPU against a REAL relay on 127.0.0.1 (launchRelay, nano, H = 2), with
// IndexedDB from fake-indexeddb and three doubles where the real part needs
// a browser or a GPU:
//   FakeTrainer   H "steps" that move θ by a deterministic pseudo-random
//                 amount (seeded by the round's data seed), through the same
//                 Pace gate the GPU trainer uses; AdamW moments it can save
//                 and restore
//   fakeDevice    the RoundDevice: that trainer and the real CPU compressor
//                 (the reference path), with hooks to stall either
//   FakeClock     the outbox's backoff: records every delay, waits none
// Training counts its calls: the trainer's and compressor's n-th call is
// round n − 1 for a tab that started at round 0 (what stallRound assumes).
// A TestTab is one page load: its own SessionControl, event log, database
// connection and fetch. kill() is a reload: from then on the tab's fetches
// and signatures never complete and its database connection is closed, so
// the abandoned run can neither send nor save anything more — like a Worker
// the browser terminated. A new TestTab on the same database name is the
// reloaded page.
// The page's wallet is a keyring signer that signs like the extension; every
// signature it makes is counted by round.
// Rounds close when the relay's own deadline path is taken
// (relay.closeRound('deadline')), triggered by the test once the live tab
// waits for the close, so a test decides exactly when a round is over.
import 'fake-indexeddb/auto';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hexToU8a } from '@polkadot/util';
import type { TensorManifest } from '../../src/compress/manifest.ts';
import type { AdapterSummary } from '../../src/gpu/device.ts';
import { mulberry32 } from '../../src/model/random.ts';
import { decodeHeader, decodeSubmission, protocolReady } from '../../src/protocol/index.ts';
import { launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { openDatabase, type TesseraDatabase } from '../../src/storage/index.ts';
import { CpuRoundCompressor, type RoundCompressor } from '../../src/swarm/compressor.ts';
import { keyringSigner } from '../../src/swarm/keyring-signer.ts';
import type { SwarmRunInfo } from '../../src/protocol/index.ts';
import { TrainingStoppedError, type LocalTrainer, type Pace, type TrainPlan, type TrainResult } from '../../src/swarm/trainer.ts';
import type { Clock } from '../../src/worker/clock.ts';
import { DownloadCache } from '../../src/worker/fetch-bytes.ts';
import type { SwarmSetup, WorkerEvent } from '../../src/worker/protocol.ts';
import type { RoundDevice } from '../../src/worker/round-device.ts';
import { SessionControl } from '../../src/worker/session-control.ts';
import { RunSlot } from '../../src/worker/run-slot.ts';
import { SwarmRun, type SwarmEnvironment } from '../../src/worker/swarm-run.ts';
import { REPO_ROOT, TEST_RUN, tempDir } from './relay-fixtures.ts';

export const ALICE = keyringSigner('//Alice');

/** Never settles: what a killed tab's pending work waits on. */
const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A relay on 127.0.0.1 whose dist/ serves the prepared training text (the tab downloads and checks it). */
export async function startRelay(label: string, dataDir = tempDir(label)): Promise<RelayServer> {
  const dist = tempDir(`${label}-dist`);
  mkdirSync(dist, { recursive: true });
  symlinkSync(join(REPO_ROOT, 'public', 'data'), join(dist, 'data'));
  // Rounds close only when a test says so (closeRound), never by quorum or timer.
  return launchRelay({ dataDir, port: 0, distDir: dist, run: TEST_RUN, relay: { roundMs: 3_600_000, quorum: 1000 }, evaluate: false });
}

export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private time = 1_700_000_000_000;

  now(): number {
    return this.time;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
    await new Promise((resolve) => setTimeout(resolve, 0)); // yields, waits nothing
  }
}

/** H steps that move every value by ±1e-3 · u, u uniform, seeded by the round's data seed and first step. */
export class FakeTrainer implements LocalTrainer {
  readonly batchSize = TEST_RUN.train!.batchSize!;
  readonly seqLen = TEST_RUN.train!.seqLen!;
  calls = 0;
  /** The moments setMoments() was given (a restore), if any. */
  restored: { m: Float32Array; v: Float32Array } | null = null;
  private m: Float32Array;
  private v: Float32Array;

  constructor(
    paramCount: number,
    private readonly pace: Pace,
    private readonly beforeTrain: (call: number) => Promise<void>,
  ) {
    this.m = new Float32Array(paramCount);
    this.v = new Float32Array(paramCount);
  }

  async train(params: Float32Array, plan: TrainPlan): Promise<TrainResult> {
    await this.beforeTrain(++this.calls);
    const random = mulberry32(Number(plan.seed & 0xffffffffn) ^ plan.firstStep);
    const local = params.slice();
    const losses: number[] = [];
    for (let i = 0; i < plan.steps; i++) {
      await this.pace.gate(0);
      if (plan.signal?.aborted) throw new TrainingStoppedError();
      for (let j = 0; j < local.length; j++) local[j] = Math.fround(local[j] - 1e-3 * (random() * 2 - 1));
      const step = plan.firstStep + i;
      losses.push(5 - step / 1000);
      this.pace.onStep({ step, loss: losses[i], lr: 1e-3, tokens: this.batchSize * this.seqLen, ms: 1 });
    }
    // Moments that record which steps they came from, so a restore can be checked.
    this.m.fill(plan.firstStep + plan.steps);
    this.v.fill(1 / (plan.firstStep + plan.steps));
    const tokens = plan.steps * this.batchSize * this.seqLen;
    return { local: { read: async () => local, gpuBuffer: null }, tokens, steps: plan.steps, losses, ms: plan.steps, workMs: plan.steps };
  }

  async moments(): Promise<{ m: Float32Array; v: Float32Array }> {
    return { m: this.m.slice(), v: this.v.slice() };
  }

  setMoments(m: Float32Array, v: Float32Array): void {
    this.restored = { m: m.slice(), v: v.slice() };
    this.m = m.slice();
    this.v = v.slice();
  }

  destroy(): void {}
}

/** The CPU reference compressor with a hook before each round's compression. */
class HookedCompressor extends CpuRoundCompressor {
  calls = 0;
  constructor(paramCount: number, manifest: TensorManifest, info: SwarmRunInfo, private readonly beforeCompress: (call: number) => Promise<void>) {
    super(paramCount, manifest, info.swarm.compression, info.swarm.errorFeedbackBeta);
  }
  override async compress(...args: Parameters<CpuRoundCompressor['compress']>) {
    await this.beforeCompress(++this.calls);
    return super.compress(...args);
  }
}

export const TEST_ADAPTER: AdapterSummary = {
  vendor: 'test',
  architecture: 'no-gpu',
  device: '',
  description: 'tier-1 fake device',
  isFallbackAdapter: false,
  features: [],
  subgroupMinSize: null,
  subgroupMaxSize: null,
  limits: {
    maxBufferSize: 0,
    maxStorageBufferBindingSize: 0,
    maxComputeWorkgroupStorageSize: 0,
    maxComputeInvocationsPerWorkgroup: 0,
    maxComputeWorkgroupSizeX: 0,
    maxStorageBuffersPerShaderStage: 0,
    maxComputeWorkgroupsPerDimension: 0,
  },
};

/** Where a tab can be stopped dead (then killed): the phases of a round. */
export type KillPoint =
  | 'join' // GET /api/run
  | 'sync' // GET /api/updates: catching up after round 0 closed
  | 'train' // inside the trainer, round 1
  | 'compress' // inside the compressor, round 1
  | 'sign' // the wallet never answers round 1's request
  | 'send' // round 1's POST never reaches the relay
  | 'answer' // round 1's POST reaches the relay; its answer never reaches the tab
  | 'wait'; // round 1 acknowledged; waiting for its close

export interface TabOptions {
  relay: RelayServer;
  dbName: string;
  clock?: FakeClock;
  /** Stall at this point of round `stallRound` (see KillPoint); `stalled` resolves when the tab gets there. */
  stallAt?: KillPoint;
  /** The round stallAt applies to (default 1; 'join' and 'sync' ignore it). */
  stallRound?: number;
  /** Every signature the wallet made, by round (shared across the reloads of one tab). */
  signed: number[];
  /** Fails (network error) the first n POSTs of submissions. */
  failPosts?: number;
  downloads: DownloadCache;
}

/** One page load of a tab in swarm mode (see the file header). */
export class TestTab {
  readonly events: WorkerEvent[] = [];
  readonly requests: string[] = []; // "GET /api/round", … in order
  readonly trainers: FakeTrainer[] = []; // the one this page load built
  readonly slot: RunSlot<SwarmRun>;
  private readonly env: SwarmEnvironment;
  readonly stalled: Promise<void>;
  killed = false;
  private db: TesseraDatabase | null = null;
  private reached!: () => void;
  private failPosts: number;
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly options: TabOptions,
    readonly clock: FakeClock,
  ) {
    this.stalled = new Promise((resolve) => (this.reached = resolve));
    this.failPosts = options.failPosts ?? 0;
    const control = new SessionControl((event) => this.onEvent(event));
    this.slot = new RunSlot(control);
    this.env = {
      control,
      fetch: (input, init) => this.fetch(input, init),
      clock,
      downloads: options.downloads,
      database: async () => (this.db ??= await openDatabase({ name: options.dbName })),
      holdTabLock: async () => () => {},
      openDevice: async () => this.device(),
      pollMs: 20,
    };
  }

  /** Opens the page and joins the swarm as Alice. */
  static async join(options: TabOptions): Promise<TestTab> {
    await protocolReady();
    const tab = new TestTab(options, options.clock ?? new FakeClock());
    const setup: SwarmSetup = { relayUrl: options.relay.url, address: ALICE.address, throttle: 1, clientVersion: 'tessera-test/worker' };
    void tab.slot.start(setup.throttle, () => SwarmRun.open(setup, tab.env));
    return tab;
  }

  private get stallRound(): number {
    return this.options.stallRound ?? 1;
  }

  private stallIf(point: KillPoint, condition: boolean): Promise<void> | null {
    if (this.options.stallAt !== point || !condition) return null;
    this.reached();
    return never();
  }

  private device(): RoundDevice {
    return {
      adapter: TEST_ADAPTER,
      onLost: () => () => {},
      createTrainer: async (info, _data, pace) => {
        const trainer = new FakeTrainer(info.model.parameterCount, pace, async (call) => {
          await (this.stallIf('train', call === this.stallRound + 1) ?? Promise.resolve());
        });
        this.trainers.push(trainer);
        return trainer;
      },
      createCompressor: async (info, manifest, paramCount) => {
        const compressor: RoundCompressor = new HookedCompressor(paramCount, manifest, info, async (call) => {
          await (this.stallIf('compress', call === this.stallRound + 1) ?? Promise.resolve());
        });
        return { compressor, choice: { path: 'cpu', reason: 'tier-1 test', gpuMs: null, cpuMs: null } };
      },
    };
  }

  private async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    if (this.killed) return never();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? 'GET';
    this.requests.push(`${method} ${url.pathname}${url.search}`);
    if (url.pathname === '/api/run') await (this.stallIf('join', true) ?? Promise.resolve());
    if (url.pathname === '/api/updates') await (this.stallIf('sync', url.searchParams.get('since') === '0') ?? Promise.resolve());
    if (url.pathname === '/api/submissions') {
      const round = decodeSubmission(new Uint8Array(init!.body as Uint8Array)).header.round;
      await (this.stallIf('send', round === this.stallRound) ?? Promise.resolve());
      if (this.failPosts > 0) {
        this.failPosts--;
        throw new TypeError('fetch failed (the test dropped the connection)');
      }
      const response = await fetch(url, init);
      if (this.killed) return never();
      await (this.stallIf('answer', round === this.stallRound) ?? Promise.resolve());
      return response;
    }
    const response = await fetch(url, init);
    if (this.killed) return never();
    return response;
  }

  private onEvent(event: WorkerEvent): void {
    if (this.killed) return;
    if (this.options.stallAt === 'wait' && this.waitsFor(event, this.stallRound)) {
      // Reloaded the moment it starts waiting: nobody may close the round for this tab.
      this.kill();
      this.reached();
      return;
    }
    this.events.push(event);
    if (event.kind === 'sign-request') void this.sign(event);
    for (const wake of [...this.waiters]) wake();
  }

  private waitsFor(event: WorkerEvent, round: number): boolean {
    return event.kind === 'progress' && event.phase === 'waiting-for-round' && new RegExp(`^round ${round}\\b`).test(event.detail ?? '');
  }

  /** The tab said it waits for `round` to close. */
  waitingFor(round: number): boolean {
    return !this.killed && this.events.some((event) => this.waitsFor(event, round));
  }

  private async sign(request: Extract<WorkerEvent, { kind: 'sign-request' }>): Promise<void> {
    if (this.stallIf('sign', request.round === this.stallRound)) return;
    const { signature } = await ALICE.signer.signRaw({ address: request.address, data: request.data, type: 'bytes' });
    this.options.signed.push(decodeHeader(hexToU8a(request.data)).round);
    this.slot.current?.signResult(request.id, signature, null);
  }

  /** Resolves once an event matching `test` has been posted (checks the ones already posted first). */
  async until(test: (event: WorkerEvent) => boolean, what: string, timeoutMs = 30_000): Promise<WorkerEvent> {
    const started = Date.now();
    for (;;) {
      const found = this.events.find(test);
      if (found) return found;
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}; events: ${this.events.map((e) => e.kind + ('phase' in e ? `:${e.phase}` : '')).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 50);
        this.waiters.add(done);
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
      });
    }
  }

  /** The newest model version the tab reported holding. */
  modelVersion(): number {
    return Math.max(-1, ...this.events.filter((e) => e.kind === 'model').map((e) => (e as Extract<WorkerEvent, { kind: 'model' }>).version));
  }

  /** A reload: nothing the tab started completes any more, and its database connection closes. */
  kill(): void {
    this.killed = true;
    this.db?.close();
  }

  async stop(): Promise<void> {
    await this.slot.stop();
    this.db?.close();
  }
}

/**
 * Closes rounds as the relay's deadline would, once the live tab waits for
 * the close with its submission in: every round up to `rounds` (exclusive).
 */
export async function closeRoundsWhenWaiting(relay: RelayServer, tab: () => TestTab, rounds: number, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { round } = relay.relay.roundState();
    if (round >= rounds) return;
    const submitted = relay.relay.ledgerFor(ALICE.address).entries.some((entry) => entry.round === round);
    if (submitted && tab().waitingFor(round)) await relay.relay.closeRound('deadline');
    else if (Date.now() - started > timeoutMs) throw new Error(`round ${round} never got ready to close (submitted: ${submitted})`);
    else await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
