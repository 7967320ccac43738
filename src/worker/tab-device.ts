// The tab's one GPUDevice. The Worker acquires it on the page's first 'probe'
// (or the first session, whichever comes first), reports the adapter
// ('device'), runs the self-test on it once ('self-test'), and lends it with
// its GpuContext (pipeline cache) to whichever session trains. Sessions free
// their own buffers but never destroy the device: a stop, a mode switch or a
// restart keeps it, and its compiled pipelines. A lost device is dropped and
// the next acquire() opens a new one (DESIGN: one device per tab; the page
// holds none).
// Leaves out: what a loss means to a session (each subscribes with onLost and
// reports it in its own terms).
import { acquireDevice, type GpuDevice } from '../gpu/device.ts';
import type { DeviceLostError } from '../gpu/errors.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { errorEvent } from './error-event.ts';
import type { SelfTestResult } from './protocol.ts';
import { runSelfTest } from './self-test.ts';
import type { PostEvent } from './session-control.ts';

export interface DeviceLease {
  gpu: GpuDevice;
  ctx: GpuContext; // the device's one pipeline cache
}

export class TabDevice {
  private current: Promise<DeviceLease> | null = null;
  private selfTest: { ctx: GpuContext; result: Promise<SelfTestResult> } | null = null;
  private readonly lostListeners = new Set<(error: DeviceLostError) => void>();

  constructor(
    private readonly gpuApi: GPU | undefined, // navigator.gpu of the Worker
    private readonly post: PostEvent,
  ) {}

  /** The tab's device, opened on first use and again after a loss; reports the adapter when it opens. */
  acquire(): Promise<DeviceLease> {
    if (!this.current) {
      const opening: Promise<DeviceLease> = this.open(() => {
        if (this.current === opening) this.current = null; // lost: the next acquire() opens a new one
      });
      this.current = opening;
      // A failed open is not kept: the next call tries again (the page's restart button).
      opening.catch(() => {
        if (this.current === opening) this.current = null;
      });
    }
    return this.current;
  }

  private async open(forget: () => void): Promise<DeviceLease> {
    const gpu = await acquireDevice(this.gpuApi, {
      onLost: (error) => {
        forget();
        for (const listener of [...this.lostListeners]) listener(error);
      },
    });
    this.post({ kind: 'device', adapter: gpu.adapter, problem: null });
    return { gpu, ctx: new GpuContext(gpu) };
  }

  /** Calls listener when the device in use is lost; returns the unsubscribe function. */
  onLost(listener: (error: DeviceLostError) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** The page's 'probe': the adapter (or why there is none), then the self-test's verdict (run once per device). */
  async probe(): Promise<void> {
    let lease: DeviceLease;
    try {
      lease = await this.acquire();
    } catch (error) {
      const { code, message, advice } = errorEvent(error, true);
      this.post({ kind: 'device', adapter: null, problem: { code, message, advice } });
      return;
    }
    this.post({ kind: 'device', adapter: lease.gpu.adapter, problem: null });
    if (this.selfTest?.ctx !== lease.ctx) this.selfTest = { ctx: lease.ctx, result: runSelfTest(lease.ctx) };
    try {
      this.post({ kind: 'self-test', result: await this.selfTest.result, error: null });
    } catch (error) {
      this.post({ kind: 'self-test', result: null, error: (error as Error).message });
    }
  }
}
