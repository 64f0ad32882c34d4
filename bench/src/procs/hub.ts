// The hub under test, in its own process: startHub on a LevelDB folder (or, with `nats`, on a NATS
// JetStream cluster) with ephemeral ports on 127.0.0.1 (or, with `mqttUrl`, as a client of an external
// broker), reporting its URLs over IPC. The parent drives it: setup (tokens + Things, created
// in-process so setup time is not measured), stats (memory, CPU), state versions, where a measured
// phase's tail comes from (event-loop delay, GC pauses, persist batch times), close.

import { writeFile } from 'node:fs/promises';
import { Session as InspectorSession } from 'node:inspector/promises';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { defaultConfig, startHub, type HubConfig } from '@twinhub/hub';
import type { Client } from '@twinhub/core';
import { pino } from 'pino';
import { serveCalls } from '../lib/ipc.js';
import { histogramQuantile, parseHistogram, type HistogramBuckets } from '../lib/stats.js';
import { benchTd, benchThingId } from '../lib/td.js';

export interface HubProcOptions {
  dataDir: string;
  limits?: Partial<HubConfig['limits']>;
  /** Record value history (the hub's default: on). */
  history?: boolean;
  /** Cluster mode: the records live in this NATS JetStream cluster instead of `dataDir`. */
  nats?: { servers: string[]; replicas: number };
  /**
   * External broker mode (docs/mqtt.md): the hub embeds no broker and is a client of this one, so
   * the MQTT URL it reports (and the load must use) is the broker's.
   */
  mqttUrl?: string;
}

export interface SetupRequest {
  agents?: Array<{ id: string; things: number }>;
  viewers?: string[];
  operators?: string[];
  /** @type values given to the Things, round robin. */
  types?: string[];
}

export interface Credential {
  id: string;
  token: string;
}

export interface SetupResult {
  agents: Array<Credential & { thingIds: string[] }>;
  viewers: Credential[];
  operators: Credential[];
  ms: number;
}

export interface HubStats {
  rss: number;
  heapUsed: number;
  /** CPU time used so far (user + system), ms. */
  cpuMs: number;
}

/** What the hub process saw during one measured phase (phaseStart to phaseEnd). */
export interface HubPhaseStats {
  /** Event-loop delay beyond the 10 ms sampling timer, ms. */
  loopDelayMs: { p50: number; p99: number; max: number };
  gc: { count: number; totalMs: number; maxMs: number };
  /** Store batches written (result ok) in the phase, and their write time estimated from the hub's histogram, ms. */
  persist: {
    batches: number;
    p50Ms: number | undefined;
    p99Ms: number | undefined;
    /** The upper bound of the histogram bucket holding the slowest batch, ms. */
    maxMs: number | undefined;
    /** Batches slower than 10 ms (each one holds up every value queued behind it). */
    over10Ms: number;
  };
}

/** The core's group-commit write time (packages/hub/src/metrics.ts), read back from the hub's own /metrics. */
const PERSIST_HISTOGRAM = 'twinhub_persist_duration_seconds';
const LOOP_RESOLUTION_MS = 10;

const options = JSON.parse(process.argv[2] ?? '{}') as HubProcOptions;
const config: HubConfig = { ...defaultConfig(), dataDir: options.dataDir, host: '127.0.0.1', httpPort: 0, mqttPort: 0, logLevel: 'silent' };
config.limits = { ...config.limits, ...options.limits };
// GET /metrics on an ephemeral loopback port (no token there): the persist histogram of the registry this hub writes to.
config.metricsPort = 0;
config.metricsHost = '127.0.0.1';
if (options.history !== undefined) config.history = options.history;
if (options.nats) {
  config.nats = options.nats.servers;
  config.natsReplicas = options.nats.replicas;
}
if (options.mqttUrl) {
  config.mqttUrl = options.mqttUrl;
  // The hub keeps a persistent session under its client id: one of its own, so it can never take
  // over another hub's session (MQTT 5 §3.1.4) should two bench hubs share a broker.
  config.mqttClientId = `twinhub-bench-${process.pid}`;
}
const started = performance.now();
const running = await startHub(config, pino({ level: 'silent' }));
const startupMs = performance.now() - started;
const admin: Client = { id: 'bench-admin', role: 'admin' };
await running.hub.tokens.create(admin);
let typeCounter = 0;
let inspector: InspectorSession | undefined;

// Always on, reset at each phase start: enabling them per phase would miss the phase's first samples.
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loopDelay.enable();
let gc = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gc = { count: gc.count + 1, totalMs: gc.totalMs + entry.duration, maxMs: Math.max(gc.maxMs, entry.duration) };
}).observe({ entryTypes: ['gc'] });
let persistBefore: HistogramBuckets = [];
const persistBuckets = async (): Promise<HistogramBuckets> => {
  if (!running.metricsUrl) return [];
  const response = await fetch(running.metricsUrl);
  return parseHistogram(await response.text(), PERSIST_HISTOGRAM, { result: 'ok' });
};

