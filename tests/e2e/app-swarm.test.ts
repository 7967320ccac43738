// Browser tabs as real volunteers: a relay started in this process (launchRelay,
// a fresh temporary data directory, serving the built dist/) runs the nano
// model with tiny B, T and H, and rounds that close on a quorum of 2. In one
// headless Chromium (WebGPU on SwiftShader), each tab in its own browser
// context with its own IndexedDB and an injected wallet that signs exactly like
// the polkadot{.js} extension (tests/support/test-wallet.ts):
//   - Alice and Bob join through the wallet panel and "Join the swarm"; at
//     least three rounds close; the relay's validation loss falls; both tabs'
//     model hashes (data-testid="model-hash") equal the relay's for their version;
//   - Alice's round-1 submission reaches the relay but its answer never
//     reaches her tab (the test forwards the POST and then reloads the page):
//     the reloaded tab resumes from IndexedDB, replays its outbox — the relay
//     answers 409 'duplicate', which counts as delivered — does not train or
//     sign round 1 again, and the relay's ledger has exactly one submission per
//     round for her; Bob's round-1 POST is held until Alice's replay was answered,
//     so the round is still open when it arrives;
//   - Charlie's wallet refuses to sign: a clear message, no submission (the
//     relay's ledger for Charlie is empty);
//   - the GPU process crashes (CDP Browser.crashGpuProcess: a real device
//     loss): both tabs explain it and offer a restart; restarted, they resume
//     from their checkpoints and close another round with the relay's hashes;
//   - the dashboard shows the tab's latest Gauntlet receipt, verified in the
//     page against the relay's key, and the leaderboard; closed submissions say
//     whether they were aggregated;
//   - a display-only context (no wallet, not training) opens #/demo and shows
//     the swarm's loss curve, contributors, bytes/s, the leaderboard, the
//     relay's sample of the global model (its text once readable, else how
//     readable it is) and the QR code of the join URL;
//   - each tab shows whether it compresses on the GPU or the CPU (measured once
//     on the adapter; the reloaded tab reuses the kept measurement);
//   - screenshots of the dashboard and the demo screen go to
//     test-results/screenshots/, no page logs an error, and the test prints the
//     figures the dashboard showed and the time from opening the page to the
//     first inner step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hexToU8a } from '@polkadot/util';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { decodeHeader, decodeSubmission } from '../../src/protocol/index.ts';
import { DEFAULT_DIST_DIR, launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { createTestWallet, type TestWallet } from '../support/test-wallet.ts';
import { launchSharedBrowser, watchErrors } from './support/browser.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
/** The round whose answer Alice's tab never hears (it is reloaded instead). */
const HELD_ROUND = 1;
/** Rounds that must close (each closes on the quorum of 2: Alice and Bob). */
const ROUNDS = 3;

let dataDir: string;
let server: RelayServer | null = null;
let browser: Browser | null = null;
const relayLog: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'index.html')) || !existsSync(join(DEFAULT_DIST_DIR, 'data', 'brown-train.bin'))) {
    throw new Error('dist/ has no built app or training data: run `npm run build` first');
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-swarm-'));
  server = await launchRelay({
    dataDir,
    port: 0,
    run: {
      runId: 'e2e-swarm',
      preset: 'nano',
      innerSteps: 2,
      // Time-boxed rounds: a tab trains until its deadline or 4 steps, whichever comes first.
      stepRange: { min: 1, max: 4 },
      plannedRounds: 50,
      train: { batchSize: 2, seqLen: 16, warmupSteps: 0, learningRate: 3e-3 },
      evaluation: { batchSize: 4, seqLen: 64, batches: 4 },
    },
    // Rounds close on the quorum; the long window only bounds a stuck test.
    relay: { roundMs: 600_000, quorum: 2, statsIntervalMs: 500 },
    evaluate: true,
    log: (message) => relayLog.push(message),
  });
  browser = await launchSharedBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Tab {
  name: string;
  context: BrowserContext;
  page: Page;
  errors: string[];
  wallet: TestWallet | null;
}

/** A new browser context (its own IndexedDB), the wallet injected before the page loads, optional route on submissions. */
/** The page's own account of its startup ("Tessera: 41.0 s from opening the page to the first inner step (…)"). */
const startupLines: string[] = [];

async function openTab(name: string, url: string, wallet: TestWallet | null, onSubmission?: (route: Route, round: number) => Promise<void>): Promise<Tab> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  const errors = watchErrors(page, name);
  page.on('console', (msg) => {
    if (msg.type() === 'info' && msg.text().startsWith('Tessera:')) startupLines.push(`${name}: ${msg.text()}`);
  });
  if (wallet) await wallet.install(page);
  if (onSubmission) {
    await page.route('**/api/submissions', async (route) => {
      const round = decodeSubmission(new Uint8Array(route.request().postDataBuffer()!)).header.round;
      await onSubmission(route, round);
    });
  }
  await page.goto(url);
  return { name, context, page, errors, wallet };
}

