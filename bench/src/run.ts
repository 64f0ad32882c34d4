// `npm run bench [-- --quick] [--only ingest,e2e] [--profile] [--scale 1m]`: runs the scenarios one after the
// other, each with its own hub and load processes, prints the figures, and writes
// bench/results/<scenario>[.quick].json and the generated block of bench/RESULTS.md.

import { parseArgs } from 'node:util';
import { cleanupAll } from './lib/children.js';
import { outputDir, renderScenario, runMeta, updateResultsMd, writeResult, type ScenarioReport } from './lib/report.js';
import { actionsScenario } from './scenarios/actions.js';
import { clusterScenario } from './scenarios/cluster.js';
import { clusterStartupScenario } from './scenarios/cluster-startup.js';
import type { ScenarioContext } from './scenarios/context.js';
import { directoryScenario } from './scenarios/directory.js';
import { e2eScenario } from './scenarios/e2e.js';
import { historyScenario } from './scenarios/history.js';
import { ingestScenario } from './scenarios/ingest.js';
import { jobsScenario } from './scenarios/jobs.js';
import { queryScenario } from './scenarios/query.js';
import { scaleScenario } from './scenarios/scale.js';

const SCENARIOS: Record<string, (ctx: ScenarioContext) => Promise<ScenarioReport>> = {
  ingest: ingestScenario,
  e2e: e2eScenario,
  directory: directoryScenario,
  actions: actionsScenario,
  scale: scaleScenario,
  jobs: jobsScenario,
  query: queryScenario,
  history: historyScenario,
  cluster: clusterScenario,
  'cluster-startup': clusterStartupScenario,
};

const args = process.argv.slice(2);
const { values } = parseArgs({
  args,
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    profile: { type: 'boolean' },
    scale: { type: 'string' },
    record: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    `Usage: npm run bench [-- --quick] [--only ${Object.keys(SCENARIOS).join(',')}] [--profile] [--scale <twins>] [--record]\n` +
      '  --scale adds a store of that many twins to the scale scenario (250000, 500k, 1m; up to 10m): minutes of fill and start at 1m\n' +
      '  --record writes the figures to the tracked bench/results and bench/RESULTS.md (default: bench/out/, ignored by git)\n',
  );
  process.exit(0);
}
const names = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
for (const name of names) if (!SCENARIOS[name]) throw new Error(`unknown scenario '${name}'; known: ${Object.keys(SCENARIOS).join(', ')}`);

const MAX_SCALE = 10_000_000;
/** `--scale`: a twin count, digits with an optional k (thousand) or m (million) suffix. */
function parseTwinCount(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(text.trim().replaceAll('_', ''));
  const count = match ? Number(match[1]) * { '': 1, k: 1e3, m: 1e6 }[match[2].toLowerCase() as '' | 'k' | 'm'] : Number.NaN;
  if (!Number.isInteger(count) || count < 1 || count > MAX_SCALE) {
    process.stderr.write(`--scale '${text}': expected a whole number of twins from 1 to 10m, e.g. 250000, 500k or 1m\n`);
    process.exit(2);
  }
  return count;
}
const scaleSize = values.scale === undefined ? undefined : parseTwinCount(values.scale);
if (scaleSize !== undefined && !names.includes('scale')) process.stderr.write('note: --scale only changes the scale scenario, which this run leaves out\n');

const command =
  process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
    : `node bench/dist/run.js ${args.join(' ')}`.trim();
const meta = runMeta(values.quick ? 'quick' : 'full', command);
const out = outputDir(values.record ?? false);
const ctx: ScenarioContext = {
  quick: values.quick ?? false,
  profile: values.profile ?? false,
  scaleSize,
  log: (line) => process.stdout.write(`${line}\n`),
};

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping every benchmark process\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

const started = performance.now();
const failures: string[] = [];
process.stdout.write(
  `twinhub benchmarks (${meta.mode}): ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.memoryGiB} GiB, Node ${meta.node}, commit ${meta.commit}${meta.dirty ? '+' : ''}\n`,
);
try {
  for (const name of names) {
    const t0 = performance.now();
    process.stdout.write(`\n== ${name}\n`);
    try {
      const report = await SCENARIOS[name](ctx);
      writeResult(out, meta, report);
      process.stdout.write(`\n${renderScenario(report)}\n(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    } catch (error) {
      failures.push(name);
      process.stderr.write(`scenario ${name} failed: ${(error as Error).stack ?? String(error)}\n`);
    } finally {
      await cleanupAll();
    }
  }
  updateResultsMd(out, meta);
} finally {
  await cleanupAll();
}
const where = values.record ? 'bench/' : 'bench/out/ (not tracked; --record writes bench/)';
process.stdout.write(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s; results and RESULTS.md in ${where}\n`);
if (failures.length > 0) {
  process.stderr.write(`failed: ${failures.join(', ')}\n`);
  process.exitCode = 1;
}
