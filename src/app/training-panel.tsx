// Training controls: start / pause / resume / stop, the throttle, the pause
// options (hidden tab, battery), progress for every preparation phase, live
// figures (step, loss, tokens/s, GFLOP/s) and the Worker's errors with their
// advice and a restart button when restarting can help.
import { useEffect, useId, useState } from 'react';
import type { DeviceState } from './use-device.ts';
import type { SettingsState } from './local-data.ts';
import { trainingStore, useTraining } from './training-store.ts';
import { standaloneSetup } from './training-setup.ts';
import { ProgressBar } from './progress-bar.tsx';
import { formatCount, formatLoss, formatRate } from './format.ts';
import { watchPauseConditions } from '../worker/pause-conditions.ts';
import { MIN_THROTTLE } from '../storage/index.ts';

const PAUSE_TEXT = { user: 'you paused it', hidden: 'the tab is hidden', battery: 'the computer runs on battery' } as const;

export function TrainingPanel({ device, settings }: { device: DeviceState; settings: SettingsState }) {
  const store = trainingStore();
  const view = useTraining(store);
  const throttleId = useId();
  const [setupError, setSetupError] = useState<string | null>(null);
  const { pauseWhenHidden, pauseOnBattery, throttle } = settings.settings;

  useEffect(() => {
    if (!settings.loaded) return;
    return watchPauseConditions(store.client, { pauseWhenHidden, pauseOnBattery });
  }, [store, settings.loaded, pauseWhenHidden, pauseOnBattery]);

  const start = () => {
    const adapter = device.status === 'ready' ? device.gpu.adapter : null;
    try {
      setSetupError(null);
      store.start(standaloneSetup(adapter, new URLSearchParams(location.search), document.baseURI, throttle));
    } catch (error) {
      setSetupError((error as Error).message);
    }
  };

  const running = view.state === 'training' || view.state === 'paused' || view.state === 'preparing';
  const userPaused = view.pausedFor.includes('user');
  const canStart = device.status === 'ready' && settings.loaded && !running;

  return (
    <section className="panel" aria-labelledby="training-heading" data-testid="training-panel" data-state={view.state}>
      <h2 id="training-heading">Training</h2>
      <p className="muted">
        Standalone: this tab trains its own copy of the model on the Brown corpus. Not connected to a relay, so nothing is sent anywhere yet.
      </p>
      <div className="controls">
        {!running && (
          <button type="button" onClick={start} disabled={!canStart} data-testid="start-training">
            {view.state === 'failed' || view.state === 'stopped' ? 'Restart training' : 'Start training'}
          </button>
        )}
        {running && !userPaused && (
          <button type="button" onClick={() => store.client.pause('user')} data-testid="pause-training">
            Pause
          </button>
        )}
        {running && userPaused && (
          <button type="button" onClick={() => store.client.resume('user')} data-testid="resume-training">
            Resume
          </button>
        )}
        {running && (
          <button type="button" className="secondary" onClick={() => store.client.stop()} data-testid="stop-training">
            Stop
          </button>
        )}
        <label htmlFor={throttleId} className="throttle">
          GPU share: <strong>{Math.round(throttle * 100)}%</strong>
        </label>
        <input
          id={throttleId}
          type="range"
          min={MIN_THROTTLE}
          max={1}
          step={0.05}
          value={throttle}
          data-testid="throttle"
          aria-valuetext={`${Math.round(throttle * 100)} percent of the time`}
          onChange={(e) => {
            const value = Number(e.target.value);
            void settings.set('throttle', value);
            store.client.setThrottle(value);
          }}
        />
      </div>
      <div className="options">
        <label>
          <input type="checkbox" checked={pauseWhenHidden} onChange={(e) => void settings.set('pauseWhenHidden', e.target.checked)} /> Pause when this tab is hidden
        </label>
        <label>
          <input type="checkbox" checked={pauseOnBattery} onChange={(e) => void settings.set('pauseOnBattery', e.target.checked)} /> Pause on battery power
        </label>
      </div>

      {setupError && (
        <p role="alert" className="problem" data-testid="setup-error">
          The training settings in this page's address are not valid: {setupError}
        </p>
      )}
      {view.progress && <ProgressBar {...view.progress} />}
      {view.state === 'paused' && (
        <p role="status" data-testid="paused-because">
          Paused because {view.pausedFor.map((reason) => PAUSE_TEXT[reason]).join(' and ')}.
        </p>
      )}
      {view.error && (
        <div role="alert" className="problem" data-testid="training-error" data-code={view.error.code}>
          <p>
            <strong>Training stopped.</strong> {view.error.message}
          </p>
          <p>{view.error.advice}</p>
          {view.error.canRestart && !running && (
            <button type="button" onClick={start} disabled={!canStart}>
              Restart training
            </button>
          )}
        </div>
      )}
      {view.warning && (
        <p className="note" data-testid="training-warning">
          {view.warning.message} {view.warning.advice}
        </p>
      )}

      {view.ready && (
        <p className="muted" data-testid="model-summary">
          Model <strong>{view.ready.preset}</strong>: {formatCount(view.ready.parameterCount)} parameters, batch {view.ready.batchSize} × {view.ready.seqLen} bytes
          {view.ready.resumedFromStep !== null ? `, resumed from step ${view.ready.resumedFromStep}` : ', fresh start'}.
        </p>
      )}
      <dl className="figures">
        <div>
          <dt>Step</dt>
          <dd data-testid="step-count" data-steps={view.stepsThisSession}>
            {view.lastStep ? formatCount(view.lastStep.step + 1) : '—'}
          </dd>
        </div>
        <div>
          <dt>Inner loss</dt>
          <dd data-testid="last-loss">{formatLoss(view.lastStep?.loss)}</dd>
        </div>
        <div>
          <dt>Tokens/s</dt>
          <dd data-testid="tokens-per-second">{formatRate(view.tokensPerSecond, 'tok/s')}</dd>
        </div>
        <div>
          <dt>Compute</dt>
          <dd data-testid="gflops">{view.gflops === null ? '—' : `${view.gflops.toFixed(2)} GFLOP/s`}</dd>
        </div>
        <div>
          <dt>Tokens this session</dt>
          <dd>{formatCount(view.tokensThisSession)}</dd>
        </div>
        <div>
          <dt>Last checkpoint</dt>
          <dd data-testid="last-checkpoint">{view.lastCheckpoint ? `step ${view.lastCheckpoint.step}` : 'none yet'}</dd>
        </div>
      </dl>
    </section>
  );
}
