// The device panel: which GPU this tab trains on and the limits that bound
// the model size, or a plain explanation of why WebGPU is not available.
import type { DeviceState } from './use-device.ts';
import { GpuError } from '../gpu/errors.ts';

const LIMIT_LABELS: [keyof import('../gpu/device.ts').AdapterSummary['limits'], string, 'bytes' | 'count'][] = [
  ['maxBufferSize', 'Largest buffer', 'bytes'],
  ['maxStorageBufferBindingSize', 'Largest storage binding', 'bytes'],
  ['maxComputeWorkgroupStorageSize', 'Workgroup memory', 'bytes'],
  ['maxComputeInvocationsPerWorkgroup', 'Invocations per workgroup', 'count'],
  ['maxStorageBuffersPerShaderStage', 'Storage buffers per stage', 'count'],
];

export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(bytes % (1 << 30) ? 1 : 0)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(bytes % (1 << 20) ? 1 : 0)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(bytes % (1 << 10) ? 1 : 0)} KiB`;
  return `${bytes} B`;
}

export function DevicePanel({ state }: { state: DeviceState }) {
  return (
    <section className="panel" aria-labelledby="device-heading" data-testid="device-panel" data-status={state.status}>
      <h2 id="device-heading">Your GPU</h2>
      {state.status === 'pending' && <p role="status">Looking for a WebGPU adapter…</p>}
      {state.status === 'failed' && <DeviceProblem error={state.error} />}
      {state.status === 'ready' && (
        <>
          <p className="device-name" data-testid="adapter">
            <strong>{state.gpu.adapter.vendor}</strong> · {state.gpu.adapter.architecture}
            {state.gpu.adapter.description && <span className="muted"> — {state.gpu.adapter.description}</span>}
          </p>
          {state.gpu.adapter.isFallbackAdapter && (
            <p className="note">This is a software adapter: training works but is slow. A real GPU trains far faster.</p>
          )}
          <dl className="limits">
            {LIMIT_LABELS.map(([key, label, unit]) => (
              <div key={key}>
                <dt>{label}</dt>
                <dd data-testid={`limit-${key}`}>
                  {unit === 'bytes' ? formatBytes(state.gpu.adapter.limits[key]) : state.gpu.adapter.limits[key]}
                </dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  );
}

function DeviceProblem({ error }: { error: Error }) {
  return (
    <div role="alert" className="problem" data-testid="device-problem">
      <p>
        <strong>This tab cannot train.</strong> {error.message}
      </p>
      {error instanceof GpuError && <p>{error.advice}</p>}
    </div>
  );
}
