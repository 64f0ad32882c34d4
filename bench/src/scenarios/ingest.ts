// Scenario 1, MQTT ingest: 100 agents x 100 Things report values as fast as the hub absorbs them
// (QoS 0 and QoS 1), one subscriber on the value topics; the same load through a bare aedes, a bare
// Mosquitto, and a second hub that is a client of a Mosquitto (external broker mode), with CPU time
// per value (hub and broker apart) and the hub's own view of where its tail comes from.

import { forkProc, nextMessage, runLoad, stop } from '../lib/children.js';
import { awaitPeerSetup, startHubProc, type HubHandle } from '../lib/hub-handle.js';
import { cpuPerValue, measureHubPhase, TAIL_HEADERS, TAIL_NOTE, tailCells } from '../lib/hub-phase.js';
import { callChild } from '../lib/ipc.js';
import { MOSQUITTO_MISSING, startMosquitto } from '../lib/mosquitto.js';
import { fmt, int, pcts } from '../lib/stats.js';
import type { ScenarioReport } from '../lib/report.js';
import type { IngestParams, IngestResult } from '../load/ingest.js';
import type { HubPhaseStats } from '../procs/hub.js';
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
  /** Accepted reports: growth of the Things' state versions read back from the agents' hub. */
  persisted: number;
  /** `persisted` per second of the run. */
  persistedPerSecond: number;
  /** CPU time of every hub process during the run, ms. */
  hubCpuMs: number;
  /** Event-loop delay, GC pauses and persist batch times of each hub during the run (the agents' hub first). */
  tails: HubPhaseStats[];
  /** External broker mode: CPU time of the broker process during the run, ms. */
  brokerCpuMs?: number;
}

/** The broker a hub in external broker mode is a client of: the load goes through it, and its CPU time is read per run. */
export interface ExternalBroker {
  /** Its name in log lines. */
  name: string;
  /** CPU time (user + system) the broker used so far, ms. */
  cpuMs(): Promise<number>;
}

/**
 * Registers the agents' Things on `hubs.agents`, waits until the subscriber's hub knows them, then
 * runs the ingest load at QoS 0 and QoS 1 against the hub(s). With `broker`, the hubs are clients of
 * that external broker (their reported MQTT URL is its URL) and its CPU time is measured too.
 */
export async function runHubIngest(
  ctx: ScenarioContext,
  hubs: IngestHubs,
  sizes: IngestSizes,
  broker?: ExternalBroker,
): Promise<{ runs: HubIngestRun[]; agents: IngestParams['agents'] }> {
  const distinct = [...new Set([hubs.agents, hubs.subscriber])];
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
    let brokerCpuMs: number | undefined;
    const { result, hubCpuMs, tails } = await measureHubPhase(distinct, `qos${qos}`, async () => {
      const brokerBefore = await broker?.cpuMs();
      const loaded = await runLoad<IngestResult>(
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
      );
      if (broker && brokerBefore !== undefined) brokerCpuMs = (await broker.cpuMs()) - brokerBefore;
      return loaded;
    });
    const persisted = (await hubs.agents.versions(thingIds)) - before;
    const persistedPerSecond = persisted / (result.durationMs / 1000);
    runs.push({ qos, result, persisted, persistedPerSecond, hubCpuMs, tails, ...(brokerCpuMs !== undefined ? { brokerCpuMs } : {}) });
    const brokerCpu = brokerCpuMs !== undefined && broker ? `, ${broker.name} ${cpuPerValue(brokerCpuMs, persisted)} CPU µs/value` : '';
    ctx.log(
      `  ${broker ? `hub via ${broker.name}` : 'hub'} QoS ${qos}: ${int(result.throughput)} values/s through, ${int(persistedPerSecond)} persisted/s, ${cpuPerValue(hubCpuMs, persisted)} CPU µs/value${brokerCpu}, loop delay p99 ${fmt(tails[0].loopDelayMs.p99)} ms`,
    );
  }
  return { runs, agents };
}

/**
 * The hub's Mosquitto queues QoS 1 values for the hub without bound: agents get their PUBACK from
 * the broker, not the hub, so they run ahead of it, and at the default (1000 queued per client
 * beyond those in flight) Mosquitto silently drops the rest (mosquitto.conf(5), max_queued_messages).
 */
