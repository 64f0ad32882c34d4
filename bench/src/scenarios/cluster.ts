// Scenario 6, cluster mode: the ingest and end-to-end loads of scenarios 1 and 2, side by side on
// (a) one hub over LevelDB, (b) one hub over a 1-node NATS JetStream (R1), (c) one hub over a
// 3-node cluster (R3) and (d) two hubs over that cluster, agents on one and consumers on the other.

import { type HubHandle, startHubProc } from '../lib/hub-handle.js';
import { type BenchNats, natsMissing, startBenchNats } from '../lib/nats.js';
import type { ScenarioReport, Target } from '../lib/report.js';
import { fmt, int } from '../lib/stats.js';
import { natsRatio } from '../lib/compare.js';
import type { ScenarioContext } from './context.js';
import { CONSUMERS, e2eSizes, type HubE2eRun, runHubE2e } from './e2e.js';
import { type HubIngestRun, ingestSizes, runHubIngest } from './ingest.js';

interface Setup {
  key: 'level' | 'r1' | 'r3' | 'r3x2';
  label: string;
  /** NATS servers to start (0: LevelDB). */
  natsSize: number;
  hubs: 1 | 2;
}

const SETUPS: Setup[] = [
  { key: 'level', label: '1 hub, LevelDB', natsSize: 0, hubs: 1 },
  { key: 'r1', label: '1 hub, NATS R1', natsSize: 1, hubs: 1 },
  { key: 'r3', label: '1 hub, NATS R3', natsSize: 3, hubs: 1 },
  { key: 'r3x2', label: '2 hubs, NATS R3', natsSize: 3, hubs: 2 },
];

interface SetupResult {
  setup: Setup['key'];
  ingest?: HubIngestRun[];
  e2e?: HubE2eRun[];
  /** Why this setup did not run (nats-server missing). */
  skipped?: string;
  /** Why a load failed part-way (its runs so far are kept). */
  ingestFailed?: string;
  e2eFailed?: string;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200);
}

/**
 * Starts the hub(s) of one setup (and its NATS cluster), runs `work` with the first and the last
 * hub (the same hub when there is one), and stops everything. A fresh cluster and fresh hubs for
 * every load, so no run inherits another's records.
 */
async function withHubs<T>(ctx: ScenarioContext, setup: Setup, label: string, work: (first: HubHandle, last: HubHandle) => Promise<T>): Promise<T> {
  let nats: BenchNats | undefined;
  const hubs: HubHandle[] = [];
  try {
    if (setup.natsSize > 0) nats = await startBenchNats(setup.natsSize);
    const options = nats ? { nats: { servers: nats.servers, replicas: nats.size >= 3 ? 3 : 1 } } : {};
    for (let i = 0; i < setup.hubs; i++)
      hubs.push(await startHubProc({ ...options, ...(ctx.profile ? { profile: `cluster-${setup.key}-${label}-hub${i + 1}` } : {}) }));
    return await work(hubs[0], hubs[hubs.length - 1]);
  } finally {
    for (const hub of hubs) await hub.close();
    await nats?.stop();
  }
}

/** The slowest of the three consumers of an end-to-end run (p50, p99, and all their drops). */
function worstConsumer(run: HubE2eRun): { p50: number; p99: number; dropped: number } {
  const consumers = CONSUMERS.map((c) => run.consumers[c]);
  return {
    p50: Math.max(...consumers.map((c) => c.latency.p50)),
    p99: Math.max(...consumers.map((c) => c.latency.p99)),
    dropped: consumers.reduce((sum, c) => sum + c.dropped, 0),
  };
}

interface Row {
  measure: string;
  kind: 'rate' | 'latency';
  /** Which target the row counts for ('cpu': informative only). */
  scenario: 'ingest' | 'e2e' | 'cpu';
  /** Figure compared, per setup. */
  value: (r: SetupResult) => number | undefined;
  cell: (r: SetupResult) => string;
}

