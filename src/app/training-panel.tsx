// Training controls: start (standalone) or join (swarm) / pause / resume /
// stop, the throttle, the pause options (hidden tab, battery), progress for
// every preparation phase and wait, live figures (step, loss, tokens/s,
// GFLOP/s, time to the first step, this tab's model version and hash; in the
// swarm also the last round's tokens/s over its whole wall time and the
// share of it the GPU was busy, which time-boxed rounds keep high) and the
// Worker's errors with their advice and a restart button when restarting can
// help.
// When a relay served this page the tab trains for the swarm: "Join the swarm"
// signs with the account chosen in the wallet panel (or makes a guest key),
// and a reload rejoins by itself until the user presses Stop (autoJoin).
import { useEffect, useId, useState } from 'react';
import type { DeviceView } from './use-device.ts';
import { pageDatabase, type SettingsState } from './local-data.ts';
import { trainingFeed, useTraining } from './training-feed.ts';
import { standaloneSetup, swarmSetup } from './training-setup.ts';
import { ProgressBar } from './progress-bar.tsx';
import { formatCount, formatLoss, formatRate } from './format.ts';
import { useRelay } from './relay-watcher.ts';
import { chosenAccount, useAccount } from './chosen-account.ts';
import { watchPauseConditions } from '../worker/pause-conditions.ts';
import { MIN_THROTTLE } from '../storage/index.ts';
import { chooseAccount, explainWalletError, guestAccount, type WalletAccount } from '../wallet/index.ts';

const PAUSE_TEXT = { user: 'you paused it', hidden: 'the tab is hidden', battery: 'the computer runs on battery' } as const;

/**
 * One automatic rejoin per page load, and none after a join by hand: join()
 * stores autoJoin before the Worker reports 'preparing', and the effect below
 * must not read that as "rejoin now" (React may also run effects twice).
 */
let autoJoinTried = false;

