// End-to-end latency: one agent reports values at a fixed rate over one binding (MQTT, WS or
// HTTP); three consumers (SSE /stream, WS observeallproperties, MQTT value topics) receive them.
// Open loop: values are sent on schedule whether or not earlier ones were answered, so slowness
// shows up as latency (and drops), not as a lower send rate.

import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EnvelopeSocket, enc, httpJson, mqttConnect, openSse } from '../lib/clients.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import { sleep } from './ingest.js';

export type Binding = 'mqtt' | 'ws' | 'http';
export type ConsumerBinding = 'sse' | 'ws' | 'mqtt';

export interface E2eParams {
  /** The agent's hub. */
  urls: { http: string; ws: string; mqtt: string };
  /** The consumers' hub when it is not `urls` (a second hub instance on the same store). */
  consumerUrls?: { http: string; ws: string; mqtt: string };
  agent: { id: string; token: string; thingIds: string[] };
  consumers: Record<ConsumerBinding, { id: string; token: string }>;
  publisher: Binding;
  rate: number;
  durationMs: number;
  drainMs: number;
  base: number;
}

export interface ConsumerResult {
  received: number;
  dropped: number;
  duplicates: number;
  latency: LatencySummary;
}

export interface E2eResult {
  publisher: Binding;
  rate: number;
  /** Values the schedule asked for, values actually sent, and sends the hub refused or failed. */
  scheduled: number;
  sent: number;
  publishErrors: number;
  /** Sends skipped because too many HTTP requests were already outstanding (generator limit). */
  skipped: number;
  achievedRate: number;
  consumers: Record<ConsumerBinding, ConsumerResult>;
  loadCpuMs: number;
  /**
   * How late the load process's own event loop ran (beyond its 10 ms sampling timer), ms: the
   * agent and the three consumers share it, so a late loop delays both the sending and the
   * timestamping of what arrives, and shows up as latency the hub did not add.
   */
  loadLoopDelayMs: { p99: number; max: number };
}

const MAX_OUTSTANDING_HTTP = 2000;

