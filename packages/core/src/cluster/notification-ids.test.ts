// Notification ids in a cluster (issue #15): every instance numbers a notification with the store
// revision of the change it announces, so the same change has the same id everywhere and a consumer
// resumes on another instance with the id it last got. The memory backend's peer() plays the
// shared store.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { eventually } from '../testing/index.js';
import { createHub, type Hub } from '../hub.js';
import type { NotificationMessage, OutboundMessage } from '../model/envelope.js';
import type { Client } from '../model/types.js';
import { lampTd } from '../td/test-fixtures.js';

const LAMP = 'urn:dev:ops:32473-WoTLamp-1234';
const agent: Client = { id: 'agent-1', role: 'agent' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };

function listen(hub: Hub, client: Client) {
  const received: OutboundMessage[] = [];
  const session = hub.openSession(client, 'test', { send: (m) => received.push(m), close: () => {} });
  const notifications = () => received.filter((m): m is NotificationMessage => m.type === 'notification');
  return { session, notifications };
}

/** What identifies a notification regardless of who got it: its id, operation and data. */
const summary = (messages: NotificationMessage[]) => messages.map((m) => [m.seq, m.operation, m.name ?? '', JSON.stringify(m.data)]);

async function observeAll(hub: Hub, since?: number) {
  const consumer = listen(hub, viewer);
  const context = { client: viewer, session: consumer.session };
  await hub.handle({ operation: 'observeallproperties', thingId: LAMP, ...(since !== undefined ? { since } : {}) }, context);
  await hub.handle({ operation: 'subscribeallevents', thingId: LAMP, ...(since !== undefined ? { since } : {}) }, context);
  return consumer;
}

describe('notification ids across instances', () => {
  const hubs: Hub[] = [];
  after(async () => {
    for (const hub of hubs) await hub.close();
  });

  it('are the same on every instance for the same change, events of a burst included, and a consumer resumes on another instance', async () => {
    const store = new MemoryStore();
    const a = await createHub({ store, cluster: { heartbeatMs: 250 } });
    const b = await createHub({ store: store.peer(), cluster: { heartbeatMs: 250 } });
    hubs.push(a, b);
    assert.equal((await a.handle({ operation: 'updateTD', input: lampTd() }, { client: agent })).status, 201);
    await eventually(async () => assert.equal((await b.handle({ operation: 'retrieveTD', thingId: LAMP }, { client: viewer })).status, 200));
    const onA = await observeAll(a);
    const onB = await observeAll(b);

    // Reports on A, one through B; two events of one name in the same tick (one store batch).
    for (const brightness of [10, 20]) await a.handle({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: brightness }, { client: agent });
    await Promise.all(
      [81, 82].map((celsius) => a.handle({ operation: 'publishevent', thingId: LAMP, name: 'overheating', input: { celsius } }, { client: agent })),
    );
    await b.handle({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 30 }, { client: agent });
    await eventually(() => assert.equal(onA.notifications().length, 5));
    await eventually(() => assert.equal(onB.notifications().length, 5));
    const byId = (messages: NotificationMessage[]) => summary(messages).sort((x, y) => Number(x[0]) - Number(y[0]));
    assert.deepEqual(byId(onB.notifications()), byId(onA.notifications()), 'the same ids for the same changes on both instances');
    assert.deepEqual(
      byId(onA.notifications()).map(([, operation, name, data]) => [operation, name, data]),
      [
        ['observeproperty', 'brightness', '10'],
        ['observeproperty', 'brightness', '20'],
        ['subscribeevent', 'overheating', '{"celsius":81}'],
        ['subscribeevent', 'overheating', '{"celsius":82}'],
        ['observeproperty', 'brightness', '30'],
      ],
      'both events of the burst, each with its own id, in the order they were stored',
    );
    const ids = onA.notifications().map((m) => m.seq);
    assert.equal(new Set(ids).size, ids.length, 'no id used twice');

    // A consumer of A goes away after the second value; it resumes on B with the id it last got.
    const lastSeen = onA.notifications()[1].seq;
    const resumed = await observeAll(b, lastSeen);
    // (Each subscription replays its own kind: values, then events; by id they are the missed ones.)
    assert.deepEqual(byId(resumed.notifications()), byId(onA.notifications()).slice(2), 'B replays exactly what came after that id');
    // SSE's Last-Event-ID path says the same.
    assert.deepEqual(
      b.notificationsSince(lastSeen, viewer)?.map((m) => m.seq),
      onA
        .notifications()
        .slice(2)
        .map((m) => m.seq),
    );
    // An id from before B joined cannot be replayed: an explicit reset, never silence.
    assert.equal(b.notificationsSince(1, viewer), undefined);
  });

  it('announces presence on every instance with the id of the presence record’s change', async () => {
    const [a, b] = hubs;
    const watch = async (hub: Hub) => {
      const watcher = listen(hub, { id: 'op-1', role: 'operator' });
      await hub.handle({ operation: 'subscribedirectory' }, { client: { id: 'op-1', role: 'operator' }, session: watcher.session });
      return () => summary(watcher.notifications().filter((m) => m.operation.startsWith('agent_')));
    };
    const [onA, onB] = [await watch(a), await watch(b)];
    const device = listen(a, agent);
    await a.handle({ operation: 'subscriberequests' }, { client: agent, session: device.session });
    await eventually(() => assert.equal(onB().length, 1));
    a.closeSession(device.session);
    await eventually(() => assert.equal(onB().length, 2));
    await eventually(() => assert.equal(onA().length, 2));
    assert.deepEqual(
      onA().map(([seq, operation]) => [seq, operation]),
      onB().map(([seq, operation]) => [seq, operation]),
    );
    assert.deepEqual(
      onA().map(([, operation]) => operation),
      ['agent_connected', 'agent_disconnected'],
    );
  });
});
