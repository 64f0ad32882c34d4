// Scenario: MQTT ingest with value history on vs off (issue #12: writing history must not make
// ingest slower than 0.8 of ingest without it). Two hubs, one with --history off, the same QoS 1
// load as the ingest scenario, run alternately several rounds so drift on a shared machine hits
// both alike; the ratio of the medians is the figure.

import { runLoad } from '../lib/children.js';
import { startHubProc, type HubHandle } from '../lib/hub-handle.js';
import type { ScenarioReport } from '../lib/report.js';
import { fmt, int, pcts } from '../lib/stats.js';
import { BENCH_PROPERTY } from '../lib/td.js';
import type { IngestParams, IngestResult } from '../load/ingest.js';
import type { ScenarioContext } from './context.js';

const AGENTS = 100;
const WINDOW = 32;
const TARGET_RATIO = 0.8;

type Mode = 'off' | 'on';

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

export async function historyScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const messagesPerAgent = ctx.quick ? 100 : 500;
  const thingsPerAgent = ctx.quick ? 10 : 100;
  const rounds = ctx.quick ? 3 : 5;
  const timeoutMs = ctx.quick ? 20_000 : 60_000;
  const hubs = new Map<Mode, HubHandle>();
  const runs: Array<{ mode: Mode; round: number; result: IngestResult; persisted: number; hubCpuMs: number }> = [];
  const samples = new Map<Mode, number>();
  try {
    for (const mode of ['off', 'on'] as const)
      hubs.set(mode, await startHubProc({ history: mode === 'on', ...(ctx.profile ? { profile: `history-${mode}` } : {}) }));
    const setups = new Map<Mode, Awaited<ReturnType<HubHandle['setup']>>>();
    for (const [mode, hub] of hubs) {
      setups.set(
        mode,
        await hub.setup({
          agents: Array.from({ length: AGENTS }, (_, i) => ({ id: `history-agent-${i}`, things: thingsPerAgent })),
          viewers: ['history-viewer'],
        }),
      );
    }
    ctx.log(`  two hubs (history off, on): ${AGENTS * thingsPerAgent} Things each`);
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
      const order: Mode[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const mode of order) {
        const hub = hubs.get(mode)!;
        const setup = setups.get(mode)!;
        const thingIds = setup.agents.flatMap((a) => a.thingIds);
        const before = await hub.versions(thingIds);
        const cpuBefore = (await hub.stats()).cpuMs;
        const result = await hub.measure(`round${round}`, () =>
          runLoad<IngestResult>(
            'ingest',
            {
              target: 'hub',
              url: hub.urls.mqtt!,
              agents: setup.agents,
              subscriber: setup.viewers[0],
              messagesPerAgent,
              qos: 1,
              window: WINDOW,
              base: (round + 1) * 1e9,
              timeoutMs,
            } satisfies IngestParams,
            timeoutMs + 30_000,
          ),
        );
        const hubCpuMs = (await hub.stats()).cpuMs - cpuBefore;
        const persisted = (await hub.versions(thingIds)) - before;
        runs.push({ mode, round, result, persisted, hubCpuMs });
        ctx.log(`  round ${round + 1} history ${mode}: ${int(result.throughput)} values/s, ${int(persisted / (result.durationMs / 1000))} persisted/s`);
      }
    }
    for (const [mode, hub] of hubs) samples.set(mode, await hub.historyCount(setups.get(mode)!.agents[0].thingIds[0], BENCH_PROPERTY));
  } finally {
    for (const hub of hubs.values()) await hub.close();
  }

  const of = (mode: Mode) => runs.filter((r) => r.mode === mode);
  const throughput = (mode: Mode) => median(of(mode).map((r) => r.result.throughput));
  const persistedRate = (mode: Mode) => median(of(mode).map((r) => r.persisted / (r.result.durationMs / 1000)));
  const cpuPerValue = (mode: Mode) => median(of(mode).map((r) => (r.hubCpuMs * 1000) / Math.max(1, r.persisted)));
  const ratio = throughput('on') / throughput('off');
  const persistedRatio = persistedRate('on') / persistedRate('off');
  const rows = (['off', 'on'] as const).map((mode) => {
    const last = of(mode).at(-1)!;
    return [
      mode,
      of(mode)
        .map((r) => int(r.result.throughput))
        .join(' / '),
      int(throughput(mode)),
      int(persistedRate(mode)),
      `${fmt(cpuPerValue(mode))} µs`,
      pcts(last.result.ackLatency),
      String(samples.get(mode) ?? '–'),
    ];
  });
  return {
    scenario: 'history',
    title: `History on vs off: MQTT ingest (QoS 1), ${AGENTS} agents x ${thingsPerAgent} Things, ${int(AGENTS * messagesPerAgent)} values per run, ${rounds} rounds`,
    params: { agents: AGENTS, thingsPerAgent, messagesPerAgent, windowPerAgent: WINDOW, rounds, qos: 1 },
    table: {
      headers: [
        'history',
        'values/s per round',
        'median values/s',
        'median persisted/s',
        'hub CPU per value',
        'PUBACK ms p50/p95/p99 (last round)',
        'samples of one property',
      ],
      rows,
    },
    targets: [
      {
        target: `ingest with history on is at least ${TARGET_RATIO} of ingest with it off (median values/s)`,
        measured: `on/off = ${fmt(ratio)} (persisted/s: ${fmt(persistedRatio)}; hub CPU per value off/on: ${fmt(cpuPerValue('off') / cpuPerValue('on'))})`,
        met: ratio >= TARGET_RATIO,
      },
    ],
    notes: [
      'Two hub processes on their own LevelDB folders, one started with --history off; rounds alternate which hub is loaded first.',
      'With history on, every accepted value also writes one sample record in the same group-committed batch as its state record (no delta sampling: the default keeps every value).',
      'On a busy shared machine the throughput ratio is noisy; the hub CPU per accepted value (off/on) is the steadier measure of what recording costs.',
      '"samples of one property" reads the history of the first Thing\'s level property after the runs (at most 1000): 0 with history off.',
    ],
    data: { runs, samples: Object.fromEntries(samples), ratio, persistedRatio, cpuPerValue: { off: cpuPerValue('off'), on: cpuPerValue('on') } },
  };
}
