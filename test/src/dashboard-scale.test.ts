// The fleet view over 10,000 twins: the hub pages (sorted by id), the page holds one page of rows,
// and moving between pages or filtering stays fast.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningHub } from '@twinhub/hub';
import { lampTd } from '@twinhub/testkit';
import type { Page } from 'playwright-core';
import { type Browser, browserSkip, launchBrowser, signIn } from './dashboard-support.js';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const COUNT = 10_000;
/** Generous for a shared 2-core machine; a page that loaded all 10,000 twins takes far longer. */
const FAST_MS = 3000;
const thingId = (n: number) => `urn:dev:ops:scale-${String(n).padStart(5, '0')}`;

describe('the fleet view with 10,000 twins', { skip: browserSkip }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let browser: Browser;
  let page: Page;

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { mqtt: false, memory: true });
    tokens = await createTokens(running);
    const agentClient = { id: 'agent-1', role: 'agent' } as const;
    for (let n = 0; n < COUNT; n += 500) {
      const batch = [];
      for (let i = n; i < Math.min(n + 500, COUNT); i++) {
        batch.push(running.hub.handle({ operation: 'updateTD', input: { ...lampTd(thingId(i)), title: `Lamp ${i}` } }, { client: agentClient }));
      }
      for (const result of await Promise.all(batch)) assert.ok(result.ok, JSON.stringify(result));
    }
    browser = await launchBrowser();
    page = await browser.page();
  });

  after(async () => {
    await browser?.close();
    await running?.close();
    await data?.remove();
  });

  const count = () => page.getByTestId('fleet-count');

  it('shows the first page and the total, one page of rows', async () => {
    await signIn(page, running.urls.http, tokens.viewer, 'viewer-1');
    await count().getByText('Twins 1–50 of 10,000').waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('tbody tr').count(), 50);
    assert.equal(await page.locator('tbody tr').first().getAttribute('data-thing-id'), thingId(0));
  });

  it('moves to the next page and back quickly', async () => {
    let started = Date.now();
    await page.getByRole('button', { name: 'Next page' }).click();
    await count().getByText('Twins 51–100 of 10,000').waitFor();
    assert.equal(await page.locator('tbody tr').first().getAttribute('data-thing-id'), thingId(50));
    const next = Date.now() - started;
    started = Date.now();
    await page.getByRole('button', { name: 'Previous page' }).click();
    await count().getByText('Twins 1–50 of 10,000').waitFor();
    const previous = Date.now() - started;
    assert.ok(next < FAST_MS && previous < FAST_MS, `paging took ${next} ms and ${previous} ms`);
  });

  it('filters 10,000 twins by title quickly, and pages at 100 per page', async () => {
    const started = Date.now();
    await page.getByLabel('Title contains').fill('Lamp 9999');
    await count().getByText('Twins 1–1 of 1').waitFor();
    const elapsed = Date.now() - started;
    assert.ok(elapsed < FAST_MS + 250, `filtering took ${elapsed} ms (250 ms of it is the typing pause)`);
    await page.getByLabel('Title contains').fill('');
    await page.getByLabel('Per page').selectOption('100');
    await count().getByText('Twins 1–100 of 10,000').waitFor();
    assert.equal(await page.locator('tbody tr').count(), 100);
  });

  it('logged no console error', () => {
    assert.deepEqual(browser.errors, []);
  });
});
