// What a scenario hands back, and where it goes: <dir>/results/<scenario>[.quick].json and the
// generated block of <dir>/RESULTS.md for the mode (the rest of that file is written by hand).
// <dir> is bench/ with --record (the tracked figures), bench/out/ otherwise (ignored by git), so
// a plain `npm run bench` never dirties tracked files.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Target {
  target: string;
  measured: string;
  met: boolean | undefined;
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  params: Record<string, unknown>;
  /** Summary table for RESULTS.md and the console. */
  table: { headers: string[]; rows: string[][] };
  targets: Target[];
  notes: string[];
  /** Every figure measured, for the JSON file. */
  data: unknown;
}

export interface RunMeta {
  date: string;
  mode: 'full' | 'quick';
  command: string;
  node: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string };
  commit: string;
  /** Uncommitted changes in the tree when it ran (other engineers' work in progress). */
  dirty: boolean;
  /** 1-minute load average when the run started: above ~0.5 something else was using the CPUs. */
  loadAverage: number;
}

export const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url));
/** Where a run's figures go: the tracked bench/ with --record, the ignored bench/out/ otherwise. */
export function outputDir(record: boolean): string {
  return record ? BENCH_DIR : `${BENCH_DIR}out/`;
}

export function runMeta(mode: 'full' | 'quick', command: string): RunMeta {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO_DIR, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    mode,
    command,
    node: process.version,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.platform()} ${os.release()}`,
    },
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    loadAverage: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

export function writeResult(dir: string, meta: RunMeta, report: ScenarioReport): void {
  mkdirSync(`${dir}results/`, { recursive: true });
  writeFileSync(`${dir}results/${report.scenario}${meta.mode === 'quick' ? '.quick' : ''}.json`, `${JSON.stringify({ meta, ...report }, null, 2)}\n`);
}

export function renderTable(table: ScenarioReport['table']): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(table.headers), line(table.headers.map(() => '---')), ...table.rows.map(line)].join('\n');
}

function renderTargets(targets: Target[]): string {
  if (targets.length === 0) return '';
  const mark = (met: boolean | undefined) => (met === undefined ? 'n/a' : met ? 'met' : '**not met**');
  return renderTable({ headers: ['target', 'measured', ''], rows: targets.map((t) => [t.target, t.measured, mark(t.met)]) });
}

export function renderScenario(report: ScenarioReport, meta?: RunMeta): string {
  const parts = [`### ${report.title}`];
  if (meta)
    parts.push(
      `_${meta.date}, commit ${meta.commit}${meta.dirty ? ' (+ uncommitted changes)' : ''}, load average ${meta.loadAverage ?? '?'} at start, \`${meta.command}\`_`,
    );
  parts.push(renderTable(report.table));
  const targets = renderTargets(report.targets);
  if (targets) parts.push(targets);
  if (report.notes.length > 0) parts.push(report.notes.map((n) => `- ${n}`).join('\n'));
  return parts.join('\n\n');
}

const ORDER = ['ingest', 'e2e', 'directory', 'actions', 'scale', 'jobs', 'query', 'history', 'cluster', 'cluster-startup'];

/** Regenerates the block of RESULTS.md for this mode from every results file of that mode. */
export function updateResultsMd(dir: string, meta: RunMeta): void {
  const resultsDir = `${dir}results/`;
  const resultsMd = `${dir}RESULTS.md`;
  const suffix = meta.mode === 'quick' ? '.quick.json' : '.json';
  const reports = existsSync(resultsDir)
    ? readdirSync(resultsDir)
        .filter((f) => f.endsWith(suffix) && (meta.mode === 'quick' || !f.endsWith('.quick.json')))
        .map((f) => JSON.parse(readFileSync(`${resultsDir}${f}`, 'utf8')) as ScenarioReport & { meta: RunMeta })
        .sort((a, b) => ORDER.indexOf(a.scenario) - ORDER.indexOf(b.scenario))
    : [];
  const machine = `${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.memoryGiB} GiB RAM, ${meta.machine.platform}, Node ${meta.node}`;
  const body = [
    `## ${meta.mode === 'quick' ? 'Quick run (`npm run bench -- --quick`)' : 'Full run (`npm run bench`)'}, generated`,
    'Each scenario below names the commit and the exact command of the run that produced it.',
    `Machine: ${machine}.`,
    ...reports.map((r) => renderScenario(r, r.meta)),
  ].join('\n\n');
  const begin = `<!-- bench:${meta.mode}:begin -->`;
  const end = `<!-- bench:${meta.mode}:end -->`;
  let text = existsSync(resultsMd) ? readFileSync(resultsMd, 'utf8') : '# Benchmark results\n\n';
  const block = `${begin}\n${body}\n${end}`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + block + text.slice(to + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(resultsMd, text);
}
