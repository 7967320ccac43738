// The device panel: which GPU this tab trains on and the limits that bound
// the model size, or a plain explanation of why WebGPU is not available — as
// the training Worker, which holds the tab's device, reported them.
import type { AdapterSummary } from '../worker/protocol.ts';
import { formatBytes } from './format.ts';
import type { DeviceView } from './use-device.ts';

const LIMIT_LABELS: [keyof AdapterSummary['limits'], string, 'bytes' | 'count'][] = [
  ['maxBufferSize', 'Largest buffer', 'bytes'],
  ['maxStorageBufferBindingSize', 'Largest storage binding', 'bytes'],
  ['maxComputeWorkgroupStorageSize', 'Workgroup memory', 'bytes'],
  ['maxComputeInvocationsPerWorkgroup', 'Invocations per workgroup', 'count'],
  ['maxStorageBuffersPerShaderStage', 'Storage buffers per stage', 'count'],
];

export function DevicePanel({ state }: { state: DeviceView }) {
  return (
    <section className="subpanel" aria-labelledby="device-heading" data-testid="device-panel" data-status={state.status}>
      <h3 id="device-heading">Your GPU</h3>
      {state.status === 'pending' && <p role="status">Looking for a WebGPU adapter…</p>}
      {state.status === 'failed' && <DeviceProblem problem={state.problem} />}
      {state.status === 'ready' && (
        <>
          <p className="device-name" data-testid="adapter">
            <strong>{state.adapter.vendor}</strong> · {state.adapter.architecture}
            {state.adapter.description && <span className="muted"> — {state.adapter.description}</span>}
          </p>
          {state.adapter.isFallbackAdapter && (
            <p className="note">This is a software adapter: training works but is slow. A real GPU trains far faster.</p>
          )}
          <dl className="limits">
            {LIMIT_LABELS.map(([key, label, unit]) => (
              <div key={key}>
                <dt>{label}</dt>
                <dd data-testid={`limit-${key}`}>
                  {unit === 'bytes' ? formatBytes(state.adapter.limits[key]) : state.adapter.limits[key]}
                </dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  );
}

function DeviceProblem({ problem }: { problem: { code: string; message: string; advice: string } }) {
  return (
    <div role="alert" className="problem" data-testid="device-problem" data-code={problem.code}>
      <p>
        <strong>This tab cannot train.</strong> {problem.message}
      </p>
      {problem.advice && <p>{problem.advice}</p>}
    </div>
  );
}
