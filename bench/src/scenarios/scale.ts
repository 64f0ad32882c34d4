// Scenario 5, scale: a fresh `twinhub serve` process (the real CLI) on a data folder holding N
// twins: time until it prints its URLs, resident memory once up, and again after a restart.

import { mkdir, readFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { forkProc, nextMessage, removeTempDir, spawnNode, stop, tempDir } from '../lib/children.js';
import { PROFILE_DIR } from '../lib/hub-handle.js';
import { int, mib } from '../lib/stats.js';
import type { ScenarioReport } from '../lib/report.js';
import type { ScenarioContext } from './context.js';

const CLI = fileURLToPath(new URL('../../../packages/hub/dist/cli.js', import.meta.url));
const GIB = 2 ** 30;

interface Start {
  readyMs: number;
  rssBytes: number;
  peakRssBytes: number;
  /** X-Total-Count of GET /things: the hub really serves every twin. */
  listed: number;
  stopMs: number;
}

interface SizeResult {
  twins: number;
  setupMs: number;
  storeJsonBytes: number;
  first: Start;
  restart: Start;
}

async function procStatus(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** Starts the CLI and resolves once it printed its URLs (and, on a first start, the admin token). */
async function startCli(dataDir: string, profile: boolean): Promise<{ child: ChildProcess; readyMs: number; token?: string; http: string }> {
  const t0 = performance.now();
  const args = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    CLI,
    'serve',
    '--data',
    dataDir,
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
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub not ready within 120 s: ${err}`)), 120_000);
    child.once('exit', (code) => reject(new Error(`hub exited (${code}) during startup: ${err}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const http = /HTTP\s+(\S+)\/things/.exec(out)?.[1];
      if (!http || !/\n\s+data\s/.test(out)) return;
      const token = /only this once[^\n]*\n\s+(\S+)/.exec(out)?.[1];
      if (/First start/.test(out) && !token) return; // the token line is still on its way
      clearTimeout(timer);
      resolve({ child, readyMs: performance.now() - t0, http, ...(token ? { token } : {}) });
    });
  });
}

async function measure(dataDir: string, token: string | undefined, profile: boolean): Promise<{ start: Start; token?: string }> {
  const { child, readyMs, token: printed, http } = await startCli(dataDir, profile);
  const bearer = token ?? printed;
  await new Promise((resolve) => setTimeout(resolve, 500)); // let startup garbage settle
  const { rss, hwm } = await procStatus(child.pid!);
  let listed = -1;
  if (bearer) {
    const res = await fetch(`${http}/things?limit=1`, { headers: { Authorization: `Bearer ${bearer}` } });
    await res.arrayBuffer();
    listed = Number(res.headers.get('x-total-count') ?? (res.status === 200 ? 0 : -1));
  }
  const t0 = performance.now();
  await stop(child, 30_000);
  return { start: { readyMs, rssBytes: rss, peakRssBytes: hwm, listed, stopMs: performance.now() - t0 }, ...(bearer ? { token: bearer } : {}) };
}

export async function scaleScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const sizes = ctx.quick ? [0, 1000, 10_000] : [0, 10_000, 100_000];
  if (ctx.profile) await mkdir(PROFILE_DIR, { recursive: true });
  const results: SizeResult[] = [];
  for (const twins of sizes) {
    const dir = await tempDir('scale');
    try {
      const setup = forkProc('scale-setup', [dir, String(twins)]);
      const done = await nextMessage<{ ms: number; bytes: number }>(setup, 'done', 300_000);
      await stop(setup);
      const first = await measure(dir, undefined, ctx.profile);
      const restart = await measure(dir, first.token, ctx.profile);
      results.push({ twins, setupMs: done.ms, storeJsonBytes: done.bytes, first: first.start, restart: restart.start });
      ctx.log(
        `  ${int(twins)} twins: ready in ${int(first.start.readyMs)} ms (restart ${int(restart.start.readyMs)} ms), RSS ${mib(restart.start.rssBytes)}, listed ${restart.start.listed}`,
      );
    } finally {
      await removeTempDir(dir);
    }
  }
  const empty = results[0];
  const perTwin = (r: SizeResult) => (r.twins === 0 ? undefined : (r.restart.rssBytes - empty.restart.rssBytes) / r.twins);
  const largest = results[results.length - 1];
  const full = largest.twins >= 100_000;
  return {
    scenario: 'scale',
    title: `5. Scale: a fresh hub process (twinhub serve) on ${sizes
      .filter((s) => s > 0)
      .map(int)
      .join(' and ')} stored twins`,
    params: { sizes },
    table: {
      headers: ['twins', 'first start ms', 'restart ms', 'RSS after restart', 'peak RSS', 'RSS per twin (over empty)', 'stop ms', 'listed'],
      rows: results.map((r) => [
        int(r.twins),
        int(r.first.readyMs),
        int(r.restart.readyMs),
        mib(r.restart.rssBytes),
        mib(r.restart.peakRssBytes),
        perTwin(r) === undefined ? '–' : `${(perTwin(r)! / 1024).toFixed(1)} KiB`,
        int(r.restart.stopMs),
        int(r.restart.listed),
      ]),
    },
    targets: [
      {
        target: '100k twins under 1 GiB RSS',
        measured: `${mib(largest.restart.peakRssBytes)} peak, ${mib(largest.restart.rssBytes)} after start (${int(largest.twins)} twins)`,
        met: full ? largest.restart.peakRssBytes < GIB : undefined,
      },
      {
        target: '100k twins: restart under 5 s',
        measured: `${int(largest.restart.readyMs)} ms (${int(largest.twins)} twins)`,
        met: full ? largest.restart.readyMs < 5000 : undefined,
      },
    ],
    notes: [
      'Each store is filled directly through the storage API (bucket layout of the core), then `node packages/hub/dist/cli.js serve` is spawned on it: ready = spawn until it printed its URLs (includes Node start-up and module loading). "restart" is the second start on the same folder; RSS is read from /proc 0.5 s after ready.',
      `Each twin: a TD with 3 properties, 1 action, 1 event (~${int(largest.twins ? largest.storeJsonBytes / largest.twins : 0)} bytes of JSON with its state). Targets are n/a in quick mode (it stops at 10k).`,
    ],
    data: results,
  };
}
