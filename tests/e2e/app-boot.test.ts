// The built app boots in headless Chromium, finds a real WebGPU adapter
// (SwiftShader), shows its limits, and the in-page self-test runs the WGSL
// matmul and matches the reference; the page logs no errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { launchBrowser, openPage } from './support/browser.ts';
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
  it('shows a real adapter, passes the GPU self-test, and logs no errors', async () => {
    const { page, errors } = await openPage(browser, server.url);
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
    expect(errors).toEqual([]);
  });

  it('explains plainly when WebGPU is missing', async () => {
    const page = await browser.newPage();
    await page.addInitScript('Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined });');
    await page.goto(server.url);
    const problem = page.getByTestId('device-problem');
    await problem.waitFor({ timeout: 30_000 });
    const text = await problem.innerText();
    expect(text).toContain('cannot train');
    expect(text).toMatch(/WebGPU/);
    expect(text).toMatch(/Chrome|Edge|Safari|Firefox/);
    await page.close();
  });
});
