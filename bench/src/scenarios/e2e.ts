// Scenario 2, end to end: an agent reports values over MQTT, WS or HTTP at a fixed rate; an SSE,
// a WS and an MQTT consumer receive every value. Latency from the send call to the consumer; per
// run, the hub's CPU time per persisted value and its own view of the tail (loop delay, GC, batches).

import { runLoad } from '../lib/children.js';
import { awaitPeerSetup, startHubProc, type HubHandle } from '../lib/hub-handle.js';
import { cpuPerValue, measureHubPhase, TAIL_HEADERS, TAIL_NOTE, tailCells } from '../lib/hub-phase.js';
import { fmt, int, pcts } from '../lib/stats.js';
import type { ScenarioReport, Target } from '../lib/report.js';
import type { Binding, ConsumerBinding, E2eParams, E2eResult } from '../load/e2e.js';
import type { HubPhaseStats } from '../procs/hub.js';
import type { ScenarioContext } from './context.js';

const THINGS = 100;
export const PUBLISHERS: Binding[] = ['mqtt', 'ws', 'http'];
export const CONSUMERS: ConsumerBinding[] = ['sse', 'ws', 'mqtt'];

export interface E2eSizes {
  rates: number[];
  durationMs: number;
  drainMs: number;
}

export function e2eSizes(quick: boolean): E2eSizes {
  return { rates: quick ? [1000, 5000] : [1000, 10_000], durationMs: quick ? 1000 : 5000, drainMs: quick ? 3000 : 5000 };
}

/** Where the load goes: the agent reports to `agent`, the consumers read `consumers` (the same hub, or a second instance). */
export interface E2eHubs {
  agent: HubHandle;
  consumers: HubHandle;
}

export type HubE2eRun = E2eResult & {
  /** CPU time of every hub process during the run, ms. */
  hubCpuMs: number;
  /** Reports the agent's hub accepted during the run (growth of the Things' state versions). */
  persisted: number;
  /** Event-loop delay, GC pauses and persist batch times of each hub during the run (the agent's hub first). */
  tails: HubPhaseStats[];
};

/**
 * Registers the agent's Things on `hubs.agent`, waits until the consumers' hub knows them, then
 * runs every publisher binding at every rate; `onRun` sees each run as it ends (kept if a later one fails).
 */
export async function runHubE2e(ctx: ScenarioContext, hubs: E2eHubs, sizes: E2eSizes, onRun: (run: HubE2eRun) => void = () => undefined): Promise<HubE2eRun[]> {
  const distinct = [...new Set([hubs.agent, hubs.consumers])];
  const runs: HubE2eRun[] = [];
  const setup = await hubs.agent.setup({ agents: [{ id: 'e2e-agent', things: THINGS }], viewers: CONSUMERS.map((c) => `e2e-${c}`) });
  if (hubs.consumers !== hubs.agent) await awaitPeerSetup(hubs.consumers, setup);
  const consumers = Object.fromEntries(CONSUMERS.map((c, i) => [c, setup.viewers[i]])) as E2eParams['consumers'];
  const thingIds = setup.agents[0].thingIds;
  const urls = (hub: HubHandle) => ({ http: hub.urls.http, ws: hub.urls.ws, mqtt: hub.urls.mqtt! });
  let base = 1e7;
  for (const rate of sizes.rates) {
    for (const publisher of PUBLISHERS) {
      const before = await hubs.agent.versions(thingIds);
      const { result, hubCpuMs, tails } = await measureHubPhase(distinct, `${publisher}-${rate}`, () =>
        runLoad<E2eResult>(
          'e2e',
          {
            urls: urls(hubs.agent),
            ...(hubs.consumers !== hubs.agent ? { consumerUrls: urls(hubs.consumers) } : {}),
            agent: setup.agents[0],
            consumers,
            publisher,
            rate,
            durationMs: sizes.durationMs,
            drainMs: sizes.drainMs,
            base,
          } satisfies E2eParams,
          sizes.durationMs + sizes.drainMs + 30_000,
        ),
      );
      base += 1e7;
      const run = { ...result, hubCpuMs, persisted: (await hubs.agent.versions(thingIds)) - before, tails };
      runs.push(run);
      onRun(run);
      ctx.log(
        `  ${publisher} @ ${rate}/s: ${CONSUMERS.map((c) => `${c} p99 ${fmt(result.consumers[c].latency.p99)} ms, dropped ${result.consumers[c].dropped}`).join('; ')}; hub ${cpuPerValue(hubCpuMs, run.persisted)} CPU µs/value, loop delay p99 ${fmt(tails[0].loopDelayMs.p99)} ms`,
      );
    }
  }
  return runs;
}

