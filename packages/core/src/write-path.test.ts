// The core's write-path rule (issue "Hardening" 4/7/11 and "Core v2"): nothing is applied, stored
// or delivered unless it was acknowledged, and nothing refused leaves a trace. Also the durable
// notification sequence, per-property state records and request retention.
import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { createHub, type Hub } from './hub.js';
import type { OutboundMessage } from './model/envelope.js';
import type { HubRequest, HubResult, Session } from './model/operations.js';
import type { Client, RequestRecord, TwinState } from './model/types.js';
import { lampTd as baseLampTd } from './td/test-fixtures.js';
import { FlakyStore } from './testing/index.js';

/** The lamp TD with some fields replaced. */
const lampTd = (changes: Record<string, unknown> = {}) => ({ ...baseLampTd(), ...changes });

const LAMP = 'urn:dev:ops:32473-WoTLamp-1234';
const agent: Client = { id: 'agent-1', role: 'agent' };
const operator: Client = { id: 'op-1', role: 'operator' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };

async function call(hub: Hub, client: Client, request: HubRequest, session?: Session): Promise<HubResult> {
  return hub.handle(request, { client, ...(session ? { session } : {}) });
}

async function ok(hub: Hub, client: Client, request: HubRequest, session?: Session): Promise<unknown> {
  const result = await call(hub, client, request, session);
  assert.ok(result.ok, `${request.operation} failed: ${JSON.stringify(!result.ok && result.problem)}`);
  return result.output;
}

function listen(hub: Hub, client: Client) {
  const received: OutboundMessage[] = [];
  const session = hub.openSession(client, 'test', { send: (m) => received.push(m), close: () => {} });
  return { session, received };
}

