// Device acquisition, the same for the browser and Node: the caller passes the
// `GPU` object (navigator.gpu in a page or Worker; the npm `webgpu` package in
// Node, see device-node.ts). Asks the adapter for the limits training needs —
// its own maxima, not WebGPU's defaults — and refuses an adapter below the
// floor with an AdapterLimitsError. Optional features (timestamp queries,
// subgroups, shader-f16) are requested only when the adapter has them, so the
// kernels can pick a variant (src/gpu/runtime.ts KernelChoices). Device loss
// and uncaptured errors are handled here, in one place.
// Leaves out: f16 kernels (shader-f16 is detected and requested, and the
// summary reports it, but every kernel computes in f32).
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

/** Features a kernel variant can use; each is requested only where the adapter offers it. */
export const OPTIONAL_FEATURES = ['timestamp-query', 'subgroups', 'shader-f16'] as const;
export type OptionalFeature = (typeof OPTIONAL_FEATURES)[number];

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  /** Smallest and largest subgroup size the adapter may use (null where the browser does not say). */
  subgroupMinSize: number | null;
  subgroupMaxSize: number | null;
  limits: Record<TrainingLimitName, number>;
}

/**
 * What identifies an adapter's speed, for measurements kept per adapter (the
 * matmul tile search, the compression path): vendor, architecture, device,
 * description and whether it is a fallback adapter — the browser reports no
 * more. WebGPU has no driver version field; where a browser reports one it is
 * in the description (Dawn on SwiftShader: "SwiftShader driver 5.0.0").
 */
export function adapterIdentity(adapter: AdapterSummary): string {
  return [adapter.vendor, adapter.architecture, adapter.device, adapter.description, adapter.isFallbackAdapter ? 'fallback' : ''].join('|');
}

export interface GpuDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  hasTimestamps: boolean;
  /**
   * The adapter's smallest subgroup size when the device has the 'subgroups'
   * feature (a workgroup this small is one subgroup); null otherwise.
   */
  subgroupSize: number | null;
  hasShaderF16: boolean;
  /** Resolves when the device is lost (never rejects). */
  lost: Promise<DeviceLostError>;
  /** The last uncaptured error, if any (validation or OOM). */
  takeUncapturedError(): GpuError | null;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Optional features to request where the adapter has them (default: all of OPTIONAL_FEATURES). */
  features?: readonly OptionalFeature[];
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
    subgroupMinSize: positiveOrNull(info?.subgroupMinSize),
    subgroupMaxSize: positiveOrNull(info?.subgroupMaxSize),
    limits,
  };
}

const positiveOrNull = (value: number | undefined): number | null => (Number.isInteger(value) && value! > 0 ? value! : null);

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
  const requiredFeatures = (options.features ?? OPTIONAL_FEATURES).filter((feature) => adapter.features.has(feature));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures: requiredFeatures as GPUFeatureName[], label: 'tessera' });
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
  // A subgroup kernel sizes its workgroups to the smallest subgroup; an adapter
  // that does not report it gets the plain kernels.
  const subgroupSize = device.features.has('subgroups') && summary.subgroupMinSize !== null ? summary.subgroupMinSize : null;
  return {
    device,
    adapter: summary,
    hasTimestamps: device.features.has('timestamp-query'),
    subgroupSize,
    hasShaderF16: device.features.has('shader-f16'),
    lost,
    takeUncapturedError() {
      const error = uncaptured;
      uncaptured = null;
      return error;
    },
  };
}
