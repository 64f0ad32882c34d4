import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectMqtt, eventually, quiet } from './testing.js';
import { LAMP, startHub, td, type Fixture } from './test-fixture.js';
import { topics } from './topics.js';

const BACKLOG = 6000;

describe('MQTT binding (embedded): a large backlog of queued requests', () => {
  let fixture: Fixture;
  before(async () => {
    fixture = await startHub({ limits: { maxQueuedRequestsPerThing: BACKLOG } });
  });
  after(async () => {
    await fixture.close();
  });

  it(`delivers ${BACKLOG} requests queued while the agent was offline, in order, once each, on one connection`, async () => {
    const { hub } = fixture;
    const agentClient = { id: 'agent-a', role: 'agent' as const };
    const lamp = td(LAMP, 'Lamp');
    lamp.actions = { fade: { input: { type: 'string' }, forms: [{ href: 'http://device.local/fade' }] } };
    assert.ok((await hub.handle({ operation: 'updateTD', input: lamp }, { client: agentClient })).ok);
    // ~2 KB per request: the backlog (~12 MB) is far more than the 1 MiB send bound and the socket buffers.
    const input = (i: number) => `${i}:`.padEnd(2000, 'x');
    const operator = { client: { id: 'operator-1', role: 'operator' as const } };
    for (let i = 0; i < BACKLOG; i++) {
      const result = await hub.handle({ operation: 'invokeaction', thingId: LAMP, name: 'fade', input: input(i) }, operator);
      assert.ok(result.ok, JSON.stringify(result));
    }
    const agent = await connectMqtt(fixture.url, fixture.tokens.agentA);
    let closes = 0;
    agent.mqtt.on('close', () => closes++);
    // A real agent acknowledges each request as it arrives; the hub answers each acknowledgement.
    agent.mqtt.on('message', (topic, payload) => {
      if (topic !== topics.agentRequests('agent-a')) return;
      const { actionId } = JSON.parse(payload.toString()) as { actionId: string };
      const envelope = { type: 'request', operation: 'updateactionstatus', actionId, input: { status: 'completed' }, correlationId: actionId };
      agent.mqtt.publish(topics.clientRequests('agent-a'), JSON.stringify(envelope), { qos: 0 });
    });
    try {
      // The agent reads nothing for a moment (a slow link): the hub must not burst the backlog into its buffer.
      const stream = agent.mqtt.stream as unknown as { pause(): void; resume(): void };
      await agent.subscribe(topics.agentRequests('agent-a'));
      stream.pause();
      await quiet(300);
      stream.resume();
      const requests = () => agent.received.filter((m) => m.topic === topics.agentRequests('agent-a'));
      await eventually(() => assert.equal(requests().length, BACKLOG), 'every request delivered', 30_000);
      const messages = requests().map((m) => m.json() as { input: string; actionId: string });
      assert.deepEqual(
        messages.map((m) => Number(m.input.split(':')[0])),
        Array.from({ length: BACKLOG }, (_, i) => i),
        'in order',
      );
      assert.equal(new Set(messages.map((m) => m.actionId)).size, BACKLOG, 'once each');
      assert.equal(closes, 0, 'the agent was never dropped');
      const responses = () => agent.received.filter((m) => m.topic === topics.clientResponses('agent-a'));
      await eventually(() => assert.equal(responses().length, BACKLOG), 'every acknowledgement answered', 30_000);
      assert.equal(agent.mqtt.connected, true);
    } finally {
      await agent.close(true);
    }
  });
});
