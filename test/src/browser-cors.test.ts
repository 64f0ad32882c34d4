// A real browser (Debian's Chromium driven by playwright-core) on pages served from other origins
// than the hub's: CORS-preflighted fetches, SSE with ?access_token= and WebSockets work from an
// origin on --cors-origin and are blocked from one that is not.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningHub } from '@twinhub/hub';
import { lampTd } from '@twinhub/testkit';
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from './chromium.js';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const skip = chromiumSkip;
const LAMP = 'urn:dev:ops:browser-lamp';
/** The browser globals the page scripts touch: this project compiles without the DOM lib. */
type PageGlobals = { document: { getElementById(id: string): { textContent: string | null } }; sseValue: Promise<string> };
const LAMP_PATH = `/things/${encodeURIComponent(LAMP)}`;

/** A page server: each port is an origin of its own, distinct from the hub's. */
async function servePage(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>twinhub CORS page</title><pre id="out"></pre>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** What a page learns from a WebSocket: opened and answered, or refused (no open, close 1006). */
function wsFromPage(page: Page, url: string, token: string): Promise<{ opened: boolean; status?: number; code?: number }> {
  return page.evaluate(
    ({ url, token }) =>
      new Promise<{ opened: boolean; status?: number; code?: number }>((resolve) => {
        const ws = new WebSocket(url, ['twinhub.v1', `bearer.${token}`]);
        let opened = false;
        ws.onopen = () => {
          opened = true;
          ws.send(JSON.stringify({ operation: 'listTDs', correlationId: '1' }));
        };
        ws.onmessage = (message) => {
          resolve({ opened, status: (JSON.parse(String(message.data)) as { status: number }).status });
          ws.close();
        };
        ws.onclose = (event) => resolve({ opened, code: event.code });
      }),
    { url, token },
  );
}

describe('a browser page on another origin', { skip }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let profile: string;
  let allowedPage: Awaited<ReturnType<typeof servePage>>;
  let otherPage: Awaited<ReturnType<typeof servePage>>;
  let running: RunningHub;
  let tokens: Tokens;
  let browser: BrowserContext;
  let page: Page;

  before(async () => {
    data = await tempDataDir();
    profile = await mkdtemp(join(tmpdir(), 'twinhub-chromium-'));
    allowedPage = await servePage();
    otherPage = await servePage();
    running = await startTestHub(data.dir, { mqtt: false, corsOrigins: [allowedPage.origin] });
    tokens = await createTokens(running);
    const registered = await fetch(`${running.urls.http}${LAMP_PATH}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${tokens.agent}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(lampTd(LAMP)),
    });
    assert.equal(registered.status, 201);
    // --user-data-dir is launchPersistentContext's first argument: a fresh profile, removed in after().
    browser = await launchChromium(profile);
    page = await browser.newPage();
    await page.goto(allowedPage.origin);
  });

  after(async () => {
    await browser?.close();
    await running?.close();
    await allowedPage?.close();
    await otherPage?.close();
    await data?.remove();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('lists Things with a bearer token (a preflighted request) and reads the exposed X-Total-Count', async () => {
    const result = await page.evaluate(
      async ({ hub, token }) => {
        const response = await fetch(`${hub}/things`, { headers: { Authorization: `Bearer ${token}` } });
        const things = (await response.json()) as { id: string }[];
        (globalThis as unknown as PageGlobals).document.getElementById('out').textContent = things.map((thing) => thing.id).join('\n');
        return { status: response.status, total: response.headers.get('X-Total-Count'), ids: things.map((thing) => thing.id) };
      },
      { hub: running.urls.http, token: tokens.viewer },
    );
    assert.deepEqual(result, { status: 200, total: '1', ids: [LAMP] });
    assert.equal(await page.textContent('#out'), LAMP);
  });

  it('writes a property with PUT and JSON, and reads the Location of the queued write', async () => {
    const result = await page.evaluate(
      async ({ hub, path, token }) => {
        const response = await fetch(`${hub}${path}/properties/brightness`, {
          method: 'PUT',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(42),
        });
        return { status: response.status, location: response.headers.get('Location'), record: (await response.json()) as { status: string } };
      },
      { hub: running.urls.http, path: LAMP_PATH, token: tokens.operator },
    );
    assert.equal(result.status, 202);
    assert.match(result.location ?? '', /\/properties\/brightness\/writes\//);
    assert.equal(result.record.status, 'pending');
  });

  it('receives an SSE event over EventSource with ?access_token=', async () => {
    await page.evaluate(
      ({ url }) =>
        new Promise<void>((resolve, reject) => {
          const source = new EventSource(url);
          (globalThis as unknown as PageGlobals).sseValue = new Promise((received) => {
            source.onmessage = (event) => {
              received(String(event.data));
              source.close();
            };
          });
          source.onopen = () => resolve();
          source.onerror = () => reject(new Error('EventSource failed'));
        }),
      { url: `${running.urls.http}${LAMP_PATH}/properties/brightness/observe?access_token=${tokens.viewer}` },
    );
    const reported = await fetch(`${running.urls.http}/agent${LAMP_PATH}/properties/brightness`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${tokens.agent}`, 'Content-Type': 'application/json' },
      body: '77',
    });
    assert.equal(reported.status, 204);
    const value = await page.evaluate(() => (globalThis as unknown as PageGlobals).sseValue);
    assert.equal(value, '77');
  });

  it('opens a WebSocket from the allowed origin', async () => {
    assert.deepEqual(await wsFromPage(page, running.urls.ws, tokens.viewer), { opened: true, status: 200 });
  });

  it('is blocked from an origin not on the list: fetch fails, the WebSocket is refused', async () => {
    const other = await browser.newPage();
    try {
      await other.goto(otherPage.origin);
      const fetched = await other.evaluate(
        ({ hub, token }) =>
          fetch(`${hub}/things`, { headers: { Authorization: `Bearer ${token}` } }).then(
            (response) => `answered ${response.status}`,
            (error: Error) => error.name,
          ),
        { hub: running.urls.http, token: tokens.viewer },
      );
      assert.equal(fetched, 'TypeError', 'the browser refuses the request after the 403 preflight');
      assert.deepEqual(await wsFromPage(other, running.urls.ws, tokens.viewer), { opened: false, code: 1006 });
    } finally {
      await other.close();
    }
  });
});
