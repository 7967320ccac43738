// When the page should pause training on its own: the tab is hidden
// (visibilitychange) or the machine runs on battery (Battery Status API, where
// the browser has it: Chromium does, Firefox and Safari do not). Each
// condition is a pause reason the Worker keeps in a set, so they never undo
// the user's own pause. Workers see neither, so this runs on the page.
// Leaves out: the settings UI (the options come in, as booleans).
import type { PauseReason } from './protocol.ts';

/** The Battery Status API's manager (not in TypeScript's DOM lib). */
interface BatteryLike extends EventTarget {
  charging: boolean;
}

export interface PauseOptions {
  pauseWhenHidden: boolean;
  pauseOnBattery: boolean;
}

export interface PauseTarget {
  pause(reason: PauseReason): void;
  resume(reason: PauseReason): void;
}

/** Watches the conditions and tells `target`; returns a function that stops watching (and lifts both reasons). */
export function watchPauseConditions(
  target: PauseTarget,
  options: PauseOptions,
  doc: Pick<Document, 'visibilityState' | 'addEventListener' | 'removeEventListener'> = document,
  getBattery: (() => Promise<BatteryLike>) | undefined = (navigator as Navigator & { getBattery?: () => Promise<BatteryLike> }).getBattery?.bind(navigator),
): () => void {
  let active = true;
  const set = (reason: PauseReason, holds: boolean) => {
    if (active) (holds ? target.pause : target.resume).call(target, reason);
  };

  const onVisibility = () => set('hidden', options.pauseWhenHidden && doc.visibilityState === 'hidden');
  doc.addEventListener('visibilitychange', onVisibility);
  onVisibility();

  let battery: BatteryLike | null = null;
  const onCharging = () => set('battery', options.pauseOnBattery && battery !== null && !battery.charging);
  if (options.pauseOnBattery && getBattery) {
    getBattery().then(
      (manager) => {
        if (!active) return;
        battery = manager;
        manager.addEventListener('chargingchange', onCharging);
        onCharging();
      },
      () => undefined, // the API exists but is blocked (permissions policy): never pause for it
    );
  }

  return () => {
    doc.removeEventListener('visibilitychange', onVisibility);
    battery?.removeEventListener('chargingchange', onCharging);
    target.resume('hidden');
    target.resume('battery');
    active = false;
  };
}
