// The demo screen and the dashboard as a room and a volunteer see them, on the
// built app served by a real relay (launchRelay, the nano test run, the
// relay's held-out evaluation on) that published --public-url; the swarm's
// activity comes from real signed submissions (the test wallet signs exactly
// like the extension), posted from this process — no tab needs to train:
//   - the QR code on the demo screen, decoded from its canvas pixels with
//     jsqr, is the public URL; a relay without one (its own loopback address)
//     gets the warning that phones cannot use it;
//   - at 1920×1080 and 1280×720 nothing overflows (the page does not scroll
//     and no section clips its content); at 375 px nothing is wider than the
//     screen; the screen shows tabs training now (the relay's count), live
//     activity lines, the leaderboard (Gauntlet's scoreboard) and the loss chart; it downloads no
//     onnxruntime (neither its script nor its wasm);
//   - the big static files are sent compressed (Content-Encoding by the
//     request's Accept-Encoding, Vary: Accept-Encoding; the bytes decompress to
//     the file), and the page's own scripts arrived compressed;
//   - axe-core finds no WCAG 2 A/AA violation (contrast of every control
//     included) on the dashboard or the demo screen;
//   - screenshots of the demo screen at 1920×1080, 1280×720 and 375 px go to
//     test-results/screenshots/docs-demo-*.png (docs/screenshots/ holds the
//     committed ones: see README "Screenshots"), the viewer's dashboard to
//     viewer-dashboard-*.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import jsQR from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { DEFAULT_DIST_DIR, launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { post, removeTempDirs, signedFrame, tempDir, TEST_RUN, updatePayload, walletFor } from '../unit/relay-fixtures.ts';
import { launchSharedBrowser, watchErrors } from './support/browser.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const PUBLIC_URL = 'https://tessera.example.org/';
const AXE_SOURCE = readFileSync(fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url)), 'utf8');

let relay: RelayServer;
let plain: RelayServer;
let browser: Browser;

/** Posts one signed submission for `round` from test wallet i. */
async function submit(i: number, round: number): Promise<void> {
  const { version, modelHash } = relay.relay.roundStatus();
  const frame = await signedFrame({ wallet: walletFor(i), round, version, modelHash, payload: updatePayload(100 * round + i) });
  const answer = await post(relay.url, frame);
  if (answer.status !== 200) throw new Error(`submission ${i}/${round}: ${answer.status} ${JSON.stringify(answer.json)}`);
}

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'index.html')) || !existsSync(join(DEFAULT_DIST_DIR, 'download-sizes.json'))) {
    throw new Error('dist/ has no built app: run `npm run build` first');
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  relay = await launchRelay({
    dataDir: tempDir('e2e-demo'),
    port: 0,
    run: TEST_RUN,
    relay: { roundMs: 600_000, quorum: 3, statsIntervalMs: 200, publicUrl: PUBLIC_URL },
    evaluate: true,
  });
  plain = await launchRelay({ dataDir: tempDir('e2e-demo-plain'), port: 0, run: TEST_RUN, relay: { roundMs: 600_000, quorum: 3 }, evaluate: false });
  // Round 0 closes on its quorum of three; round 1 stays open with two updates.
  for (const i of [0, 1, 2]) await submit(i, 0);
  while (relay.relay.roundStatus().round === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const i of [0, 3]) await submit(i, 1);
  await relay.relay.evaluationsSettled();
  browser = await launchSharedBrowser();
});

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  await plain?.close();
  removeTempDirs();
});

async function open(url: string, width: number, height: number): Promise<{ page: Page; errors: string[]; requested: string[] }> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const requested: string[] = [];
  context.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto(url);
  return { page, errors, requested };
}

/** The QR code's text, decoded from the canvas pixels the page drew. */
async function decodeQr(page: Page): Promise<string | null> {
  await page.getByTestId('join-qr').and(page.locator('[data-ready="true"]')).waitFor({ timeout: 30_000 });
  const image = (await page.evaluate(`(() => {
    const canvas = document.querySelector('[data-testid="join-qr"] canvas');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    return { width: data.width, height: data.height, pixels: Array.from(data.data) };
  })()`)) as { width: number; height: number; pixels: number[] };
  return jsQR(Uint8ClampedArray.from(image.pixels), image.width, image.height)?.data ?? null;
}

