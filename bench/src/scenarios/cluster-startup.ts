// Scenario 7, cluster start-up: a 3-node NATS cluster (R3) filled with N twins, one `twinhub serve`
// started on it, then a second instance joining while the first runs: time from process start to
// ready, and memory. The same twins on LevelDB (first start and restart) for comparison.

import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { forkProc, nextMessage, removeTempDir, stop, tempDir } from '../lib/children.js';
import { down, type Running, up } from '../lib/cli-hub.js';
import { PROFILE_DIR } from '../lib/hub-handle.js';
import { natsMissing, startBenchNats } from '../lib/nats.js';
import type { ScenarioReport, Target } from '../lib/report.js';
import { int, mib } from '../lib/stats.js';
import type { ScenarioContext } from './context.js';

interface StartFigures {
  readyMs: number;
  healthReadyMs: number;
  rssBytes: number;
  peakRssBytes: number;
  listed: number;
}

interface SizeResult {
  twins: number;
  level: { fillMs: number; first: StartFigures; restart: StartFigures };
  nats?: { fillMs: number; commits: number; storeJsonBytes: number; first: StartFigures; joining: StartFigures };
}

const figures = (r: Running): StartFigures => ({
  readyMs: r.readyMs,
  healthReadyMs: r.healthReadyMs,
  rssBytes: r.rssBytes,
  peakRssBytes: r.peakRssBytes,
  listed: r.listed,
});

/** Fills a store through procs/scale-setup.ts; resolves with what it reported. */
async function fill(args: string[]): Promise<{ ms: number; bytes: number; commits: number }> {
  const setup: ChildProcess = forkProc('scale-setup', args);
  try {
    return await nextMessage<{ ms: number; bytes: number; commits: number }>(setup, 'done', 600_000);
  } finally {
    await stop(setup);
  }
}

async function levelStarts(twins: number, profile: boolean): Promise<SizeResult['level']> {
  const dir = await tempDir('cluster-startup-level');
  try {
    const filled = await fill([dir, String(twins)]);
    const first = await up(['--data', dir], undefined, profile);
    await down(first);
    const restart = await up(['--data', dir], first.token, profile);
    await down(restart);
    return { fillMs: filled.ms, first: figures(first), restart: figures(restart) };
  } finally {
    await removeTempDir(dir);
  }
}

async function natsStarts(twins: number, profile: boolean): Promise<NonNullable<SizeResult['nats']>> {
  const nats = await startBenchNats(3);
  const running: Running[] = [];
  try {
    const filled = await fill(['--nats', JSON.stringify(nats.servers), '3', String(twins)]);
    const storeArgs = nats.servers.flatMap((url) => ['--nats', url]);
    const first = await up(storeArgs, undefined, profile);
    running.push(first);
    // The second instance joins while the first serves: it replays the log and loads the twins.
    const joining = await up(storeArgs, first.token, profile);
    running.push(joining);
    return { fillMs: filled.ms, commits: filled.commits, storeJsonBytes: filled.bytes, first: figures(first), joining: figures(joining) };
  } finally {
    for (const hub of running) await down(hub);
    await nats.stop();
  }
}

export async function clusterStartupScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const sizes = ctx.quick ? [10_000] : [10_000, 100_000];
  if (ctx.profile) await mkdir(PROFILE_DIR, { recursive: true });
  const missing = natsMissing();
  if (missing) ctx.log(`  NATS part skipped: ${missing}`);
  const results: SizeResult[] = [];
  for (const twins of sizes) {
    const level = await levelStarts(twins, ctx.profile);
    ctx.log(`  ${int(twins)} twins on LevelDB: restart ready in ${int(level.restart.readyMs)} ms, RSS ${mib(level.restart.rssBytes)}`);
    const nats = missing ? undefined : await natsStarts(twins, ctx.profile);
    if (nats)
      ctx.log(
        `  ${int(twins)} twins on NATS R3 (filled in ${int(nats.fillMs)} ms, ${nats.commits} commits): first instance ready in ${int(nats.first.readyMs)} ms, joining instance in ${int(nats.joining.readyMs)} ms, RSS ${mib(nats.joining.rssBytes)}`,
      );
    results.push({ twins, level, ...(nats ? { nats } : {}) });
  }
  const row = (twins: number, store: string, start: string, f: StartFigures) => [
    int(twins),
    store,
    start,
    int(f.readyMs),
    int(f.healthReadyMs),
    mib(f.rssBytes),
    mib(f.peakRssBytes),
    int(f.listed),
  ];
  const rows = results.flatMap((r) => [
    row(r.twins, 'LevelDB', 'restart', r.level.restart),
    ...(r.nats
      ? [row(r.twins, 'NATS R3 (3 nodes)', 'first instance', r.nats.first), row(r.twins, 'NATS R3 (3 nodes)', 'second instance joins', r.nats.joining)]
      : [[int(r.twins), 'NATS R3', `skipped: ${missing}`, '–', '–', '–', '–', '–']]),
  ]);
  const largest = results[results.length - 1];
  const full = largest.twins >= 100_000;
  const targets: Target[] = [
    {
      target: 'an instance joining a cluster with 100k twins is ready in seconds (here: under 10 s)',
      measured: largest.nats ? `${int(largest.nats.joining.healthReadyMs)} ms (${int(largest.twins)} twins)` : 'skipped',
      met: full && largest.nats ? largest.nats.joining.healthReadyMs < 10_000 : undefined,
    },
    {
      target: 'joining instance vs LevelDB restart (ready time NATS / LevelDB)',
      measured: largest.nats
        ? `${(largest.nats.joining.healthReadyMs / largest.level.restart.healthReadyMs).toFixed(2)}× (${int(largest.twins)} twins)`
        : 'skipped',
      met: undefined,
    },
  ];
  return {
    scenario: 'cluster-startup',
    title: `7. Cluster start-up: a hub instance on ${sizes.map(int).join(' and ')} twins in NATS R3, against LevelDB`,
    params: { sizes },
    table: { headers: ['twins', 'store', 'start', 'URLs printed ms', '/health/ready ms', 'RSS', 'peak RSS', 'listed'], rows },
    targets,
    notes: [
      'Each store is filled straight through the storage API with the records of scenario 5 (a TD with 3 properties, 1 action, 1 event, and its state; lib/scale-records.ts). LevelDB: batches of 2,000 twins. NATS: a fresh 3-node cluster on 127.0.0.1, stream replicas 3, batches of 400 twins per commit (a commit is one message, under 1 MiB), 4 commits in flight.',
      'Times are from spawning `node packages/hub/dist/cli.js serve` (Node start-up and module loading included) to the printed URLs, and to the first 200 from GET /health/ready. RSS from /proc 0.5 s after ready.',
      'NATS: the first instance starts on the filled cluster (replays the commit log, loads the twins, creates the admin token); the second starts while the first runs, as an instance joining a cluster would. LevelDB: "restart" is the second start on the same folder (scenario 5’s figure).',
      `Fill times: ${results.map((r) => `${int(r.twins)} twins: LevelDB ${int(r.level.fillMs)} ms${r.nats ? `, NATS ${int(r.nats.fillMs)} ms (${r.nats.commits} commits, ${mib(r.nats.storeJsonBytes)} of record JSON)` : ''}`).join('; ')}.`,
    ],
    data: results,
  };
}
