// A tab joins a relay that serves https itself (--tls-cert/--tls-key with a
// self-signed certificate made by openssl in this test) and hears it over wss
// on the same server, on a laptop that runs on battery:
//   - Chromium is started with --ignore-certificate-errors: the test's
//     throwaway certificate is in no trust store, and a real demo uses a
//     certificate the phones trust (docs/demo.md). The page is a secure
//     context either way, so WebGPU is offered;
//   - the Battery Status API says "not charging" (an init script replaces
//     navigator.getBattery before the app loads): with "Pause on battery
//     power" on by default, the tab joins paused — no step runs — and says so,
//     with "Train anyway";
//   - "Train anyway" lets it train: steps run and the tab's update reaches the
//     relay (its ledger has the guest address), over https;
//   - the push channel is wss://, and the page logs no errors;
//   - after Stop and a reload, the inner-loss chart shows the points it had
//     (chart history from IndexedDB) before anything trains again;
//   - screenshots of the training dashboard at 1920×1080, 1280×720 and 375 px
//     go to test-results/screenshots/docs-dashboard-*.png (README "Screenshots").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';
import { removeTempDirs, tempDir, TEST_RUN } from '../unit/relay-fixtures.ts';
import { launchSharedBrowser, watchErrors } from './support/browser.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));

let relay: RelayServer;
let browser: Browser;

beforeAll(async () => {
  const tls = selfSignedCertificate(tempDir('e2e-https-cert'));
  relay = await launchRelay({
    dataDir: tempDir('e2e-https'),
    port: 0,
    run: TEST_RUN,
    relay: { roundMs: 600_000, quorum: 1, statsIntervalMs: 200 },
    tls,
    evaluate: true,
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  // The test's self-signed certificate is trusted by nothing; see the file header.
  browser = await launchSharedBrowser(['--ignore-certificate-errors']);
});

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  removeTempDirs();
});

/** The Battery Status API of a laptop on battery: getBattery() resolves to a manager that is not charging. */
const ON_BATTERY = `(() => {
  const manager = new EventTarget();
  Object.defineProperties(manager, { charging: { value: false }, level: { value: 0.5 }, chargingTime: { value: Infinity }, dischargingTime: { value: 3600 } });
  Object.defineProperty(Navigator.prototype, 'getBattery', { value: () => Promise.resolve(manager), configurable: true });
})();`;

describe('https relay, battery', () => {
  it('joins over https and wss paused on battery, trains after "Train anyway", and keeps its chart across a reload', async () => {
    expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.addInitScript(ON_BATTERY);
    await page.goto(relay.url);
    expect(await page.evaluate('window.isSecureContext')).toBe(true);

    await page.getByTestId('join-swarm').and(page.locator(':enabled')).click({ timeout: 180_000 });
    const panel = page.getByTestId('training-panel');
    await panel.and(page.locator('[data-state="paused"]')).waitFor({ timeout: 300_000 });
    expect(await page.getByTestId('paused-because').innerText()).toBe('Paused because this computer runs on battery.');
    await page.getByTestId('battery-pause').waitFor();
    // Paused from the start of its work: not one step ran.
    expect(await page.getByTestId('step-count').getAttribute('data-steps')).toBe('0');
    expect(sockets.some((url) => url.startsWith('wss://127.0.0.1:'))).toBe(true);

    await page.getByTestId('train-anyway').click();
    await page.getByTestId('step-count').and(page.locator(':not([data-steps="0"])')).waitFor({ timeout: 300_000 });
    const address = await page.getByTestId('wallet-address').innerText();
    await page.getByTestId('model-hash').and(page.locator(':not([data-version="0"])')).waitFor({ timeout: 300_000 });
    expect(relay.relay.ledgerFor(address.trim()).entries.length).toBeGreaterThanOrEqual(1);
    // The dashboard as a volunteer sees it while training (a few rounds in: the shared model's loss has points).
    await page.getByTestId('global-loss-chart').and(page.locator(':not([data-points="0"]):not([data-points="1"])')).waitFor({ timeout: 300_000 });
    await page.getByTestId('gpu-busy').and(page.locator(':not([data-share=""])')).waitFor({ timeout: 60_000 });
    for (const [width, height] of [
      [1920, 1080],
      [1280, 720],
      [375, 812],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
      await page.screenshot({ path: `${SCREENSHOTS}docs-dashboard-${width === 375 ? '375' : `${width}x${height}`}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 720 });

    await page.getByTestId('stop-training').click();
    await panel.and(page.locator('[data-state="stopped"]')).waitFor({ timeout: 120_000 });
    const points = Number(await page.getByTestId('inner-loss-chart').getAttribute('data-points'));
    expect(points).toBeGreaterThanOrEqual(2);
    await page.reload();
    await page.getByTestId('inner-loss-chart').and(page.locator(`[data-points="${points}"]`)).waitFor({ timeout: 60_000 });
    expect(await panel.getAttribute('data-state')).toBe('idle');
    expect(errors).toEqual([]);
    await context.close();
  });
});
