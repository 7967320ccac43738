// "What is happening" — the top of the dashboard: one plain paragraph on what
// the swarm and this tab are doing right now, and the controls: join (swarm)
// or start (standalone), pause / resume / stop, the GPU share, the pause
// options, with the download a join costs said before the button is pressed.
// Progress for every preparation phase and wait, the Worker's errors with
// their advice (and a restart button when restarting can help), and, where
// this browser cannot train, what to use instead (browser-advice.ts).
// "Pause on battery" holds from the moment the page knows it runs on battery,
// joined or not (the client keeps the reason for the Worker: worker/client.ts);
// "Train anyway" lifts it for this visit.
// When a relay served this page the tab trains for the swarm: "Join the swarm"
// signs with the account chosen under "Who gets the credit" (or makes a guest
// key), and a reload rejoins by itself until the user presses Stop (autoJoin).
// Leaves out: the figures of this tab's work (contribution-panel.tsx) and of
// the swarm (relay-panel.tsx).
import { useEffect, useId, useState } from 'react';
import type { DeviceView } from './use-device.ts';
import { pageDatabase, type SettingsState } from './local-data.ts';
import { trainingFeed, useTraining, type TrainingView } from './training-feed.ts';
import { standaloneSetup, swarmSetup } from './training-setup.ts';
import { ProgressBar } from './progress-bar.tsx';
import { formatBytes, formatCount, formatCountdown } from './format.ts';
import { useRelay, type RelayView } from './relay-watcher.ts';
import { chosenAccount, useAccount } from './chosen-account.ts';
import { browserAdvice } from './browser-advice.ts';
import { joinDownload, pageEncoding, useDownloadSizes } from './join-download.ts';
import { useNow } from './use-now.ts';
import { watchPauseConditions } from '../worker/pause-conditions.ts';
import { MIN_THROTTLE } from '../storage/index.ts';
import { chooseAccount, explainWalletError, guestAccount, type WalletAccount } from '../wallet/index.ts';

const PAUSE_TEXT = { user: 'you paused it', hidden: 'the tab is hidden', battery: 'this computer runs on battery' } as const;

/**
 * One automatic rejoin per page load, and none after a join by hand: join()
 * stores autoJoin before the Worker reports 'preparing', and the effect below
 * must not read that as "rejoin now" (React may also run effects twice).
 */
let autoJoinTried = false;

/** The open round in words: what closes it and when. */
export function roundSentence(relay: RelayView, now: number): string {
  const round = relay.round;
  if (!round) return 'Waiting for the relay to open a round.';
  if (round.closing) return `Round ${round.round} is closing: the relay is merging its updates into the shared model.`;
  return `Round ${round.round} is open: it closes when ${formatCount(round.quorum)} updates are in or in ${formatCountdown(round.deadline - now)}, whichever comes first (${formatCount(round.submissions)} in so far).`;
}

function pausedBecause(view: TrainingView): string {
  return `Paused because ${view.pausedFor.map((reason) => PAUSE_TEXT[reason]).join(' and ')}.`;
}

function tabSentence(view: TrainingView, swarm: boolean): string {
  switch (view.state) {
    case 'idle':
      return swarm ? 'Your tab is not training yet.' : 'Your tab is not training yet. Start it below.';
    case 'preparing':
      return 'Your tab is getting ready to train.';
    case 'training':
      // No step count here: this sentence is a live region, and a screen reader should hear changes of state, not every step.
      return 'Your tab is training: its figures are under "Your contribution".';
    case 'paused':
      return pausedBecause(view);
    case 'stopped':
      return 'Your tab stopped training.';
    case 'failed':
      return 'Your tab stopped because of a problem (below).';
  }
}