const VIA_MOSQUITTO_CONFIG = ['max_queued_messages 0'];

type BareBroker = 'aedes' | 'mosquitto';
const BROKER_NAMES: Record<BareBroker, string> = { aedes: 'bare aedes', mosquitto: 'bare Mosquitto' };

interface BrokerIngestRun {
  broker: BareBroker;
  qos: 0 | 1;
  result: IngestResult;
  /** CPU time of the broker process during the run, ms. */
  cpuMs: number;
}

/** The ingest load at QoS 0 and QoS 1 through a bare broker, with the broker's CPU time per run. */
async function runBrokerIngest(
  ctx: ScenarioContext,
  broker: BareBroker,
  url: string,
  cpuMs: () => Promise<number>,
  agents: IngestParams['agents'],
  sizes: IngestSizes,
): Promise<BrokerIngestRun[]> {
  const runs: BrokerIngestRun[] = [];
  for (const qos of [0, 1] as const) {
    const cpuBefore = await cpuMs();
    const result = await runLoad<IngestResult>(
      'ingest',
      {
        target: 'raw',
        url,
        agents,
        messagesPerAgent: sizes.messagesPerAgent,
        qos,
        window: WINDOW,
        base: (qos + 1) * 1e9,
        timeoutMs: sizes.timeoutMs,
      } satisfies IngestParams,
      sizes.timeoutMs + 30_000,
    );
    const run = { broker, qos, result, cpuMs: (await cpuMs()) - cpuBefore };
    runs.push(run);
    ctx.log(`  ${BROKER_NAMES[broker]} QoS ${qos}: ${int(result.throughput)} values/s through, ${cpuPerValue(run.cpuMs, result.received)} CPU µs/value`);
  }
  return runs;
}