export async function e2e(p: E2eParams): Promise<E2eResult> {
  const total = Math.ceil((p.rate * p.durationMs) / 1000);
  const sentAt = new Float64Array(total);
  const tallies = {} as Record<ConsumerBinding, { seen: Uint8Array; latencies: number[]; duplicates: number }>;
  const record = (consumer: ConsumerBinding, value: unknown) => {
    if (typeof value !== 'number') return;
    const index = value - p.base;
    if (!(index >= 0 && index < total) || sentAt[index] === 0) return;
    const tally = tallies[consumer];
    if (tally.seen[index]) {
      tally.duplicates++;
      return;
    }
    tally.seen[index] = 1;
    tally.latencies.push(performance.now() - sentAt[index]);
  };
  for (const c of ['sse', 'ws', 'mqtt'] as const) tallies[c] = { seen: new Uint8Array(total), latencies: [], duplicates: 0 };

  // Consumers first, all subscribed before the first value is sent.
  const at = p.consumerUrls ?? p.urls;
  const sse = await openSse(at.http, '/stream', p.consumers.sse.token, (frame) => {
    if (frame.event !== 'observeproperty') return;
    record('sse', (JSON.parse(frame.data) as { data: unknown }).data);
  });
  const wsConsumer = await EnvelopeSocket.open(at.ws, p.consumers.ws.token);
  wsConsumer.onPush = (message) => {
    if (message.type === 'notification' && message.operation === 'observeproperty') record('ws', message.data);
  };
  const observed = await wsConsumer.request({ operation: 'observeallproperties' });
  if (observed.status !== 204 && observed.status !== 200) throw new Error(`WS observeallproperties: ${observed.status} ${observed.error?.detail}`);
  const mqttConsumer = await mqttConnect(at.mqtt, p.consumers.mqtt);
  let lastRetained = performance.now();
  mqttConsumer.on('message', (_topic, payload) => {
    lastRetained = performance.now();
    record('mqtt', Number(payload.toString()));
  });
  await mqttConsumer.subscribeAsync('things/+/properties/+', { qos: 0 });
  while (performance.now() - lastRetained < 300) await sleep(100); // retained values of earlier runs

  // The publisher.
  let publishErrors = 0;
  let outstanding = 0;
  let skipped = 0;
  let send: (thingId: string, value: number) => void;
  let closePublisher: () => void;
  if (p.publisher === 'mqtt') {
    const client = await mqttConnect(p.urls.mqtt, p.agent);
    client.on('message', () => publishErrors++);
    await client.subscribeAsync(`clients/${enc(p.agent.id)}/errors`, { qos: 0 });
    send = (thingId, value) => void client.publish(`things/${enc(thingId)}/properties/level/reported`, String(value), { qos: 0 });
    closePublisher = () => client.end(true);
  } else if (p.publisher === 'ws') {
    const socket = await EnvelopeSocket.open(p.urls.ws, p.agent.token);
    socket.onPush = (message) => {
      if (message.type === 'response' && (message.status ?? 500) >= 300) publishErrors++;
    };
    send = (thingId, value) => socket.fire({ operation: 'updateproperty', thingId, name: 'level', input: value, correlationId: 'u' });
    closePublisher = () => socket.close();
  } else {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    send = (thingId, value) => {
      if (outstanding >= MAX_OUTSTANDING_HTTP) {
        skipped++;
        sentAt[value - p.base] = 0;
        return;
      }
      outstanding++;
      httpJson(agent, p.urls.http, 'PUT', `/agent/things/${enc(thingId)}/properties/level`, p.agent.token, value).then(
        (status) => {
          outstanding--;
          if (status !== 204) publishErrors++;
        },
        () => {
          outstanding--;
          publishErrors++;
        },
      );
    };
    closePublisher = () => agent.destroy();
  }

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  const things = p.agent.thingIds;
  while (next < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * p.rate) / 1000) + 1);
    while (next < due) {
      const index = next++;
      sentAt[index] = performance.now();
      send(things[index % things.length], p.base + index);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (next < due + 1) await sleep(1);
  }
  const sendEnd = performance.now();
  const expected = () => Math.min(...(['sse', 'ws', 'mqtt'] as const).map((c) => tallies[c].latencies.length));
  const sent = total - skipped;
  // Drain: until every consumer has everything, nothing arrived for 500 ms, or drainMs passed.
  const drainUntil = performance.now() + p.drainMs;
  let progress = { count: -1, at: performance.now() };
  while (performance.now() < drainUntil && (expected() < sent - publishErrors || outstanding > 0)) {
    const count = (['sse', 'ws', 'mqtt'] as const).reduce((sum, c) => sum + tallies[c].latencies.length, 0);
    if (count !== progress.count) progress = { count, at: performance.now() };
    else if (performance.now() - progress.at > 500 && outstanding === 0) break;
    await sleep(20);
  }
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  const lateMs = (ns: number) => Math.max(0, ns / 1e6 - 10);
  closePublisher();
  sse.close();
  wsConsumer.close();
  mqttConsumer.end(true);

  const consumers = {} as Record<ConsumerBinding, ConsumerResult>;
  for (const c of ['sse', 'ws', 'mqtt'] as const) {
    const t = tallies[c];
    consumers[c] = {
      received: t.latencies.length,
      dropped: sent - publishErrors - t.latencies.length,
      duplicates: t.duplicates,
      latency: summarize(t.latencies),
    };
  }
  return {
    publisher: p.publisher,
    rate: p.rate,
    scheduled: total,
    sent,
    publishErrors,
    skipped,
    achievedRate: sent / ((sendEnd - start) / 1000),
    consumers,
    loadCpuMs: (cpu.user + cpu.system) / 1000,
    loadLoopDelayMs: { p99: lateMs(loopDelay.percentile(99)), max: lateMs(loopDelay.max) },
  };
}
