// The built app under the relay's security policy (src/relay/http-headers.ts):
// a relay in this process serves dist/ with its headers; headless Chromium
// (real WebGPU on SwiftShader) boots the app, runs the GPU self-test, joins the
// swarm with a guest key — the training Worker, WebGPU, the wasm BLAKE2b and
// sr25519 code, fetch and the push WebSocket — until the relay's round closes
// and the tab holds the next model, then opens the demo screen (charts, the
// QR code's canvas, the relay's text sample). No
// Content-Security-Policy violation may be reported on the way: neither a
// `securitypolicyviolation` event (page or Worker) nor a console report.
// Controls show the watch can fail: an inline script in the page and a
// cross-origin fetch in the Worker are both caught, and another origin cannot
// frame the app (frame-ancestors 'none').
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page, Worker } from 'playwright-core';
import { CONTENT_SECURITY_POLICY } from '../../src/relay/http-headers.ts';
import { DEFAULT_DIST_DIR, launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { launchSharedBrowser, watchErrors } from './support/browser.ts';

let dataDir: string;
let server: RelayServer | null = null;
let browser: Browser | null = null;

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'index.html'))) throw new Error('dist/ has no built app: run `npm run build` first');
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-csp-'));
  server = await launchRelay({
    dataDir,
    port: 0,
    run: {
      runId: 'e2e-csp',
      preset: 'nano',
      innerSteps: 1,
      plannedRounds: 20,
      train: { batchSize: 2, seqLen: 16, warmupSteps: 0 },
      evaluation: { batchSize: 2, seqLen: 32, batches: 1 },
    },
    relay: { roundMs: 600_000, quorum: 1, statsIntervalMs: 500 },
    evaluate: true,
  });
  browser = await launchSharedBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Collects every CSP violation a page and its Workers report: events (page and Worker scope) and console reports. */
