// The built app trains standalone in headless Chromium: the training Worker
// acquires WebGPU (SwiftShader), downloads the shipped Brown data, searches the
// matmul tile and compiles the tab's kernels, and runs inner steps whose finite
// losses reach the dashboard; a pause and resume work; a checkpoint and the
// tile search's pick land in the page's real IndexedDB and training resumes
// from the checkpoint after a reload; the tab holds one GPUDevice (the
// Worker's), which the self-test, training and a restart after a stop share;
// a guest wallet is created and
// remembered; the demo route renders the join QR code and a live sample
// written by onnxruntime-web from the Worker's parameters; both screens fit a
// 375 px phone without sideways scrolling; screenshots go to
// test-results/screenshots/; the page logs no errors.
// Smallest preset, B = 2, T = 16: SwiftShader takes seconds per step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { ensureDataset } from '../../src/data/prepare.ts';
import { isValidAddress } from '../../src/protocol/address.ts';
import { MATMUL_TILES } from '../../src/kernels/matmul.ts';
import { launchBrowser, pageDeviceCount, watchDevices, watchErrors, workerDeviceCount } from './support/browser.ts';
import { serveDist } from './support/static-server.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const DIST_DATA = fileURLToPath(new URL('../../dist/data/brown-train.bin', import.meta.url));
const TRAINING_QUERY = '?preset=nano&batch=2&seq=16&evalEvery=4&checkpointEvery=2';

// Every record of the page's kernel-tuning store (read in the page: a string, see ENVIRONMENT.md on page functions).
const KERNEL_TUNING_RECORDS = `new Promise((resolve, reject) => {
  const open = indexedDB.open('tessera');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const read = db.transaction('kernel-tuning').objectStore('kernel-tuning').getAll();
    read.onerror = () => reject(read.error);
    read.onsuccess = () => { db.close(); resolve(read.result); };
  };
})`;

let server: Awaited<ReturnType<typeof serveDist>>;
let browser: BrowserContext;