export function TrainingPanel({ device, settings }: { device: DeviceView; settings: SettingsState }) {
  const feed = trainingFeed();
  const view = useTraining(feed);
  const relay = useRelay();
  const { account, loaded: accountLoaded } = useAccount();
  const throttleId = useId();
  const [setupError, setSetupError] = useState<string | null>(null);
  const { pauseWhenHidden, pauseOnBattery, throttle, autoJoin } = settings.settings;
  const swarm = relay.status === 'connected';

  useEffect(() => {
    if (!settings.loaded) return;
    return watchPauseConditions(feed.client, { pauseWhenHidden, pauseOnBattery });
  }, [feed, settings.loaded, pauseWhenHidden, pauseOnBattery]);

  const start = () => {
    const adapter = device.status === 'ready' ? device.adapter : null;
    try {
      setSetupError(null);
      feed.start(standaloneSetup(adapter, new URLSearchParams(location.search), document.baseURI, throttle));
    } catch (error) {
      setSetupError((error as Error).message);
    }
  };

  const join = async (chosen: WalletAccount | null) => {
    autoJoinTried = true;
    setSetupError(null);
    try {
      let signing = chosen;
      if (!signing) {
        const db = await pageDatabase();
        signing = await chooseAccount(db, await guestAccount(db));
        chosenAccount().set(signing);
      }
      await settings.set('autoJoin', true);
      feed.join(swarmSetup(location.origin, signing.address, throttle), signing);
    } catch (error) {
      setSetupError(explainWalletError(error).message);
    }
  };

  const stop = () => {
    if (view.mode === 'swarm') void settings.set('autoJoin', false);
    feed.client.stop();
  };

  // A tab that joined before rejoins after a reload: it resumes from its checkpoint and outbox.
  useEffect(() => {
    if (autoJoinTried || !swarm || !settings.loaded || !autoJoin || !accountLoaded || !account || device.status !== 'ready' || view.state !== 'idle') return;
    autoJoinTried = true;
    void join(account);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [swarm, settings.loaded, autoJoin, accountLoaded, account, device.status, view.state]);

  const running = view.state === 'training' || view.state === 'paused' || view.state === 'preparing';
  const userPaused = view.pausedFor.includes('user');
  const canStart = device.status === 'ready' && settings.loaded && !running && relay.status !== 'probing';
  const restart = swarm ? () => void join(account) : start;

  return (
    <section className="panel" aria-labelledby="training-heading" data-testid="training-panel" data-state={view.state} data-mode={swarm ? 'swarm' : 'standalone'}>
      <h2 id="training-heading">Training</h2>
      {swarm ? (
        <p className="muted" data-testid="swarm-summary">
          Connected to the relay at <strong>{location.host}</strong>: this tab trains run <strong>{relay.run?.runId}</strong> with the swarm and sends signed, compressed
          updates.{' '}
          {view.mode === 'swarm' && view.swarmAddress ? (
            <>
              Signing as <span className="address">{view.swarmAddress}</span>.
            </>
          )
          : account ? (
            `Joining signs with ${account.kind === 'guest' ? 'your guest key' : `${account.name ?? 'your account'} (${account.source})`}.`
          ) : (
            'Joining creates a guest key unless you choose an account in the Wallet panel.'
          )}
        </p>
      ) : (
        <p className="muted">
          Standalone: this tab trains its own copy of the model on the Brown corpus. Not connected to a relay, so nothing is sent anywhere.
        </p>
      )}
      <div className="controls">
        {!running && swarm && (
          <button type="button" onClick={() => void join(account)} disabled={!canStart || !accountLoaded} data-testid="join-swarm">
            {view.state === 'failed' || view.state === 'stopped' ? 'Rejoin the swarm' : 'Join the swarm'}
          </button>
        )}
        {!running && !swarm && (
          <button type="button" onClick={start} disabled={!canStart} data-testid="start-training">
            {view.state === 'failed' || view.state === 'stopped' ? 'Restart training' : 'Start training'}
          </button>
        )}
        {running && !userPaused && (
          <button type="button" onClick={() => feed.client.pause('user')} data-testid="pause-training">
            Pause
          </button>
        )}
        {running && userPaused && (
          <button type="button" onClick={() => feed.client.resume('user')} data-testid="resume-training">
            Resume
          </button>
        )}
        {running && (
          <button type="button" className="secondary" onClick={stop} data-testid="stop-training">
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
            feed.client.setThrottle(value);
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
      {view.walletProblem && (
        <div role="alert" className="problem" data-testid="wallet-problem" data-code={view.walletProblem.code} data-round={view.walletProblem.round}>
          <p>
            <strong>Round {view.walletProblem.round} was not sent.</strong> {view.walletProblem.message}
          </p>
          <p>{view.walletProblem.advice}</p>
        </div>
      )}
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
            <button type="button" onClick={restart} disabled={!canStart} data-testid="restart-training">
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
          {view.ready.mode === 'swarm'
            ? view.ready.resumedFromVersion !== null
              ? `, resumed from this tab's checkpoint of model v${view.ready.resumedFromVersion}`
              : ', the swarm\'s current model'
            : view.ready.resumedFromStep !== null
              ? `, resumed from step ${view.ready.resumedFromStep}`
              : ', fresh start'}
          .
        </p>
      )}
      {view.ready?.compression && (
        <p className="muted small" data-testid="compression-path" data-path={view.ready.compression.path}>
          Compresses its updates on the <strong>{view.ready.compression.path === 'gpu' ? 'GPU' : 'CPU'}</strong>: {view.ready.compression.reason}.
        </p>
      )}
      {view.model && (
        <p className="muted small" data-testid="model-hash" data-version={view.model.version} data-hash={view.model.modelHash}>
          This tab holds model <strong>v{view.model.version}</strong> <span className="address">{view.model.modelHash}</span>
          {relay.version !== null &&
            (relay.version === view.model.version && relay.modelHash === view.model.modelHash
              ? ' — the same bits as the relay\'s.'
              : ` — the relay is at v${relay.version}.`)}
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
          <dt>{view.mode === 'swarm' ? 'Tokens/s while training' : 'Tokens/s'}</dt>
          <dd data-testid="tokens-per-second">{formatRate(view.tokensPerSecond, 'tok/s')}</dd>
        </div>
        {view.mode === 'swarm' && (
          <>
            <div>
              <dt>Tokens/s over the last round</dt>
              <dd data-testid="round-tokens-per-second" data-rate={view.roundWork?.tokensPerSecond ?? ''}>
                {view.roundWork ? formatRate(view.roundWork.tokensPerSecond, 'tok/s') : '—'}
              </dd>
            </div>
            <div>
              <dt>GPU busy, last round</dt>
              <dd data-testid="gpu-busy-share" data-share={view.roundWork?.busyShare ?? ''}>
                {view.roundWork ? `${Math.round(100 * view.roundWork.busyShare)}% (${formatCount(view.roundWork.steps)} steps)` : '—'}
              </dd>
            </div>
          </>
        )}
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
        <div>
          <dt>Page open → first step</dt>
          <dd data-testid="time-to-first-step" data-ms={view.firstStepMs ?? ''}>
            {view.firstStepMs === null ? '—' : `${(view.firstStepMs / 1000).toFixed(1)} s`}
          </dd>
        </div>
      </dl>
    </section>
  );
}
