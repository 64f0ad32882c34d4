// Where a measured phase's tail comes from, seen from inside the hub process(es): wraps a phase in
// the hub's phaseStart/phaseEnd (event-loop delay, GC pauses, persist batch times, CPU time) and
// formats those figures as table cells for the ingest and end-to-end scenarios.

import type { HubPhaseStats } from '../procs/hub.js';
import type { HubHandle } from './hub-handle.js';
import { callChild } from './ipc.js';
import { fmt, int } from './stats.js';

export interface HubPhase<T> {
  result: T;
  /** CPU time (user + system) of every hub during the phase, ms. */
  hubCpuMs: number;
  /** What each hub saw, in the order of `hubs`. */
  tails: HubPhaseStats[];
}

/**
 * Runs `phase` as `hubs[0].measure(label, …)` (so --profile still profiles it), with every hub's
 * instrumentation reset at its start and read at its end. The CPU time is read inside the
 * instrumented window, so the /metrics scrapes of phaseStart/phaseEnd are not counted in it.
 */
export async function measureHubPhase<T>(hubs: HubHandle[], label: string, phase: () => Promise<T>): Promise<HubPhase<T>> {
  const cpu = async () => (await Promise.all(hubs.map((hub) => hub.stats()))).reduce((sum, s) => sum + s.cpuMs, 0);
  await Promise.all(hubs.map((hub) => callChild(hub.child, 'phaseStart')));
  const cpuBefore = await cpu();
  const result = await hubs[0].measure(label, phase);
  const hubCpuMs = (await cpu()) - cpuBefore;
  const tails = await Promise.all(hubs.map((hub) => callChild<HubPhaseStats>(hub.child, 'phaseEnd')));
  return { result, hubCpuMs, tails };
}

/** CPU time per value, µs; '–' when nothing was counted. */
export function cpuPerValue(cpuMs: number, values: number): string {
  return values > 0 ? fmt((cpuMs * 1000) / values) : '–';
}

export const TAIL_HEADERS = ['loop delay ms p50/p99/max', 'GC n / ms total / max', 'persist batch ms p50/p99/max≤ (batches, over 10 ms)'];

/** The TAIL_HEADERS cells of one hub's phase. */
export function tailCells(tail: HubPhaseStats): string[] {
  const { loopDelayMs: loop, gc, persist } = tail;
  const batch = (ms: number | undefined) => (ms === undefined ? 'n/a' : fmt(ms));
  return [
    `${fmt(loop.p50)} / ${fmt(loop.p99)} / ${fmt(loop.max)}`,
    `${int(gc.count)} / ${fmt(gc.totalMs)} / ${fmt(gc.maxMs)}`,
    `${batch(persist.p50Ms)} / ${batch(persist.p99Ms)} / ${batch(persist.maxMs)} (${int(persist.batches)}, ${int(persist.over10Ms)})`,
  ];
}

export const TAIL_NOTE =
  "Inside the hub process, per measured run: loop delay = how late its event loop ran a 10 ms timer (perf_hooks.monitorEventLoopDelay, reset at the run's start); GC = the pauses a PerformanceObserver on 'gc' saw (count, total and longest, ms); persist batch = the store's write time per group-commit batch, p50/p99 estimated from the hub's twinhub_persist_duration_seconds histogram (its buckets read from the hub's /metrics before and after the run, so only that run's batches count), max≤ = the upper bound of the bucket holding the slowest batch, then the number of batches written and how many took over 10 ms.";
