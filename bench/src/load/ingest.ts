// MQTT ingest load: N agents publish property values as fast as the broker takes them (a bounded
// window of unacknowledged publishes per agent), one subscriber counts what comes out the other
// side. The same job drives the hub (…/reported in, retained value topic out) and a bare broker
// (aedes or Mosquitto: `target: 'raw'`).

import type { MqttClient } from 'mqtt';
import { enc, mqttConnect } from '../lib/clients.js';
import { summarize, type LatencySummary } from '../lib/stats.js';

export interface IngestParams {
  target: 'hub' | 'raw';
  url: string;
  /** The subscriber's broker when it is not `url` (a second hub instance on the same store). */
  subscriberUrl?: string;
  agents: Array<{ id: string; token: string; thingIds: string[] }>;
  subscriber?: { id: string; token: string };
  messagesPerAgent: number;
  qos: 0 | 1;
  /** Publishes in flight per agent (QoS 1: not yet PUBACKed; QoS 0: not yet seen by the subscriber). */
  window: number;
  /** First value of this run: values are base + agent * 1e6 + i, so runs never mix. */
  base: number;
  timeoutMs: number;
}

export interface IngestResult {
  sent: number;
  acked: number;
  received: number;
  duplicates: number;
  /** First publish to last value seen by the subscriber, ms. */
  durationMs: number;
  /** Values through the broker to the subscriber, per second. */
  throughput: number;
  /** QoS 1: acknowledged publishes per second. */
  ackRate: number;
  ackLatency: LatencySummary;
  deliveryLatency: LatencySummary;
  timedOut: boolean;
  loadCpuMs: number;
}

export async function ingest(p: IngestParams): Promise<IngestResult> {
  const total = p.agents.length * p.messagesPerAgent;
  const sentAt = new Float64Array(total);
  const seen = new Uint8Array(total);
  const ackLatencies: number[] = [];
  const deliveryLatencies: number[] = [];
  let received = 0;
  let duplicates = 0;
  let acked = 0;
  let lastReceive = 0;
  let lastAck = 0;
  // QoS 0 has no acknowledgement: the subscriber seeing a value frees its agent's window slot, so
  // neither broker is pushed into queueing without bound (bare aedes overflows its stack if it is).
  const inFlight = new Int32Array(p.agents.length);
  const pumps: Array<() => void> = [];

  const subscriber = await mqttConnect(p.subscriberUrl ?? p.url, p.subscriber, p.subscriber ? undefined : `bench-subscriber-${process.pid}`);
  let lastAny = performance.now();
  let allReceived: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allReceived = resolve));
  subscriber.on('message', (_topic, payload) => {
    const now = performance.now();
    lastAny = now;
    const index = indexOf(Number(payload.toString()), p);
    if (index === undefined) return; // a retained value of an earlier run
    if (seen[index]) {
      duplicates++;
      return;
    }
    seen[index] = 1;
    received++;
    if (p.qos === 0) {
      const a = Math.floor(index / p.messagesPerAgent);
      inFlight[a]--;
      pumps[a]?.();
    }
    lastReceive = now;
    deliveryLatencies.push(now - sentAt[index]);
    if (received === total) allReceived();
  });
  await subscriber.subscribeAsync(p.target === 'hub' ? 'things/+/properties/+' : 'things/+/properties/+/reported', { qos: 0 });
  // The hub sends the retained value of every Thing on subscribe: let that burst pass first.
  lastAny = performance.now();
  while (performance.now() - lastAny < 300) await sleep(100);

  const agents: MqttClient[] = await Promise.all(
    p.agents.map((a) => mqttConnect(p.url, p.target === 'hub' ? a : undefined, p.target === 'hub' ? undefined : `${a.id}-${process.pid}`)),
  );
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  // Silence is counted from the first publish: connecting the agents to a busy hub can take longer
  // than the quiet period, which then ended the run before any value could arrive.
  lastAny = start;
  const publishers = p.agents.map((agent, a) =>
    (async () => {
      const client = agents[a];
      const topics = agent.thingIds.map((id) => `things/${enc(id)}/properties/level/reported`);
      let next = 0;
      await new Promise<void>((resolve) => {
        const finished = () => next >= p.messagesPerAgent && inFlight[a] === 0;
        const pump = () => {
          while (inFlight[a] < p.window && next < p.messagesPerAgent) {
            const i = next++;
            const index = a * p.messagesPerAgent + i;
            inFlight[a]++;
            const t = performance.now();
            sentAt[index] = t;
            client.publish(topics[i % topics.length], String(p.base + a * 1e6 + i), { qos: p.qos }, (error) => {
              if (p.qos === 0) return; // the subscriber frees the slot
              inFlight[a]--;
              if (!error) {
                const now = performance.now();
                acked++;
                lastAck = now;
                ackLatencies.push(now - t);
              }
              pump();
            });
          }
          if (finished()) resolve();
        };
        pumps[a] = pump;
        pump();
      });
    })(),
  );
  const timeout = sleep(p.timeoutMs).then(() => 'timeout' as const);
  // Nothing reaches the subscriber for 2 s: what is missing is lost (QoS 0 windows never free up).
  const quiet = (async () => {
    while (performance.now() - lastAny < 2000) await sleep(100);
  })();
  await Promise.race([Promise.all(publishers), quiet, timeout]);
  const outcome = await Promise.race([done.then(() => 'done' as const), quiet.then(() => 'quiet' as const), timeout]);
  const cpu = process.cpuUsage(cpu0);
  for (const client of [...agents, subscriber]) client.end(true);
  const durationMs = (received > 0 ? lastReceive : performance.now()) - start;
  return {
    sent: sentAt.filter((t) => t > 0).length,
    acked,
    received,
    duplicates,
    durationMs,
    throughput: received / (durationMs / 1000),
    ackRate: acked > 0 ? acked / ((lastAck - start) / 1000) : 0,
    ackLatency: summarize(ackLatencies),
    deliveryLatency: summarize(deliveryLatencies),
    timedOut: outcome === 'timeout',
    loadCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

function indexOf(value: number, p: IngestParams): number | undefined {
  if (!Number.isInteger(value) || value < p.base) return undefined;
  const offset = value - p.base;
  const a = Math.floor(offset / 1e6);
  const i = offset % 1e6;
  if (a >= p.agents.length || i >= p.messagesPerAgent) return undefined;
  return a * p.messagesPerAgent + i;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
