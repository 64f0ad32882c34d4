// Debian's Chromium for the browser tests, driven by playwright-core: where it is, the flags
// DEVELOPERS.md prescribes, and why a test must skip when it is absent.
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless, no sandbox (containers), no GPU, and nothing that would reach outside loopback. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** `skip` for describe(): why Chromium tests cannot run here, or false. */
export const chromiumSkip: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: apt-get install chromium (or run .ci/chromium.sh)`;

/** A browser with its own profile folder (a fresh `--user-data-dir`; the caller removes it). */
export function launchChromium(profileDir: string, options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, ...options });
}
