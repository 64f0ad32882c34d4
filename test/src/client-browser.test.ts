// The browser build of @twinhub/client: its module graph has no bare or node: import (checked on the
// files), and headless Chromium imports it from a page on another origin and reads and observes a
// property through a live hub (WebSocket with the bearer subprotocol, the origin on --cors-origin).

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectAgent, type AgentClient } from '@twinhub/client';
import type { RunningHub } from '@twinhub/hub';
import { lampTd } from '@twinhub/testkit';
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from './chromium.js';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const skip = chromiumSkip;
const DIST = fileURLToPath(new URL('../../packages/client/dist/', import.meta.url));
const LAMP = 'urn:dev:ops:client-browser-lamp';

/** Every import specifier of the module graph from `entry` (static `import`/`export … from`). */
async function moduleGraph(entry: string): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const visit = async (file: string) => {
    if (graph.has(file)) return;
    const source = await readFile(file, 'utf8');
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2]);
    graph.set(file, specifiers);
    for (const specifier of specifiers) if (specifier.startsWith('.')) await visit(resolve(dirname(file), specifier));
  };
  await visit(entry);
  return graph;
}

describe('the browser build of @twinhub/client', () => {
  it('imports only its own relative modules: no ws, no mqtt, no node:*, no core runtime', async () => {
    const graph = await moduleGraph(join(DIST, 'browser.js'));
    const outside = [...graph].flatMap(([file, specifiers]) =>
      specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('../')).map((s) => `${file}: ${s}`),
    );
    assert.deepEqual(outside, []);
    assert.ok(graph.size >= 5, `the graph was walked (${graph.size} files)`);
    assert.ok(![...graph.keys()].some((file) => /mqtt|ws-node|node-wot/.test(file)), [...graph.keys()].join());
  });
});

describe('@twinhub/client in headless Chromium', { skip }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let profile: string;
  let pages: http.Server;
  let origin: string;
  let running: RunningHub;
  let tokens: Tokens;
  let agent: AgentClient;
  let browser: BrowserContext;
  let page: Page;

  before(async () => {
    data = await tempDataDir();
    profile = await mkdtemp(join(tmpdir(), 'twinhub-chromium-'));
    // The page and the package's dist/ served from one origin, as a web app would bundle or host it.
    pages = http.createServer(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path.startsWith('/client/')) {
        const file = normalize(join(DIST, path.slice('/client/'.length)));
        if (!file.startsWith(DIST) || !file.endsWith('.js')) return void res.writeHead(404).end();
        try {
          res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(await readFile(file));
        } catch {
          res.writeHead(404).end();
        }
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<!doctype html><title>twinhub client</title>');
    });
    await new Promise<void>((done) => pages.listen(0, '127.0.0.1', done));
    origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    running = await startTestHub(data.dir, { mqtt: false, corsOrigins: [origin] });
    tokens = await createTokens(running);
    agent = await connectAgent({ url: running.urls.ws, token: tokens.agent });
    await agent.register(lampTd(LAMP));
    await agent.report(LAMP, { brightness: 64 });
    browser = await launchChromium(profile);
    page = await browser.newPage();
    await page.goto(origin);
  });

  after(async () => {
    await browser?.close();
    await agent?.close();
    await running?.close();
    await new Promise((done) => pages?.close(done));
    await data?.remove();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('imports the browser build, reads a property and observes a change through the hub', async () => {
    const observed = page.evaluate(
      async ({ hub, token, thingId }) => {
        const client = (await import('/client/browser.js' as string)) as typeof import('@twinhub/client/browser');
        const consumer = await client.connectConsumer({ url: hub, token });
        const read = await consumer.read(thingId, 'brightness');
        let resolveChange!: (value: unknown) => void;
        const change = new Promise<unknown>((resolve) => (resolveChange = resolve));
        await consumer.observe(thingId, 'brightness', (value) => value === 65 && resolveChange(value));
        (globalThis as unknown as { observing: boolean }).observing = true;
        const missing = await consumer.read('urn:dev:ops:none', 'brightness').catch((error: unknown) => error);
        const changed = await change;
        await consumer.close();
        return { read, changed, error: missing instanceof client.TwinhubError ? missing.status : String(missing) };
      },
      { hub: running.urls.http, token: tokens.viewer, thingId: LAMP },
    );
    await page.waitForFunction(() => (globalThis as unknown as { observing?: boolean }).observing === true);
    await agent.report(LAMP, { brightness: 65 });
    assert.deepEqual(await observed, { read: 64, changed: 65, error: 404 });
  });

  it('falls back to the envelope over HTTP (SSE + POST) when the page has no WebSocket: reads, observes, invokes', async () => {
    const fallback = await browser.newPage();
    await fallback.goto(origin);
    // As behind a proxy that refuses upgrades: no WebSocket at all.
    await fallback.evaluate(() => {
      (globalThis as { WebSocket?: unknown }).WebSocket = undefined;
    });
    agent.onAction(LAMP, 'fade', async (input) => ({ reached: (input as { level: number }).level }));
    const observed = fallback.evaluate(
      async ({ hub, token, thingId }) => {
        const client = (await import('/client/browser.js' as string)) as typeof import('@twinhub/client/browser');
        const consumer = await client.connectConsumer({ url: hub, token });
        const read = await consumer.read(thingId, 'brightness');
        let resolveChange!: (value: unknown) => void;
        const change = new Promise<unknown>((resolve) => (resolveChange = resolve));
        await consumer.observe(thingId, 'brightness', (value) => value === 66 && resolveChange(value));
        (globalThis as unknown as { observing: boolean }).observing = true;
        const changed = await change;
        const invoked = await (await consumer.invoke(thingId, 'fade', { level: 7 })).result(10_000);
        const refused = await client
          .connectConsumer({ url: hub, token: 'th_not-a-token' })
          .then(() => 'connected')
          .catch((error: unknown) => (error instanceof client.TwinhubError ? error.status : String(error)));
        await consumer.close();
        return { read, changed, invoked, refused };
      },
      { hub: running.urls.http, token: tokens.operator, thingId: LAMP },
    );
    await fallback.waitForFunction(() => (globalThis as unknown as { observing?: boolean }).observing === true);
    await agent.report(LAMP, { brightness: 66 });
    assert.deepEqual(await observed, { read: 65, changed: 66, invoked: { reached: 7 }, refused: 401 });
    await fallback.close();
  });
});
