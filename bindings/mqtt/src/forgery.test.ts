import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectMqtt, connectRefusal, eventually, quiet, type MqttTestClient } from './testing.js';
import { LAMP, startHub, td, type Fixture } from './test-fixture.js';
import { topics } from './topics.js';

const FORGED = { forged: true };
const isForged = (payload: Buffer) => payload.toString().includes('forged');

describe('MQTT binding (embedded): only the hub publishes on hub topics', () => {
  let fixture: Fixture;
  let agent: MqttTestClient;
  let operator: MqttTestClient;
  let viewer: MqttTestClient;

  before(async () => {
    fixture = await startHub();
    agent = await connectMqtt(fixture.url, fixture.tokens.agentA);
    assert.equal((await agent.request({ operation: 'updateTD', input: td(LAMP, 'Lamp') })).status, 201);
    await agent.subscribe(topics.agentRequests('agent-a'));
    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 5);
    operator = await connectMqtt(fixture.url, fixture.tokens.operator);
    await operator.subscribe(['#', topics.propertyValue(LAMP, 'brightness'), topics.event(LAMP, 'overheating')]);
    viewer = await connectMqtt(fixture.url, fixture.tokens.viewer);
  });
  after(async () => {
    await Promise.all([agent.close(true), operator.close(true), viewer.close(true)]);
    await fixture.close();
  });

  const hubTopics = () => [
    topics.propertyValue(LAMP, 'brightness'),
    topics.event(LAMP, 'overheating'),
    topics.clientNotifications('operator-1'),
    topics.clientResponses('operator-1'),
    topics.clientErrors('operator-1'),
    topics.agentRequests('agent-a'),
  ];

  it("never forwards a viewer's publish on a hub topic (QoS 0, QoS 1, retained), and answers it with a 403", async () => {
    for (const topic of hubTopics()) {
      for (const qos of [0, 1] as const) {
        await viewer.publish(
          topic,
          { ...FORGED, actionId: 'forged-1', type: 'request', operation: 'invokeaction', thingId: LAMP, name: 'fade' },
          { qos, retain: true },
        );
      }
      const error = await viewer.nextError(topic);
      assert.equal(error.status, 403, JSON.stringify(error));
    }
    // A genuine value after the forgeries: once it arrived, a forged message would have too.
    await agent.publish(topics.propertyReported(LAMP, 'brightness'), 6);
    await operator.nextMessage((m) => m.topic === topics.propertyValue(LAMP, 'brightness') && m.payload.toString() === '6');
    await quiet(200);
    for (const client of [operator, agent]) {
      const forged = client.received.filter((m) => isForged(m.payload));
      assert.deepEqual(
        forged.map((m) => m.topic),
        [],
        'no forged message reaches a subscriber',
      );
    }
    // Nothing forged was retained: a late subscriber gets the hub's value.
    const late = await connectMqtt(fixture.url, { ...fixture.tokens.operator, subscribeOwnTopics: false });
    try {
      await late.subscribe('#');
      const retained = await late.nextMessage(topics.propertyValue(LAMP, 'brightness'));
      assert.equal(retained.payload.toString(), '6');
      await quiet(100);
      assert.deepEqual(
        late.received.filter((m) => isForged(m.payload)).map((m) => m.topic),
        [],
      );
    } finally {
      await late.close(true);
    }
    // The hub keeps serving.
    assert.equal((await operator.request({ operation: 'readproperty', thingId: LAMP, name: 'brightness' })).output, 6);
  });

  it('refuses a CONNECT whose will the client may not publish (CONNACK 5), and never forwards it', async () => {
    for (const topic of hubTopics()) {
      const code = await connectRefusal(fixture.url, {
        ...fixture.tokens.viewer,
        mqtt: { will: { topic, payload: Buffer.from(JSON.stringify(FORGED)), qos: 1, retain: true } },
      });
      assert.equal(code, 5, topic);
    }
    // An inbound topic the viewer may not use (writing) is refused the same way.
    const write = { topic: topics.propertySet(LAMP, 'brightness'), payload: Buffer.from('1'), qos: 1 as const, retain: false };
    assert.equal(await connectRefusal(fixture.url, { ...fixture.tokens.viewer, mqtt: { will: write } }), 5);
    // A will on the client's own request topic is fine; it runs as the client's request when the connection drops.
    const own = await connectMqtt(fixture.url, {
      ...fixture.tokens.viewer,
      mqtt: {
        will: {
          topic: topics.clientRequests('viewer-1'),
          payload: Buffer.from(JSON.stringify({ type: 'request', operation: 'readproperty', thingId: LAMP, name: 'brightness', correlationId: 'forged-will' })),
          qos: 1,
          retain: false,
        },
      },
    });
    await own.close(true);
    await quiet(200);
    assert.deepEqual(
      operator.received.filter((m) => isForged(m.payload)).map((m) => m.topic),
      [],
    );
    await eventually(async () => assert.equal((await operator.request({ operation: 'readproperty', thingId: LAMP, name: 'brightness' })).status, 200));
  });
});
