// The dashboard when things go wrong: a token revoked while signed in ends the session with a
// clear message; a hub that goes away shows "unreachable" and the page recovers when it is back;
// a refused token at sign-in says so. The only console errors are the failed requests themselves.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningHub } from '@twinhub/hub';
import type { Page } from 'playwright-core';
import { type Browser, browserSkip, launchBrowser, signIn } from './dashboard-support.js';
import { startTestHub, tempDataDir } from './support.js';

describe('the dashboard when the token or the hub goes away', { skip: browserSkip }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let browser: Browser;
  let page: Page;

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { mqtt: false });
    browser = await launchBrowser();
    page = await browser.page();
  });

  after(async () => {
    await browser?.close();
    await running?.close();
    await data?.remove();
  });

  it('says so when the hub refuses the token at sign-in', async () => {
    await page.goto(`${running.urls.http}/ui/`);
    await page.getByLabel('Access token').fill('th_not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('The hub refused this token: it is unknown or was revoked.').waitFor();
  });

  it('ends the session with a clear message when the token is revoked', async () => {
    const { token } = await running.hub.tokens.create({ id: 'revoked-operator', role: 'operator' });
    await signIn(page, running.urls.http, token, 'revoked-operator');
    await running.hub.tokens.revoke({ clientId: 'revoked-operator' });
    await page
      .getByRole('alert')
      .getByText(/no longer accepts your token/)
      .waitFor();
    await page.getByLabel('Access token').waitFor();
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('twinhub.token')),
      null,
    );
  });

  it('shows the hub as unreachable while it is down, and recovers when it is back', async () => {
    const { token } = await running.hub.tokens.create({ id: 'patient-operator', role: 'operator' });
    await signIn(page, running.urls.http, token, 'patient-operator');
    const port = Number(new URL(running.urls.http).port);
    await running.close();
    const banner = page.locator('.banner[data-health="unreachable"]');
    await banner.waitFor();
    assert.match((await banner.textContent()) ?? '', /The hub is unreachable/);
    // The same data folder and port: the token is still valid, the page reconnects by itself.
    running = await startTestHub(data.dir, { mqtt: false, httpPort: port });
    await banner.waitFor({ state: 'detached', timeout: 20_000 });
    await page.getByTestId('fleet-count').waitFor();
  });

  it('logged only the failed requests themselves', () => {
    const unexpected = browser.errors.filter((error) => !/status of 401|ERR_CONNECTION_REFUSED|WebSocket connection to .* failed|net::ERR_/.test(error));
    assert.deepEqual(unexpected, []);
  });
});
