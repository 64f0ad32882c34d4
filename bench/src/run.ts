// `npm run bench [-- --quick] [--only ingest,e2e] [--profile]`: runs the scenarios one after the
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
    record: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    `Usage: npm run bench [-- --quick] [--only ${Object.keys(SCENARIOS).join(',')}] [--profile] [--record]\n` +
      '  --record writes the figures to the tracked bench/results and bench/RESULTS.md (default: bench/out/, ignored by git)\n',
  );
  process.exit(0);
}
const names = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
for (const name of names) if (!SCENARIOS[name]) throw new Error(`unknown scenario '${name}'; known: ${Object.keys(SCENARIOS).join(', ')}`);

const command =
  process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
    : `node bench/dist/run.js ${args.join(' ')}`.trim();
const meta = runMeta(values.quick ? 'quick' : 'full', command);
const out = outputDir(values.record ?? false);
const ctx: ScenarioContext = { quick: values.quick ?? false, profile: values.profile ?? false, log: (line) => process.stdout.write(`${line}\n`) };

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
