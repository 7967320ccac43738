// The wallet panel in the built app, through the real @polkadot/extension-dapp
// code path: with no extension the page says so plainly; with the test wallet
// injected (tests/support/test-wallet.ts, signs like polkadot{.js}) "Connect
// wallet" lists its sr25519 account as SS58-42, choosing it is remembered
// across a reload, and the page logs no errors. No training here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { createTestWallet } from '../support/test-wallet.ts';
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

describe('app: wallet panel', () => {
  it('explains that no wallet extension is installed', async () => {
    const { page, errors } = await openPage(browser, server.url);
    await page.getByTestId('connect-wallet').click();
    const error = page.getByTestId('wallet-error');
    await error.waitFor({ timeout: 30_000 });
    expect(await error.getAttribute('data-code')).toBe('no-extension');
    const text = await error.innerText();
    expect(text).toContain('No Polkadot wallet extension was found in this browser.');
    expect(text).toContain('continue as a guest');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lists the extension account, remembers the choice across a reload', async () => {
    const wallet = createTestWallet({ uri: '//Alice', name: 'polkadot-js', accountName: 'Alice' });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    page.on('pageerror', (error) => errors.push(error.message));
    await wallet.install(page);
    await page.goto(server.url);

    await page.getByTestId('connect-wallet').click();
    const choice = page.getByRole('button', { name: new RegExp(`Alice.*${wallet.address}`) });
    await choice.waitFor({ timeout: 30_000 });
    await choice.click();
    const account = page.getByTestId('wallet-account');
    await account.and(page.locator('[data-kind="extension"]')).waitFor({ timeout: 30_000 });
    expect((await page.getByTestId('wallet-address').innerText()).trim()).toBe(wallet.address);
    expect(await account.innerText()).toContain('polkadot-js');

    await page.reload();
    await page.getByTestId('wallet-account').and(page.locator('[data-kind="extension"]')).waitFor({ timeout: 30_000 });
    expect((await page.getByTestId('wallet-address').innerText()).trim()).toBe(wallet.address);
    expect(errors).toEqual([]);
    await page.close();
  });
});
