// The web dashboard in a real browser (headless Chromium) against a running hub: sign in, a twin
// appearing when an agent registers, live values, a write going desired → reported, its history
// chart, an action invoked while the agent is offline going pending → delivered → completed, a
// cancelled request, tags, directory activity, a viewer without write controls, an admin creating an agent token the
// agent then connects with; screenshots of the fleet and a twin for the README; no console error.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AgentClient } from '@twinhub/client';
import type { RunningHub } from '@twinhub/hub';
import { eventually, lampTd } from '@twinhub/testkit';
import type { Page } from 'playwright-core';
import { agent, type Browser, browserSkip, fitsWidth, launchBrowser, screenshot, signIn, signOut } from './dashboard-support.js';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const LAMP = 'urn:dev:ops:dashboard-lamp';
const twinPath = (id: string) => `/ui/things/${encodeURIComponent(id)}`;

describe('the dashboard in a browser', { skip: browserSkip }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let browser: Browser;
  let page: Page;
  let device: AgentClient | undefined;
  const agents: AgentClient[] = [];

  const connect = async (token = tokens.agent) => {
    const client = await agent(running.urls.http, token);
    agents.push(client);
    return client;
  };
  const property = (name: string) => page.locator(`[data-property="${name}"]`);
  const action = (name: string) => page.locator(`[data-action="${name}"]`);
  /** The steps a request's timeline shows, in order. */
  const steps = (request: ReturnType<Page['locator']>) =>
    request.locator('[data-step]').evaluateAll((items) => items.map((item) => item.getAttribute('data-step')));

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { mqtt: false });
    tokens = await createTokens(running);
    browser = await launchBrowser();
    page = await browser.page();
  });

  after(async () => {
    for (const client of agents) await client.close().catch(() => undefined);
    await browser?.close();
    await running?.close();
    await data?.remove();
  });

  it('signs in as an operator (by keyboard, from the hub root) and shows an empty fleet', async () => {
    await signIn(page, running.urls.http, tokens.operator, 'operator-1');
    await page.getByText('No twins match.').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0, 'operators get no admin page');
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('twinhub.token')),
      tokens.operator,
    );
  });

  it('shows a twin as soon as an agent registers it, online, with its agent', async () => {
    device = await connect();
    await device.register(lampTd(LAMP));
    const row = page.locator(`tr[data-thing-id="${LAMP}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Lamp.*Light.*agent-1.*online/s);
    await page.getByTestId('fleet-count').getByText('Twins 1–1 of 1').waitFor();
  });

  it('watches a value change live when the agent reports', async () => {
    await device!.report(LAMP, { brightness: 10, status: 'on' });
    await page.getByRole('link', { name: 'Lamp' }).click();
    assert.equal(new URL(page.url()).pathname, twinPath(LAMP));
    await property('brightness').getByTestId('reported').getByText('10', { exact: true }).waitFor();
    await device!.report(LAMP, { brightness: 42 });
    await property('brightness').getByTestId('reported').getByText('42', { exact: true }).waitFor();
    await property('status').getByTestId('reported').getByText('"on"').waitFor();
    assert.equal(await property('status').getByRole('button', { name: 'Write' }).count(), 0, 'read-only properties get no write control');
  });

  it('shows the hub validation error inline next to the write control', async () => {
    const card = property('brightness');
    await card.getByLabel('New value for brightness').fill('150');
    await card.getByRole('button', { name: 'Write' }).click();
    const problem = card.getByRole('alert');
    await problem.waitFor();
    assert.match((await problem.textContent()) ?? '', /maximum|<= 100|100/i);
    assert.equal(await card.getByLabel('New value for brightness').getAttribute('aria-invalid'), 'true');
  });

  it('writes a value: the agent receives it, and the twin goes desired (pending) → reported', async () => {
    let release!: () => void;
    const applied = new Promise<void>((resolve) => (release = resolve));
    const received: unknown[] = [];
    device!.onWrite(LAMP, 'brightness', async (value) => {
      received.push(value);
      await applied;
    });
    const card = property('brightness');
    await card.getByLabel('New value for brightness').fill('55');
    await card.getByRole('button', { name: 'Write' }).click();
    await card.getByTestId('pending').waitFor();
    await card.getByTestId('desired').getByText('55').waitFor();
    assert.equal(await card.getByTestId('reported').textContent(), '42', 'not reported yet');
    await eventually(async () => received.length === 1, 'the agent to receive the write');
    assert.deepEqual(received, [55]);
    release();
    await card.getByTestId('reported').getByText('55', { exact: true }).waitFor();
    await card.getByTestId('pending').waitFor({ state: 'detached' });
    await card.getByTestId('write-status').getByText('write completed').waitFor();
  });

  it('charts the history of a numeric property, with a time-range picker', async () => {
    // brightness reported 10, 42 and 55 so far: one bucket of the last hour holds them all.
    await page.locator('[data-chart="brightness"] svg[aria-label*="min 10, max 55"]').waitFor();
    await page.getByLabel('Time range').selectOption({ label: 'Last 7 days' });
    await page.locator('[data-chart="brightness"] svg[aria-label*="min 10, max 55"]').waitFor();
    assert.equal(await page.locator('[data-chart="status"]').count(), 0, 'no chart for a string property');
    await page.getByLabel('Time range').selectOption({ label: 'Last hour' });
  });

  it('invokes an action while the agent is offline: pending, then delivered and completed once it reconnects', async () => {
    await device!.close();
    await page.getByTestId('presence').getByText('offline').waitFor();
    const card = action('fade');
    await card.getByLabel('level (required)').fill('30');
    await card.getByRole('button', { name: 'Invoke fade' }).click();
    const request = card.locator('.request').first();
    await request.locator('[data-step="pending"]').waitFor();
    assert.deepEqual(await steps(request), ['pending']);
    assert.equal(await request.getByRole('button', { name: 'Cancel request' }).count(), 1, 'a pending request can be cancelled');
    await screenshot(page, 'dashboard-twin.png', { fullPage: true });

    device = await connect();
    device.onAction(LAMP, 'fade', (input) => ({ reached: (input as { level: number }).level }));
    await request.locator('[data-step="completed"]').waitFor();
    const seen = await steps(request);
    assert.deepEqual(
      seen.filter((step) => step !== 'running'),
      ['pending', 'delivered', 'completed'],
    );
    assert.match((await request.textContent()) ?? '', /Output: \{"reached":30\}/);
    assert.equal(await request.getByRole('button', { name: 'Cancel request' }).count(), 0, 'no cancel once delivered');
  });

  it('cancels a pending action', async () => {
    await device!.close();
    await page.getByTestId('presence').getByText('offline').waitFor();
    const card = action('fade');
    await card.getByLabel('level (required)').fill('70');
    await card.getByRole('button', { name: 'Invoke fade' }).click();
    const request = card.locator('.request[data-status="pending"]').first();
    await request.waitFor();
    const actionId = await request.getAttribute('data-action-id');
    await request.getByRole('button', { name: 'Cancel request' }).click();
    const cancelled = card.locator(`.request[data-action-id="${actionId}"]`);
    await cancelled.locator('[data-step="cancelled"]').waitFor();
    assert.deepEqual(await steps(cancelled), ['pending', 'cancelled']);
    const record = (await running.hub.handle(
      { operation: 'queryaction', thingId: LAMP, actionId: actionId! },
      { client: { id: 'operator-1', role: 'operator' } },
    )) as {
      ok: boolean;
      output: { status: string };
    };
    assert.equal(record.output.status, 'cancelled', 'the hub cancelled it');
    device = await connect();
  });

  it('logs events live, shows the raw TD, and lets an operator edit tags', async () => {
    await device!.emit(LAMP, 'overheated', 81.5);
    await page.locator('[data-event="overheated"]').getByText('81.5').waitFor();
    await page.getByText(/^Raw JSON/).click();
    const raw = JSON.parse((await page.getByTestId('raw-td').textContent()) ?? '{}') as { id: string };
    assert.equal(raw.id, LAMP);
    await page.getByRole('button', { name: 'Edit tags' }).click();
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.getByLabel('Key of tag 1').fill('floor');
    await page.getByLabel('Value of tag 1').fill('3');
    await page.getByRole('button', { name: 'Save tags' }).click();
    await page.getByTestId('tags').getByText('floor: 3').waitFor();
    const twin = await running.hub.handle({ operation: 'readtwin', thingId: LAMP }, { client: { id: 'admin-1', role: 'admin' } });
    assert.deepEqual((twin as { output: { tags: unknown } }).output.tags, { floor: '3' });
  });

  it('filters the fleet by tag, @type, agent, title and fleet query, and shows directory activity as it happens', async () => {
    const other = await connect(tokens.otherAgent);
    await other.register({ ...lampTd('urn:dev:ops:dashboard-fan'), title: 'Fan', '@type': 'Fan' });
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByTestId('fleet-count').getByText('Twins 1–2 of 2').waitFor();
    const filter = async (label: string, text: string, expected: string) => {
      await page.getByLabel(label).fill(text);
      await page.getByTestId('fleet-count').getByText(expected).waitFor();
      await page.getByLabel(label).fill('');
      await page.getByTestId('fleet-count').getByText('Twins 1–2 of 2').waitFor();
    };
    await filter('Tags (key:value, …)', 'floor:3', 'Twins 1–1 of 1');
    await filter('@type', 'Fan', 'Twins 1–1 of 1');
    await filter('Agent', 'agent-2', 'Twins 1–1 of 1');
    await filter('Title contains', 'zzz', 'No twins match.');
    await filter('Query', '@.reported.brightness == 55', 'Twins 1–1 of 1');
    await page.getByLabel('Query').fill('@.reported.brightness >');
    await page.locator('.problem[role="alert"]').waitFor();
    await page.getByLabel('Query').fill('');

    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('[data-kind="thing_created"]').getByText('Fan').waitFor();
    await other.unregister('urn:dev:ops:dashboard-fan');
    await page.locator('[data-kind="thing_deleted"]').getByText('urn:dev:ops:dashboard-fan').waitFor();
    await other.register({ ...lampTd('urn:dev:ops:dashboard-fan'), title: 'Fan', '@type': 'Fan' });
    await other.register({ ...lampTd('urn:dev:ops:dashboard-fan'), title: 'Ceiling fan', '@type': 'Fan' });
    await page.locator('[data-kind="thing_updated"]').getByText('Ceiling fan').waitFor();

    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByTestId('fleet-count').getByText('Twins 1–2 of 2').waitFor();
    await screenshot(page, 'dashboard-fleet.png');
  });

  it('fits a phone-width screen (fleet and twin view)', async () => {
    // The same tab (the token lives in its sessionStorage), narrowed to a phone's width.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(`${running.urls.http}/ui/`);
      await page.getByTestId('fleet-count').getByText('Twins 1–2 of 2').waitFor();
      assert.ok(await fitsWidth(page), 'the fleet needs no sideways scrolling (its table scrolls inside its box)');
      await page.goto(`${running.urls.http}${twinPath(LAMP)}`);
      await page.locator('[data-property="brightness"]').waitFor();
      assert.ok(await fitsWidth(page), 'the twin view needs no sideways scrolling');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('shows a viewer no write, invoke, cancel or tag controls', async () => {
    await signOut(page);
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('twinhub.token')),
      null,
      'sign-out forgets the token',
    );
    await signIn(page, running.urls.http, tokens.viewer, 'viewer-1');
    await page.goto(`${running.urls.http}${twinPath(LAMP)}`);
    await property('brightness').getByTestId('reported').getByText('55', { exact: true }).waitFor();
    await action('fade').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Write' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /^Invoke/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Edit tags' }).count(), 0);
    assert.equal(await page.locator('form.write, form.invoke').count(), 0);
    await page.getByTestId('tags').getByText('floor: 3').waitFor();
  });

  it('lets an admin create an agent token (shown once) that an agent then connects with', async () => {
    await signOut(page);
    await signIn(page, running.urls.http, tokens.admin, 'admin-1');
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByLabel('Client id').fill('ui-agent');
    await page.getByLabel('Role').selectOption('agent');
    await page.getByRole('button', { name: 'Create token' }).click();
    const created = page.getByTestId('new-token');
    await created.waitFor();
    const token = await created.getByLabel('New token').inputValue();
    assert.match(token, /\S{20,}/);
    await page.locator('tr[data-client-id="ui-agent"]').waitFor();

    const uiAgent = await connect(token);
    await uiAgent.register({ ...lampTd('urn:dev:ops:ui-agent-lamp'), title: 'UI agent lamp' });
    const row = page.locator('tr[data-agent-id="ui-agent"]');
    await row.getByText('online').waitFor();

    await created.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.getByTestId('new-token').count(), 0, 'the token is not shown again');
    await page.reload();
    await page.locator('tr[data-client-id="ui-agent"]').waitFor();
    assert.ok(!(await page.content()).includes(token), 'no page shows the secret again');
  });

  it('logged no console error and no uncaught exception', () => {
    assert.deepEqual(browser.errors, []);
  });
});
