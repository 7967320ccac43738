// Signature verification and payload decoding off the relay's event loop: a
// small pool of worker threads (piscina, the Node project's worker pool) runs
// the costly part of a submission's checks (submission-check-worker.ts), so
// the event loop keeps parsing requests, answering reads and writing while
// sr25519 (≈ 0.7 ms in wasm) and the codec (≈ 0.4 ms for nano) run on the
// other cores. One task per submission, and the run's settings (manifest,
// compression, payload limit) go to each worker once, as workerData: the
// per-task cost is the frame's bytes over and the decoded update back, packed
// into one transferred buffer.
// A relay without a pool (threads = 0) runs the same function inline: same
// results, same error codes.
//
// Why piscina and not a hand-written pool: task queueing, worker restarts on a
// crash, and back-pressure are what it is made for.
//
// Leaves out: the order of the checks and every check that reads relay state
// (relay.ts); the worker entry (submission-check-worker.mjs registers tsx).
import { Piscina } from 'piscina';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { checkSubmissionBytes, unpackUpdate, type CheckResult, type CheckSettings, type WorkerCheckResult } from './submission-check-worker.ts';

export interface SubmissionChecker {
  /** Signature, payload hash, counts and codec decode of one frame (submission-check-worker.ts). Never rejects for a bad frame. */
  check(frame: Uint8Array): Promise<CheckResult>;
  close(): Promise<void>;
}

/** In this thread (tests, tools, and a relay started with --check-threads 0). */
export class InlineSubmissionChecker implements SubmissionChecker {
  constructor(private readonly settings: CheckSettings) {}

  async check(frame: Uint8Array): Promise<CheckResult> {
    await cryptoWaitReady();
    return checkSubmissionBytes(frame, this.settings);
  }

  async close(): Promise<void> {}
}

/** In `threads` worker threads. */
export class SubmissionCheckPool implements SubmissionChecker {
  private readonly pool: Piscina<Uint8Array, WorkerCheckResult>;

  constructor(settings: CheckSettings, threads: number) {
    this.pool = new Piscina({
      filename: new URL('./submission-check-worker.mjs', import.meta.url).href,
      workerData: settings,
      minThreads: threads,
      maxThreads: threads,
      // A worker that sits idle keeps its wasm instance: no cold start on the next burst.
      idleTimeout: Number.MAX_SAFE_INTEGER,
    });
  }

  async check(frame: Uint8Array): Promise<CheckResult> {
    const result = await this.pool.run(frame);
    return 'packed' in result ? { verified: true, update: unpackUpdate(result.packed) } : result;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}
