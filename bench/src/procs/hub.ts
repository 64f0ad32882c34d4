// The hub under test, in its own process: startHub on a LevelDB folder (or, with `nats`, on a NATS
// JetStream cluster) with ephemeral ports on 127.0.0.1, reporting its URLs over IPC. The parent drives it: setup (tokens + Things, created
// in-process so setup time is not measured), stats (memory, CPU), state versions, close.

import { writeFile } from 'node:fs/promises';
import { Session as InspectorSession } from 'node:inspector/promises';
import { defaultConfig, startHub, type HubConfig } from '@twinhub/hub';
import type { Client } from '@twinhub/core';
import { pino } from 'pino';
import { serveCalls } from '../lib/ipc.js';
import { benchTd, benchThingId } from '../lib/td.js';

export interface HubProcOptions {
  dataDir: string;
  limits?: Partial<HubConfig['limits']>;
  /** Record value history (the hub's default: on). */
  history?: boolean;
  /** Cluster mode: the records live in this NATS JetStream cluster instead of `dataDir`. */
  nats?: { servers: string[]; replicas: number };
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

const options = JSON.parse(process.argv[2] ?? '{}') as HubProcOptions;
const config: HubConfig = { ...defaultConfig(), dataDir: options.dataDir, host: '127.0.0.1', httpPort: 0, mqttPort: 0, logLevel: 'silent' };
config.limits = { ...config.limits, ...options.limits };
if (options.history !== undefined) config.history = options.history;
if (options.nats) {
  config.nats = options.nats.servers;
  config.natsReplicas = options.nats.replicas;
}
const started = performance.now();
const running = await startHub(config, pino({ level: 'silent' }));
const startupMs = performance.now() - started;
const admin: Client = { id: 'bench-admin', role: 'admin' };
await running.hub.tokens.create(admin);
let typeCounter = 0;
let inspector: InspectorSession | undefined;

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
