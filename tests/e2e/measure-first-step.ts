// Page open → first inner step of the built app in headless Chromium
// (SwiftShader), the figure the app logs and shows as "Page open → first step".
// Each run opens a fresh browser profile (first visit: nothing cached) and then,
// with --reload, the same page again in that profile (a later visit).
// Usage: npx tsx tests/e2e/measure-first-step.ts [--runs 3] [--reload]
// (not a test: a measurement, run by hand; docs/kernels.md has its figures)
// Needs `npm run build` first. Prints one line per run and the spread.
import { parseArgs } from 'node:util';
import { launchBrowser, openPage } from './support/browser.ts';
import { serveDist } from './support/static-server.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, reload: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: need a positive integer`);
// The same tab as tests/e2e/app-train.test.ts.
const QUERY = '?preset=nano&batch=2&seq=16&evalEvery=4&checkpointEvery=2';

async function firstStep(url: string, browser: Awaited<ReturnType<typeof launchBrowser>>): Promise<{ ms: number; log: string }> {
  const { page, errors } = await openPage(browser, url);
  let log = '';
  page.on('console', (msg) => {
    if (msg.text().startsWith('Tessera:') && msg.text().includes('first inner step')) log = msg.text();
  });
  const start = page.getByTestId('start-training');
  await start.and(page.locator(':enabled')).click({ timeout: 120_000 });
  const shown = page.getByTestId('time-to-first-step').and(page.locator('[data-ms]:not([data-ms=""])'));
  await shown.waitFor({ timeout: 600_000 });
  const ms = Number(await shown.getAttribute('data-ms'));
  await page.getByTestId('stop-training').click();
  await page.getByTestId('training-panel').and(page.locator('[data-state="stopped"]')).waitFor({ timeout: 120_000 });
  await page.close();
  if (errors.length) throw new Error(`the page logged errors: ${errors.join('; ')}`);
  return { ms, log };
}

const server = await serveDist();
const first: number[] = [];
const later: number[] = [];
try {
  for (let run = 0; run < runs; run++) {
    const browser = await launchBrowser();
    try {
      const a = await firstStep(`${server.url}${QUERY}`, browser);
      first.push(a.ms);
      console.log(`run ${run + 1} first visit: ${(a.ms / 1000).toFixed(1)} s — ${a.log}`);
      if (values.reload) {
        const b = await firstStep(`${server.url}${QUERY}`, browser);
        later.push(b.ms);
        console.log(`run ${run + 1} later visit: ${(b.ms / 1000).toFixed(1)} s — ${b.log}`);
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.close();
}
const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b).map((x) => x / 1000);
  return `median ${s[s.length >> 1].toFixed(1)} s, min ${s[0].toFixed(1)}, max ${s[s.length - 1].toFixed(1)} (${s.length} runs)`;
};
console.log(`first visit: ${spread(first)}`);
if (later.length) console.log(`later visit: ${spread(later)}`);
process.exit(0);
