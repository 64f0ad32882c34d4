// What the dashboard's browser tests share: headless Chromium (Debian's, driven by playwright-core;
// the tests skip with a clear message where it is absent), a page that records every console
// error, signing in through the UI, and device agents on @twinhub/client.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AgentClient, connectAgent } from '@twinhub/client';
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from './chromium.js';

const DIST = fileURLToPath(new URL('../../packages/dashboard/dist/index.html', import.meta.url));

/** `skip` for describe(): why the browser tests cannot run here, or false. */
export const browserSkip: string | false = chromiumSkip
  ? chromiumSkip
  : !existsSync(DIST)
    ? 'the dashboard is not built: run `npm run build` (npm test does) before the browser tests'
    : false;

/**
 * Where the screenshots go: a temporary folder, so a test run leaves the tree clean; with
 * TWINHUB_SCREENSHOTS=record, the README's own (docs/images/), to refresh them on purpose.
 */
export const IMAGES =
  process.env.TWINHUB_SCREENSHOTS === 'record' ? fileURLToPath(new URL('../../docs/images/', import.meta.url)) : join(tmpdir(), 'twinhub-screenshots');

export interface Browser {
  context: BrowserContext;
  /** A new page at 1280×800 whose console errors and uncaught exceptions are recorded. */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  /** Every console error and page exception so far, as text. */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'twinhub-dashboard-'));
  // --user-data-dir is launchPersistentContext's first argument: a fresh profile, removed in close().
  const context = await launchChromium(profile, { viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => errors.push(`exception: ${error.message}`));
    // window.confirm() before revoking or deleting: tests mean it.
    page.on('dialog', (dialog) => void dialog.accept());
  };
  return {
    context,
    errors,
    async page(viewport = { width: 1280, height: 800 }) {
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      // A step that has not happened in 10 s will not: fail it there (the whole file has 120 s).
      page.setDefaultTimeout(10_000);
      watch(page);
      return page;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the hub's root as a browser does (redirected to /ui/) and signs in with the token, by keyboard. */
export async function signIn(page: Page, hubUrl: string, token: string, expectedId: string): Promise<void> {
  await page.goto(`${hubUrl}/`);
  assert.equal(new URL(page.url()).pathname, '/ui/', 'GET / with Accept: text/html redirects to the dashboard');
  const field = page.getByLabel('Access token');
  await field.focus();
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.equal(await page.getByTestId('me-id').textContent(), expectedId);
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Access token').waitFor();
}

/** A device agent on @twinhub/client over WebSocket. */
export function agent(hubUrl: string, token: string): Promise<AgentClient> {
  return connectAgent({ url: hubUrl, token, onWarning: () => undefined, backoff: { initialMs: 50, maxMs: 500 } });
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(IMAGES, { recursive: true });
  const path = join(IMAGES, name);
  await page.screenshot({ path, fullPage: options.fullPage ?? false });
  return path;
}

/** Whether the page fits its viewport's width (no sideways scrolling of the whole page). */
export async function fitsWidth(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return root.scrollWidth <= root.clientWidth;
  });
}