function rowsFor(results: SetupResult[]): Row[] {
  const rows: Row[] = [];
  for (const qos of [0, 1] as const) {
    const run = (r: SetupResult) => r.ingest?.find((i) => i.qos === qos);
    rows.push({
      measure: `ingest QoS ${qos}, reports accepted/s`,
      kind: 'rate',
      scenario: 'ingest',
      value: (r) => run(r)?.persistedPerSecond,
      cell: (r) => {
        const i = run(r);
        if (!i) return r.ingestFailed ? 'failed' : '–';
        const missed = i.result.sent - i.result.received;
        return `${int(i.persistedPerSecond)}${missed > 0 ? ` (subscriber missed ${int(missed)} of ${int(i.result.sent)})` : ''}`;
      },
    });
  }
  for (const qos of [0, 1] as const) {
    // CPU time per stored report is far less sensitive to other jobs on the machine than a rate.
    const perReport = (r: SetupResult) => {
      const i = r.ingest?.find((run) => run.qos === qos);
      const reports = i ? i.persistedPerSecond * (i.result.durationMs / 1000) : 0;
      return i && reports > 0 ? (i.hubCpuMs * 1000) / reports : undefined;
    };
    rows.push({
      measure: `ingest QoS ${qos}, hub CPU µs per report (all hubs)`,
      kind: 'latency',
      scenario: 'cpu',
      value: perReport,
      cell: (r) => {
        const v = perReport(r);
        return v === undefined ? (r.ingestFailed ? 'failed' : '–') : int(v);
      },
    });
  }
  const e2eRuns = results.find((r) => r.e2e && !r.e2eFailed)?.e2e ?? results.find((r) => r.e2e)?.e2e ?? [];
  for (const { publisher, rate } of e2eRuns) {
    const run = (r: SetupResult) => r.e2e?.find((e) => e.publisher === publisher && e.rate === rate);
    rows.push({
      measure: `e2e ${publisher.toUpperCase()} agent @ ${int(rate)}/s, p50 / p99 ms`,
      kind: 'latency',
      scenario: 'e2e',
      value: (r) => {
        const e = run(r);
        return e ? worstConsumer(e).p99 : undefined;
      },
      cell: (r) => {
        const e = run(r);
        if (!e) return r.e2eFailed ? 'failed' : '–';
        const w = worstConsumer(e);
        const notes = [...(w.dropped > 0 ? [`${int(w.dropped)} dropped`] : []), ...(e.achievedRate < e.rate * 0.95 ? [`sent ${int(e.achievedRate)}/s`] : [])];
        return `${fmt(w.p50)} / ${fmt(w.p99)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
      },
    });
  }
  return rows;
}

export async function clusterScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const ingest = ingestSizes(ctx.quick);
  const e2e = e2eSizes(ctx.quick);
  const missing = natsMissing();
  if (missing) ctx.log(`  NATS setups skipped: ${missing}`);
  const results: SetupResult[] = [];
  for (const setup of SETUPS) {
    if (setup.natsSize > 0 && missing) {
      results.push({ setup: setup.key, skipped: missing });
      continue;
    }
    ctx.log(`  -- ${setup.label}`);
    const result: SetupResult = { setup: setup.key };
    // A load that fails (a hub crashing under it) is reported in its cells; the other loads still run.
    try {
      result.ingest = (await withHubs(ctx, setup, 'ingest', (first, last) => runHubIngest(ctx, { agents: first, subscriber: last }, ingest))).runs;
    } catch (error) {
      result.ingestFailed = firstLine(error);
      ctx.log(`  ingest failed: ${result.ingestFailed}`);
    }
    const e2eRuns: HubE2eRun[] = [];
    result.e2e = e2eRuns;
    try {
      await withHubs(ctx, setup, 'e2e', (first, last) => runHubE2e(ctx, { agent: first, consumers: last }, e2e, (run) => e2eRuns.push(run)));
    } catch (error) {
      result.e2eFailed = firstLine(error);
      ctx.log(`  e2e failed: ${result.e2eFailed}`);
    }
    results.push(result);
  }

  const level = results.find((r) => r.setup === 'level') as SetupResult;
  const natsResults = results.filter((r) => r.setup !== 'level');
  const label = (key: Setup['key']) => SETUPS.find((s) => s.key === key)?.label ?? key;
  const rows = rowsFor(results);
  const tableRows = rows.map((row) => [
    row.measure,
    ...results.map((r) => (r.skipped ? 'skipped' : row.cell(r))),
    ...natsResults.map((r) => {
      const x = natsRatio(row.value(r), row.value(level), row.kind);
      return x === undefined ? '–' : fmt(x);
    }),
  ]);
  const targets: Target[] = natsResults.flatMap((r) =>
    (['ingest', 'e2e'] as const).map((scenario) => {
      const ratios = rows
        .filter((row) => row.scenario === scenario)
        .map((row) => natsRatio(row.value(r), row.value(level), row.kind))
        .filter((x): x is number => x !== undefined);
      const worst = ratios.length ? Math.min(...ratios) : undefined;
      // A ratio of latencies says nothing of values that never arrived: any missed value fails the target.
      const missed =
        scenario === 'ingest'
          ? (r.ingest ?? []).reduce((sum, i) => sum + i.result.sent - i.result.received, 0)
          : (r.e2e ?? []).reduce((sum, e) => sum + worstConsumer(e).dropped, 0);
      return {
        target: `${label(r.setup)}: ${scenario} NATS/LevelDB >= 0.5 (every row), nothing missed`,
        measured: r.skipped
          ? 'skipped: nats-server missing'
          : `${worst === undefined ? '–' : `lowest ratio ${fmt(worst)}`}${missed > 0 ? `, ${int(missed)} values missed by consumers` : ''}`,
        met: worst === undefined ? undefined : worst >= 0.5 && missed === 0,
      };
    }),
  );
  const short: Record<Setup['key'], string> = { level: 'LevelDB', r1: 'R1', r3: 'R3', r3x2: '2×R3' };
  return {
    scenario: 'cluster',
    title: `6. Cluster: ingest and end to end on LevelDB, NATS R1, NATS R3 and two hubs on NATS R3`,
    params: { ingest, e2e, setups: SETUPS },
    table: {
      headers: ['measure', ...SETUPS.map((s) => s.label), ...natsResults.map((r) => `${short[r.setup]}/LevelDB`)],
      rows: tableRows,
    },
    targets,
    notes: [
      ...results
        .filter((r) => r.ingestFailed || r.e2eFailed)
        .map(
          (r) =>
            `**${label(r.setup)} failed:** ${[r.ingestFailed && `ingest: ${r.ingestFailed}`, r.e2eFailed && `e2e: ${r.e2eFailed}`].filter(Boolean).join('; ')} (cells "failed"; the runs before the failure are shown).`,
        ),
      `Ingest as scenario 1 (${ingest.agents} MQTT agents × ${ingest.thingsPerAgent} Things, ${int(ingest.agents * ingest.messagesPerAgent)} values per QoS); end to end as scenario 2 (${e2e.rates.map(int).join(' and ')} updates/s for ${e2e.durationMs / 1000} s per agent binding, SSE + WS + MQTT consumers; the cell is the slowest consumer).`,
      "Ingest figure: reports the agents' hub accepted and stored per second (state versions read back), which is what the subscriber receives when there is one hub. With two hubs the subscriber is on B; at QoS 0 the agents' window is freed only by the subscriber seeing a value, so a value B missed would stall the agents until the run ends on 2 s of silence (a 'dropped' count above 0 says so).",
      'Ratio: throughput NATS/LevelDB; for latency LevelDB p99 / NATS p99 and for CPU LevelDB / NATS, so for all higher is better and 0.5 means half the throughput or twice the latency or cost.',
      "Hub CPU per report: CPU time (user + system) of the hub process(es) during the ingest run over the reports stored; the NATS servers' own CPU is not included (in production they have their own machines). It moves much less than the rates when other jobs share the machine.",
      'Each setup and each load gets fresh hub process(es) and a fresh NATS cluster (nats-server on 127.0.0.1, file storage in a temp folder). R1: one server, stream replicas 1. R3: three servers, replicas 3 (a write is acknowledged once two of three stored it).',
      '2 hubs: every agent connects to hub A, every consumer (ingest subscriber; SSE, WS and MQTT consumers) to hub B, so each value crosses the cluster: A validates and commits it, B learns it from the commit log and notifies its consumers. The Things are registered on A; the load starts once B knows them all.',
      "Values across instances: the core's group commit keeps each report its own write (PersistQueue's distinct writes), so another instance hears every value, with the same notification id. Before that (up to commit 7a64f44) it folded a property's reports within one batch and B's consumers missed 40-87 % of the values at 5k-10k updates/s.",
      'All processes share the 2 cores: the hub(s), up to three nats-server processes and the load generator. Treat differences under ~30 % as noise.',
    ],
    data: results,
  };
}
