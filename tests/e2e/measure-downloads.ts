// Bytes on the wire for three moments a person meets, measured on the built
// app served by a real relay (launchRelay, a fresh data directory, the nano
// run) in headless Chromium with a fresh profile each (nothing cached):
//   dashboard   open / and wait until the GPU self-test has run and the
//               network is quiet (what a volunteer downloads before joining);
//   demo        open /#/demo and wait until the QR code is drawn, a sample is
//               shown (or 20 s pass) and the network is quiet;
//   join        on the dashboard, press "Join the swarm" (a guest key) and wait
//               for the first inner step: the bytes downloaded after the click.
// The browser talks to the relay through a TCP proxy that counts every byte
// the relay sends (headers and bodies as they crossed the wire, after
// Content-Encoding; page, Worker and WebSocket alike).
// Usage: npx tsx --import ./src/node/register-wgsl.mjs tests/e2e/measure-downloads.ts [--runs 1] [--json]
// (not a test: a measurement, run by hand; docs/demo.md and the README carry its figures).
// Needs `npm run build` first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { Page, Request } from 'playwright-core';
import { launchRelay } from '../../src/relay/launch.ts';
import { launchBrowser } from './support/browser.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '1' }, json: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: need a positive integer`);

interface Tally {
  /** Bytes the relay sent to the browser (headers and bodies as they crossed the wire). */
  bytes: number;
  /** The largest responses the browser reported (the Worker's own script is not among them). */
  largest: { url: string; bytes: number; encoding: string }[];
}

/**
 * A TCP proxy in front of the relay that counts every byte the relay sends
 * back: the wire itself, whoever asked (page, Worker, WebSocket), so no
 * request escapes the count.
 */
async function countingProxy(target: URL): Promise<{ origin: string; sent(): number; close(): Promise<void> }> {
  let sent = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    upstream.on('data', (chunk: Buffer) => (sent += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}/`,
    sent: () => sent,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => proxy.close(() => resolve()));
    },
  };
}

/** Counts what the proxy sends from now on; lists the browser's largest responses. */
function tally(page: Page, proxy: { sent(): number }): { stop(): Promise<Tally> } {
  const before = proxy.sent();
  const pending: Promise<{ url: string; bytes: number; encoding: string }>[] = [];
  const onFinished = (request: Request) => {
    pending.push(
      (async () => {
        const sizes = await request.sizes();
        const encoding = (await (await request.response())?.headerValue('content-encoding')) ?? 'identity';
        return { url: new URL(request.url()).pathname, bytes: sizes.responseBodySize + sizes.responseHeadersSize, encoding };
      })(),
    );
  };
  page.context().on('requestfinished', onFinished);
  return {
    async stop() {
      page.context().off('requestfinished', onFinished);
      const all = await Promise.all(pending);
      return { bytes: proxy.sent() - before, largest: [...all].sort((x, y) => y.bytes - x.bytes).slice(0, 5) };
    },
  };
}

async function quiet(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle', { timeout: 120_000 }).catch(() => undefined);
}

async function measureOnce(origin: string, proxy: { sent(): number }): Promise<Record<'dashboard' | 'demo' | 'join', Tally>> {
  const results = {} as Record<'dashboard' | 'demo' | 'join', Tally>;

  const demoContext = await launchBrowser();
  try {
    const page = await demoContext.newPage();
    const counter = tally(page, proxy);
    await page.goto(`${origin}#/demo`);
    await page.locator('[data-testid="join-qr"][data-ready="true"]').waitFor({ timeout: 60_000 });
    await page.waitForFunction('(document.querySelector(\'[data-testid="demo-sample"]\')?.textContent ?? "").length > 12', undefined, { timeout: 20_000, polling: 500 }).catch(() => undefined);
    await quiet(page);
    results.demo = await counter.stop();
  } finally {
    await demoContext.close();
  }

  const context = await launchBrowser();
  try {
    const page = await context.newPage();
    const counter = tally(page, proxy);
    await page.goto(origin);
    await page.locator('[data-testid="self-test"][data-verdict="pass"]').waitFor({ timeout: 180_000 });
    await quiet(page);
    results.dashboard = await counter.stop();

    const joining = tally(page, proxy);
    await page.getByTestId('join-swarm').and(page.locator(':enabled')).click({ timeout: 120_000 });
    await page.getByTestId('step-count').and(page.locator(':not([data-steps="0"])')).waitFor({ timeout: 600_000 });
    results.join = await joining.stop();
  } finally {
    await context.close();
  }
  return results;
}

const dataDir = mkdtempSync(join(tmpdir(), 'tessera-measure-downloads-'));
const server = await launchRelay({ dataDir, port: 0, run: { runId: 'measure-downloads', preset: 'nano' }, evaluate: false });
const proxy = await countingProxy(new URL(server.url));
const all: Record<string, Tally>[] = [];
try {
  for (let run = 0; run < runs; run++) {
    const result = await measureOnce(proxy.origin, proxy);
    all.push(result);
    for (const [moment, t] of Object.entries(result)) {
      console.log(`run ${run + 1} ${moment.padEnd(9)} ${(t.bytes / 1e6).toFixed(3)} MB on the wire; largest responses the browser listed: ${t.largest.map((l) => `${l.url} ${(l.bytes / 1e3).toFixed(0)} kB ${l.encoding}`).join(', ')}`);
    }
  }
} finally {
  await proxy.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
if (values.json) console.log(JSON.stringify(all.map((r) => Object.fromEntries(Object.entries(r).map(([k, t]) => [k, t.bytes])))));
