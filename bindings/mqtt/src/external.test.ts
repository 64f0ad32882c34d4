import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createHub, type Hub, type ResponseMessage, type ThingDescription } from '@twinhub/core';
import { MemoryStore } from '@twinhub/storage-memory';
import pino from 'pino';
import { createMqttBinding, type MqttBinding } from './index.js';
import { connectMqtt, quiet, type MqttTestClient, type MqttTestClientOptions } from './testing.js';
import { findMosquitto, freePort, MOSQUITTO_SKIP_HINT, waitForPort } from './test-fixture.js';
import { topics } from './topics.js';

const THING = 'urn:dev:ops:external-lamp';

function td(): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id: THING,
    title: 'External lamp',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: { level: { type: 'integer', minimum: 0, maximum: 10, observable: true, forms: [{ href: 'http://device.local/level' }] } },
  };
}

const mosquitto = findMosquitto();

describe('MQTT binding (external broker: Mosquitto)', { skip: mosquitto ? false : MOSQUITTO_SKIP_HINT }, () => {
  let broker: ChildProcess;
  let dir: string;
  let url: string;
  let hub: Hub;
  let binding: MqttBinding;
  const open: MqttTestClient[] = [];
  const connect = async (clientId: string, options: MqttTestClientOptions = {}) => {
    // The broker admits anyone here (allow_anonymous); identities come from the topics.
    const client = await connectMqtt(url, { username: clientId, ...options });
    open.push(client);
    return client;
  };

  before(async () => {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'twinhub-mosquitto-'));
    writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    broker = spawn(mosquitto!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitForPort(port);
    url = `mqtt://127.0.0.1:${port}`;

    hub = await createHub({ store: new MemoryStore() });
    await hub.tokens.create({ id: 'agent-a', role: 'agent' });
    await hub.tokens.create({ id: 'operator-1', role: 'operator' });
    await hub.tokens.create({ id: 'viewer-1', role: 'viewer' });
    binding = createMqttBinding({ hub, logger: pino({ level: 'silent' }), mode: { external: { url, clientId: 'twinhub-test', consumerId: 'operator-1' } } });
    hub.addTwinTdContributor(binding.contributor);
    assert.equal((await binding.start()).url, url);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close(true)));
  });
  after(async () => {
    await binding?.close();
    await hub?.close();
    broker?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers via the envelope, republishes validated reports retained, refuses invalid ones', async () => {
    const agent = await connect('agent-a');
    const registered = await agent.request({ operation: 'updateTD', input: td() });
    assert.ok(registered.status === 201 || registered.status === 200, JSON.stringify(registered));

    const viewer = await connect('viewer-1');
    await viewer.subscribe(topics.propertyValue(THING, 'level'));
    await agent.publish(topics.propertyReported(THING, 'level'), 4);
    assert.equal((await viewer.nextMessage(topics.propertyValue(THING, 'level'))).json(), 4);

    await agent.publish(topics.propertyReported(THING, 'level'), 11);
    const error = await agent.nextError(topics.propertyReported(THING, 'level'));
    assert.equal(error.status, 400);
    await quiet();
    assert.deepEqual(
      viewer.received.filter((m) => m.topic === topics.propertyValue(THING, 'level')).map((m) => m.json()),
      [4],
    );

    const late = await connect('operator-1', { subscribeOwnTopics: false });
    await late.subscribe(topics.propertyValue(THING, 'level'));
    const retained = await late.nextMessage(topics.propertyValue(THING, 'level'));
    assert.deepEqual([retained.retain, retained.json()], [true, 4]);
  });

  it('handles QoS 0 reports in the order they were published, every one, while earlier ones are still being stored', async () => {
    const agent = await connect('agent-a');
    const registered = await agent.request({ operation: 'updateTD', input: td() });
    assert.ok(registered.status === 201 || registered.status === 200, JSON.stringify(registered));
    const observed: number[] = [];
    const session = hub.openSession({ id: 'viewer-1', role: 'viewer' }, 'test', {
      send: (message) => {
        if (message.type === 'notification' && message.operation === 'observeproperty') observed.push(message.data as number);
      },
      close: () => undefined,
    });
    try {
      assert.equal(
        (await hub.handle({ operation: 'observeproperty', thingId: THING, name: 'level' }, { client: { id: 'viewer-1', role: 'viewer' }, session })).ok,
        true,
      );
      // The hub takes a QoS 0 message into its order and reads the next before the first is stored:
      // the order must still be the publisher's, and nothing may be lost.
      const values = Array.from({ length: 300 }, (_, i) => i % 11);
      for (const value of values) void agent.publish(topics.propertyReported(THING, 'level'), value, { qos: 0 });
      const deadline = Date.now() + 10_000;
      while (observed.length < values.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(observed, values);
      const read = await hub.handle({ operation: 'readproperty', thingId: THING, name: 'level' }, { client: { id: 'viewer-1', role: 'viewer' } });
      assert.equal(read.ok && read.output, values.at(-1));
    } finally {
      hub.closeSession(session);
    }
  });

  it('queues a write for an offline agent and delivers it once the agent announces itself', async () => {
    const operator = await connect('operator-1');
    // A plain topic write is attributed to the configured consumerId.
    await operator.publish(topics.propertySet(THING, 'level'), 7);
    const queued = await operator.request({ operation: 'writeproperty', thingId: THING, name: 'level', input: 8 });
    assert.equal(queued.status, 202, JSON.stringify(queued));

    const agent = await connect('agent-a');
    await agent.subscribe(topics.agentRequests('agent-a'));
    const subscribed = await agent.request({ operation: 'subscriberequests' });
    assert.ok(subscribed.status < 300, JSON.stringify(subscribed));
    const first = await agent.nextAgentRequest();
    const second = await agent.nextAgentRequest();
    assert.deepEqual([first.input, second.input], [7, 8]);
    for (const request of [first, second]) {
      await agent.request({ operation: 'updateactionstatus', actionId: request.actionId, input: { status: 'completed' } });
    }
    await quiet();
    assert.equal(agent.received.filter((m) => m.topic === topics.agentRequests('agent-a')).length, 2);
  });

  it('answers MQTT 5 requests on their response topic with their correlation data', async () => {
    const viewer = await connect('viewer-1', { mqtt: { protocolVersion: 5 }, subscribeOwnTopics: false });
    const responseTopic = 'clients/viewer-1/rpc';
    await viewer.subscribe(responseTopic);
    await viewer.mqtt.publishAsync(topics.clientRequests('viewer-1'), JSON.stringify({ operation: 'retrieveTD', thingId: THING }), {
      qos: 1,
      properties: { responseTopic, correlationData: Buffer.from('req-1') },
    });
    const received = await new Promise<{ payload: Buffer; correlationData?: Buffer }>((resolve) => {
      viewer.mqtt.on('message', (topic, payload, packet) => {
        if (topic === responseTopic) resolve({ payload, correlationData: packet.properties?.correlationData });
      });
    });
    const response = JSON.parse(received.payload.toString()) as ResponseMessage;
    assert.equal(response.status, 200);
    assert.equal((response.output as ThingDescription).id, THING);
    assert.equal(received.correlationData?.toString(), 'req-1');
    // The twin TD carries forms for the external broker.
    const forms = ((response.output as ThingDescription).properties as Record<string, { forms: { href: string }[] }>).level.forms;
    assert.ok(forms.some((form) => form.href === `${url}/${topics.propertyValue(THING, 'level')}`));
  });

  it('refuses requests from unknown clients and viewers writing', async () => {
    const ghost = await connect('ghost');
    const response = await ghost.request({ operation: 'listTDs' });
    assert.equal(response.status, 403);
    const viewer = await connect('viewer-1');
    const write = await viewer.request({ operation: 'writeproperty', thingId: THING, name: 'level', input: 1 });
    assert.equal(write.status, 403);
  });
});
