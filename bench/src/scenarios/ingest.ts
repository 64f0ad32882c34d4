// Scenario 1, MQTT ingest: 100 agents x 100 Things report values as fast as the hub absorbs them
// (QoS 0 and QoS 1), one subscriber on the value topics; the same load through a bare aedes.

import { forkProc, nextMessage, runLoad, stop } from '../lib/children.js';
import { awaitPeerSetup, startHubProc, type HubHandle } from '../lib/hub-handle.js';
import { fmt, int, pcts } from '../lib/stats.js';
import type { ScenarioReport } from '../lib/report.js';
import type { IngestParams, IngestResult } from '../load/ingest.js';
import type { ScenarioContext } from './context.js';

const AGENTS = 100;
const WINDOW = 32;

export interface IngestSizes {
  agents: number;
  thingsPerAgent: number;
  messagesPerAgent: number;
  timeoutMs: number;
}

export function ingestSizes(quick: boolean): IngestSizes {
  return { agents: AGENTS, thingsPerAgent: quick ? 10 : 100, messagesPerAgent: quick ? 50 : 500, timeoutMs: quick ? 15_000 : 60_000 };
}

/** Where the load goes: agents publish to `agents`, the subscriber reads `subscriber` (the same hub, or a second instance). */
export interface IngestHubs {
  agents: HubHandle;
  subscriber: HubHandle;
}

export interface HubIngestRun {
  qos: 0 | 1;
  result: IngestResult;
  /** Accepted reports per second (state versions read back from the agents' hub). */
  persistedPerSecond: number;
  /** CPU time of every hub process during the run, ms. */
  hubCpuMs: number;
}

/**
 * Registers the agents' Things on `hubs.agents`, waits until the subscriber's hub knows them, then
 * runs the ingest load at QoS 0 and QoS 1 against the hub(s).
 */
export async function runHubIngest(
  ctx: ScenarioContext,
  hubs: IngestHubs,
  sizes: IngestSizes,
): Promise<{ runs: HubIngestRun[]; agents: IngestParams['agents'] }> {
  const distinct = [...new Set([hubs.agents, hubs.subscriber])];
  const cpu = async () => (await Promise.all(distinct.map((hub) => hub.stats()))).reduce((sum, s) => sum + s.cpuMs, 0);
  const setup = await hubs.agents.setup({
    agents: Array.from({ length: sizes.agents }, (_, i) => ({ id: `ingest-agent-${i}`, things: sizes.thingsPerAgent })),
    viewers: ['ingest-viewer'],
  });
  ctx.log(`  hub setup: ${sizes.agents * sizes.thingsPerAgent} Things registered in ${int(setup.ms)} ms`);
  if (hubs.subscriber !== hubs.agents) await awaitPeerSetup(hubs.subscriber, setup);
  const agents = setup.agents;
  const thingIds = agents.flatMap((a) => a.thingIds);
  const runs: HubIngestRun[] = [];
  for (const qos of [0, 1] as const) {
    const before = await hubs.agents.versions(thingIds);
    const cpuBefore = await cpu();
    const result = await hubs.agents.measure(`qos${qos}`, () =>
      runLoad<IngestResult>(
        'ingest',
        {
          target: 'hub',
          url: hubs.agents.urls.mqtt!,
          ...(hubs.subscriber !== hubs.agents ? { subscriberUrl: hubs.subscriber.urls.mqtt! } : {}),
          agents,
          subscriber: setup.viewers[0],
          messagesPerAgent: sizes.messagesPerAgent,
          qos,
          window: WINDOW,
          base: (qos + 1) * 1e9,
          timeoutMs: sizes.timeoutMs,
        } satisfies IngestParams,
        sizes.timeoutMs + 30_000,
      ),
    );
    const hubCpuMs = (await cpu()) - cpuBefore;
    const persistedPerSecond = ((await hubs.agents.versions(thingIds)) - before) / (result.durationMs / 1000);
    runs.push({ qos, result, persistedPerSecond, hubCpuMs });
    ctx.log(`  hub QoS ${qos}: ${int(result.throughput)} values/s through, ${int(persistedPerSecond)} persisted/s`);
  }
  return { runs, agents };
}

