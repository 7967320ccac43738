// Headless Debian Chromium with real WebGPU on SwiftShader, driven by
// playwright-core. Collects console errors and page errors so every e2e test
// can assert the page logged none.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<BrowserContext> {
  // A persistent context gives a fresh --user-data-dir (real IndexedDB, kept across reloads).
  const userDataDir = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: [
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-angle=swiftshader',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions seen so far. */
  errors: string[];
}

export async function openPage(context: BrowserContext | Browser, url: string): Promise<WatchedPage> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  await page.goto(url);
  return { page, errors };
}

/**
 * One headless Chromium for several isolated tabs: each browser.newContext()
 * has its own storage (IndexedDB survives reloads within the context), like
 * two people's browsers, while sharing one GPU process — cheaper on a
 * two-core machine than one Chromium per tab.
 */
export async function launchSharedBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...extraArgs,
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-angle=swiftshader',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** Starts collecting a page's console errors and uncaught exceptions (call before goto). */
export function watchErrors(page: Page, label = ''): string[] {
  const errors: string[] = [];
  const prefix = label ? `${label} ` : '';
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${prefix}console: ${msg.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${prefix}pageerror: ${error.message}`));
  return errors;
}

/**
 * Counts GPUDevices: in the page (an init script wraps requestDevice before
 * the app loads) and in the training Worker (its script is served with the
 * same wrapper prepended; read it with workerDeviceCount). Call before goto.
 * With `hideWorkerGpu`, the Worker also sees no navigator.gpu (a browser
 * without WebGPU: the page's own navigator.gpu is hidden by the caller).
 */
export async function watchDevices(page: Page, options: { hideWorkerGpu?: boolean } = {}): Promise<void> {
  const wrap = `(() => {
    const scope = globalThis;
    scope.__tesseraDevices = 0;
    if (typeof GPUAdapter === 'undefined') return;
    const request = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = function (...args) { scope.__tesseraDevices += 1; return request.apply(this, args); };
  })();`;
  await page.addInitScript(wrap);
  const hide = options.hideWorkerGpu ? 'Object.defineProperty(WorkerNavigator.prototype, "gpu", { get: () => undefined });\n' : '';
  await page.route('**/assets/training-worker-*.js', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: `${hide}${wrap}\n${await response.text()}` });
  });
}

/** GPUDevices the page's main thread requested (watchDevices). */
export async function pageDeviceCount(page: Page): Promise<number> {
  return Number(await page.evaluate('globalThis.__tesseraDevices'));
}

/** GPUDevices the page's training Worker requested (watchDevices). */
export async function workerDeviceCount(page: Page): Promise<number> {
  const worker = page.workers().find((w) => w.url().includes('training-worker'));
  if (!worker) throw new Error('the page has no training Worker');
  return Number(await worker.evaluate('globalThis.__tesseraDevices'));
}