beforeAll(async () => {
  ensureDataset(); // public/data/, which the build copies into dist/
  if (!existsSync(DIST_DATA)) throw new Error('dist/data/ has no training data: run `npm run build` (it prepares the data, then builds)');
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await serveDist();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function stepsShown(page: Page): Promise<number> {
  return Number(await page.getByTestId('step-count').getAttribute('data-steps'));
}

/** True when nothing on the page is wider than the viewport, once layout and ResizeObservers have run (two frames). */
async function fitsWidth(page: Page): Promise<boolean> {
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
  return page.evaluate('document.documentElement.scrollWidth <= window.innerWidth');
}

describe('app: standalone training', () => {
  it('trains in the Worker, keeps a guest wallet, renders the demo screen, and logs no errors', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await watchDevices(page);
    await page.goto(`${server.url}${TRAINING_QUERY}`);
    await page.getByTestId('device-panel').and(page.locator('[data-status="ready"]')).waitFor({ timeout: 60_000 });

    // Standalone: the swarm panel says so instead of showing numbers.
    const relay = page.getByTestId('relay-panel');
    expect(await relay.getAttribute('data-connected')).toBe('false');
    expect(await relay.innerText()).toContain('not connected to a relay');

    // Start with the keyboard, as a keyboard user would.
    const start = page.getByTestId('start-training');
    await start.and(page.locator(':enabled')).waitFor({ timeout: 30_000 });
    await start.focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('training-progress').waitFor({ timeout: 30_000 });

    // At least two inner steps, each with a finite loss (a non-finite one stops training with an error).
    await page.waitForFunction(
      `Number(document.querySelector('[data-testid="step-count"]')?.dataset.steps ?? 0) >= 2 || !!document.querySelector('[data-testid="training-error"]')`,
      undefined,
      { timeout: 300_000, polling: 500 },
    );
    expect(await page.getByTestId('training-error').count()).toBe(0);
    expect(await stepsShown(page)).toBeGreaterThanOrEqual(2);
    const loss = Number(await page.getByTestId('last-loss').innerText());
    expect(Number.isFinite(loss)).toBe(true);
    // A fresh byte-level model starts near ln 256 ≈ 5.55 nats.
    expect(loss).toBeGreaterThan(3);
    expect(loss).toBeLessThan(7);
    expect(Number(await page.getByTestId('inner-loss-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(2);
    // evalEvery=4: the held-out loss of the fresh model was measured before the first step.
    expect(Number(await page.getByTestId('validation-loss-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId('training-panel').getAttribute('data-state')).toBe('training');
    expect(await page.getByTestId('model-summary').innerText()).toContain('nano');
    // The figure is over the last minute of wall time, redrawn on the page's 1 s clock: it may
    // still read "—" in the moment the second step lands, so wait for its first value.
    await page.getByTestId('tokens-per-second').and(page.locator(':not([data-rate=""])')).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('tokens-per-second').innerText()).toMatch(/tok\/s$/);
    expect(await page.getByTestId('gflops').innerText()).toMatch(/GFLOP\/s$/);

    // Pause and resume (the pause button, then the resume button, by keyboard-reachable buttons).
    await page.getByTestId('pause-training').click();
    await page.getByTestId('training-panel').and(page.locator('[data-state="paused"]')).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('paused-because').innerText()).toBe('Paused because you paused it.');
    const pausedAt = await stepsShown(page);
    await page.getByTestId('resume-training').click();
    // A step that was in flight when the pause came may still be counted after 'paused' shows, so the
    // count alone does not prove the resume: wait for the training state, then for a step after it.
    await page.getByTestId('training-panel').and(page.locator('[data-state="training"]')).waitFor({ timeout: 120_000 });
    const resumedAt = await stepsShown(page);
    await page.waitForFunction(`Number(document.querySelector('[data-testid="step-count"]')?.dataset.steps ?? 0) > ${Math.max(pausedAt, resumedAt)}`, undefined, {
      timeout: 120_000,
      polling: 500,
    });
    expect(await page.getByTestId('training-panel').getAttribute('data-state')).toBe('training');

    // checkpointEvery=2: the Worker saved one to this browser's IndexedDB.
    await page.getByTestId('last-checkpoint').filter({ hasText: /^step \d+$/ }).waitFor({ timeout: 120_000 });
    // The first start on this adapter searched the matmul tile and cached the pick for the next start.
    const tuning = (await page.evaluate(KERNEL_TUNING_RECORDS)) as { adapter: string; tile: string }[];
    expect(tuning).toHaveLength(1);
    expect(tuning[0].adapter).toContain('swiftshader');
    expect(Object.keys(MATMUL_TILES)).toContain(tuning[0].tile);

    // Guest wallet: created, shown as a guest, an SS58-42 address, remembered after a reload.
    await page.getByTestId('use-guest').click();
    const account = page.getByTestId('wallet-account');
    await account.and(page.locator('[data-kind="guest"]')).waitFor({ timeout: 30_000 });
    const address = (await page.getByTestId('wallet-address').innerText()).trim();
    expect(isValidAddress(address)).toBe(true);
    expect(await account.innerText()).toContain('Guest');

    await page.screenshot({ path: `${SCREENSHOTS}dashboard-1280.png`, fullPage: true });
    await page.setViewportSize({ width: 375, height: 812 });
    expect(await fitsWidth(page)).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}dashboard-375.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });

    // The demo route, in the same tab (training goes on): QR code of the join URL and a live sample.
    await page.getByTestId('demo-link').click();
    const qr = page.getByTestId('join-qr');
    await qr.and(page.locator('[data-ready="true"]')).waitFor({ timeout: 30_000 });
    expect(await qr.getAttribute('data-url')).toBe(`${server.url.replace(/\/$/, '')}/`);
    expect(await qr.locator('canvas').count()).toBe(1);
    await page.getByTestId('demo-sample').filter({ hasText: /^The / }).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('demo-contributors').innerText()).toBe('not connected to a relay');
    await page.screenshot({ path: `${SCREENSHOTS}demo-1280.png` });
    await page.setViewportSize({ width: 375, height: 812 });
    expect(await fitsWidth(page)).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}demo-375.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });

    // Back on the dashboard after a reload: the guest account is remembered.
    // (goto to a URL that differs only in its hash would not reload: navigate, then reload.)
    await page.goto(`${server.url}${TRAINING_QUERY}#/`);
    await page.reload();
    await page.getByTestId('wallet-account').and(page.locator('[data-kind="guest"]')).waitFor({ timeout: 30_000 });
    expect((await page.getByTestId('wallet-address').innerText()).trim()).toBe(address);
    // …and training resumes from the checkpoint in IndexedDB instead of a fresh model.
    await page.getByTestId('start-training').and(page.locator(':enabled')).click({ timeout: 60_000 });
    await page.getByTestId('model-summary').filter({ hasText: /resumed from step [1-9]\d*/ }).waitFor({ timeout: 120_000 });
    await page.getByTestId('stop-training').click();
    await page.getByTestId('training-panel').and(page.locator('[data-state="stopped"]')).waitFor({ timeout: 120_000 });
    // Restarted after the stop: it trains again on the same device (the self-test's, too).
    await page.getByTestId('start-training').and(page.locator(':enabled')).click({ timeout: 60_000 });
    await page.getByTestId('training-panel').and(page.locator('[data-state="training"]')).waitFor({ timeout: 120_000 });
    await page.getByTestId('stop-training').click();
    await page.getByTestId('training-panel').and(page.locator('[data-state="stopped"]')).waitFor({ timeout: 120_000 });
    // The reloaded page's self-test runs on the Worker's device beside the training start-up and
    // may still be running on a loaded machine: wait for its verdict, then it must be a pass.
    await page.locator('[data-testid="self-test"]:is([data-verdict="pass"], [data-verdict="fail"], [data-verdict="error"])').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('self-test').getAttribute('data-verdict')).toBe('pass');
    expect(await pageDeviceCount(page)).toBe(0);
    expect(await workerDeviceCount(page)).toBe(1);

    expect(errors).toEqual([]);
    await page.close();
  });
});