export function TrainingPanel({ device, settings }: { device: DeviceView; settings: SettingsState }) {
  const feed = trainingFeed();
  const view = useTraining(feed);
  const relay = useRelay();
  const now = useNow();
  const { account, loaded: accountLoaded } = useAccount();
  const throttleId = useId();
  const [setupError, setSetupError] = useState<string | null>(null);
  /** "Train anyway": this visit ignores the battery. */
  const [batteryOverride, setBatteryOverride] = useState(false);
  const { pauseWhenHidden, pauseOnBattery, throttle, autoJoin } = settings.settings;
  const swarm = relay.status === 'connected';
  const sizes = useDownloadSizes();

  useEffect(() => {
    if (!settings.loaded) return;
    return watchPauseConditions(feed.client, { pauseWhenHidden, pauseOnBattery: pauseOnBattery && !batteryOverride });
  }, [feed, settings.loaded, pauseWhenHidden, pauseOnBattery, batteryOverride]);

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
  const onBattery = view.pausedFor.includes('battery');
  const canStart = device.status === 'ready' && settings.loaded && !running && relay.status !== 'probing';
  const restart = swarm ? () => void join(account) : start;
  const run = relay.run;
  const download = swarm && run && sizes ? joinDownload(sizes, run.swarm.data.trainUrl, 4 * run.model.parameterCount, pageEncoding()) : null;
  const share = Math.round(throttle * 100);

  return (
    <section className="panel" aria-labelledby="training-heading" data-testid="training-panel" data-state={view.state} data-mode={swarm ? 'swarm' : 'standalone'}>
      <h2 id="training-heading">What is happening</h2>
      {swarm ? (
        <p className="lead" data-testid="swarm-summary">
          Everyone here trains one shared model, run <strong>{run?.runId}</strong>: a language model of {formatCount(run?.model.parameterCount ?? null)} numbers learning to
          write English, one byte at a time, from the Brown corpus. Each tab trains its own copy for a few steps, sends what it learned (a few kilobytes), and the relay
          merges everyone's updates into the next shared model. <span data-testid="round-sentence">{roundSentence(relay, now)}</span>{' '}
          <span data-testid="trainers-sentence">
            {relay.stats ? `${formatCount(relay.stats.trainers)} ${relay.stats.trainers === 1 ? 'tab is' : 'tabs are'} training now.` : ''}
          </span>
        </p>
      ) : (
        <p className="lead">
          {relay.status === 'probing'
            ? 'Looking for a relay at this address…'
            : 'No relay served this page, so this tab trains its own copy of the model on the Brown corpus and nothing leaves this browser.'}
        </p>
      )}
      <p className="lead" role="status" data-testid="tab-sentence">
        {view.state === 'paused' ? (
          <span data-testid="paused-because">{pausedBecause(view)}</span>
        ) : (
          tabSentence(view, swarm)
        )}
      </p>

      {device.status === 'failed' && <NoWebGpu problem={device.problem} swarm={swarm} />}

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
      </div>
      {!running && swarm && download && (
        <p className="muted small" data-testid="join-download" data-bytes={download.total}>
          Joining downloads about <strong>{formatBytes(download.total)}</strong> ({download.parts.map((p) => `${p.what} ${formatBytes(p.bytes)}`).join(', ')}), then a few
          kilobytes per round. Joining signs with{' '}
          {account ? (account.kind === 'guest' ? 'your guest key' : `${account.name ?? 'your account'} (${account.source})`) : 'a guest key made in this browser, unless you choose an account under "Who gets the credit"'}.
        </p>
      )}
      {onBattery && (
        <div className="note-box" role="status" data-testid="battery-pause">
          <p>
            Paused: this computer runs on battery, and "Pause on battery power" is on. Training drains a battery fast.
          </p>
          <button type="button" className="secondary" onClick={() => setBatteryOverride(true)} data-testid="train-anyway">
            Train anyway
          </button>
        </div>
      )}
      <div className="throttle-row">
        <label htmlFor={throttleId} className="throttle">
          GPU share: <strong>{share} %</strong>
        </label>
        <input
          id={throttleId}
          type="range"
          min={MIN_THROTTLE}
          max={1}
          step={0.05}
          value={throttle}
          data-testid="throttle"
          aria-describedby={`${throttleId}-help`}
          aria-valuetext={`${share} percent of the time`}
          onChange={(e) => {
            const value = Number(e.target.value);
            void settings.set('throttle', value);
            feed.client.setThrottle(value);
          }}
        />
        <span id={`${throttleId}-help`} className="muted small">
          {share === 100 ? 'The GPU trains whenever there is work.' : `After every step the GPU rests, so it trains ${share} % of the time.`}
        </span>
      </div>
      <div className="options">
        <label>
          <input type="checkbox" checked={pauseWhenHidden} onChange={(e) => void settings.set('pauseWhenHidden', e.target.checked)} /> Pause when this tab is hidden
        </label>
        <label>
          <input
            type="checkbox"
            checked={pauseOnBattery}
            onChange={(e) => {
              setBatteryOverride(false);
              void settings.set('pauseOnBattery', e.target.checked);
            }}
          />{' '}
          Pause on battery power
        </label>
      </div>

      {setupError && (
        <p role="alert" className="problem" data-testid="setup-error">
          The training settings in this page's address are not valid: {setupError}
        </p>
      )}
      {view.progress && <ProgressBar {...view.progress} quorum={relay.round?.quorum ?? null} />}
      {view.walletProblem && (
        <div role="alert" className="problem" data-testid="wallet-problem" data-code={view.walletProblem.code} data-round={view.walletProblem.round}>
          <p>
            <strong>Round {view.walletProblem.round} was not sent.</strong> {view.walletProblem.message}
          </p>
          <p>{view.walletProblem.advice}</p>
        </div>
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
        <p className="muted small" data-testid="model-summary">
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
    </section>
  );
}

/** This browser cannot train: what to use instead, in plain words; the technical reason stays in the device details. */
function NoWebGpu({ problem, swarm }: { problem: { code: string; message: string; advice: string }; swarm: boolean }) {
  const advice = browserAdvice(problem.code, navigator.userAgent, window.isSecureContext);
  return (
    <div className="problem" role="alert" data-testid="no-webgpu" data-code={problem.code}>
      <p>
        <strong>This browser cannot train the model.</strong> {advice.headline}
      </p>
      <ul>
        {advice.steps.map((step) => (
          <li key={step}>{step}</li>
        ))}
      </ul>
      {swarm && <p>You can still watch the swarm below.</p>}
    </div>
  );
}
