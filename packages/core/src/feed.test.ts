// The change feed (issue "Core v2"): two hubs over one store — the memory backend's peer() plays a
// second writer, as a second hub instance will in cluster mode — see each other's records through
// the same path as their own: the view changes, then subscribers are told.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { eventually } from './testing/index.js';
import { createHub, type Hub } from './hub.js';
import type { OutboundMessage } from './model/envelope.js';
import type { Client, RequestRecord } from './model/types.js';
import { REQUESTS_BUCKET } from './requests/queue.js';
import { lampTd } from './td/test-fixtures.js';

const LAMP = 'urn:dev:ops:32473-WoTLamp-1234';
const agent: Client = { id: 'agent-1', role: 'agent' };
const operator: Client = { id: 'op-1', role: 'operator' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };

function listen(hub: Hub, client: Client) {
  const received: OutboundMessage[] = [];
  const session = hub.openSession(client, 'test', { send: (m) => received.push(m), close: () => {} });
  return { session, received };
}

describe('change feed between two hubs on one store', () => {
  const hubs: Hub[] = [];
  after(async () => {
    for (const hub of hubs) await hub.close();
  });

  it("applies and announces the other writer's twins, values, requests and tokens", async () => {
    const store = new MemoryStore();
    // Two writers on one store outside cluster mode: each keeps its whole view, as cluster mode does.
    const a = await createHub({ store, keepAllInMemory: true });
    const b = await createHub({ store: store.peer(), keepAllInMemory: true });
    hubs.push(a, b);

    const directory = listen(a, viewer);
    await a.handle({ operation: 'subscribedirectory' }, { client: viewer, session: directory.session });
    const registered = await b.handle({ operation: 'updateTD', input: lampTd() }, { client: agent });
    assert.equal(registered.status, 201);
    await eventually(
      () =>
        assert.deepEqual(
          directory.received.map((m) => m.operation),
          ['thing_created'],
        ),
      'thing_created on the other hub',
    );
    assert.equal((await a.handle({ operation: 'retrieveTD', thingId: LAMP }, { client: viewer })).status, 200);

    const observer = listen(a, viewer);
    await a.handle({ operation: 'observeproperty', thingId: LAMP, name: 'brightness' }, { client: viewer, session: observer.session });
    await b.handle({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 42 }, { client: agent });
    await eventually(() => assert.equal((observer.received[0] as { data: unknown } | undefined)?.data, 42), 'the value observed on the other hub');
    assert.equal((await a.handle({ operation: 'readproperty', thingId: LAMP, name: 'brightness' }, { client: viewer })).ok && 42, 42);

    // The agent's request stream is on hub a; the operator invokes through hub b.
    const device = listen(a, agent);
    await a.handle({ operation: 'subscriberequests' }, { client: agent, session: device.session });
    const requester = listen(b, operator);
    const invoked = await b.handle({ operation: 'invokeaction', thingId: LAMP, name: 'toggle' }, { client: operator, session: requester.session });
    const record = (invoked as { output: RequestRecord }).output;
    await eventually(
      () => assert.equal((device.received[0] as { actionId?: string } | undefined)?.actionId, record.actionId),
      'delivered by the hub holding the agent',
    );
    await eventually(async () =>
      assert.equal(
        ((await a.handle({ operation: 'queryaction', actionId: record.actionId }, { client: operator })) as { output: RequestRecord }).output.status,
        'delivered',
      ),
    );
    assert.equal(
      (await a.handle({ operation: 'updateactionstatus', actionId: record.actionId, input: { status: 'completed' } }, { client: agent })).status,
      200,
    );
    await eventually(
      () => assert.ok(requester.received.some((m) => m.operation === 'actionstatus' && (m as { data: RequestRecord }).data.status === 'completed')),
      'the requester on the other hub hears it completed',
    );

    const { token } = await b.tokens.create({ id: 'viewer-2', role: 'viewer' });
    await eventually(async () => assert.deepEqual(await a.authenticate(token), { id: 'viewer-2', role: 'viewer' }), 'a token made on b works on a');

    assert.equal((await b.handle({ operation: 'deleteTD', thingId: LAMP }, { client: agent })).status, 204);
    await eventually(() => assert.equal(directory.received.at(-1)?.operation, 'thing_deleted'));
    assert.equal((await a.handle({ operation: 'retrieveTD', thingId: LAMP }, { client: viewer })).status, 404);

    // A state record of a Thing hub a does not know (another writer raced a delete) is ignored.
    const peer = store.peer();
    await peer.batch([{ bucket: 'state', type: 'put', key: `${LAMP}\u0001p\u0001brightness`, value: JSON.stringify({ value: 7, updated: 'x', version: 9 }) }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await a.handle({ operation: 'updateTD', input: lampTd() }, { client: agent })).status, 201);
    assert.equal((await a.handle({ operation: 'readproperty', thingId: LAMP, name: 'brightness' }, { client: viewer })).status, 404);
  });

  it('never takes a request back to an earlier status when an older record of it arrives after a newer one', async () => {
    const store = new MemoryStore();
    // Two writers on one store outside cluster mode: each keeps its whole view, as cluster mode does.
    const a = await createHub({ store, keepAllInMemory: true });
    const b = await createHub({ store: store.peer(), keepAllInMemory: true });
    hubs.push(a, b);
    assert.equal((await a.handle({ operation: 'updateTD', input: lampTd() }, { client: agent })).status, 201);
    const requester = listen(a, operator);
    const invoked = await a.handle({ operation: 'invokeaction', thingId: LAMP, name: 'toggle' }, { client: operator, session: requester.session });
    const created = (invoked as { output: RequestRecord }).output;
    await eventually(async () => assert.equal((await b.handle({ operation: 'queryaction', actionId: created.actionId }, { client: operator })).status, 200));
    assert.equal(
      (await a.handle({ operation: 'updateactionstatus', actionId: created.actionId, input: { status: 'completed' } }, { client: agent })).status,
      200,
    );
    const statusOn = async (hub: Hub) =>
      ((await hub.handle({ operation: 'queryaction', actionId: created.actionId }, { client: operator })) as { output: RequestRecord }).output;
    await eventually(async () => assert.equal((await statusOn(b)).status, 'completed'));
    // The record as it was created reaches b again, after the completion (a late or replayed write).
    await store.peer().batch([{ bucket: REQUESTS_BUCKET, type: 'put', key: created.actionId, value: JSON.stringify(created) }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const onB = await statusOn(b);
    assert.equal(onB.status, 'completed', 'still completed on b');
    assert.ok(onB.timeEnded !== undefined);
  });
});