/** Elements that overflow: the page itself (it must not scroll) and any demo section that clips its content. */
async function overflows(page: Page): Promise<string[]> {
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
  return (await page.evaluate(`(() => {
    const out = [];
    const root = document.documentElement;
    if (root.scrollWidth > innerWidth || root.scrollHeight > innerHeight) out.push('page ' + root.scrollWidth + 'x' + root.scrollHeight);
    for (const el of document.querySelectorAll('.demo > :not(.visually-hidden), .demo-figure, .demo-side section, .demo-sample p')) {
      if (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1) out.push((el.className || el.tagName) + ' ' + el.scrollWidth + 'x' + el.scrollHeight + ' in ' + el.clientWidth + 'x' + el.clientHeight);
    }
    return out;
  })()`)) as string[];
}

async function fitsWidth(page: Page): Promise<boolean> {
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
  return page.evaluate('document.documentElement.scrollWidth <= window.innerWidth') as Promise<boolean>;
}

/** axe-core's WCAG 2 A/AA violations on the page as it is now: "rule: target …". */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }).then((r) => r.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`)) as string[];
  return violations;
}

/** A raw GET (no automatic decompression) with the given Accept-Encoding. */
function rawGet(url: URL, acceptEncoding: string | null): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: acceptEncoding === null ? {} : { 'Accept-Encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('demo screen', () => {
  for (const [width, height] of [
    [1920, 1080],
    [1280, 720],
  ] as const) {
    it(`fits ${width}×${height} with live figures, activity, leaderboard and a QR code of the public URL, and loads no onnxruntime`, async () => {
      const { page, errors, requested } = await open(`${relay.url}#/demo`, width, height);
      await page.getByTestId('demo-trainers').and(page.locator('[data-count="4"]')).waitFor({ timeout: 60_000 });
      expect(await decodeQr(page)).toBe(PUBLIC_URL);
      expect(await page.getByTestId('join-warning').count()).toBe(0);
      await page.getByTestId('demo-activity').locator('li').nth(2).waitFor({ timeout: 30_000 });
      // Gauntlet merges those it selects: 'k of 3' unless it selects all.
      expect(await page.getByTestId('demo-activity').innerText()).toMatch(/Round 0 closed: (\d of )?3 updates merged into version 1/);
      // Gauntlet's scoreboard: the three addresses scored at round 0's close (round 1's two are scored at its close).
      await page.getByTestId('leaderboard').and(page.locator('[data-round="0"]')).locator('tbody tr').nth(2).waitFor({ timeout: 30_000 });
      await page.getByTestId('demo-loss-chart').and(page.locator('[data-points="2"]')).waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('demo-countdown').innerText()).toMatch(/^\d+:\d\d$/);
      await page.getByTestId('demo-sample').and(page.locator('[data-readable]')).waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('demo-sample').innerText()).not.toContain('\ufffd');
      expect(await overflows(page)).toEqual([]);
      expect(requested.filter((path) => /ort|\.wasm$/.test(path))).toEqual([]);
      await page.screenshot({ path: `${SCREENSHOTS}docs-demo-${width}x${height}.png` });
      if (width === 1280) {
        await page.setViewportSize({ width: 375, height: 812 });
        expect(await fitsWidth(page)).toBe(true);
        await page.screenshot({ path: `${SCREENSHOTS}docs-demo-375.png`, fullPage: true });
      }
      expect(errors).toEqual([]);
      await page.context().close();
    });
  }

  it('warns when the join URL is this computer\'s own (no --public-url), and encodes it', async () => {
    const { page, errors } = await open(`${plain.url}#/demo`, 1280, 720);
    const warning = page.getByTestId('join-warning');
    await warning.waitFor({ timeout: 30_000 });
    expect(await warning.innerText()).toMatch(/points at this computer.*--public-url/s);
    expect(await decodeQr(page)).toBe(plain.url);
    expect(await overflows(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('dashboard and static files', () => {
  it('says what a join downloads, shows the swarm in plain words, and passes axe on both screens', async () => {
    const { page, errors } = await open(relay.url, 1280, 720);
    const download = page.getByTestId('join-download');
    await download.waitFor({ timeout: 60_000 });
    const sizes = JSON.parse(readFileSync(join(DEFAULT_DIST_DIR, 'download-sizes.json'), 'utf8')) as { files: Record<string, { gzip: number | null; br: number | null }> };
    // A secure context (127.0.0.1) is sent brotli: the text's brotli size and the model's 4 bytes per parameter are in the figure.
    const shown = Number(await download.getAttribute('data-bytes'));
    expect(shown).toBeGreaterThan(sizes.files['data/brown-train.bin'].br! + 4 * relay.relay.runInfo().model.parameterCount);
    expect(shown).toBeLessThan(sizes.files['data/brown-train.bin'].gzip! + 4 * relay.relay.runInfo().model.parameterCount + 1_000_000);
    expect(await download.innerText()).toMatch(/Joining downloads about \d/);
    expect(await page.getByTestId('round-sentence').innerText()).toMatch(/closes when 3 updates are in or in \d+:\d\d, whichever comes first/);
    await page.getByTestId('trainers-sentence').filter({ hasText: '4 tabs are training now.' }).waitFor({ timeout: 30_000 });
    await page.getByTestId('leaderboard').and(page.locator('[data-round="0"]')).locator('tbody tr').nth(2).waitFor({ timeout: 30_000 });
    await page.getByTestId('global-loss-chart').and(page.locator('[data-points="2"]')).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('global-loss-chart-summary').innerText()).toMatch(/shared model: 2 points; latest \d\.\d{3} at version \(rounds closed\) 1/);
    // The full hash is one hover or copy away; the page shows it shortened.
    const hash = page.getByTestId('model-download').locator('.short-hash code');
    expect(await hash.getAttribute('title')).toBe(relay.relay.roundStatus().modelHash);
    expect(await hash.innerText()).toMatch(/^0x[0-9a-f]{4}…[0-9a-f]{4}$/);
    expect(await axeViolations(page)).toEqual([]);
    for (const [width, height] of [
      [1920, 1080],
      [1280, 720],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.screenshot({ path: `${SCREENSHOTS}viewer-dashboard-${width}x${height}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 375, height: 812 });
    expect(await fitsWidth(page)).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}viewer-dashboard-375.png`, fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();

    const demo = await open(`${relay.url}#/demo`, 1920, 1080);
    await demo.page.getByTestId('demo-trainers').and(demo.page.locator('[data-count="4"]')).waitFor({ timeout: 60_000 });
    expect(await axeViolations(demo.page)).toEqual([]);
    await demo.page.context().close();
  });

  it('sends the big files compressed by the request\'s Accept-Encoding, with Vary, and the page got its scripts compressed', async () => {
    const sizes = JSON.parse(readFileSync(join(DEFAULT_DIST_DIR, 'download-sizes.json'), 'utf8')) as { files: Record<string, { bytes: number; gzip: number | null; br: number | null }> };
    const script = Object.keys(sizes.files).find((name) => /^assets\/index-.*\.js$/.test(name))!;
    const worker = Object.keys(sizes.files).find((name) => /^assets\/training-worker-.*\.js$/.test(name))!;
    for (const name of ['data/brown-train.bin', script, worker]) {
      const plainBytes = readFileSync(join(DEFAULT_DIST_DIR, name));
      const url = new URL(name, relay.url);
      const br = await rawGet(url, 'gzip, deflate, br');
      expect(br.headers['content-encoding'], name).toBe('br');
      expect(br.headers.vary, name).toMatch(/Accept-Encoding/);
      expect(Number(br.headers['content-length'])).toBe(sizes.files[name].br);
      expect(brotliDecompressSync(br.body).equals(plainBytes), name).toBe(true);
      const gz = await rawGet(url, 'gzip');
      expect(gz.headers['content-encoding'], name).toBe('gzip');
      expect(gunzipSync(gz.body).equals(plainBytes), name).toBe(true);
      const identity = await rawGet(url, null);
      expect(identity.headers['content-encoding'], name).toBeUndefined();
      expect(identity.headers.vary, name).toMatch(/Accept-Encoding/);
      expect(identity.body.equals(plainBytes), name).toBe(true);
    }
    // No source maps unless the build was asked for them.
    expect(Object.keys(sizes.files).filter((name) => name.endsWith('.map'))).toEqual([]);

    const context = await browser.newContext();
    const page = await context.newPage();
    const encodings = new Map<string, string>();
    page.on('response', async (response) => {
      const path = new URL(response.url()).pathname;
      if (path.endsWith('.js')) encodings.set(path, (await response.headerValue('content-encoding')) ?? 'identity');
    });
    await page.goto(relay.url);
    await page.getByTestId('relay-panel').and(page.locator('[data-connected="true"]')).waitFor({ timeout: 60_000 });
    expect(encodings.get(`/${script}`)).toMatch(/^(br|gzip)$/);
    await context.close();
  });
});