async function watchPolicy(page: Page): Promise<{ violations: string[]; workers: Worker[]; fromWorkers: () => Promise<string[]> }> {
  const violations: string[] = [];
  const workers: Worker[] = [];
  await page.exposeFunction('__tesseraPolicyViolation', (report: string) => violations.push(`page event: ${report}`));
  await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => window.__tesseraPolicyViolation(e.violatedDirective + ' ' + e.blockedURI + ' at ' + e.sourceFile + ':' + e.lineNumber));`);
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(`console (${message.worker() ? 'worker' : 'page'}): ${message.text()}`);
  });
  page.on('worker', (worker) => {
    workers.push(worker);
    void worker
      .evaluate(`self.__tesseraViolations = []; self.addEventListener('securitypolicyviolation', (e) => self.__tesseraViolations.push(e.violatedDirective + ' ' + e.blockedURI));`)
      .catch(() => {});
  });
  const fromWorkers = async () => {
    const out: string[] = [];
    for (const worker of workers) {
      const found = (await worker.evaluate('self.__tesseraViolations ?? []').catch(() => [])) as string[];
      out.push(...found.map((v) => `worker event: ${v}`));
    }
    return out;
  };
  return { violations, workers, fromWorkers };
}

/**
 * Polls the model-hash element's version. (Not page.waitForFunction: it
 * compiles its predicate with eval in the page, which the relay's CSP forbids.)
 */
async function waitForVersion(page: Page, version: number, timeout: number): Promise<void> {
  const element = page.getByTestId('model-hash');
  await expect.poll(async () => Number((await element.getAttribute('data-version', { timeout: 1_000 }).catch(() => null)) ?? -1), { timeout, interval: 500 }).toBeGreaterThanOrEqual(version);
}

describe('app: content security policy', () => {
  it('serves every kind of file with the policy and the other security headers', async () => {
    const url = server!.url;
    const html = await (await fetch(url)).text();
    const script = /src="(\/assets\/index-[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const paths = ['', 'contribute', script!.slice(1), 'favicon.svg', 'data/brown-train.bin', 'api/run', 'api/nope'];
    for (const path of paths) {
      const response = await fetch(new URL(path, url), { method: path.startsWith('data/') ? 'HEAD' : 'GET' });
      const headers = response.headers;
      expect([path, headers.get('content-security-policy')]).toEqual([path, CONTENT_SECURITY_POLICY]);
      expect([path, headers.get('x-content-type-options'), headers.get('x-frame-options'), headers.get('referrer-policy')]).toEqual([path, 'nosniff', 'DENY', 'no-referrer']);
      expect([path, headers.get('cross-origin-opener-policy'), headers.get('cross-origin-embedder-policy')]).toEqual([path, 'same-origin', 'require-corp']);
      await response.arrayBuffer();
    }
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/'unsafe-inline'|'unsafe-eval'|\*/);
    // The app's files are this origin's; the API is readable from any origin, never with credentials.
    expect((await fetch(url)).headers.get('access-control-allow-origin')).toBeNull();
    const api = await fetch(new URL('api/run', url), { headers: { Origin: 'https://elsewhere.example' } });
    expect(api.headers.get('access-control-allow-origin')).toBe('*');
    expect(api.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('runs boot, self-test, a swarm round in the Worker and the demo screen with no policy violation', async () => {
    const url = server!.url;
    const context = await browser!.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const errors = watchErrors(page, 'tab');
    const policy = await watchPolicy(page);
    await page.goto(url);

    await page.getByTestId('device-panel').and(page.locator('[data-status="ready"]')).waitFor({ timeout: 60_000 });
    const selfTest = page.getByTestId('self-test');
    await selfTest.and(page.locator('[data-verdict="pass"], [data-verdict="fail"], [data-verdict="error"]')).waitFor({ timeout: 120_000 });
    expect(await selfTest.getAttribute('data-verdict')).toBe('pass');

    // A guest key, then the swarm: the Worker trains, the page signs, the frame goes out, the round closes on it.
    await page.getByTestId('training-panel').and(page.locator('[data-mode="swarm"]')).waitFor({ timeout: 60_000 });
    await page.getByTestId('use-guest').click();
    await page.getByTestId('wallet-account').and(page.locator('[data-kind="guest"]')).waitFor({ timeout: 30_000 });
    await page.getByTestId('join-swarm').and(page.locator(':enabled')).click({ timeout: 60_000 });
    await waitForVersion(page, 1, 420_000);
    expect(server!.relay.stats().version).toBeGreaterThanOrEqual(1);
    expect(policy.workers.length).toBeGreaterThanOrEqual(1);
    await page.getByTestId('stop-training').click();
    await page.getByTestId('training-panel').and(page.locator('[data-state="stopped"]')).waitFor({ timeout: 120_000 });

    // The demo screen: charts, the QR code (a canvas), the relay's sample of the global model.
    const demo = await context.newPage();
    const demoErrors = watchErrors(demo, 'demo');
    const demoPolicy = await watchPolicy(demo);
    await demo.goto(`${url}#/demo`);
    await demo.getByTestId('join-qr').and(demo.locator('[data-ready="true"]')).waitFor({ timeout: 60_000 });
    await demo.getByTestId('demo-sample').filter({ hasText: /\S/ }).waitFor({ timeout: 180_000 });

    const violations = [...policy.violations, ...(await policy.fromWorkers()), ...demoPolicy.violations];
    expect(violations).toEqual([]);
    expect([...errors, ...demoErrors]).toEqual([]);

    // Controls: the watch catches a violation in the page and in the Worker.
    await demo.evaluate(`(() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.append(s); })()`);
    const worker = policy.workers[0];
    await worker.evaluate(`fetch('https://blocked.example/').catch(() => {})`).catch(() => {});
    await expect.poll(() => demoPolicy.violations.some((v) => /script-src/.test(v)), { timeout: 10_000 }).toBe(true);
    await expect.poll(async () => [...policy.violations, ...(await policy.fromWorkers())].some((v) => /connect-src|blocked\.example/.test(v)), { timeout: 10_000 }).toBe(true);
    await context.close();
  });

  it('cannot be framed by another origin', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const reports: string[] = [];
    page.on('console', (message) => reports.push(message.text()));
    await page.setContent(`<iframe id="app" src="${server!.url}" width="600" height="400"></iframe>`);
    await expect.poll(() => reports.some((text) => /frame-ancestors|X-Frame-Options/.test(text)), { timeout: 15_000 }).toBe(true);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    const framedApp = frame ? await frame.locator('#root').count().catch(() => 0) : 0;
    expect(framedApp).toBe(0);
    await context.close();
  });
});
