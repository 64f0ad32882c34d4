import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { createHub, type AgentRequestMessage, type HubRequest, type ResponseMessage, type ThingDescription } from '@twinhub/core';
import { HoldingHub } from '@twinhub/core/testing';
import { MemoryStore } from '@twinhub/storage-memory';
import pino from 'pino';
import { createMqttBinding } from './index.js';
import { connectMqtt, connectRefusal, eventually, quiet, type MqttTestClient, type MqttTestClientOptions } from './testing.js';
import { LAMP, OTHER, startHub, td, type Fixture } from './test-fixture.js';
import { topics } from './topics.js';

describe('MQTT binding (embedded aedes broker)', () => {
  let fixture: Fixture;
  const open: MqttTestClient[] = [];
  const connect = async (who: { username: string; password: string }, options: MqttTestClientOptions = {}) => {
    const client = await connectMqtt(fixture.url, { ...who, ...options });
    open.push(client);
    return client;
  };
  /** agent-a with LAMP registered through the envelope. */
  const lampAgent = async (options: MqttTestClientOptions = {}) => {
    const agent = await connect(fixture.tokens.agentA, options);
    const registered = await agent.request({ operation: 'updateTD', input: td(LAMP, 'Lamp') });
    assert.ok(registered.status === 200 || registered.status === 201, JSON.stringify(registered));
    return agent;
  };

  before(async () => {
    fixture = await startHub();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close(true)));
  });
  after(async () => {
    await fixture.close();
  });

  it('cuts a connection whose packet header announces more than the packet limit, without waiting for the body', async () => {
    const { port } = new URL(fixture.url);
    const socket = tcpConnect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    // PUBLISH with a remaining length of 2 MiB (0x80 0x80 0x80 0x01), far over the default limit; no body follows.
    socket.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x01]));
    const closed = await Promise.race([once(socket, 'close').then(() => true), quiet(3000).then(() => false)]);
    socket.destroy();
    assert.ok(closed, 'the hub must not wait to buffer an oversize packet');
  });

  it('refuses bad credentials in the CONNACK', async () => {
    assert.equal(await connectRefusal(fixture.url, { username: 'agent-a', password: 'th_not-a-token' }), 4);
    assert.equal(await connectRefusal(fixture.url, {}), 4);
    // A valid token under another client's name.
    assert.equal(await connectRefusal(fixture.url, { username: 'agent-a', password: fixture.tokens.viewer.password }), 4);
  });

  it('refuses an MQTT client id whose persistent session belongs to another hub client', async () => {
    const first = await connect(fixture.tokens.agentB, { clientId: 'shared-id', clean: false });
    await first.close();
    assert.equal(await connectRefusal(fixture.url, { ...fixture.tokens.viewer, clientId: 'shared-id' }), 2);
    const again = await connect(fixture.tokens.agentB, { clientId: 'shared-id', clean: true });
    assert.equal(again.sessionPresent, false);
  });

  it('publishes validated reports retained on the property topic, to live and late subscribers', async () => {
    const agent = await lampAgent();
    const viewer = await connect(fixture.tokens.viewer);
    assert.deepEqual(await viewer.subscribe(topics.propertyValue(LAMP, 'brightness')), [1]);

    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 42);
    const live = await viewer.nextMessage(topics.propertyValue(LAMP, 'brightness'));
    assert.equal(live.json(), 42);
    assert.equal(live.topic, 'things/urn%3Adev%3Aops%3Amqtt-lamp%2F1%2Bx/properties/brightness');

    // The envelope path reports too, and the hub republishes the normalized value.
    const reported = await agent.request({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 43 });
    assert.equal(reported.status < 300, true, JSON.stringify(reported));
    assert.equal((await viewer.nextMessage(topics.propertyValue(LAMP, 'brightness'))).json(), 43);

    const late = await connect(fixture.tokens.operator);
    await late.subscribe(topics.propertyValue(LAMP, 'brightness'));
    const retained = await late.nextMessage(topics.propertyValue(LAMP, 'brightness'));
    assert.equal(retained.retain, true);
    assert.equal(retained.json(), 43);
  });

  it('refuses an invalid value with an error to the agent and publishes nothing', async () => {
    const agent = await lampAgent();
    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 7);
    const viewer = await connect(fixture.tokens.viewer);
    await viewer.subscribe(topics.propertyValue(LAMP, 'brightness'));
    await viewer.nextMessage((m) => m.topic === topics.propertyValue(LAMP, 'brightness') && m.json() === 7);

    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 1000);
    const error = await agent.nextError();
    assert.equal(error.status, 400);
    assert.equal(error.topic, topics.propertyReported(LAMP, 'brightness'));
    assert.equal(error.operation, 'updateproperty');
    assert.match(error.error?.detail ?? '', /schema|maximum/);

    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 'not json', { raw: true });
    assert.equal((await agent.nextError()).status, 400);

    await quiet();
    assert.deepEqual(
      viewer.received.filter((m) => m.topic === topics.propertyValue(LAMP, 'brightness') && m.json() !== 7).map((m) => m.json()),
      [],
    );
    const state = await fixture.hub.handle({ operation: 'readproperty', thingId: LAMP, name: 'brightness' }, { client: { id: 'viewer-1', role: 'viewer' } });
    assert.equal(state.ok && state.output, 7);
  });

  it('republishes reported events (not retained) to event subscribers', async () => {
    const agent = await lampAgent();
    const viewer = await connect(fixture.tokens.viewer);
    await viewer.subscribe(topics.event(LAMP, 'overheating'));
    await agent.publish(topics.eventReported(LAMP, 'overheating'), 81.5);
    const event = await viewer.nextMessage(topics.event(LAMP, 'overheating'));
    assert.equal(event.json(), 81.5);
    assert.equal(event.retain, false);
    await agent.publish(topics.eventReported(LAMP, 'overheating'), 'hot');
    assert.equal((await agent.nextError()).status, 400);
  });

  async function queueTwoWrites(operator: MqttTestClient) {
    await operator.publish(topics.propertySet(LAMP, 'brightness'), 10);
    await operator.publish(topics.propertySet(LAMP, 'brightness'), 20);
    await quiet(50);
    assert.equal(operator.received.filter((m) => m.topic === topics.clientErrors('operator-1')).length, 0);
  }

  async function expectTwoWritesOnce(agent: MqttTestClient): Promise<AgentRequestMessage[]> {
    const first = await agent.nextAgentRequest();
    const second = await agent.nextAgentRequest();
    assert.deepEqual([first.operation, first.name, first.input], ['writeproperty', 'brightness', 10]);
    assert.deepEqual([second.operation, second.name, second.input], ['writeproperty', 'brightness', 20]);
    for (const request of [first, second]) {
      const done = await agent.request({ operation: 'updateactionstatus', actionId: request.actionId, input: { status: 'completed' } });
      assert.ok(done.status < 300, JSON.stringify(done));
    }
    await quiet();
    assert.equal(agent.received.filter((m) => m.topic === topics.agentRequests('agent-a')).length, 2, 'each request exactly once');
    return [first, second];
  }

  it('delivers writes queued while the agent was offline once, in order (clean session + resubscribe)', async () => {
    const registering = await lampAgent();
    await registering.close();
    const operator = await connect(fixture.tokens.operator);
    await queueTwoWrites(operator);

    const agent = await connect(fixture.tokens.agentA);
    await agent.subscribe(topics.agentRequests('agent-a'));
    const [first] = await expectTwoWritesOnce(agent);

    // The requester hears how its write ended.
    const status = await operator.nextNotification(
      (n) =>
        n.operation === 'actionstatus' && (n.data as { actionId: string }).actionId === first.actionId && (n.data as { status: string }).status === 'completed',
    );
    assert.equal(status.thingId, LAMP);

    // Reconnecting again delivers nothing more.
    await agent.close();
    const again = await connect(fixture.tokens.agentA);
    await again.subscribe(topics.agentRequests('agent-a'));
    await quiet();
    assert.equal(again.received.filter((m) => m.topic === topics.agentRequests('agent-a')).length, 0);
  });

  it('delivers queued writes once, in order, to a persistent session that does not resubscribe', async () => {
    const first = await lampAgent({ clientId: 'agent-a-device', clean: false });
    await first.subscribe(topics.agentRequests('agent-a'));
    await first.close();
    const operator = await connect(fixture.tokens.operator);
    await queueTwoWrites(operator);

    const agent = await connect(fixture.tokens.agentA, { clientId: 'agent-a-device', clean: false, subscribeOwnTopics: false });
    assert.equal(agent.sessionPresent, true);
    await expectTwoWritesOnce(agent);
    await agent.close();

    const again = await connect(fixture.tokens.agentA, { clientId: 'agent-a-device', clean: false, subscribeOwnTopics: false });
    await quiet();
    assert.equal(again.received.filter((m) => m.topic === topics.agentRequests('agent-a')).length, 0);
    await again.mqtt.unsubscribeAsync(topics.agentRequests('agent-a'));
  });

  it('turns an action publish into a request and refuses one from a viewer', async () => {
    const agent = await lampAgent();
    await agent.subscribe(topics.agentRequests('agent-a'));
    const viewer = await connect(fixture.tokens.viewer);
    await viewer.publish(topics.action(LAMP, 'fade'), 5);
    const refused = await viewer.nextError();
    assert.equal(refused.status, 403);
    assert.equal(refused.operation, 'invokeaction');
    assert.equal(refused.topic, topics.action(LAMP, 'fade'));

    const operator = await connect(fixture.tokens.operator);
    await operator.publish(topics.action(LAMP, 'fade'), 3);
    const request = await agent.nextAgentRequest();
    assert.deepEqual([request.operation, request.name, request.input], ['invokeaction', 'fade', 3]);
    assert.equal(agent.received.filter((m) => m.topic === topics.agentRequests('agent-a')).length, 1, 'the viewer invocation never reached the agent');
    await agent.request({ operation: 'updateactionstatus', actionId: request.actionId, input: { status: 'completed', output: 'ok' } });
  });

  it("does not let agent B report for agent A's Thing, nor see its values through wildcards", async () => {
    const agentA = await lampAgent();
    const agentB = await connect(fixture.tokens.agentB);
    const registered = await agentB.request({ operation: 'updateTD', input: td(OTHER, 'Fan') });
    assert.ok(registered.status < 300, JSON.stringify(registered));
    const viewer = await connect(fixture.tokens.viewer);
    assert.deepEqual(await agentB.subscribe('#'), [1]);
    assert.deepEqual(await agentB.subscribe('things/+/properties/+'), [1]);
    assert.deepEqual(await viewer.subscribe('#'), [1]);
    // An exact subscription to A's Thing is refused outright.
    assert.deepEqual(await agentB.subscribe(topics.propertyValue(LAMP, 'brightness')), [128]);
    assert.equal((await agentB.nextError()).status, 403);

    await agentB.publish(topics.propertyReported(LAMP, 'brightness'), 99);
    const refused = await agentB.nextError(topics.propertyReported(LAMP, 'brightness'));
    assert.equal(refused.status, 403);
    assert.equal(refused.operation, 'updateproperty');

    await agentA.publish(topics.propertyReported(LAMP, 'brightness'), 55);
    await agentB.publish(topics.propertyReported(OTHER, 'brightness'), 66);
    const value = (thingId: string, expected: number) => (m: { topic: string; json(): unknown }) =>
      m.topic === topics.propertyValue(thingId, 'brightness') && m.json() === expected;
    await viewer.nextMessage(value(LAMP, 55));
    await viewer.nextMessage(value(OTHER, 66));
    await agentB.nextMessage(value(OTHER, 66));
    await quiet();
    const leaked = agentB.received.filter(
      (m) => m.topic.startsWith(`things/${encodeURIComponent(LAMP)}/`) || m.topic.startsWith('clients/agent-a') || m.topic.startsWith('agents/agent-a'),
    );
    assert.deepEqual(
      leaked.map((m) => m.topic),
      [],
    );
    // The viewer's '#' sees values, but never another client's private topics or inbound publishes.
    assert.ok(
      viewer.received.every((m) =>
        m.topic.startsWith('things/') ? !m.topic.endsWith('/reported') && !m.topic.endsWith('/set') : m.topic.startsWith('clients/viewer-1/'),
      ),
      JSON.stringify(viewer.received.map((m) => m.topic)),
    );
  });

  it("refuses topics outside the scheme and other clients' private topics", async () => {
    const operator = await connect(fixture.tokens.operator);
    await operator.publish('foo/bar', 1);
    const outside = await operator.nextError();
    assert.equal(outside.status, 404);
    assert.equal(outside.topic, 'foo/bar');
    assert.deepEqual(await operator.subscribe('foo/bar'), [128]);
    assert.deepEqual(await operator.subscribe(topics.clientResponses('viewer-1')), [128]);
    assert.deepEqual(await operator.subscribe(topics.agentRequests('agent-a')), [128]);
    assert.deepEqual(await operator.subscribe(topics.propertySet(LAMP, 'brightness')), [128]);
    // Publishing on a topic only the hub publishes.
    assert.equal((await operator.nextError(topics.clientResponses('viewer-1'))).status, 403);
    await operator.publish(topics.propertyValue(LAMP, 'brightness'), 1);
    assert.equal((await operator.nextError(topics.propertyValue(LAMP, 'brightness'))).status, 403);
    // A request envelope on someone else's request topic: refused with a response envelope.
    await operator.publish(topics.clientRequests('viewer-1'), { operation: 'listTDs', correlationId: 'not-mine' });
    const refused = (await operator.nextMessage(topics.clientResponses('operator-1'))).json() as { status: number; correlationId: string };
    assert.deepEqual([refused.status, refused.correlationId], [403, 'not-mine']);
    // The connection survived all of it.
    const listed = await operator.request({ operation: 'listTDs' });
    assert.equal(listed.status, 200);
  });

  it('answers envelope requests, including malformed ones, with response envelopes', async () => {
    const viewer = await connect(fixture.tokens.viewer);
    await viewer.publish(topics.clientRequests('viewer-1'), '{not json', { raw: true });
    const malformed = await viewer.nextMessage(topics.clientResponses('viewer-1'));
    assert.equal((malformed.json() as { status: number }).status, 400);
    await viewer.publish(topics.clientRequests('viewer-1'), { operation: 'nope', correlationId: 'c-1' });
    const unknown = (await viewer.nextMessage(topics.clientResponses('viewer-1'))).json() as { status: number; correlationId: string };
    assert.deepEqual([unknown.status, unknown.correlationId], [400, 'c-1']);
    const forbidden = await viewer.request({ operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 1 });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.error?.status, 403);
  });

  it('observes through the envelope, with notifications on clients/{id}/notifications', async () => {
    const agent = await lampAgent();
    const operator = await connect(fixture.tokens.operator);
    const observed = await operator.request({ operation: 'observeproperty', thingId: LAMP, name: 'brightness' });
    assert.ok(observed.status < 300, JSON.stringify(observed));
    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 12);
    const notification = await operator.nextNotification((n) => n.operation === 'observeproperty');
    assert.deepEqual([notification.thingId, notification.name, notification.data], [LAMP, 'brightness', 12]);
  });

  it('adds mqtt:// forms node-wot can use to the twin TD', async () => {
    await lampAgent();
    const operator = await connect(fixture.tokens.operator);
    const response = await operator.request({ operation: 'retrieveTD', thingId: LAMP });
    const twin = response.output as ThingDescription & { properties: Record<string, { forms: Record<string, unknown>[] }> };
    assert.deepEqual((twin.securityDefinitions as Record<string, unknown>).mqtt_basic_sc, { scheme: 'basic', in: 'auto' });
    // The mqv: terms of the forms are declared (W3C WoT Binding Templates, MQTT).
    assert.ok((twin['@context'] as unknown[]).some((entry) => (entry as Record<string, unknown>)?.mqv === 'http://www.example.org/mqtt-binding#'));
    const mqttForms = (forms: Record<string, unknown>[]) => forms.filter((f) => String(f.href).startsWith('mqtt://'));
    // Only an observable property has a value topic: subscribing to it is observing.
    assert.deepEqual(mqttForms(twin.properties.status.forms ?? []), [], 'status is not observable: no MQTT value topic');
    const brightness = mqttForms(twin.properties.brightness.forms);
    const value = brightness.find((f) => (f.op as string[]).includes('observeproperty'))!;
    assert.equal(value.href, `${fixture.url}/${topics.propertyValue(LAMP, 'brightness')}`);
    assert.deepEqual(value.op, ['readproperty', 'observeproperty', 'unobserveproperty']);
    assert.equal(value['mqv:retain'], true);
    assert.deepEqual(value.security, ['mqtt_basic_sc']);
    // node-wot takes the topic from the URL path; it must survive URL parsing unchanged.
    assert.equal(new URL(String(value.href)).pathname.slice(1), topics.propertyValue(LAMP, 'brightness'));
    const write = brightness.find((f) => (f.op as string[]).includes('writeproperty'))!;
    assert.equal(write['mqv:topic'], topics.propertySet(LAMP, 'brightness'));
    assert.equal(write['mqv:retain'], false);
    assert.equal(
      mqttForms(twin.properties.status.forms ?? []).some((f) => (f.op as string[]).includes('writeproperty')),
      false,
      'readOnly: no write form',
    );
    const actions = twin.actions as Record<string, { forms: Record<string, unknown>[] }>;
    assert.equal(mqttForms(actions.fade.forms)[0].href, `${fixture.url}/${topics.action(LAMP, 'fade')}`);
    const events = twin.events as Record<string, { forms: Record<string, unknown>[] }>;
    assert.deepEqual(mqttForms(events.overheating.forms)[0].op, ['subscribeevent', 'unsubscribeevent']);
  });

  it('refuses a subscription to the value topic of a non-observable property, like observeproperty everywhere', async () => {
    const agent = await lampAgent();
    await agent.publish(topics.propertyReported(LAMP, 'status'), 'on');
    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 12);
    const viewer = await connect(fixture.tokens.viewer);
    assert.deepEqual(await viewer.subscribe(topics.propertyValue(LAMP, 'status')), [128], 'SUBACK failure for the non-observable property');
    const error = await viewer.nextError(topics.propertyValue(LAMP, 'status'));
    assert.match(JSON.stringify(error), /not observable/);
    // A wildcard subscription is allowed but never gets the non-observable value.
    await viewer.subscribe(`things/${encodeURIComponent(LAMP)}/properties/+`);
    assert.equal((await viewer.nextMessage(topics.propertyValue(LAMP, 'brightness'))).json(), 12);
    const read = await viewer.request({ operation: 'readproperty', thingId: LAMP, name: 'status' });
    assert.equal(read.output, 'on', 'still readable through the request topic');
    assert.equal(viewer.received.filter((m) => m.topic === topics.propertyValue(LAMP, 'status')).length, 0);
  });

  it('clears retained values when the Thing is deleted', async () => {
    const agent = await lampAgent();
    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 30);
    const viewer = await connect(fixture.tokens.viewer);
    await viewer.subscribe(topics.propertyValue(LAMP, 'brightness'));
    assert.equal((await viewer.nextMessage(topics.propertyValue(LAMP, 'brightness'))).json(), 30);
    const deleted = await agent.request({ operation: 'deleteTD', thingId: LAMP });
    assert.ok(deleted.status < 300, JSON.stringify(deleted));
    await eventually(async () => {
      const late = await connectMqtt(fixture.url, { ...fixture.tokens.viewer, subscribeOwnTopics: false });
      try {
        await late.subscribe(topics.propertyValue(LAMP, 'brightness'));
        await quiet(100);
        assert.equal(late.received.length, 0);
      } finally {
        await late.close(true);
      }
    });
  });
});

