// "Your device and this browser": the technical side, last on the page —
// the GPU the Worker trains on and its limits, the self-test, the figures a
// developer asks for (GFLOP/s, time to the first step, the last checkpoint,
// GPU or CPU compression) and the data this browser keeps.
// Leaves out: anything a volunteer needs to decide whether to join (above it).
import { DevicePanel } from './device-panel.tsx';
import { formatCount, NONE } from './format.ts';
import { useRelay } from './relay-watcher.ts';
import { SelfTestPanel } from './self-test-panel.tsx';
import { StoragePanel } from './storage-panel.tsx';
import { useTraining } from './training-feed.ts';
import type { DeviceView, SelfTestView } from './use-device.ts';

export function DetailsPanel({ device, selfTest, refreshKey, onCleared }: { device: DeviceView; selfTest: SelfTestView; refreshKey: unknown; onCleared: () => void }) {
  const view = useTraining();
  const relay = useRelay();
  return (
    <section className="panel" aria-labelledby="details-heading" data-testid="details-panel">
      <h2 id="details-heading">Your device and this browser</h2>
      <DevicePanel state={device} />
      <SelfTestPanel device={device} state={selfTest} />
      <h3>Training details</h3>
      {view.ready?.compression && (
        <p className="muted small" data-testid="compression-path" data-path={view.ready.compression.path}>
          Compresses its updates on the <strong>{view.ready.compression.path === 'gpu' ? 'GPU' : 'CPU'}</strong>: {view.ready.compression.reason}.
        </p>
      )}
      <dl className="figures">
        <div>
          <dt>Compute</dt>
          <dd data-testid="gflops">{view.gflops === null ? NONE : `${view.gflops.toFixed(2)} GFLOP/s`}</dd>
        </div>
        <div>
          <dt>Page open → first step</dt>
          <dd data-testid="time-to-first-step" data-ms={view.firstStepMs ?? ''}>
            {view.firstStepMs === null ? NONE : `${(view.firstStepMs / 1000).toFixed(1)} s`}
          </dd>
        </div>
        <div>
          <dt>Last checkpoint</dt>
          <dd data-testid="last-checkpoint">{view.lastCheckpoint ? `step ${view.lastCheckpoint.step}` : 'none yet'}</dd>
        </div>
        {relay.run && (
          <>
            <div>
              <dt>Steps per round</dt>
              <dd>
                H = {formatCount(relay.run.innerSteps)} nominal; a tab takes {formatCount(relay.run.swarm.stepRange.min)}–{formatCount(relay.run.swarm.stepRange.max)} by its speed
              </dd>
            </div>
            <div>
              <dt>Quorum</dt>
              <dd>{formatCount(relay.run.swarm.quorum)} updates</dd>
            </div>
          </>
        )}
      </dl>
      <StoragePanel refreshKey={refreshKey} onCleared={onCleared} />
    </section>
  );
}