serveCalls({
  async setup(args) {
    const request = args as SetupRequest;
    const t0 = performance.now();
    const credential = async (id: string, role: 'agent' | 'viewer' | 'operator') => ({ id, token: (await running.hub.tokens.create({ id, role })).token });
    const types = request.types ?? ['BenchSensor'];
    const agents: SetupResult['agents'] = [];
    for (const agent of request.agents ?? []) {
      const client: Client = { id: agent.id, role: 'agent' };
      const { token } = await running.hub.tokens.create(client);
      const thingIds: string[] = [];
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < agent.things; i++) {
        const id = benchThingId(agent.id, i);
        thingIds.push(id);
        pending.push(
          running.hub.handle({ operation: 'updateTD', input: benchTd(id, types[typeCounter++ % types.length]) }, { client }).then((result) => {
            if (!result.ok) throw new Error(`registering ${id} failed: ${result.problem.detail}`);
          }),
        );
      }
      await Promise.all(pending);
      agents.push({ id: agent.id, token, thingIds });
    }
    const viewers = await Promise.all((request.viewers ?? []).map((id) => credential(id, 'viewer')));
    const operators = await Promise.all((request.operators ?? []).map((id) => credential(id, 'operator')));
    return { agents, viewers, operators, ms: performance.now() - t0 } satisfies SetupResult;
  },

  stats(): HubStats {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return { rss: memory.rss, heapUsed: memory.heapUsed, cpuMs: (cpu.user + cpu.system) / 1000 };
  },

  /** Sum of the state versions of these Things: each accepted report increments it once. */
  async versions(args) {
    let sum = 0;
    for (const thingId of (args as { thingIds: string[] }).thingIds) {
      const result = await running.hub.handle({ operation: 'readstate', thingId }, { client: admin });
      if (result.ok) sum += (result.output as { version: number }).version;
    }
    return sum;
  },

  /**
   * How many of these Things and tokens this hub knows: with a second instance on the same store,
   * what the first one set up reaches it through the change feed, a few milliseconds later.
   */
  async knows(args) {
    const { thingIds, tokens } = args as { thingIds: string[]; tokens: string[] };
    let things = 0;
    for (const thingId of thingIds) if ((await running.hub.handle({ operation: 'readstate', thingId }, { client: admin })).ok) things++;
    return { things, tokens: tokens.filter((token) => running.hub.tokens.authenticate(token) !== undefined).length };
  },

  /** How many history samples a property of a Thing has (at most 1000): shows that history was (or was not) recorded. */
  async historyCount(args) {
    const { thingId, name } = args as { thingId: string; name: string };
    const result = await running.hub.handle({ operation: 'readpropertyhistory', thingId, name, query: { limit: 1000 } }, { client: admin });
    return result.ok ? (result.output as { samples: unknown[] }).samples.length : -1;
  },

  /** Starts a measured phase: from here on, loop delay, GC pauses and persist batches count for it. */
  async phaseStart() {
    persistBefore = await persistBuckets();
    loopDelay.reset();
    gc = { count: 0, totalMs: 0, maxMs: 0 };
    return true;
  },

  async phaseEnd(): Promise<HubPhaseStats> {
    // The histogram records whole timer intervals (about 10 ms when idle): the delay is what exceeds it.
    const delay = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    const loopDelayMs = { p50: delay(loopDelay.percentile(50)), p99: delay(loopDelay.percentile(99)), max: delay(loopDelay.max) };
    const phaseGc = gc;
    const after = await persistBuckets();
    const ms = (q: number) => {
      const seconds = histogramQuantile(persistBefore, after, q);
      return seconds === undefined ? undefined : seconds * 1000;
    };
    const batches = (after.at(-1)?.count ?? 0) - (persistBefore.at(-1)?.count ?? 0);
    const within10Ms = (buckets: HistogramBuckets) => buckets.find((b) => b.le >= 0.01)?.count ?? 0;
    const over10Ms = batches - (within10Ms(after) - within10Ms(persistBefore));
    return { loopDelayMs, gc: phaseGc, persist: { batches, p50Ms: ms(0.5), p99Ms: ms(0.99), maxMs: ms(1), over10Ms } };
  },

  /** V8 CPU profile of one measured phase only (the same profiler as --cpu-prof). */
  async profileStart() {
    inspector = new InspectorSession();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.start');
    return true;
  },

  async profileStop(args) {
    if (!inspector) return false;
    const { profile } = await inspector.post('Profiler.stop');
    inspector.disconnect();
    inspector = undefined;
    await writeFile((args as { file: string }).file, JSON.stringify(profile));
    return true;
  },

  async close() {
    await running.close();
    setImmediate(() => process.exit(0));
    return true;
  },
});

process.on('SIGTERM', () => void running.close().finally(() => process.exit(0)));
process.send?.({ type: 'ready', urls: running.urls, startupMs, pid: process.pid });