/** Connect wallet → choose the extension account → Join the swarm, as a user would. */
async function joinWithExtension(tab: Tab): Promise<void> {
  const { page, wallet } = tab;
  await page.getByTestId('training-panel').and(page.locator('[data-mode="swarm"]')).waitFor({ timeout: 60_000 });
  await page.getByTestId('connect-wallet').click();
  await page.getByRole('button', { name: new RegExp(wallet!.address) }).click({ timeout: 30_000 });
  await page.getByTestId('wallet-account').and(page.locator('[data-kind="extension"]')).waitFor({ timeout: 30_000 });
  await page.getByTestId('join-swarm').and(page.locator(':enabled')).click({ timeout: 60_000 });
}

/** The rounds a wallet was asked to sign, from the header bytes it saw. */
function signedRounds(wallet: TestWallet): number[] {
  return wallet.requests.map((request) => decodeHeader(hexToU8a(request.data)).round);
}

async function modelShown(page: Page): Promise<{ version: number; hash: string }> {
  const element = page.getByTestId('model-hash');
  return { version: Number(await element.getAttribute('data-version')), hash: (await element.getAttribute('data-hash')) ?? '' };
}

/** Waits until the tab holds model `version` or newer, then checks it is bit-identical to the relay's of that version. */
async function expectRelayModel(tab: Tab, version: number, timeout: number): Promise<void> {
  await waitForVersion(tab.page, version, timeout);
  const shown = await modelShown(tab.page);
  const hashes = new Map(server!.relay.stats().rounds.map((r) => [r.version, r.modelHash]));
  expect(shown.version, tab.name).toBeGreaterThanOrEqual(version);
  expect(shown.hash, `${tab.name} at v${shown.version}`).toBe(hashes.get(shown.version));
}

/**
 * Polls the model-hash element's version. (Not page.waitForFunction: it
 * compiles its predicate with eval in the page, which the relay's CSP forbids.)
 */
async function waitForVersion(page: Page, version: number, timeout: number): Promise<void> {
  const element = page.getByTestId('model-hash');
  await expect.poll(async () => Number((await element.getAttribute('data-version', { timeout: 1_000 }).catch(() => null)) ?? -1), { timeout, interval: 500 }).toBeGreaterThanOrEqual(version);
}

/** True when nothing on the page is wider than the viewport, once layout and ResizeObservers have run (two frames). */
async function fitsWidth(page: Page): Promise<boolean> {
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
  return page.evaluate('document.documentElement.scrollWidth <= window.innerWidth');
}

function unique(values: number[]): boolean {
  return new Set(values).size === values.length;
}

