// A real `twinhub serve` process (the CLI) for the start-up scenarios: spawn it on a store (a data
// folder or NATS servers), time it until it printed its URLs, read its memory from /proc, stop it.

import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { spawnNode, stop } from './children.js';
import { PROFILE_DIR } from './hub-handle.js';

const CLI = fileURLToPath(new URL('../../../packages/hub/dist/cli.js', import.meta.url));

export interface Start {
  readyMs: number;
  rssBytes: number;
  peakRssBytes: number;
  /** X-Total-Count of GET /things: the hub really serves every twin. */
  listed: number;
  stopMs: number;
}

export async function procStatus(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** How long a start may take before it counts as failed, ms. */
export const START_TIMEOUT_MS = 120_000;

/**
 * A start timeout for a store of `twins` twins: 120 s plus 0.5 ms per twin (10 min more at 1M). A
 * start loads every twin (about 0.05 ms each at 100k): a tenfold margin, so only a hang fails it.
 */
export function startTimeoutMs(twins: number): number {
  return START_TIMEOUT_MS + twins * 0.5;
}

export interface StartOptions {
  /** Give up after this long, ms (default START_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Called every `everyMs` until the URLs are printed with the memory so far: a start that dies (out of memory) shows how far it got. */
  progress?: { everyMs: number; report(elapsedMs: number, memory: { rss: number; hwm: number }): void };
}

/** Starts the CLI and resolves once it printed its URLs (and, on a first start, the admin token). */
export async function startCli(
  storeArgs: string[],
  profile: boolean,
  options: StartOptions = {},
): Promise<{ child: ChildProcess; readyMs: number; token?: string; http: string }> {
  const t0 = performance.now();
  const timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS;
  const args = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    CLI,
    'serve',
    ...storeArgs,
    '--http-port',
    '0',
    '--mqtt-port',
    '0',
    '--host',
    '127.0.0.1',
  ];
  const child = spawnNode(args);
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const { progress } = options;
  const ticker =
    progress &&
    setInterval(() => {
      // The process may have just exited: then there is nothing left to read.
      procStatus(child.pid!).then(
        (memory) => progress.report(performance.now() - t0, memory),
        () => undefined,
      );
    }, progress.everyMs);
  return new Promise<{ child: ChildProcess; readyMs: number; token?: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`hub not ready within ${Math.round(timeoutMs / 1000)} s: ${err}`));
      void stop(child); // no caller gets it: it must not go on loading
    }, timeoutMs);
    child.once('exit', (code, signal) => reject(new Error(`hub exited (${code ?? signal}) during startup: ${err}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const http = /HTTP\s+(\S+)\/things/.exec(out)?.[1];
      if (!http || !/\n\s+data\s/.test(out)) return;
      const token = /only this once[^\n]*\n\s+(\S+)/.exec(out)?.[1];
      if (/First start/.test(out) && !token) return; // the token line is still on its way
      clearTimeout(timer);
      resolve({ child, readyMs: performance.now() - t0, http, ...(token ? { token } : {}) });
    });
  }).finally(() => clearInterval(ticker));
}

export interface Running {
  child: ChildProcess;
  /** Its HTTP base URL (`http://127.0.0.1:<port>`). */
  http: string;
  /** Spawn → URLs printed, ms (as the scale scenario measures it). */
  readyMs: number;
  /** Spawn → GET /health/ready answered 200 (asked once the URLs were printed), ms. */
  healthReadyMs: number;
  rssBytes: number;
  peakRssBytes: number;
  listed: number;
  token?: string;
}

/** Starts the CLI on a store and leaves it running: ready time, RSS 0.5 s after, and how many twins it lists. */
export async function up(storeArgs: string[], token: string | undefined, profile: boolean, options: StartOptions = {}): Promise<Running> {
  const t0 = performance.now();
  const { child, readyMs, token: printed, http } = await startCli(storeArgs, profile, options);
  let healthReadyMs = Number.NaN;
  for (let attempt = 0; attempt < 500 && Number.isNaN(healthReadyMs); attempt++) {
    const res = await fetch(`${http}/health/ready`);
    await res.arrayBuffer();
    if (res.status === 200) healthReadyMs = performance.now() - t0;
    else await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const bearer = token ?? printed;
  await new Promise((resolve) => setTimeout(resolve, 500)); // let startup garbage settle
  const { rss, hwm } = await procStatus(child.pid!);
  let listed = -1;
  if (bearer) {
    const res = await fetch(`${http}/things?limit=1`, { headers: { Authorization: `Bearer ${bearer}` } });
    await res.arrayBuffer();
    listed = Number(res.headers.get('x-total-count') ?? (res.status === 200 ? 0 : -1));
  }
  return { child, http, readyMs, healthReadyMs, rssBytes: rss, peakRssBytes: hwm, listed, ...(bearer ? { token: bearer } : {}) };
}

/** Stops a CLI hub; resolves with how long it took, ms. */
export async function down(running: Running): Promise<number> {
  const t0 = performance.now();
  await stop(running.child, 30_000);
  return performance.now() - t0;
}

/** One start of the CLI on a store, then a stop: what the scale scenario records. */
export async function measure(
  storeArgs: string[],
  token: string | undefined,
  profile: boolean,
  options: StartOptions = {},
): Promise<{ start: Start; token?: string }> {
  const running = await up(storeArgs, token, profile, options);
  const stopMs = await down(running);
  const { readyMs, rssBytes, peakRssBytes, listed } = running;
  return { start: { readyMs, rssBytes, peakRssBytes, listed, stopMs }, ...(running.token ? { token: running.token } : {}) };
}