export async function e2eScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const sizes = e2eSizes(ctx.quick);
  const { rates, durationMs, drainMs } = sizes;
  let runs: HubE2eRun[];
  const hub = await startHubProc(ctx.profile ? { profile: 'e2e' } : {});
  try {
    runs = await runHubE2e(ctx, { agent: hub, consumers: hub }, sizes);
  } finally {
    await hub.close();
  }
  // The hub's figures are per run (publisher x rate): on the run's first consumer row only.
  const hubCells = (r: HubE2eRun) => [
    `${int(r.hubCpuMs)} ms`,
    cpuPerValue(r.hubCpuMs, r.persisted),
    ...tailCells(r.tails[0]),
    `${int(r.loadCpuMs)} ms, ${fmt(r.loadLoopDelayMs.p99)} / ${fmt(r.loadLoopDelayMs.max)}`,
  ];
  const rows = runs.flatMap((r) =>
    CONSUMERS.map((c, i) => [
      r.publisher.toUpperCase(),
      c.toUpperCase(),
      int(r.rate),
      int(r.achievedRate),
      pcts(r.consumers[c].latency),
      fmt(r.consumers[c].latency.max),
      `${int(r.consumers[c].dropped)}${r.publishErrors + r.skipped > 0 ? ` (+${r.publishErrors} refused, ${r.skipped} not sent)` : ''}`,
      ...(i === 0 ? hubCells(r) : Array<string>(3 + TAIL_HEADERS.length).fill('')),
    ]),
  );
  const top = Math.max(...rates);
  const targets: Target[] = runs
    .filter((r) => r.rate === top)
    .flatMap((r) =>
      CONSUMERS.map((c) => ({
        target: `p99 device→consumer < 10 ms at 10k updates/s (${r.publisher.toUpperCase()}→${c.toUpperCase()})`,
        measured: `${fmt(r.consumers[c].latency.p99)} ms at ${int(r.rate)}/s`,
        met: top >= 10_000 ? r.consumers[c].latency.p99 < 10 && r.consumers[c].dropped === 0 : undefined,
      })),
    );
  return {
    scenario: 'e2e',
    title: `2. End to end: agent → hub → consumers, ${rates.map(int).join(' and ')} updates/s for ${durationMs / 1000} s`,
    params: { things: THINGS, rates, durationMs, drainMs, publishers: PUBLISHERS, consumers: CONSUMERS },
    table: {
      headers: [
        'agent over',
        'consumer over',
        'rate/s',
        'sent/s',
        'latency ms p50/p95/p99',
        'max ms',
        'dropped',
        'hub CPU time',
        'hub CPU µs/value',
        ...TAIL_HEADERS,
        'load process: CPU, loop delay ms p99/max',
      ],
      rows,
    },
    targets,
    notes: [
      'All three consumers are subscribed at once (SSE GET /stream, WS observeallproperties, MQTT things/+/properties/+), so the hub fans each value out three times.',
      'Publisher and consumers share one load process (one clock); the agent reports to 100 Things round robin (MQTT QoS 0 …/reported; WS updateproperty envelopes without waiting; HTTP PUT /agent/things/{id}/properties/level over 64 keep-alive sockets).',
      `dropped = sent − refused − not received once nothing arrived for 0.5 s (at most ${drainMs / 1000} s after the last send). Target row is n/a in quick mode (it does not run 10k/s).`,
      "The hub columns are per run (one agent binding at one rate, all three consumers at once) and shown on its first row: hub CPU time = CPU time (user + system) of the hub process over the run including the drain; hub CPU µs/value = that time per value the hub persisted (growth of the Things' state versions).",
      TAIL_NOTE,
      'load process: CPU time of the one process that sends and receives (the agent and the three consumers), and how late its own event loop ran (beyond a 10 ms timer, p99/max): a late load loop delays the send and the receive timestamps, so latency it adds is not the hub’s.',
    ],
    data: runs,
  };
}
