// The page's WebGPU device: acquired once, shared by the device panel and the
// self-test. Failures arrive as typed GpuErrors with advice for the user.
import { useEffect, useState } from 'react';
import { acquireDevice, type GpuDevice } from '../gpu/device.ts';
import { GpuError } from '../gpu/errors.ts';

export type DeviceState =
  | { status: 'pending' }
  | { status: 'ready'; gpu: GpuDevice }
  | { status: 'failed'; error: GpuError | Error };

let shared: Promise<GpuDevice> | null = null;

export function pageDevice(): Promise<GpuDevice> {
  shared ??= acquireDevice(typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  return shared;
}

export function useDevice(): DeviceState {
  const [state, setState] = useState<DeviceState>({ status: 'pending' });
  useEffect(() => {
    let live = true;
    pageDevice().then(
      (gpu) => live && setState({ status: 'ready', gpu }),
      (error: Error) => live && setState({ status: 'failed', error }),
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}