describe('MQTT binding (embedded) pipelining', () => {
  const holding = new HoldingHub();
  let fixture: Fixture;
  let agent: MqttTestClient;
  let viewer: MqttTestClient;

  before(async () => {
    fixture = await startHub({ wrap: (hub) => holding.wrap(hub) });
    agent = await connectMqtt(fixture.url, fixture.tokens.agentA);
    assert.equal((await agent.request({ operation: 'updateTD', input: td(LAMP, 'Lamp') })).status, 201);
    viewer = await connectMqtt(fixture.url, fixture.tokens.viewer);
    await viewer.subscribe(topics.propertyValue(LAMP, 'brightness'));
  });
  afterEach(() => holding.release());
  after(async () => {
    await Promise.all([agent.close(true), viewer.close(true)]);
    await fixture.close();
  });

  it('hands QoS 0 publishes to the hub without waiting for earlier answers, and answers in order', async () => {
    holding.calls = [];
    holding.holding = true;
    const responses = () => agent.received.filter((m) => m.topic === topics.clientResponses('agent-a')).map((m) => m.json() as ResponseMessage);
    const before = responses().length;
    const envelope = (request: HubRequest) => agent.publish(topics.clientRequests('agent-a'), { type: 'request', ...request }, { qos: 0 });
    await envelope({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 1, correlationId: 'c1' });
    await envelope({ operation: 'readproperty', thingId: LAMP, name: 'brightness', correlationId: 'c2' });
    for (const value of [2, 3, 4]) await agent.publish(topics.propertyReported(LAMP, 'brightness'), value, { qos: 0 });
    await envelope({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 1000, correlationId: 'c3' });
    // Every one reached the hub although the first answer is still held back.
    await eventually(() => assert.equal(holding.calls.length, 6));
    assert.deepEqual(
      holding.calls.map((c) => c.input ?? c.correlationId),
      [1, 'c2', 2, 3, 4, 1000],
    );
    holding.release();
    await eventually(() => assert.equal(responses().length - before, 3));
    assert.deepEqual(
      responses()
        .slice(before)
        .map((r) => [r.correlationId, r.status]),
      [
        ['c1', 204],
        ['c2', 200],
        ['c3', 400],
      ],
    );
    assert.equal(responses()[before + 1].output, 1, 'c2 sees the value c1 reported before it');
    // Values reach subscribers in the order they were published.
    await eventually(() => assert.deepEqual(viewer.received.map((m) => m.json()).slice(-4), [1, 2, 3, 4]));
  });

  it('PUBACKs a QoS 1 publish only once the hub answered it, in order', async () => {
    holding.calls = [];
    holding.holding = true;
    const acked: number[] = [];
    const published = [5, 6].map((value) => agent.publish(topics.propertyReported(LAMP, 'brightness'), value, { qos: 1 }).then(() => acked.push(value)));
    await eventually(() => assert.ok(holding.calls.length >= 1));
    await quiet(100);
    assert.deepEqual(acked, [], 'no PUBACK while the hub has not answered');
    holding.release();
    await Promise.all(published);
    assert.deepEqual(acked, [5, 6]);
    await eventually(() => assert.deepEqual(viewer.received.map((m) => m.json()).slice(-2), [5, 6]));
  });
});