export async function ingestScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const sizes = ingestSizes(ctx.quick);
  const { messagesPerAgent, thingsPerAgent: THINGS_PER_AGENT } = sizes;

  const hub = await startHubProc(ctx.profile ? { profile: 'ingest' } : {});
  let measured: Awaited<ReturnType<typeof runHubIngest>>;
  try {
    measured = await runHubIngest(ctx, { agents: hub, subscriber: hub }, sizes);
  } finally {
    await hub.close();
  }
  const { runs: hubRuns, agents } = measured;
  const brokerRuns: BrokerIngestRun[] = [];

  const raw = forkProc('raw-broker');
  try {
    const { url } = await nextMessage<{ url: string }>(raw, 'ready', 10_000);
    const cpuMs = async () => (await callChild<{ cpuMs: number }>(raw, 'stats')).cpuMs;
    brokerRuns.push(...(await runBrokerIngest(ctx, 'aedes', url, cpuMs, agents, sizes)));
  } finally {
    await stop(raw);
  }

  // Mosquitto is optional: without it (or if it fails to start) its rows say why and the rest stands.
  let mosquittoSkipped: string | undefined;
  try {
    const mosquitto = await startMosquitto();
    if (!mosquitto) mosquittoSkipped = MOSQUITTO_MISSING;
    else
      try {
        brokerRuns.push(...(await runBrokerIngest(ctx, 'mosquitto', mosquitto.url, () => mosquitto.cpuMs(), agents, sizes)));
      } finally {
        await mosquitto.stop();
      }
  } catch (error) {
    mosquittoSkipped = `failed: ${(error as Error).message.split('\n')[0]}`;
  }
  if (mosquittoSkipped) ctx.log(`  bare Mosquitto: ${mosquittoSkipped}`);

  // The hub in external broker mode: a second hub (fresh data folder, the same agents and Things)
  // is a client of its own Mosquitto, so the broker's work leaves the hub process.
  let viaRuns: HubIngestRun[] = [];
  let viaSkipped: string | undefined;
  try {
    const mosquitto = await startMosquitto(VIA_MOSQUITTO_CONFIG);
    if (!mosquitto) viaSkipped = MOSQUITTO_MISSING;
    else
      try {
        const external = await startHubProc({ mqttUrl: mosquitto.url, ...(ctx.profile ? { profile: 'ingest-via-mosquitto' } : {}) });
        try {
          viaRuns = (await runHubIngest(ctx, { agents: external, subscriber: external }, sizes, { name: 'Mosquitto', cpuMs: () => mosquitto.cpuMs() })).runs;
        } finally {
          // The hub first: it leaves the broker with a clean DISCONNECT.
          await external.close();
        }
      } finally {
        await mosquitto.stop();
      }
  } catch (error) {
    viaSkipped = `failed: ${(error as Error).message.split('\n')[0]}`;
  }
  if (viaSkipped) ctx.log(`  hub via Mosquitto: ${viaSkipped}`);
  for (const run of viaRuns) {
    // Every value must come out validated and stored: a shortfall means the hub refused or lost some.
    if (run.persisted !== run.result.sent || run.result.received !== run.result.sent)
      ctx.log(
        `  hub via Mosquitto QoS ${run.qos}: of ${int(run.result.sent)} values sent, ${int(run.persisted)} persisted, ${int(run.result.received)} received`,
      );
  }

  const broker = (name: BareBroker, qos: 0 | 1) => brokerRuns.find((r) => r.broker === name && r.qos === qos);
  const ratio = (run: HubIngestRun, name: BareBroker) => {
    const other = broker(name, run.qos);
    return other && other.result.throughput > 0 ? run.result.throughput / other.result.throughput : undefined;
  };
  const cpuShare = (cpuMs: number, result: IngestResult) => `${int((cpuMs / result.durationMs) * 100)} %`;
  const dash = (n: number) => Array<string>(n).fill('–');
  const rows = ([0, 1] as const).flatMap((qos) => {
    const h = hubRuns.find((r) => r.qos === qos)!;
    const via = viaRuns.find((r) => r.qos === qos);
    const common = (result: IngestResult) => [String(qos), `${int(result.received)} / ${int(result.sent)}`, int(result.throughput)];
    const latencies = (result: IngestResult) => [qos === 1 ? pcts(result.ackLatency) : '–', pcts(result.deliveryLatency)];
    const hubRatio = (name: BareBroker, run = h) => {
      const r = ratio(run, name);
      return r === undefined ? '–' : fmt(r);
    };
    const hubRow = [
      'hub',
      ...common(h.result),
      int(h.persistedPerSecond),
      hubRatio('aedes'),
      hubRatio('mosquitto'),
      ...latencies(h.result),
      cpuShare(h.hubCpuMs, h.result),
      cpuPerValue(h.hubCpuMs, h.persisted),
      '–',
      ...tailCells(h.tails[0]),
    ];
    const brokerRows = (['aedes', 'mosquitto'] as const).flatMap((name) => {
      const r = broker(name, qos);
      if (!r) return name === 'mosquitto' && mosquittoSkipped ? [[BROKER_NAMES[name], String(qos), mosquittoSkipped, ...dash(HEADERS.length - 3)]] : [];
      return [
        [
          BROKER_NAMES[name],
          ...common(r.result),
          '–',
          '–',
          '–',
          ...latencies(r.result),
          cpuShare(r.cpuMs, r.result),
          cpuPerValue(r.cpuMs, r.result.received),
          '–',
          ...dash(TAIL_HEADERS.length),
        ],
      ];
    });
    const viaName = 'hub via Mosquitto';
    const viaRows = via
      ? [
          [
            viaName,
            ...common(via.result),
            int(via.persistedPerSecond),
            hubRatio('aedes', via),
            hubRatio('mosquitto', via),
            ...latencies(via.result),
            cpuShare(via.hubCpuMs, via.result),
            cpuPerValue(via.hubCpuMs, via.persisted),
            via.brokerCpuMs === undefined ? '–' : `${cpuShare(via.brokerCpuMs, via.result)} / ${cpuPerValue(via.brokerCpuMs, via.persisted)}`,
            ...tailCells(via.tails[0]),
          ],
        ]
      : viaSkipped
        ? [[viaName, String(qos), viaSkipped, ...dash(HEADERS.length - 3)]]
        : [];
    return [hubRow, ...brokerRows, ...viaRows];
  });
  const targets = ([0, 1] as const).map((qos) => {
    const r = ratio(hubRuns.find((h) => h.qos === qos)!, 'aedes') ?? 0;
    return { target: `QoS ${qos}: hub ingest within 2x of bare aedes (hub/raw >= 0.5)`, measured: `hub/aedes = ${fmt(r)}`, met: r >= 0.5 };
  });
  return {
    scenario: 'ingest',
    title: `1. MQTT ingest: ${AGENTS} agents x ${THINGS_PER_AGENT} Things, ${int(AGENTS * messagesPerAgent)} values per run`,
    params: { agents: AGENTS, thingsPerAgent: THINGS_PER_AGENT, messagesPerAgent, windowPerAgent: WINDOW },
    table: { headers: HEADERS, rows },
    targets,
    notes: [
      `Each agent keeps ${WINDOW} publishes in flight (QoS 1: until PUBACK; QoS 0: until written), so latencies are those of a saturated broker, mostly queueing.`,
      'Hub: agents publish to things/{id}/properties/level/reported; the subscriber (a viewer) reads the retained value topics things/+/properties/+ that the hub republishes after validating and persisting. Bare brokers: same publishers, subscriber on things/+/properties/+/reported.',
      "persisted/s = growth of the Things' state versions (one per accepted report, read back from the hub after the run) over the run time; the hub only republishes after the write is durable.",
      "Bare Mosquitto: Debian's /usr/sbin/mosquitto on a free 127.0.0.1 port with a temp config (listener <port> 127.0.0.1, allow_anonymous true, persistence false, errors and warnings to stderr only), run after the hub and aedes, one broker at a time. Its rows say 'skipped' when the binary is not installed.",
      'CPU = CPU time (user + system) of the broker process over the run, as a share of one core; CPU µs/value = that time per value the hub persisted (hub) or per message the bare broker forwarded to the subscriber (aedes: process.cpuUsage; Mosquitto: utime + stime of /proc/<pid>/stat).',
      "Hub via Mosquitto: a second hub process (fresh data folder, the same agents, viewer and Things registered in-process) in external broker mode (--mqtt-url, docs/mqtt.md), a client of its own Mosquitto (same config as above plus max_queued_messages 0: at the default 1000 that Mosquitto silently dropped about three quarters of a quick QoS 1 run's values queued for the hub), run last. Agents and subscriber connect to that Mosquitto with the same topics as for the hub (their tokens as passwords, which this anonymous Mosquitto does not check: in external mode the broker authenticates, the hub attributes a …/reported publish to the Thing's owner); the hub subscribes to the …/reported topics at QoS 1, validates and persists each value and republishes it retained on things/{id}/properties/{name}. QoS 1 here means agent→Mosquitto: the PUBACK comes from the broker, before the hub has seen the value. persisted/s and CPU as for the hub; CPU = the hub process only; Mosquitto CPU / µs/value = that broker's CPU share and its CPU time per persisted value in the same run (it carries each value twice: agent→hub and hub→subscriber), so hub + Mosquitto is the whole cost. hub/aedes and hub/mosquitto = its values/s over those of bare aedes and bare Mosquitto. Its persist batches hold one value each: in this mode the binding takes the broker's publishes one at a time (mqtt.js reads the next one only when the hub has handled, i.e. durably stored, the previous one), so the group commit has nothing to group.",
      TAIL_NOTE,
    ],
    data: {
      hub: hubRuns,
      brokers: brokerRuns,
      ...(mosquittoSkipped ? { mosquitto: mosquittoSkipped } : {}),
      hubViaMosquitto: viaSkipped ? { skipped: viaSkipped } : viaRuns,
    },
  };
}

const HEADERS = [
  'broker',
  'QoS',
  'received / sent',
  'values/s',
  'persisted/s',
  'hub/aedes',
  'hub/mosquitto',
  'PUBACK ms p50/p95/p99',
  'publish→subscriber ms p50/p95/p99',
  'CPU',
  'CPU µs/value',
  'Mosquitto CPU / µs/value',
  ...TAIL_HEADERS,
];
