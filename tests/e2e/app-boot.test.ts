// The built app boots in headless Chromium; its training Worker, which holds
// the tab's only GPUDevice (the page requests none), finds a real WebGPU
// adapter (SwiftShader), the device panel shows what the Worker reported,
// and the self-test the Worker ran on that device (the WGSL matmul against
// the reference) passes; a browser without WebGPU gets a plain explanation
// and, at the top of the page, which browser or setting to use instead (for
// Chromium on Linux: another device, with the flags as a last resort); the
// page logs no errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { launchBrowser, pageDeviceCount, watchDevices, watchErrors, workerDeviceCount } from './support/browser.ts';
import { serveDist } from './support/static-server.ts';

let server: Awaited<ReturnType<typeof serveDist>>;
let browser: BrowserContext;

beforeAll(async () => {
  server = await serveDist();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('app boot', () => {
  it('shows the Worker\'s adapter, passes the Worker\'s GPU self-test, holds one device, and logs no errors', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await watchDevices(page);
    await page.goto(server.url);
    const panel = page.getByTestId('device-panel');
    await panel.and(page.locator('[data-status="ready"]')).waitFor({ timeout: 60_000 });
    const adapter = await page.getByTestId('adapter').innerText();
    expect(adapter.toLowerCase()).toContain('swiftshader');
    const binding = await page.getByTestId('limit-maxStorageBufferBindingSize').innerText();
    expect(binding).toMatch(/\d+(\.\d)? (MiB|GiB)/);

    const selfTest = page.getByTestId('self-test');
    await selfTest.and(page.locator('[data-verdict="pass"], [data-verdict="fail"], [data-verdict="error"]')).waitFor({ timeout: 120_000 });
    expect(await selfTest.getAttribute('data-verdict')).toBe('pass');
    expect(await selfTest.locator('tbody tr').count()).toBe(4);
    // One GPUDevice for the tab, and it is the Worker's.
    expect(await pageDeviceCount(page)).toBe(0);
    expect(await workerDeviceCount(page)).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('explains plainly when WebGPU is missing', async () => {
    const page = await browser.newPage();
    await page.addInitScript('Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined });');
    await watchDevices(page, { hideWorkerGpu: true });
    await page.goto(server.url);
    const problem = page.getByTestId('device-problem');
    await problem.waitFor({ timeout: 30_000 });
    const text = await problem.innerText();
    expect(text).toContain('cannot train');
    expect(text).toMatch(/WebGPU/);
    expect(text).toMatch(/Chrome|Edge|Safari|Firefox/);
    expect(await page.getByTestId('device-problem').getAttribute('data-code')).toBe('webgpu-unavailable');
    expect(await page.getByTestId('self-test').count()).toBe(0);
    // The person-facing advice leads the page: this headless Chromium says it runs on Linux.
    const advice = await page.getByTestId('no-webgpu').innerText();
    expect(advice).toContain('This browser cannot train the model.');
    expect(advice).toMatch(/On Linux, WebGPU is not yet on by default/);
    expect(advice).toMatch(/chrome:\/\/flags\/#enable-unsafe-webgpu/);
    expect(advice).not.toMatch(/requestAdapter|npm|Node/);
    expect(await page.getByTestId('join-swarm').count() + (await page.getByTestId('start-training').and(page.locator(':enabled')).count())).toBe(0);
    await page.close();
  });
});