describe('write path', () => {
  let memory: MemoryStore;
  let flaky: FlakyStore;
  let hub: Hub;
  const hubs: Hub[] = [];
  const start = async (options: Partial<Parameters<typeof createHub>[0]> = {}) => {
    const started = await createHub({ store: flaky.store, expiryIntervalMs: 60_000, ...options });
    hubs.push(started);
    return started;
  };

  beforeEach(async () => {
    memory = new MemoryStore();
    flaky = new FlakyStore(memory);
    hub = await start();
    await ok(hub, agent, { operation: 'updateTD', input: lampTd() });
  });
  after(async () => {
    for (const h of hubs) await h.close();
  });

  it('a refused report answers 503 and is never served, before or after a restart', async () => {
    await ok(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 10 });
    flaky.failing = 'unavailable';
    const refused = call(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 99 });
    // A reader asking while the write is in flight sees the last acknowledged value.
    assert.equal(await ok(hub, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }), 10);
    const result = await refused;
    assert.equal(result.status, 503);
    assert.equal(await ok(hub, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }), 10);
    flaky.failing = false;
    const restarted = await start();
    assert.equal(await ok(restarted, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }), 10);
  });

  it('a refused event is neither kept nor announced', async () => {
    const watcher = listen(hub, viewer);
    await ok(hub, viewer, { operation: 'subscribeallevents', thingId: LAMP }, watcher.session);
    flaky.failing = 'unavailable';
    assert.equal((await call(hub, agent, { operation: 'publishevent', thingId: LAMP, name: 'overheating', input: { celsius: 90 } })).status, 503);
    assert.deepEqual(watcher.received, []);
    assert.deepEqual(((await ok(hub, viewer, { operation: 'readstate', thingId: LAMP })) as TwinState).events, {});
  });

  it('a refused invocation answers 507 on a full store and is never delivered, listed or counted', async () => {
    flaky.failing = 'full';
    const refused = await call(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' });
    assert.equal(refused.status, 507);
    assert.match((refused as { problem: { detail: string } }).problem.detail, /storage is full/);
    const write = await call(hub, operator, { operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 5 });
    assert.equal(write.status, 507);
    flaky.failing = false;
    assert.deepEqual(await ok(hub, operator, { operation: 'queryallactions', thingId: LAMP }), []);
    const state = (await ok(hub, viewer, { operation: 'readstate', thingId: LAMP })) as TwinState;
    assert.equal(state.properties.brightness, undefined, 'no desired value is left by the refused write');
    const device = listen(hub, agent);
    await ok(hub, agent, { operation: 'subscriberequests' }, device.session);
    assert.deepEqual(device.received, [], 'space is back: the refused requests still never reach the agent');
    const accepted = (await ok(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
    assert.deepEqual(
      device.received.map((m) => (m as { actionId: string }).actionId),
      [accepted.actionId],
    );
  });

  it('a refused cancel or status report leaves the request as it was, still owed to the agent', async () => {
    const record = (await ok(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
    flaky.failing = 'unavailable';
    assert.equal((await call(hub, operator, { operation: 'cancelaction', actionId: record.actionId })).status, 503);
    flaky.failing = false;
    assert.equal(((await ok(hub, operator, { operation: 'queryaction', actionId: record.actionId })) as RequestRecord).status, 'pending');
    const device = listen(hub, agent);
    await ok(hub, agent, { operation: 'subscriberequests' }, device.session);
    assert.equal(device.received.length, 1, 'the request whose cancel failed is still delivered');
    flaky.failing = 'unavailable';
    assert.equal((await call(hub, agent, { operation: 'updateactionstatus', actionId: record.actionId, input: { status: 'completed' } })).status, 503);
    flaky.failing = false;
    const now = (await ok(hub, operator, { operation: 'queryaction', actionId: record.actionId })) as RequestRecord;
    assert.equal(now.status, 'delivered');
    assert.equal(now.timeEnded, undefined);
  });

  it('a refused registration is all or nothing: a new TD is not listed, a replaced TD stays the old one', async () => {
    flaky.failing = 'unavailable';
    const created = await call(hub, agent, { operation: 'updateTD', input: lampTd({ id: 'urn:test:new' }) });
    assert.equal(created.status, 503);
    const replaced = await call(hub, agent, { operation: 'updateTD', input: lampTd({ title: 'Renamed' }) });
    assert.equal(replaced.status, 503);
    flaky.failing = false;
    assert.equal((await call(hub, viewer, { operation: 'retrieveTD', thingId: 'urn:test:new' })).status, 404);
    const td = (await ok(hub, viewer, { operation: 'retrieveTD', thingId: LAMP })) as { title: string };
    assert.notEqual(td.title, 'Renamed');
    assert.equal(((await ok(hub, viewer, { operation: 'listTDs' })) as unknown[]).length, 1);
  });

  it('a refused delete leaves the Thing and its queued requests in place', async () => {
    const record = (await ok(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
    flaky.failing = 'unavailable';
    assert.equal((await call(hub, agent, { operation: 'deleteTD', thingId: LAMP })).status, 503);
    flaky.failing = false;
    await ok(hub, viewer, { operation: 'retrieveTD', thingId: LAMP });
    const device = listen(hub, agent);
    await ok(hub, agent, { operation: 'subscriberequests' }, device.session);
    assert.deepEqual(
      device.received.map((m) => (m as { actionId: string }).actionId),
      [record.actionId],
    );
  });

  it('stores one record per reported property, and migrates a v1 whole-Thing state record at load', async () => {
    await ok(hub, agent, { operation: 'updateproperty', thingId: LAMP, input: { brightness: 3, status: 'on' } });
    const keys: string[] = [];
    for await (const [key] of memory.bucket('state').entries()) keys.push(key);
    assert.deepEqual(keys, [`${LAMP}\u0001p\u0001brightness`, `${LAMP}\u0001p\u0001status`]);

    const legacy = new MemoryStore();
    await legacy.batch([
      { bucket: 'twins', type: 'put', key: LAMP, value: (await memory.bucket('twins').get(LAMP))! },
      {
        bucket: 'state',
        type: 'put',
        key: LAMP,
        value: JSON.stringify({
          thingId: LAMP,
          version: 7,
          properties: { brightness: { value: 42, updated: '2026-01-01T00:00:00.000Z' } },
          events: { overheating: { data: { celsius: 1 }, time: '2026-01-01T00:00:00.000Z' } },
        }),
      },
    ]);
    const migrated = await createHub({ store: legacy });
    hubs.push(migrated);
    assert.equal(await ok(migrated, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }), 42);
    const state = (await ok(migrated, viewer, { operation: 'readstate', thingId: LAMP })) as TwinState;
    assert.equal(state.version, 7);
    assert.deepEqual(state.events.overheating, { data: { celsius: 1 }, time: '2026-01-01T00:00:00.000Z' });
    assert.equal(await legacy.bucket('state').get(LAMP), undefined, 'the v1 record is gone once migrated');
  });

  it('numbers notifications durably: after a restart an old resume cursor gets a reset, never silence', async () => {
    const watcher = listen(hub, viewer);
    await ok(hub, viewer, { operation: 'observeallproperties', thingId: LAMP }, watcher.session);
    await ok(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 1 });
    await ok(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 2 });
    const seen = (watcher.received[0] as { seq: number }).seq;
    assert.equal(hub.notificationsSince(seen, viewer)?.length, 1, 'before the restart the missed one is replayed');
    const restarted = await start();
    assert.equal(restarted.notificationsSince(seen, viewer), undefined, 'after it, the gap is reported (reset)');
    const fresh = listen(restarted, viewer);
    await ok(restarted, viewer, { operation: 'observeallproperties', thingId: LAMP }, fresh.session);
    await ok(restarted, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 3 });
    assert.ok((fresh.received[0] as { seq: number }).seq > seen + 1, 'ids continue after the restart, never reused');
  });

  it('replays created, updated and deleted of a Thing deleted while the client was away', async () => {
    const cursor = hub.notificationsSince(0, viewer)!.at(-1)!.seq;
    await ok(hub, agent, { operation: 'updateTD', input: lampTd({ id: 'urn:test:brief' }) });
    await ok(hub, agent, { operation: 'patchTD', thingId: 'urn:test:brief', input: { title: 'Brief' } });
    await ok(hub, agent, { operation: 'deleteTD', thingId: 'urn:test:brief' });
    const missed = hub.notificationsSince(cursor, viewer)!;
    assert.deepEqual(
      missed.map((m) => [m.operation, m.thingId]),
      [
        ['thing_created', 'urn:test:brief'],
        ['thing_updated', 'urn:test:brief'],
        ['thing_deleted', 'urn:test:brief'],
      ],
    );
    const stranger: Client = { id: 'agent-2', role: 'agent' };
    assert.deepEqual(hub.notificationsSince(cursor, stranger), [], 'another agent never sees them');
  });

  it('keeps ended requests up to a count, oldest pruned first, and pages queryallactions', async () => {
    const small = await start({ requestRetentionCount: 3 });
    const device = listen(small, agent);
    await ok(small, agent, { operation: 'subscriberequests' }, device.session);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const record = (await ok(small, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
      await ok(small, agent, { operation: 'updateactionstatus', actionId: record.actionId, input: { status: 'completed' } });
      ids.push(record.actionId);
    }
    const page = await call(small, operator, { operation: 'queryallactions', thingId: LAMP, query: { offset: 1, limit: 2 } });
    assert.ok(page.ok);
    assert.equal(page.total, 5);
    assert.deepEqual(
      (page.output as RequestRecord[]).map((r) => r.actionId),
      ids.slice(1, 3),
    );
    await (small as unknown as { core: { requests: { sweep(): Promise<void> } } }).core.requests.sweep();
    const kept = (await ok(small, operator, { operation: 'queryallactions', thingId: LAMP })) as RequestRecord[];
    assert.deepEqual(
      kept.map((r) => r.actionId),
      ids.slice(2),
      'the two oldest ended ones are pruned',
    );
    assert.equal(await memory.bucket('actions').get(ids[0]), undefined, 'and deleted from the store');
    assert.equal((await call(small, operator, { operation: 'queryallactions', thingId: LAMP, query: { limit: 1001 } })).status, 400);
  });
});

describe('load', () => {
  it('deletes state records no TD accounts for (a Thing gone, an affordance dropped)', async () => {
    const store = new MemoryStore();
    const first = await createHub({ store });
    await ok(first, agent, { operation: 'updateTD', input: lampTd() });
    const twin = (await store.bucket('twins').get(LAMP))!;
    await first.close();
    const record = JSON.stringify({ value: 1, updated: '2026-01-01T00:00:00.000Z', version: 1 });
    const leftover = new MemoryStore();
    await leftover.batch([
      { bucket: 'twins', type: 'put', key: LAMP, value: twin },
      { bucket: 'state', type: 'put', key: `${LAMP}\u0001p\u0001brightness`, value: record },
      { bucket: 'state', type: 'put', key: `${LAMP}\u0001p\u0001dropped`, value: record },
      { bucket: 'state', type: 'put', key: `urn:gone\u0001p\u0001brightness`, value: record },
    ]);
    const hub = await createHub({ store: leftover });
    const keys: string[] = [];
    for await (const [key] of leftover.bucket('state').entries()) keys.push(key);
    assert.deepEqual(keys, [`${LAMP}\u0001p\u0001brightness`]);
    assert.deepEqual(Object.keys(((await ok(hub, viewer, { operation: 'readstate', thingId: LAMP })) as TwinState).properties), ['brightness']);
    await hub.close();
  });
});

describe('names inherited from Object.prototype', () => {
  it("keep each Thing's state apart: a reported `toString` is not read from another Thing", async () => {
    const hub = await createHub({ store: new MemoryStore() });
    const td = (id: string) => ({
      ...lampTd({ id }),
      properties: { toString: { type: 'integer', forms: [{ href: 'p' }] }, valueOf: { type: 'integer', forms: [{ href: 'v' }] } },
    });
    await ok(hub, agent, { operation: 'updateTD', input: td('urn:t:a') });
    await ok(hub, agent, { operation: 'updateTD', input: td('urn:t:b') });
    await ok(hub, agent, { operation: 'updateproperty', thingId: 'urn:t:a', input: { toString: 1337, valueOf: 7 } });
    assert.equal(await ok(hub, viewer, { operation: 'readproperty', thingId: 'urn:t:a', name: 'toString' }), 1337);
    assert.equal((await call(hub, viewer, { operation: 'readproperty', thingId: 'urn:t:b', name: 'toString' })).status, 404);
    assert.deepEqual(await ok(hub, viewer, { operation: 'readallproperties', thingId: 'urn:t:b' }), {});
    assert.equal(typeof Object.prototype.toString, 'function', 'nothing was written onto Object.prototype');
    const state = (await ok(hub, viewer, { operation: 'readstate', thingId: 'urn:t:a' })) as TwinState;
    assert.deepEqual(Object.keys(state.properties).sort(), ['toString', 'valueOf']);
    await hub.close();
  });
});

describe('a stored TD the hub can no longer serve', () => {
  it('is left out of listings (and logged) instead of failing them for everyone', async () => {
    const store = new MemoryStore();
    const first = await createHub({ store });
    await ok(first, agent, { operation: 'updateTD', input: lampTd() });
    await ok(first, agent, { operation: 'updateTD', input: lampTd({ id: 'urn:t:broken' }) });
    const broken = JSON.parse((await store.bucket('twins').get('urn:t:broken'))!);
    const lamp = (await store.bucket('twins').get(LAMP))!;
    await first.close();
    // As an older hub with weaker checks could have stored it: a name encodeURIComponent throws on.
    broken.td.properties = { 'a\ud800': { type: 'integer', forms: [{ href: 'x' }] } };
    const older = new MemoryStore();
    await older.batch([
      { bucket: 'twins', type: 'put', key: LAMP, value: lamp },
      { bucket: 'twins', type: 'put', key: 'urn:t:broken', value: JSON.stringify(broken) },
    ]);
    const hub = await createHub({ store: older });
    hub.addTwinTdContributor({
      name: 'encoding',
      affordanceForms: (_kind, thingId, name) => [{ href: `/${encodeURIComponent(thingId)}/${encodeURIComponent(name)}` }],
    });
    const listed = (await ok(hub, viewer, { operation: 'listTDs' })) as { id: string }[];
    assert.deepEqual(
      listed.map((td) => td.id),
      [LAMP],
    );
    await hub.close();
  });
});