export async function ingestScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const sizes = ingestSizes(ctx.quick);
  const { messagesPerAgent, thingsPerAgent: THINGS_PER_AGENT, timeoutMs } = sizes;
  const runs: Array<{ target: 'hub' | 'raw'; qos: 0 | 1; result: IngestResult; persisted?: number; hubCpuMs?: number }> = [];

  const hub = await startHubProc(ctx.profile ? { profile: 'ingest' } : {});
  let agents: IngestParams['agents'];
  try {
    const measured = await runHubIngest(ctx, { agents: hub, subscriber: hub }, sizes);
    agents = measured.agents;
    for (const run of measured.runs)
      runs.push({
        target: 'hub',
        qos: run.qos,
        result: run.result,
        persisted: run.persistedPerSecond * (run.result.durationMs / 1000),
        hubCpuMs: run.hubCpuMs,
      });
  } finally {
    await hub.close();
  }

  const raw = forkProc('raw-broker');
  try {
    const { url } = await nextMessage<{ url: string }>(raw, 'ready', 10_000);
    for (const qos of [0, 1] as const) {
      const result = await runLoad<IngestResult>(
        'ingest',
        { target: 'raw', url, agents, messagesPerAgent, qos, window: WINDOW, base: (qos + 1) * 1e9, timeoutMs } satisfies IngestParams,
        timeoutMs + 30_000,
      );
      runs.push({ target: 'raw', qos, result });
      ctx.log(`  raw aedes QoS ${qos}: ${int(result.throughput)} values/s through`);
    }
  } finally {
    await stop(raw);
  }

  const find = (target: 'hub' | 'raw', qos: 0 | 1) => runs.find((r) => r.target === target && r.qos === qos)!;
  const rows = runs.map((r) => {
    const ratio = r.target === 'hub' ? r.result.throughput / find('raw', r.qos).result.throughput : 1;
    return [
      r.target === 'hub' ? 'hub' : 'bare aedes',
      String(r.qos),
      `${int(r.result.received)} / ${int(r.result.sent)}`,
      int(r.result.throughput),
      r.persisted === undefined ? '–' : int(r.persisted / (r.result.durationMs / 1000)),
      fmt(ratio),
      r.qos === 1 ? pcts(r.result.ackLatency) : '–',
      pcts(r.result.deliveryLatency),
      r.hubCpuMs === undefined ? '–' : `${int((r.hubCpuMs / r.result.durationMs) * 100)} %`,
    ];
  });
  const targets = ([0, 1] as const).map((qos) => {
    const ratio = find('hub', qos).result.throughput / find('raw', qos).result.throughput;
    return { target: `QoS ${qos}: hub ingest within 2x of bare aedes (hub/raw >= 0.5)`, measured: `hub/raw = ${fmt(ratio)}`, met: ratio >= 0.5 };
  });
  return {
    scenario: 'ingest',
    title: `1. MQTT ingest: ${AGENTS} agents x ${THINGS_PER_AGENT} Things, ${int(AGENTS * messagesPerAgent)} values per run`,
    params: { agents: AGENTS, thingsPerAgent: THINGS_PER_AGENT, messagesPerAgent, windowPerAgent: WINDOW },
    table: {
      headers: [
        'broker',
        'QoS',
        'received / sent',
        'values/s',
        'persisted/s',
        'hub/raw',
        'PUBACK ms p50/p95/p99',
        'publish→subscriber ms p50/p95/p99',
        'hub CPU',
      ],
      rows,
    },
    targets,
    notes: [
      `Each agent keeps ${WINDOW} publishes in flight (QoS 1: until PUBACK; QoS 0: until written), so latencies are those of a saturated broker, mostly queueing.`,
      'Hub: agents publish to things/{id}/properties/level/reported; the subscriber (a viewer) reads the retained value topics things/+/properties/+ that the hub republishes after validating and persisting. Bare aedes: same publishers, subscriber on things/+/properties/+/reported.',
      "persisted/s = growth of the Things' state versions (one per accepted report, read back from the hub after the run) over the run time; the hub only republishes after the write is durable.",
    ],
    data: runs,
  };
}
