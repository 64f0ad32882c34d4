// Scenario 5, scale: a fresh `twinhub serve` process (the real CLI) on a data folder holding N
// twins: time until it prints its URLs, resident memory once up, and again after a restart.

import { mkdir } from 'node:fs/promises';
import { forkProc, nextMessage, removeTempDir, stop, tempDir } from '../lib/children.js';
import { measure, type Start } from '../lib/cli-hub.js';
import { PROFILE_DIR } from '../lib/hub-handle.js';
import { int, mib } from '../lib/stats.js';
import type { ScenarioReport } from '../lib/report.js';
import type { ScenarioContext } from './context.js';

const GIB = 2 ** 30;

interface SizeResult {
  twins: number;
  setupMs: number;
  storeJsonBytes: number;
  first: Start;
  restart: Start;
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
      const first = await measure(['--data', dir], undefined, ctx.profile);
      const restart = await measure(['--data', dir], first.token, ctx.profile);
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