describe('MQTT binding start-up', () => {
  it('retains the reported values of Things registered before it started, and clears them when they go', async () => {
    const hub = await createHub({ store: new MemoryStore() });
    const owner = { client: { id: 'agent-a', role: 'agent' as const } };
    const expectOk = async (request: HubRequest) => {
      const result = await hub.handle(request, owner);
      assert.ok(result.ok, JSON.stringify(result));
    };
    await expectOk({ operation: 'updateTD', input: td(LAMP, 'Lamp') });
    const fan = td(OTHER, 'Fan') as { properties: Record<string, Record<string, unknown>> };
    fan.properties.status.observable = true;
    await expectOk({ operation: 'updateTD', input: fan });
    await expectOk({ operation: 'updateTD', input: td('urn:dev:ops:quiet', 'Quiet') });
    await expectOk({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 12 });
    // The lamp's status is not observable: its value is never published, so never retained.
    await expectOk({ operation: 'updateproperty', thingId: LAMP, name: 'status', input: 'off' });
    await expectOk({ operation: 'updateproperty', thingId: OTHER, name: 'status', input: 'on' });
    await expectOk({ operation: 'updateproperty', thingId: OTHER, name: 'brightness', input: 3 });
    const viewer = { username: 'viewer-1', password: (await hub.tokens.create({ id: 'viewer-1', role: 'viewer' })).token };
    const binding = createMqttBinding({ hub, logger: pino({ level: 'silent' }), mode: { embedded: { port: 0, host: '127.0.0.1' } } });
    const { url } = await binding.start();
    /** The retained values a new subscriber to every value topic gets. */
    const retainedValues = async () => {
      const late = await connectMqtt(url, { ...viewer, subscribeOwnTopics: false });
      try {
        await late.subscribe('things/+/properties/+');
        await quiet(100);
        return Object.fromEntries(late.received.map((m) => [m.topic, m.json()]));
      } finally {
        await late.close(true);
      }
    };
    try {
      assert.deepEqual(await retainedValues(), {
        [topics.propertyValue(LAMP, 'brightness')]: 12,
        [topics.propertyValue(OTHER, 'status')]: 'on',
        [topics.propertyValue(OTHER, 'brightness')]: 3,
      });
      // A TD update that drops a property clears its value; deleting a Thing clears all of them.
      await expectOk({ operation: 'patchTD', thingId: OTHER, input: { properties: { status: null } } });
      await expectOk({ operation: 'deleteTD', thingId: LAMP });
      await eventually(async () => assert.deepEqual(await retainedValues(), { [topics.propertyValue(OTHER, 'brightness')]: 3 }));
    } finally {
      await binding.close();
      await hub.close();
    }
  });
});
