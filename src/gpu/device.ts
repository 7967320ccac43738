// Device acquisition, the same for the browser and Node: the caller passes the
// `GPU` object (navigator.gpu in a page or Worker; the npm `webgpu` package in
// Node, see device-node.ts). Asks the adapter for the limits training needs —
// its own maxima, not WebGPU's defaults — and refuses an adapter below the
// floor with an AdapterLimitsError. Device loss and uncaptured errors are
// handled here, in one place.
import {
  AdapterLimitsError,
  AdapterUnavailableError,
  DeviceLostError,
  GpuError,
  GpuOutOfMemoryError,
  GpuValidationError,
  WebGpuUnavailableError,
} from './errors.ts';

/** Limits training depends on, with the floor below which we refuse the adapter. */
export const TRAINING_LIMIT_FLOORS = {
  // The largest flat parameter/optimizer buffer and the largest activation.
  maxBufferSize: 64 * 1024 * 1024,
  maxStorageBufferBindingSize: 64 * 1024 * 1024,
  // Matmul tiles (2 × 16×64 floats = 8 KiB) and reduction scratch.
  maxComputeWorkgroupStorageSize: 16 * 1024,
  // 256-thread workgroups (16×16 matmul tiles, row reductions).
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  // AdamW binds params, grads, m, v and a uniform.
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
} as const;

export type TrainingLimitName = keyof typeof TRAINING_LIMIT_FLOORS;

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<TrainingLimitName, number>;
}

export interface GpuDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  hasTimestamps: boolean;
  /** Resolves when the device is lost (never rejects). */
  lost: Promise<DeviceLostError>;
  /** The last uncaptured error, if any (validation or OOM). */
  takeUncapturedError(): GpuError | null;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Called once if the device is lost after acquisition. */
  onLost?: (error: DeviceLostError) => void;
}

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const limits = {} as Record<TrainingLimitName, number>;
  for (const name of Object.keys(TRAINING_LIMIT_FLOORS) as TrainingLimitName[]) {
    limits[name] = Number(adapter.limits[name]);
  }
  return {
    vendor: info?.vendor || 'unknown',
    architecture: info?.architecture || 'unknown',
    device: info?.device || '',
    description: info?.description || '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    features: [...adapter.features].sort(),
    limits,
  };
}

/** Acquire a device with the training limits requested from the adapter. */
export async function acquireDevice(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<GpuDevice> {
  if (!gpu) throw new WebGpuUnavailableError('navigator.gpu is undefined (no WebGPU in this browser or context)');
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new AdapterUnavailableError(String(e));
  }
  if (!adapter) throw new AdapterUnavailableError('requestAdapter() returned null');

  const summary = summarizeAdapter(adapter);
  const shortfalls = (Object.keys(TRAINING_LIMIT_FLOORS) as TrainingLimitName[])
    .filter((name) => summary.limits[name] < TRAINING_LIMIT_FLOORS[name])
    .map((name) => ({ limit: name, required: TRAINING_LIMIT_FLOORS[name], available: summary.limits[name] }));
  if (shortfalls.length) throw new AdapterLimitsError(shortfalls);

  // Ask for everything the adapter has on the limits we use: the defaults
  // (128 MiB bindings, 16 KiB workgroup storage) would cap the model size.
  const requiredLimits: Record<string, number> = { ...summary.limits };
  const hasTimestamps = adapter.features.has('timestamp-query');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits,
      requiredFeatures: hasTimestamps ? ['timestamp-query'] : [],
      label: 'tessera',
    });
  } catch (e) {
    throw new AdapterUnavailableError(`requestDevice failed: ${String(e)}`);
  }

  let uncaptured: GpuError | null = null;
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    uncaptured =
      error instanceof GPUOutOfMemoryError || error.constructor?.name === 'GPUOutOfMemoryError'
        ? new GpuOutOfMemoryError(error.message)
        : new GpuValidationError(error.message);
  });
  const lost = device.lost.then((info) => {
    const error = new DeviceLostError(info.reason ?? 'unknown', info.message || 'no message');
    options.onLost?.(error);
    return error;
  });
  return {
    device,
    adapter: summary,
    hasTimestamps,
    lost,
    takeUncapturedError() {
      const error = uncaptured;
      uncaptured = null;
      return error;
    },
  };
}
