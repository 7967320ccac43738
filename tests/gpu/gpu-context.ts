// One GpuContext per test file (GPU tests run in forked processes, one file at a time).
import { acquireNodeDevice } from '../../src/gpu/device-node.ts';
import { GpuContext } from '../../src/gpu/runtime.ts';

let context: Promise<GpuContext> | null = null;

export function gpuContext(): Promise<GpuContext> {
  context ??= acquireNodeDevice().then((gpu) => new GpuContext(gpu));
  return context;
}
