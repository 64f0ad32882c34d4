// Two hub instances on one NATS JetStream cluster sharing one external Mosquitto 2 broker (issue #15):
// the instances subscribe to the inbound topics as MQTT 5 shared subscriptions, so each device
// message is handled by one of them; each value and event is published once; a request made on B
// reaches the MQTT agent once; with A stopped, B handles every device message. Needs `nats-server`
// and `mosquitto`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonRequest } from '@twinhub/binding-http/testing';
import {
  connectMqtt,
  findMosquitto,
  MOSQUITTO_SKIP_HINT,
  quiet,
  startMosquitto,
  type MosquittoBroker,
  type MqttTestClient,
} from '@twinhub/binding-mqtt/testing';
import { topics } from '@twinhub/binding-mqtt';
import type { RequestRecord } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { natsSkipReason, startNatsCluster, type NatsCluster } from '@twinhub/storage-nats/testing';
import { eventually, lampTd } from '@twinhub/testkit';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const skip = natsSkipReason() ?? (findMosquitto() ? false : MOSQUITTO_SKIP_HINT);
const LAMP = 'urn:dev:ops:cluster-mqtt-lamp';
const REPORTS = 20;

/** Operations of `operation` the hub's MQTT binding handled (any status), from its /metrics. */
async function handledByMqtt(hub: RunningHub, operation: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', hub.metricsUrl))).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('twinhub_requests_total{') && line.includes(`operation="${operation}"`) && line.includes('binding="mqtt"')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

describe('two hub instances sharing an external Mosquitto broker (MQTT 5 shared subscriptions)', { skip }, () => {
  let cluster: NatsCluster;
  let broker: MosquittoBroker;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let a: RunningHub;
  let b: RunningHub;
  let tokens: Tokens;
  let agent: MqttTestClient;
  /** Subscribed to the hub's value, event and agent-request topics: counts what the hubs publish. */
  let watcher: MqttTestClient;

  const instances = () => [a, b];
  const start = (dir: string) =>
    startTestHub(dir, { nats: cluster.servers, mqttUrl: broker.url, metricsPort: 0, metricsHost: '127.0.0.1', requestTtlSeconds: 600 });

  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
    broker = await startMosquitto();
    data = await tempDataDir();
    a = await start(data.dir);
    b = await start(data.dir);
    tokens = await createTokens(a);
    // B learns of the clients through the change feed.
    await eventually(() => assert.ok(b.hub.clientById('agent-1') && b.hub.clientById('viewer-1')));
    // The broker admits anyone here; identities come from the topics (docs/mqtt.md, external mode).
    agent = await connectMqtt(broker.url, { username: 'agent-1', mqtt: { protocolVersion: 5 } });
    watcher = await connectMqtt(broker.url, { username: 'viewer-1', subscribeOwnTopics: false });
    await watcher.subscribe([topics.propertyValue(LAMP, 'brightness'), topics.event(LAMP, 'overheated'), topics.agentRequests('agent-1')], 1);
    const registered = await agent.request({ operation: 'updateTD', input: lampTd(LAMP) });
    assert.equal(registered.status, 201, JSON.stringify(registered));
    await eventually(async () =>
      assert.equal((await jsonRequest(b.urls.http, 'GET', `/things/${encodeURIComponent(LAMP)}`, { token: tokens.viewer })).status, 200),
    );
  });

  after(async () => {
    await agent?.close();
    await watcher?.close();
    await b?.close();
    await a?.close();
    await broker?.stop();
    await cluster?.stop();
    await data?.remove();
  });

  it('gives each instance its own MQTT client id, so neither takes the other’s session over', async () => {
    // Both still handle messages after start: had they shared a client id, the broker would have
    // disconnected one when the other connected (MQTT 5 §3.1.4), and the instances would keep kicking each other off.
    const before = await Promise.all(instances().map((hub) => handledByMqtt(hub, 'readproperty')));
    for (let i = 0; i < 8; i++) assert.equal((await agent.request({ operation: 'readproperty', thingId: LAMP, name: 'status' })).status, 404);
    const after = await Promise.all(instances().map((hub) => handledByMqtt(hub, 'readproperty')));
    assert.equal(after[0] - before[0] + (after[1] - before[1]), 8, 'each request handled once');
    assert.ok(after[0] > before[0] && after[1] > before[1], `the broker shares them out: ${before} -> ${after}`);
  });

  it('handles each device report once and publishes each event once; a value never ends on an older one', async () => {
    const before = await Promise.all(instances().map((hub) => handledByMqtt(hub, 'updateproperty')));
    const eventsBefore = await Promise.all(instances().map((hub) => handledByMqtt(hub, 'publishevent')));
    const seen = watcher.received.length;
    // Reports on the /reported topics: the broker acknowledges them (not the hub) and shares them
    // out, so the two instances handle consecutive reports at the same time.
    for (let i = 1; i <= REPORTS; i++) {
      await agent.publish(topics.propertyReported(LAMP, 'brightness'), i);
      await agent.publish(topics.eventReported(LAMP, 'overheated'), i);
    }
    const sum = (now: number[], then: number[]) => now[0] - then[0] + (now[1] - then[1]);
    let after: number[] = [];
    await eventually(async () => {
      after = await Promise.all(instances().map((hub) => handledByMqtt(hub, 'updateproperty')));
      assert.equal(sum(after, before), REPORTS, `reports handled once each: ${before} -> ${after}`);
      assert.equal(sum(await Promise.all(instances().map((hub) => handledByMqtt(hub, 'publishevent'))), eventsBefore), REPORTS);
    });
    assert.ok(after[0] > before[0] && after[1] > before[1], `both instances took a share: ${before} -> ${after}`);

    const published = () => watcher.received.slice(seen);
    const values = () => published().filter((m) => m.topic === topics.propertyValue(LAMP, 'brightness') && !m.retain);
    const events = () => published().filter((m) => m.topic === topics.event(LAMP, 'overheated'));
    await eventually(() => assert.equal(events().length, REPORTS));
    await quiet(500);
    const expected = Array.from({ length: REPORTS }, (_, i) => i + 1);
    // Once each, not once per instance (the order between instances is the broker's to choose).
    assert.deepEqual(
      events()
        .map((m) => m.json() as number)
        .sort((x, y) => x - y),
      expected,
    );
    // Values reported, each at most twice (the instance that published an older value repeats the
    // newer one, see mirror.ts): not once per instance per change. A value the store ordered before
    // one an instance had already published (two reports stored at the same moment by the two
    // instances) is left out of the value topic, so the topic never goes back to it; every other
    // value is there.
    const counts = new Map<number, number>();
    for (const value of values().map((m) => m.json() as number)) counts.set(value, (counts.get(value) ?? 0) + 1);
    assert.ok(
      [...counts.keys()].every((value) => expected.includes(value)),
      JSON.stringify([...counts]),
    );
    assert.ok(counts.size >= REPORTS / 2, `most values are published: ${JSON.stringify([...counts])}`);
    assert.ok(
      [...counts.values()].every((n) => n <= 2),
      JSON.stringify([...counts]),
    );

    // Both instances serve the same value, and the broker's retained value is that one, not an older one.
    // (Read together until they agree: one instance may still be applying the other's last report.)
    let stored: unknown;
    await eventually(async () => {
      const reads = await Promise.all(
        instances().map(
          async (hub) => (await jsonRequest(hub.urls.http, 'GET', `/things/${encodeURIComponent(LAMP)}/properties/brightness`, { token: tokens.viewer })).body,
        ),
      );
      assert.equal(reads[0], reads[1]);
      stored = reads[0];
    });
    assert.equal(values().at(-1)?.json(), stored, 'the last value published is the stored one');
    const late = await connectMqtt(broker.url, { username: 'viewer-1', subscribeOwnTopics: false });
    try {
      await late.subscribe(topics.propertyValue(LAMP, 'brightness'));
      const retained = await late.nextMessage(topics.propertyValue(LAMP, 'brightness'));
      assert.deepEqual([retained.retain, retained.json()], [true, stored]);
    } finally {
      await late.close();
    }
  });

  it('publishes values reported one after the other (envelope answered) in order, never an older one after a newer one', async () => {
    const seen = watcher.received.length;
    for (let i = REPORTS + 1; i <= 2 * REPORTS; i++) {
      // The response comes once the report is stored: the next one is handled after it.
      const answer = await agent.request({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: i });
      assert.equal(answer.status, 204, JSON.stringify(answer));
    }
    const values = () =>
      watcher.received
        .slice(seen)
        .filter((m) => m.topic === topics.propertyValue(LAMP, 'brightness') && !m.retain)
        .map((m) => m.json() as number);
    await eventually(() => assert.equal(values().at(-1), 2 * REPORTS));
    await quiet(500);
    const published = values();
    assert.ok(
      published.every((value, i) => i === 0 || value >= published[i - 1]),
      `never backwards: ${published}`,
    );
    assert.deepEqual(
      [...new Set(published)],
      Array.from({ length: REPORTS }, (_, i) => REPORTS + 1 + i),
    );
  });

  it('delivers a request made on B over HTTP to the MQTT agent once, and B sees it completed', async () => {
    await agent.subscribe(topics.agentRequests('agent-1'), 1);
    assert.equal((await agent.request({ operation: 'subscriberequests' })).status, 204);
    const seen = watcher.received.length;
    const invoked = await jsonRequest(b.urls.http, 'POST', `/things/${encodeURIComponent(LAMP)}/actions/fade`, { token: tokens.operator, body: { level: 30 } });
    assert.equal(invoked.status, 201, invoked.text);
    const { actionId } = invoked.body as RequestRecord;

    const request = await agent.nextAgentRequest(10_000);
    assert.equal(request.actionId, actionId);
    assert.deepEqual(request.input, { level: 30 });
    const answer = await agent.request({ operation: 'updateactionstatus', actionId, input: { status: 'completed', output: { reached: 30 } } });
    assert.equal(answer.status, 200, JSON.stringify(answer));
    await eventually(
      async () => {
        const record = (await jsonRequest(b.urls.http, 'GET', `/things/${encodeURIComponent(LAMP)}/actions/fade/${actionId}`, { token: tokens.operator }))
          .body as RequestRecord;
        assert.equal(record.status, 'completed');
      },
      'B sees the request completed',
      10_000,
    );
    await quiet(500);
    const published = watcher.received.slice(seen).filter((m) => m.topic === topics.agentRequests('agent-1'));
    assert.equal(published.length, 1, 'published once on agents/agent-1/requests');
    assert.equal(agent.received.filter((m) => m.topic === topics.agentRequests('agent-1')).length, 1, 'the agent got it once');
  });

  it('keeps handling every device message on B once A stopped', async () => {
    await a.close();
    const before = await handledByMqtt(b, 'updateproperty');
    const seen = watcher.received.length;
    for (let i = 2 * REPORTS + 1; i <= 3 * REPORTS; i++) await agent.publish(topics.propertyReported(LAMP, 'brightness'), i);
    await eventually(async () => assert.equal((await handledByMqtt(b, 'updateproperty')) - before, REPORTS, 'B handled all of them'));
    const values = () => watcher.received.slice(seen).filter((m) => m.topic === topics.propertyValue(LAMP, 'brightness') && !m.retain);
    await eventually(() => assert.equal(values().length, REPORTS));
    assert.deepEqual(
      values().map((m) => m.json()),
      Array.from({ length: REPORTS }, (_, i) => 2 * REPORTS + 1 + i),
    );
    assert.equal(
      (await jsonRequest(b.urls.http, 'GET', `/things/${encodeURIComponent(LAMP)}/properties/brightness`, { token: tokens.viewer })).body,
      3 * REPORTS,
    );
  });
});
