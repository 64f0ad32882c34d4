// The send bound (HubLimits.maxSendBufferBytes) on the embedded broker: a client whose own burst of
// publishes is answered past the bound is not dropped (its publishes are held instead). The second failed under load in CI: an agent
// acknowledging a backlog was dropped while 860 KiB of answers waited for aedes' next turn.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { connectMqtt, eventually } from './testing.js';
import { LAMP, startHub, td, type Fixture } from './test-fixture.js';
import { topics } from './topics.js';

const BOUND = 64 * 1024;

describe('MQTT binding (embedded): the send bound', () => {
  let fixture: Fixture;
  afterEach(async () => {
    await fixture?.close();
  });

  it('answers a burst of publishes whose answers exceed the bound, without dropping the client', async () => {
    fixture = await startHub({ limits: { maxSendBufferBytes: BOUND } });
    const agent = { client: { id: 'agent-a', role: 'agent' as const } };
    const lamp = td(LAMP, 'Lamp');
    lamp.description = 'x'.repeat(2000); // each answer carries the TD: ~3 KB
    assert.ok((await fixture.hub.handle({ operation: 'updateTD', input: lamp }, agent)).ok);
    const viewer = await connectMqtt(fixture.url, fixture.tokens.viewer);
    let closes = 0;
    viewer.mqtt.on('close', () => closes++);
    try {
      await viewer.subscribe(topics.clientResponses('viewer-1'));
      const count = 200; // ~600 KB of answers to one write of ~25 KB of publishes
      for (let i = 0; i < count; i++) {
        const envelope = { type: 'request', operation: 'retrieveTD', thingId: LAMP, correlationId: `r${i}` };
        viewer.mqtt.publish(topics.clientRequests('viewer-1'), JSON.stringify(envelope), { qos: 0 });
      }
      const responses = () => viewer.received.filter((m) => m.topic === topics.clientResponses('viewer-1'));
      await eventually(() => assert.equal(responses().length, count), 'every publish answered', 20_000);
      assert.deepEqual(
        responses().map((m) => (m.json() as { correlationId: string }).correlationId),
        Array.from({ length: count }, (_, i) => `r${i}`),
        'in order',
      );
      assert.equal(closes, 0, 'the client was not dropped');
    } finally {
      await viewer.close(true);
    }
  });
});