describe('app: tabs train for the swarm against a real relay', () => {
  it('two tabs close rounds together, a reloaded tab resumes exactly once, a refusing wallet sends nothing', async () => {
    const url = server!.url;
    const relay = server!.relay;
    const alice = createTestWallet({ uri: '//Alice', name: 'polkadot-js', accountName: 'Alice' });
    const bob = createTestWallet({ uri: '//Bob', name: 'polkadot-js', accountName: 'Bob' });
    const charlie = createTestWallet({ uri: '//Charlie', name: 'polkadot-js', accountName: 'Charlie', refuse: true });

    // Alice: the first POST of round HELD_ROUND goes to the relay, but its answer never comes back.
    let heldForwarded!: () => void;
    const aliceHeld = new Promise<void>((resolve) => (heldForwarded = resolve));
    let replayAnswered!: (answer: { status: number; code: string }) => void;
    const aliceReplay = new Promise<{ status: number; code: string }>((resolve) => (replayAnswered = resolve));
    let held = false;
    const a = await openTab('alice', url, alice, async (route, round) => {
      if (round === HELD_ROUND && !held) {
        held = true;
        await route.fetch(); // the relay stores it and acknowledges; the tab is reloaded before it hears
        heldForwarded();
        return;
      }
      if (round === HELD_ROUND) {
        const response = await route.fetch();
        const body = await response.json();
        await route.fulfill({ response });
        replayAnswered({ status: response.status(), code: body?.error?.code ?? 'ack' });
        return;
      }
      await route.continue();
    });
    // Bob's round-HELD_ROUND submission waits until Alice's replay was answered (the round stays open for it).
    const b = await openTab('bob', url, bob, async (route, round) => {
      if (round === HELD_ROUND) await aliceReplay;
      await route.continue();
    });
    await joinWithExtension(a);
    await joinWithExtension(b);

    // Round 0 closes with both; Alice's first load reports its time to the first inner step.
    await waitForVersion(a.page, 1, 300_000);
    const firstStepMs = Number(await a.page.getByTestId('time-to-first-step').getAttribute('data-ms'));
    const bobFirstStepMs = Number(await b.page.getByTestId('time-to-first-step').getAttribute('data-ms'));

    // Charlie joins while the others train; his wallet refuses, so nothing is sent.
    const c = await openTab('charlie', url, charlie);
    await joinWithExtension(c);

    // Which compressor the tab measured faster on this adapter (kept in its settings for the next visit).
    const compression = a.page.getByTestId('compression-path');
    const compressionPath = await compression.getAttribute('data-path');
    expect(['gpu', 'cpu']).toContain(compressionPath);
    const compressionText = await compression.innerText();
    expect(compressionText).toMatch(/ms on the GPU, .* ms on the CPU per round/);

    // Alice's round-1 frame is at the relay; reload her tab before it hears the answer.
    await aliceHeld;
    expect(relay.ledgerFor(alice.address).entries.map((e) => e.round)).toContain(HELD_ROUND);
    await a.page.reload();
    await a.page.getByTestId('model-summary').filter({ hasText: /resumed from this tab's checkpoint of model v1/ }).waitFor({ timeout: 180_000 });
    const replay = await aliceReplay;
    expect(replay).toEqual({ status: 409, code: 'duplicate' });
    // The reloaded tab did not measure again: the same path, from the same measurement.
    expect(await a.page.getByTestId('compression-path').innerText()).toBe(compressionText);

    const refusal = c.page.getByTestId('wallet-problem');
    await refusal.waitFor({ timeout: 300_000 });
    expect(await refusal.getAttribute('data-code')).toBe('signature-refused');
    expect(await refusal.innerText()).toContain('You declined to sign the submission');
    expect(charlie.requests.length).toBeGreaterThanOrEqual(1);
    expect(relay.ledgerFor(charlie.address).entries).toEqual([]);
    await c.page.getByTestId('stop-training').click();
    await c.page.getByTestId('training-panel').and(c.page.locator('[data-state="stopped"]')).waitFor({ timeout: 120_000 });

    // At least ROUNDS rounds close; both tabs apply them and hold the relay's exact model.
    await expectRelayModel(a, ROUNDS, 420_000);
    await expectRelayModel(b, ROUNDS, 120_000);

    // The dashboard's figures, while both still train.
    await a.page.getByTestId('global-loss-chart').waitFor();
    for (const id of ['tokens-per-second', 'gflops', 'bytes-per-round', 'dense-bytes', 'compression-ratio', 'time-to-first-step', 'gpu-busy-share', 'round-tokens-per-second']) {
      await a.page.getByTestId(id).waitFor();
    }
    // One snapshot in one page task: the figures update every round, so
    // reading them one by one could pair one round's ratio with the next's bytes.
    const figures = (await a.page.evaluate(`(() => {
      const el = (id) => document.querySelector('[data-testid="' + id + '"]');
      return {
        tokensPerSecond: el('tokens-per-second').innerText,
        gflops: el('gflops').innerText,
        bytesPerRound: Number(el('bytes-per-round').getAttribute('data-bytes')),
        denseBytes: Number(el('dense-bytes').getAttribute('data-bytes')),
        compressionRatio: Number(el('compression-ratio').getAttribute('data-ratio')),
        resumedFirstStepMs: Number(el('time-to-first-step').getAttribute('data-ms')),
        busyShare: el('gpu-busy-share').getAttribute('data-share'),
        roundTokensPerSecond: el('round-tokens-per-second').getAttribute('data-rate'),
      };
    })()`)) as {
      tokensPerSecond: string;
      gflops: string;
      bytesPerRound: number;
      denseBytes: number;
      compressionRatio: number;
      resumedFirstStepMs: number;
      busyShare: string | null;
      roundTokensPerSecond: string | null;
    };
    expect(figures.tokensPerSecond).toMatch(/tok\/s$/);
    expect(figures.bytesPerRound).toBeGreaterThan(0);
    expect(figures.denseBytes).toBe(4 * relay.runInfo().model.parameterCount);
    expect(figures.compressionRatio).toBeCloseTo(figures.denseBytes / figures.bytesPerRound, 6);
    expect(figures.compressionRatio).toBeGreaterThan(10);
    // After a round: the GPU's share of the round's time, and the round's tokens over its whole wall time.
    // Polled from here rather than with waitForFunction (a string evaluated in the page, which a strict CSP forbids).
    for (let i = 0; i < 240 && !(await a.page.getByTestId('gpu-busy-share').getAttribute('data-share')); i++) await a.page.waitForTimeout(500);
    const busyShare = Number(await a.page.getByTestId('gpu-busy-share').getAttribute('data-share'));
    const roundRate = Number(await a.page.getByTestId('round-tokens-per-second').getAttribute('data-rate'));
    expect(busyShare).toBeGreaterThan(0);
    expect(busyShare).toBeLessThanOrEqual(1);
    expect(roundRate).toBeGreaterThan(0);
    expect(Number(await a.page.getByTestId('global-loss-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(2);
    // Closed rounds say whether Gauntlet aggregated them (and why not).
    await a.page.getByTestId('submissions').locator('tr[data-state="accepted"], tr[data-state="excluded"]').first().waitFor();
    // The tab's latest receipt, verified in the page against the relay's key, and the leaderboard.
    const receipt = a.page.getByTestId('my-receipt').and(a.page.locator('[data-state="verified"]'));
    await receipt.waitFor({ timeout: 120_000 });
    expect(await receipt.innerText()).toMatch(/^Round \d+: your update (improved|worsened) the loss by [\d.]+ %, rank \d+ of \d+;|^Round \d+: your update was not drawn/);
    const board = a.page.getByTestId('leaderboard');
    await board.waitFor({ timeout: 60_000 });
    expect(await board.locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
    await a.page.screenshot({ path: `${SCREENSHOTS}swarm-dashboard-1280.png`, fullPage: true });
    await a.page.setViewportSize({ width: 375, height: 812 });
    expect(await fitsWidth(a.page)).toBe(true);
    await a.page.screenshot({ path: `${SCREENSHOTS}swarm-dashboard-375.png`, fullPage: true });
    await a.page.setViewportSize({ width: 1280, height: 720 });

    // A real device loss: the GPU process crashes under both tabs. Each explains it and restarts from its checkpoint.
    const lostAt = relay.stats().version;
    // Before the loss, no round was signed twice (the reloaded tab did not redo round HELD_ROUND). After it a
    // round may be: a device lost between the signature and the save leaves that round unsent, to be redone.
    const signedBeforeLoss = new Map([alice, bob].map((wallet) => [wallet, signedRounds(wallet)] as const));
    const cdp = await browser!.newBrowserCDPSession();
    await cdp.send('Browser.crashGpuProcess');
    for (const tab of [a, b]) {
      const problem = tab.page.getByTestId('training-error').and(tab.page.locator('[data-code="device-lost"]'));
      await problem.waitFor({ timeout: 120_000 });
      expect(await problem.innerText()).toContain('The GPU device was lost');
      await tab.page.getByTestId('restart-training').click();
    }
    for (const tab of [a, b]) {
      await tab.page.getByTestId('model-summary').filter({ hasText: /resumed from this tab's checkpoint/ }).waitFor({ timeout: 180_000 });
    }
    await expectRelayModel(a, lostAt + 1, 300_000);
    await expectRelayModel(b, lostAt + 1, 120_000);

    for (const tab of [a, b]) {
      await tab.page.getByTestId('stop-training').click();
      await tab.page.getByTestId('training-panel').and(tab.page.locator('[data-state="stopped"]')).waitFor({ timeout: 120_000 });
    }

    // Exactly once: one ledger entry per round for each address, the held round among Alice's.
    for (const [wallet, name] of [
      [alice, 'alice'],
      [bob, 'bob'],
    ] as const) {
      const rounds = relay.ledgerFor(wallet.address).entries.map((e) => e.round);
      expect(unique(rounds), `${name} ledger rounds ${rounds}`).toBe(true);
      expect(rounds.filter((r) => r < ROUNDS).sort((x, y) => x - y)).toEqual([...Array(ROUNDS).keys()]);
      expect(unique(signedBeforeLoss.get(wallet)!), `${name} signed ${signedBeforeLoss.get(wallet)}`).toBe(true);
    }
    expect(relay.stats().rounds.filter((r) => r.round < ROUNDS).map((r) => r.submissions)).toEqual(Array(ROUNDS).fill(2));

    // The global validation loss falls.
    await relay.evaluationsSettled();
    const losses = relay.evaluationHistory().map((e) => [e.version, e.loss] as const);
    expect(losses.length).toBeGreaterThanOrEqual(ROUNDS + 1);
    expect(losses.at(-1)![1]).toBeLessThan(losses[0][1]);

    // The demo screen on a machine that only displays: no wallet, no training.
    const d = await openTab('display', `${url}#/demo`, null);
    await d.page.getByTestId('demo-contributors').and(d.page.locator('[data-count="2"]')).waitFor({ timeout: 60_000 });
    await d.page.getByTestId('join-qr').and(d.page.locator('[data-ready="true"]')).waitFor({ timeout: 30_000 });
    expect(await d.page.getByTestId('join-qr').getAttribute('data-url')).toBe(url);
    // The relay's sample of the global model: its text once readable, else how readable it is so far — never raw bytes.
    await d.page.getByTestId('demo-sample').and(d.page.locator('[data-readable]')).waitFor({ timeout: 120_000 });
    expect(await d.page.getByTestId('demo-sample').innerText()).toMatch(/^(The model writes|The model is still learning to write: \d+ %)/);
    expect(await d.page.getByTestId('demo-sample').innerText()).not.toContain('\ufffd');
    expect(Number(await d.page.getByTestId('demo-loss-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(ROUNDS + 1);
    expect(await d.page.getByTestId('demo-tokens-per-second').innerText()).toMatch(/^bytes of text · [\d.]+ k?B\/s$/);
    expect(await d.page.getByTestId('leaderboard').locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
    await d.page.screenshot({ path: `${SCREENSHOTS}swarm-demo-1280.png` });
    await d.page.setViewportSize({ width: 375, height: 812 });
    expect(await fitsWidth(d.page)).toBe(true);
    await d.page.screenshot({ path: `${SCREENSHOTS}swarm-demo-375.png`, fullPage: true });

    console.log(
      [
        `validation loss by model version: ${losses.map(([v, l]) => `v${v} ${l.toFixed(4)}`).join(', ')}`,
        `dashboard (alice): ${figures.tokensPerSecond}, ${figures.gflops}, ${figures.bytesPerRound} B sent per round vs ${figures.denseBytes} B dense float32 = ${figures.compressionRatio.toFixed(1)}×`,
        `compression (alice): ${compressionText}`,
        `page open → first inner step: alice ${(firstStepMs / 1000).toFixed(1)} s, bob ${(bobFirstStepMs / 1000).toFixed(1)} s, alice after the reload ${(figures.resumedFirstStepMs / 1000).toFixed(1)} s`,
        ...startupLines,
        `device loss at relay v${lostAt}: both tabs restarted from their checkpoints and reached v${relay.stats().version}`,
        `alice's replay after the reload was answered ${replay.status} ${replay.code}; ledger rounds alice ${relay.ledgerFor(alice.address).entries.map((e) => e.round)}, bob ${relay.ledgerFor(bob.address).entries.map((e) => e.round)}`,
        `demo (display only): ${await d.page.getByTestId('demo-tokens-per-second').innerText()}, contributors ${await d.page.getByTestId('demo-contributors').innerText()}`,
      ].join('\n'),
    );

    for (const tab of [a, b, c, d]) expect(tab.errors, tab.name).toEqual([]);
  });
});
