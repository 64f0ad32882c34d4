import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import type { BucketStore } from '@twinhub/bucket';
import { createHub, type Hub } from './hub.js';
import type { OutboundMessage } from './model/envelope.js';
import type { HubRequest, HubResult, Session } from './model/operations.js';
import type { RequestRecord, Client, ThingDescription } from './model/types.js';
import { lampTd } from './td/test-fixtures.js';
import { eventually, keepOpen } from './testing/index.js';

const LAMP = 'urn:dev:ops:32473-WoTLamp-1234';
const agent: Client = { id: 'agent-1', role: 'agent' };
const otherAgent: Client = { id: 'agent-2', role: 'agent' };
const operator: Client = { id: 'op-1', role: 'operator' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };

class Clock {
  ms = Date.parse('2026-01-01T00:00:00Z');
  now = () => new Date(this.ms);
  advance(seconds: number) {
    this.ms += seconds * 1000;
  }
}

function session(hub: Hub, client: Client) {
  const received: OutboundMessage[] = [];
  const closed: string[] = [];
  const s = hub.openSession(client, 'test', { send: (m) => received.push(m), close: (r) => closed.push(r) });
  return { session: s, received, closed };
}

async function call(hub: Hub, client: Client, request: HubRequest, s?: Session): Promise<HubResult> {
  return hub.handle(request, { client, ...(s ? { session: s } : {}) });
}

async function expectOk(hub: Hub, client: Client, request: HubRequest, s?: Session): Promise<unknown> {
  const result = await call(hub, client, request, s);
  assert.ok(result.ok, `${request.operation} failed: ${JSON.stringify(!result.ok && result.problem)}`);
  return result.output;
}

async function expectProblem(hub: Hub, client: Client, request: HubRequest, status: number, s?: Session) {
  const result = await call(hub, client, request, s);
  assert.equal(result.ok, false, `${request.operation} should fail with ${status}`);
  assert.equal(result.status, status, JSON.stringify(!result.ok && result.problem));
  return (result as Extract<HubResult, { ok: false }>).problem;
}

// Twice: as configured by default (every twin of these small stores stays in memory), and with
// twins loaded on demand and a cache of nothing, so every twin not being changed is dropped at
// once and read back from the store on its next use (directory.ts).
describe('Hub', () => hubSuite({}));
describe('Hub, twins read back from the store on every use', () => hubSuite({ twinCacheBytes: 0 }));

function hubSuite(cacheOptions: { twinCacheBytes?: number }): void {
  let hub: Hub;
  let clock: Clock;
  let store: MemoryStore;
  const hubs: Hub[] = [];

  async function start(options: Parameters<typeof createHub>[0] extends infer O ? Partial<O> : never = {}) {
    const started = await createHub({ store: keepOpen(store), now: clock.now, expiryIntervalMs: 60_000, ...cacheOptions, ...options });
    hubs.push(started);
    return started;
  }

  beforeEach(async () => {
    clock = new Clock();
    store = new MemoryStore();
    hub = await start();
    await expectOk(hub, agent, { operation: 'updateTD', input: lampTd() });
  });

  after(async () => {
    for (const h of hubs) await h.close();
  });

  describe('directory', () => {
    it('registers a TD, serves it without the agent forms, and lists it by agent and @type', async () => {
      const td = (await expectOk(hub, viewer, { operation: 'retrieveTD', thingId: LAMP })) as ThingDescription;
      assert.equal(td.id, LAMP);
      assert.equal(td.title, 'MyLampThing');
      assert.equal(td.base, undefined, 'the agent base URL must not leak to consumers');
      const byAgent = await call(hub, viewer, { operation: 'listTDs', query: { agent: 'agent-1' } });
      assert.ok(byAgent.ok && byAgent.total === 1);
      const byType = await call(hub, viewer, { operation: 'listTDs', query: { type: 'saref:LightSwitch' } });
      assert.ok(byType.ok && byType.total === 1);
      const noMatch = await call(hub, viewer, { operation: 'listTDs', query: { type: 'saref:Sensor' } });
      assert.ok(noMatch.ok && noMatch.total === 0);
    });

    it('pages listings with offset and limit in Thing ID order', async () => {
      for (const n of [3, 1, 2]) await expectOk(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: `urn:test:lamp-${n}` } });
      const page = await call(hub, viewer, { operation: 'listTDs', query: { offset: 1, limit: 2 } });
      assert.ok(page.ok);
      assert.equal(page.total, 4);
      assert.deepEqual(
        (page.output as ThingDescription[]).map((t) => t.id),
        ['urn:test:lamp-1', 'urn:test:lamp-2'],
        "'urn:dev:…' sorts before 'urn:test:…'",
      );
      await expectProblem(hub, viewer, { operation: 'listTDs', query: { limit: 0 } }, 400);
    });

    it('refuses an invalid TD with the schema errors and stores nothing', async () => {
      const { title: _t, ...untitled } = { ...lampTd(), id: 'urn:test:untitled' };
      const problem = await expectProblem(hub, agent, { operation: 'updateTD', input: untitled }, 400);
      assert.ok(problem.errors && problem.errors.length > 0);
      await expectProblem(hub, viewer, { operation: 'retrieveTD', thingId: 'urn:test:untitled' }, 404);
    });

    it('refuses a Thing ID no Thing can have with a 400 on every operation, not a 404', async () => {
      for (const [thingId, reason] of [
        ['urn:test:a#b', /'#'/],
        ['urn:test:a/../b', /'\.\.'/],
        ['urn:test:a\u0000b', /control characters/],
        ['lamp', /scheme/],
      ] as const) {
        for (const [client, request] of [
          [viewer, { operation: 'retrieveTD', thingId }],
          [viewer, { operation: 'readproperty', thingId, name: 'brightness' }],
          [operator, { operation: 'writeproperty', thingId, name: 'brightness', input: 1 }],
          [agent, { operation: 'updateproperty', thingId, name: 'brightness', input: 1 }],
          [agent, { operation: 'deleteTD', thingId }],
        ] as const) {
          const problem = await expectProblem(hub, client, request, 400);
          assert.match(problem.detail, reason);
        }
      }
    });

    it('lets only the owning agent replace or delete a Thing, and no viewer register one', async () => {
      const problem = await expectProblem(hub, otherAgent, { operation: 'updateTD', input: lampTd() }, 403);
      assert.match(problem.detail, /another agent/);
      await expectProblem(hub, otherAgent, { operation: 'deleteTD', thingId: LAMP }, 403);
      await expectProblem(hub, viewer, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:v' } }, 403);
      const replaced = await call(hub, agent, { operation: 'updateTD', input: { ...lampTd(), title: 'Renamed' } });
      assert.equal(replaced.status, 200);
      const twin = (await expectOk(hub, operator, { operation: 'readtwin', thingId: LAMP })) as { version: number; agentId: string };
      assert.equal(twin.version, 2);
      assert.equal(twin.agentId, 'agent-1');
    });

    it("hides other agents' Things and tags from agents", async () => {
      const list = await call(hub, otherAgent, { operation: 'listTDs' });
      assert.ok(list.ok && list.total === 0);
      await expectProblem(hub, otherAgent, { operation: 'retrieveTD', thingId: LAMP }, 403);
      await expectProblem(hub, otherAgent, { operation: 'readtwin', thingId: LAMP }, 403);
      await expectOk(hub, operator, { operation: 'updatetags', thingId: LAMP, input: { room: 'kitchen' } });
      const own = (await expectOk(hub, agent, { operation: 'readtwin', thingId: LAMP })) as { tags?: unknown };
      assert.equal(own.tags, undefined, "an agent's own twin document has no tags");
      await expectProblem(hub, agent, { operation: 'listTDs', query: { tags: { room: 'kitchen' } } }, 403);
    });

    it('applies a merge patch and checks ifVersion', async () => {
      await expectOk(hub, agent, { operation: 'patchTD', thingId: LAMP, input: { title: 'Patched' }, ifVersion: 1 });
      const td = (await expectOk(hub, viewer, { operation: 'retrieveTD', thingId: LAMP })) as ThingDescription;
      assert.equal(td.title, 'Patched');
      await expectProblem(hub, agent, { operation: 'patchTD', thingId: LAMP, input: { title: 'Stale' }, ifVersion: 1 }, 412);
      await expectProblem(hub, agent, { operation: 'patchTD', thingId: LAMP, input: { title: null } }, 400);
      await expectProblem(hub, agent, { operation: 'deleteTD', thingId: LAMP, ifVersion: 1 }, 412);
      await expectProblem(hub, agent, { operation: 'updateTD', input: JSON.stringify({ ...lampTd(), id: 'urn:test:text' }) }, 400);
      await expectOk(hub, agent, { operation: 'deleteTD', thingId: LAMP, ifVersion: 2 });
    });

    it('applies requests started before an earlier deleteTD settled after the delete, in call order', async () => {
      // Pipelined: none of these is awaited before the next one starts.
      const deleted = call(hub, agent, { operation: 'deleteTD', thingId: LAMP });
      const reported = call(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 5 });
      const deletedAgain = call(hub, agent, { operation: 'deleteTD', thingId: 'urn:test:gone' });
      const created = call(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:gone' } });
      const removed = call(hub, agent, { operation: 'deleteTD', thingId: 'urn:test:gone' });
      const results = await Promise.all([deleted, reported, deletedAgain, created, removed]);
      assert.deepEqual(
        results.map((r) => r.status),
        [204, 404, 404, 201, 204],
      );
      // Nothing of the deleted Things is left in memory or in the store (a restart finds neither).
      await hub.close();
      const restarted = await start();
      await expectProblem(restarted, viewer, { operation: 'readstate', thingId: LAMP }, 404);
      await expectProblem(restarted, viewer, { operation: 'retrieveTD', thingId: 'urn:test:gone' }, 404);
      for (const bucket of ['twins', 'state']) {
        for await (const [key] of store.bucket(bucket).entries()) assert.fail(`${bucket} still holds '${key}'`);
      }
    });

    it('lists twin metadata without TDs when asked (metadataOnly), not to agents', async () => {
      const listed = await call(hub, operator, { operation: 'listTDs', query: { metadataOnly: true } });
      assert.ok(listed.ok && listed.total === 1, JSON.stringify(listed));
      assert.deepEqual(Object.keys((listed.output as object[])[0]).sort(), ['agentId', 'created', 'modified', 'presence', 'tags', 'thingId', 'version']);
      await expectProblem(hub, agent, { operation: 'listTDs', query: { metadataOnly: true } }, 403);
    });

    it('filters by tags set by an operator', async () => {
      await expectOk(hub, operator, { operation: 'updatetags', thingId: LAMP, input: { room: 'kitchen' } });
      const hit = await call(hub, viewer, { operation: 'listTDs', query: { tags: { room: 'kitchen' } } });
      assert.ok(hit.ok && hit.total === 1);
      const miss = await call(hub, viewer, { operation: 'listTDs', query: { tags: { room: 'attic' } } });
      assert.ok(miss.ok && miss.total === 0);
    });

    it('announces created, updated and deleted Things to directory subscribers who may see them', async () => {
      const watcher = session(hub, viewer);
      const stranger = session(hub, otherAgent);
      await expectOk(hub, viewer, { operation: 'subscribedirectory' }, watcher.session);
      await expectOk(hub, otherAgent, { operation: 'subscribedirectory' }, stranger.session);
      await expectOk(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:new' } });
      await expectOk(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:new', title: 'x' } });
      await expectOk(hub, agent, { operation: 'deleteTD', thingId: 'urn:test:new' });
      assert.deepEqual(
        watcher.received.map((m) => m.operation),
        ['thing_created', 'thing_updated', 'thing_deleted'],
      );
      assert.deepEqual(stranger.received, []);
    });

    it('computes expires from registration.ttl, refreshes it on update, and purges the Thing once it passed [tdd-registrationinfo-expiry-purge]', async () => {
      const sweeping = await start({ expiryIntervalMs: 20 });
      const watcher = session(sweeping, viewer);
      await expectOk(sweeping, viewer, { operation: 'subscribedirectory' }, watcher.session);
      const td = { ...lampTd(), id: 'urn:test:expiring', registration: { ttl: 60, expires: '2000-01-01T00:00:00Z', created: 'ignored' } };
      const served = (await expectOk(sweeping, agent, { operation: 'updateTD', input: td })) as ThingDescription;
      assert.deepEqual(served.registration, {
        created: '2026-01-01T00:00:00.000Z',
        modified: '2026-01-01T00:00:00.000Z',
        expires: '2026-01-01T00:01:00.000Z',
        ttl: 60,
      });
      clock.advance(50);
      await expectOk(sweeping, agent, { operation: 'updateTD', input: td });
      clock.advance(50);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok((await call(sweeping, viewer, { operation: 'retrieveTD', thingId: 'urn:test:expiring' })).ok, 'the update renewed it');
      clock.advance(11);
      for (let i = 0; i < 500 && (await call(sweeping, viewer, { operation: 'retrieveTD', thingId: 'urn:test:expiring' })).ok; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await expectProblem(sweeping, viewer, { operation: 'retrieveTD', thingId: 'urn:test:expiring' }, 404);
      // Gone from the view at once; announced once the delete is stored (a poll can fall in between).
      await eventually(() =>
        assert.deepEqual(
          watcher.received.map((m) => m.operation),
          ['thing_created', 'thing_updated', 'thing_deleted'],
        ),
      );
      assert.ok((await call(sweeping, viewer, { operation: 'retrieveTD', thingId: LAMP })).ok, 'a Thing without ttl stays');
    });

    it('refuses a registration whose ttl or expires is not usable, naming the field', async () => {
      for (const registration of [{ ttl: -1 }, { ttl: 'soon' }, { expires: 'tomorrow' }, 'yes']) {
        const problem = await expectProblem(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:bad-ttl', registration } }, 400);
        assert.match(problem.errors?.[0]?.pointer ?? '', /^\/registration/);
      }
    });

    it('tags the collection: the tag changes with any TD change and comes back with the same content', async () => {
      const tag = async () => {
        const result = await call(hub, viewer, { operation: 'listTDs' });
        assert.ok(result.ok);
        return result.etag;
      };
      const before = await tag();
      await expectOk(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:tagged' } });
      const added = await tag();
      assert.notEqual(added, before);
      clock.advance(1);
      await expectOk(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:tagged', title: 'changed' } });
      assert.notEqual(await tag(), added);
      await expectOk(hub, agent, { operation: 'deleteTD', thingId: 'urn:test:tagged' });
      assert.equal(await tag(), before);
    });
  });

  describe('twin document', () => {
    it('shows reported and desired values with their times, the delta between them, presence and versions', async () => {
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, input: { brightness: 10, status: 'on' } });
      clock.advance(5);
      const write = (await expectOk(hub, operator, { operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 80 })) as RequestRecord;
      await expectOk(hub, operator, { operation: 'updatetags', thingId: LAMP, input: { room: 'hall' } });
      const doc = (await expectOk(hub, viewer, { operation: 'readtwin', thingId: LAMP })) as Record<string, unknown>;
      assert.deepEqual(doc.reported, {
        brightness: { value: 10, updated: '2026-01-01T00:00:00.000Z' },
        status: { value: 'on', updated: '2026-01-01T00:00:00.000Z' },
      });
      assert.deepEqual(doc.desired, { brightness: { value: 80, at: '2026-01-01T00:00:05.000Z', requestId: write.actionId } });
      assert.deepEqual(doc.delta, { brightness: 80 });
      assert.deepEqual(doc.tags, { room: 'hall' });
      assert.deepEqual(doc.versions, { td: 1, state: 1 });
      assert.equal((doc.presence as { connected: boolean }).connected, false);
      // The agent takes it on: reported catches up, the delta empties.
      await expectOk(hub, agent, { operation: 'updateactionstatus', actionId: write.actionId, input: { status: 'completed' } });
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 80 });
      const after = (await expectOk(hub, agent, { operation: 'readtwin', thingId: LAMP })) as Record<string, unknown>;
      assert.deepEqual(after.delta, {});
      assert.deepEqual(after.desired, {});
      assert.equal(after.tags, undefined, 'agents get the document without tags');
      assert.deepEqual(after.versions, { td: 1, state: 2 });
    });

    it('replays what a resuming subscription missed (since), only what it covers, or says reset', async () => {
      const first = session(hub, viewer);
      await expectOk(hub, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'brightness' }, first.session);
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 1 });
      const seen = first.received.at(-1) as { seq: number };
      hub.closeSession(first.session);
      // Missed while away: two brightness values, a status value, an event.
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, input: { brightness: 2, status: 'on' } });
      await expectOk(hub, agent, { operation: 'publishevent', thingId: LAMP, name: 'overheating', input: { celsius: 90 } });
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 3 });
      const second = session(hub, viewer);
      const answer = await expectOk(hub, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'brightness', since: seen.seq }, second.session);
      assert.deepEqual(answer, { replayed: 2 });
      assert.deepEqual(
        second.received.map((m) => (m as { data: unknown }).data),
        [2, 3],
      );
      const events = await expectOk(hub, viewer, { operation: 'subscribeevent', thingId: LAMP, name: 'overheating', since: seen.seq }, second.session);
      assert.deepEqual(events, { replayed: 1 });
      const directory = await expectOk(hub, viewer, { operation: 'subscribedirectory', since: 0 }, second.session);
      assert.deepEqual(directory, { replayed: 1 }, 'the lamp registration');
      // A buffer that no longer reaches back that far says so.
      const small = await start({ replayBufferSize: 2 });
      for (const input of [1, 2, 3]) await expectOk(small, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input });
      const late = session(small, viewer);
      assert.deepEqual(await expectOk(small, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'brightness', since: 0 }, late.session), {
        reset: true,
      });
    });

    it('makes reports conditional on the state version (412 when it moved on)', async () => {
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 1 });
      const problem = await expectProblem(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 2, ifVersion: 0 }, 412);
      assert.match(problem.detail, /version 1, not 0/);
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 3, ifVersion: 1 });
      assert.equal(await expectOk(hub, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }), 3);
      await expectProblem(hub, operator, { operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 4, ifVersion: 1 }, 412);
    });

    it("gives an agent its Things' start-up configuration: desired, else last reported, writable properties only", async () => {
      await expectOk(hub, agent, { operation: 'updateTD', input: { ...lampTd(), id: 'urn:test:second' } });
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, input: { brightness: 10, status: 'on' } });
      await expectOk(hub, operator, { operation: 'writeproperty', thingId: 'urn:test:second', name: 'config', input: { name: 'eco' } });
      assert.deepEqual(await expectOk(hub, agent, { operation: 'readdesired' }), {
        [LAMP]: { brightness: 10 },
        'urn:test:second': { config: { name: 'eco' } },
      });
      assert.deepEqual(await expectOk(hub, agent, { operation: 'readdesired', thingId: LAMP }), { [LAMP]: { brightness: 10 } });
      await expectProblem(hub, otherAgent, { operation: 'readdesired', thingId: LAMP }, 403);
      assert.deepEqual(await expectOk(hub, otherAgent, { operation: 'readdesired' }), {});
      await expectProblem(hub, operator, { operation: 'readdesired', thingId: LAMP }, 403);
    });
  });

  describe('state', () => {
    it('stores a reported value and notifies observers of that property only', async () => {
      const consumer = session(hub, viewer);
      await expectOk(hub, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'brightness' }, consumer.session);
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, input: { brightness: 40, status: 'on' } });
      assert.equal(await expectOk(hub, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }), 40);
      assert.deepEqual(await expectOk(hub, viewer, { operation: 'readallproperties', thingId: LAMP }), { brightness: 40, status: 'on' });
      assert.equal(consumer.received.length, 1);
      assert.deepEqual(
        { ...consumer.received[0], seq: 0, timestamp: '' },
        {
          type: 'notification',
          operation: 'observeproperty',
          thingId: LAMP,
          name: 'brightness',
          data: 40,
          timestamp: '',
          seq: 0,
        },
      );
    });

    it('refuses a whole report when one value is invalid', async () => {
      const problem = await expectProblem(hub, agent, { operation: 'updateproperty', thingId: LAMP, input: { brightness: 50, status: 'dim' } }, 400);
      assert.ok(problem.errors?.some((e) => e.pointer.startsWith('/status')));
      await expectProblem(hub, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }, 404);
      await expectProblem(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'nope', input: 1 }, 404);
    });

    it('keeps the latest event data and tells subscribers', async () => {
      const consumer = session(hub, operator);
      await expectOk(hub, operator, { operation: 'subscribeallevents' }, consumer.session);
      await expectOk(hub, agent, { operation: 'publishevent', thingId: LAMP, name: 'overheating', input: { celsius: 81 } });
      await expectProblem(hub, agent, { operation: 'publishevent', thingId: LAMP, name: 'overheating', input: { kelvin: 1 } }, 400);
      const state = (await expectOk(hub, viewer, { operation: 'readstate', thingId: LAMP })) as { events: Record<string, { data: unknown }> };
      assert.deepEqual(state.events.overheating.data, { celsius: 81 });
      assert.deepEqual(
        consumer.received.map((m) => m.type === 'notification' && m.data),
        [{ celsius: 81 }],
      );
    });

    it('needs a live session to observe, and bounds subscriptions per session', async () => {
      await expectProblem(hub, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'brightness' }, 400);
      const small = await start({ limits: { maxSubscriptionsPerSession: 1 } });
      await expectOk(small, agent, { operation: 'updateTD', input: lampTd() });
      const consumer = session(small, viewer);
      await expectOk(small, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'brightness' }, consumer.session);
      await expectProblem(small, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'status' }, 429, consumer.session);
    });

    it("replays notifications after a sequence number, filtered by the session's subscriptions", async () => {
      const consumer = session(hub, viewer);
      await expectOk(hub, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'status' }, consumer.session);
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'status', input: 'on' });
      const seq = (consumer.received[0] as { seq: number }).seq;
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 5 });
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'status', input: 'off' });
      assert.deepEqual(
        hub.notificationsSince(seq - 1, consumer.session)?.map((m) => m.data),
        ['on', 'off'],
      );
      assert.deepEqual(
        hub.notificationsSince(seq - 1, viewer)?.map((m) => m.data),
        ['on', 5, 'off'],
      );
      assert.deepEqual(hub.notificationsSince(seq - 1, otherAgent), []);
    });
    it('bounds the replay buffer by count and by bytes, and says so when it cannot replay', async () => {
      const small = await start({ replayBufferSize: 3, replayBufferBytes: 200 });
      await expectOk(small, agent, { operation: 'updateTD', input: lampTd() });
      const report = (input: unknown) => expectOk(small, agent, { operation: 'updateproperty', thingId: LAMP, name: 'config', input });
      const consumer = session(small, viewer);
      await expectOk(small, viewer, { operation: 'observeproperty', thingId: LAMP, name: 'config' }, consumer.session);
      for (const name of ['a', 'b', 'c', 'd']) await report({ name });
      const seqs = consumer.received.map((m) => (m as { seq: number }).seq);
      assert.deepEqual(
        small.notificationsSince(seqs[0], viewer)?.map((m) => m.data),
        [{ name: 'b' }, { name: 'c' }, { name: 'd' }],
      );
      assert.equal(small.notificationsSince(seqs[0] - 1, viewer), undefined, 'by count: the first one was evicted');
      await report({ name: 'x'.repeat(30), tags: ['y'.repeat(30)] });
      await report({ name: 'z'.repeat(32), tags: ['w'.repeat(32), 'v'.repeat(32), 'u'.repeat(32)] });
      const last = (consumer.received.at(-1) as { seq: number }).seq;
      assert.equal(small.notificationsSince(last - 2, viewer), undefined, 'by bytes: big values push older ones out sooner');
      assert.equal(small.notificationsSince(last - 1, viewer)?.length, 1);
    });
  });

  describe('request queue', () => {
    it('queues a write while the agent is offline and delivers it when the agent subscribes', async () => {
      const consumer = session(hub, operator);
      const write = (await expectOk(
        hub,
        operator,
        { operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 70 },
        consumer.session,
      )) as RequestRecord;
      assert.equal(write.status, 'pending');
      const state = (await expectOk(hub, viewer, { operation: 'readstate', thingId: LAMP })) as {
        properties: Record<string, { desired?: unknown; pendingWrite?: string }>;
      };
      assert.equal(state.properties.brightness.desired, 70);
      assert.equal(state.properties.brightness.pendingWrite, write.actionId);
      assert.equal(hub.presence('agent-1').connected, false);

      const device = session(hub, agent);
      await expectOk(hub, agent, { operation: 'subscriberequests' }, device.session);
      assert.equal(hub.presence('agent-1').connected, true);
      assert.deepEqual(
        device.received.map((m) => m.type === 'request' && [m.operation, m.name, m.input, m.actionId]),
        [['writeproperty', 'brightness', 70, write.actionId]],
      );
      await expectOk(hub, agent, { operation: 'updateactionstatus', actionId: write.actionId, input: { status: 'completed' } });
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 70 });
      const done = (await expectOk(hub, operator, { operation: 'queryaction', actionId: write.actionId })) as RequestRecord;
      assert.equal(done.status, 'completed');
      const after = (await expectOk(hub, viewer, { operation: 'readstate', thingId: LAMP })) as {
        properties: Record<string, { value?: unknown; pendingWrite?: string }>;
      };
      assert.equal(after.properties.brightness.value, 70);
      assert.equal(after.properties.brightness.pendingWrite, undefined);
      const statuses = consumer.received.filter((m) => m.operation === 'actionstatus').map((m) => (m as { data: RequestRecord }).data.status);
      assert.deepEqual(statuses, ['delivered', 'completed']);
    });

    it('refuses a value of the wrong type and queues nothing', async () => {
      const problem = await expectProblem(hub, operator, { operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 'bright' }, 400);
      assert.match(problem.detail, /brightness/);
      await expectProblem(hub, operator, { operation: 'writeproperty', thingId: LAMP, name: 'status', input: 'on' }, 400);
      await expectProblem(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'fade', input: { level: 500 } }, 400);
      assert.deepEqual(await expectOk(hub, operator, { operation: 'queryallactions', thingId: LAMP }), []);
    });

    it('forbids viewers and agents to write or invoke', async () => {
      await expectProblem(hub, viewer, { operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 1 }, 403);
      await expectProblem(hub, viewer, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' }, 403);
      await expectProblem(hub, otherAgent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 1 }, 403);
    });

    it('delivers in order, again after a reconnect until acknowledged, and not after', async () => {
      const ids: string[] = [];
      for (const level of [10, 20, 30]) {
        ids.push(((await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'fade', input: { level } })) as RequestRecord).actionId);
      }
      const first = session(hub, agent);
      await expectOk(hub, agent, { operation: 'subscriberequests' }, first.session);
      assert.deepEqual(
        first.received.map((m) => (m as { actionId: string }).actionId),
        ids,
      );
      await expectOk(hub, agent, { operation: 'updateactionstatus', actionId: ids[0], input: { status: 'running' } });
      hub.closeSession(first.session);
      const second = session(hub, agent);
      await expectOk(hub, agent, { operation: 'subscriberequests' }, second.session);
      assert.deepEqual(
        second.received.map((m) => (m as { actionId: string }).actionId),
        ids.slice(1),
      );
    });

    it('pushes a backlog only as fast as the session is ready, in order, new requests queued behind it', async () => {
      const ids: string[] = [];
      for (let level = 0; level < 10; level++) {
        ids.push(((await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'fade', input: { level } })) as RequestRecord).actionId);
      }
      const received: OutboundMessage[] = [];
      let room = 3;
      const s = hub.openSession(agent, 'test', {
        send: (m) => {
          received.push(m);
          room--;
        },
        close: () => {},
        ready: () => room > 0,
      });
      await expectOk(hub, agent, { operation: 'subscriberequests' }, s);
      assert.equal(received.length, 3, 'only what fits before the sink says it is full');
      // A new request while the backlog drains waits behind it.
      ids.push(((await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'fade', input: { level: 99 } })) as RequestRecord).actionId);
      assert.equal(received.length, 3);
      while (received.length < ids.length) {
        const before = received.length;
        room = 4;
        hub.resumeDelivery(s);
        assert.ok(received.length > before, 'resumeDelivery pushes more');
      }
      assert.deepEqual(
        received.map((m) => (m as { actionId: string }).actionId),
        ids,
      );
      room = 100;
      const last = ((await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord).actionId;
      assert.equal((received.at(-1) as { actionId: string }).actionId, last, 'once drained, new requests go out at once');
    });

    it('completes an action with output, checked against the output schema, and wakes a waiter', async () => {
      const device = session(hub, agent);
      await expectOk(hub, agent, { operation: 'subscriberequests' }, device.session);
      const record = (await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'fade', input: { level: 50 } })) as RequestRecord;
      const waiting = hub.awaitRequest(record.actionId, 5000);
      await expectProblem(
        hub,
        agent,
        { operation: 'updateactionstatus', actionId: record.actionId, input: { status: 'completed', output: { reached: 'x' } } },
        400,
      );
      await expectOk(hub, agent, { operation: 'updateactionstatus', actionId: record.actionId, input: { status: 'completed', output: { reached: 50 } } });
      const ended = await waiting;
      assert.equal(ended?.status, 'completed');
      assert.deepEqual(ended?.output, { reached: 50 });
      await expectProblem(hub, agent, { operation: 'updateactionstatus', actionId: record.actionId, input: { status: 'failed' } }, 409);
      await expectProblem(hub, otherAgent, { operation: 'updateactionstatus', actionId: record.actionId, input: { status: 'running' } }, 403);
    });

    it('expires requests after their TTL and never delivers them', async () => {
      const expiring = (await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle', ttl: 5 })) as RequestRecord;
      const lasting = (await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle', ttl: 60 })) as RequestRecord;
      clock.advance(10);
      const device = session(hub, agent);
      await expectOk(hub, agent, { operation: 'subscriberequests' }, device.session);
      assert.deepEqual(
        device.received.map((m) => (m as { actionId: string }).actionId),
        [lasting.actionId],
      );
      await new Promise((resolve) => setImmediate(resolve));
      const record = (await expectOk(hub, operator, { operation: 'queryaction', actionId: expiring.actionId })) as RequestRecord;
      assert.equal(record.status, 'expired');
    });

    it('survives a storage failure while expiring a request at delivery: nothing is sent, the hub keeps serving', async () => {
      let failing = false;
      const flaky: BucketStore = {
        bucket: (name) => store.bucket(name),
        batch: (ops) => (failing ? Promise.reject(new Error('disk gone')) : store.batch(ops)),
        watch: (listener) => store.watch(listener),
        close: async () => {},
      };
      const fragile = await createHub({ store: flaky, now: clock.now, expiryIntervalMs: 60_000 });
      hubs.push(fragile);
      await expectOk(fragile, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle', ttl: 5 });
      clock.advance(10);
      failing = true;
      const device = session(fragile, agent);
      await expectOk(fragile, agent, { operation: 'subscriberequests' }, device.session);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(device.received, [], 'an expired request is never sent');
      const failed = await call(fragile, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 1 });
      assert.equal(failed.status, 503, 'a write the store refuses is not acknowledged, and says the store refused it');
      assert.match((failed as { problem: { detail: string } }).problem.detail, /storage refused/);
      failing = false;
      await expectOk(fragile, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 2 });
    });

    it('cancels a pending request, which is then never delivered, but not a delivered one', async () => {
      const record = (await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
      const cancelled = (await expectOk(hub, operator, { operation: 'cancelaction', thingId: LAMP, actionId: record.actionId })) as RequestRecord;
      assert.equal(cancelled.status, 'cancelled');
      const device = session(hub, agent);
      await expectOk(hub, agent, { operation: 'subscriberequests' }, device.session);
      assert.deepEqual(device.received, []);
      const delivered = (await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
      assert.equal(device.received.length, 1);
      await expectProblem(hub, operator, { operation: 'cancelaction', actionId: delivered.actionId }, 409);
      await expectProblem(hub, operator, { operation: 'queryaction', thingId: LAMP, name: 'fade', actionId: delivered.actionId }, 404);
      await expectProblem(hub, operator, { operation: 'cancelaction', thingId: 'urn:test:other', actionId: delivered.actionId }, 404);
      await expectOk(hub, operator, { operation: 'queryaction', thingId: LAMP, name: 'toggle', actionId: delivered.actionId });
    });

    it('bounds the requests waiting per Thing', async () => {
      const small = await start({ limits: { maxQueuedRequestsPerThing: 2 } });
      await expectOk(small, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' });
      await expectOk(small, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' });
      await expectProblem(small, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' }, 429);
    });

    it('cancels open requests when their Thing is deleted', async () => {
      const record = (await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
      const waiting = hub.awaitRequest(record.actionId, 5000);
      await expectOk(hub, agent, { operation: 'deleteTD', thingId: LAMP });
      assert.equal((await waiting)?.status, 'cancelled');
      await expectProblem(hub, operator, { operation: 'queryaction', actionId: record.actionId }, 404);
    });
  });

  describe('restart', () => {
    it('finds TDs, state and queued requests again, and delivers the queue in order', async () => {
      await expectOk(hub, agent, { operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 33 });
      const a = (await expectOk(hub, operator, { operation: 'invokeaction', thingId: LAMP, name: 'fade', input: { level: 1 } })) as RequestRecord;
      const b = (await expectOk(hub, operator, { operation: 'writeproperty', thingId: LAMP, name: 'brightness', input: 2 })) as RequestRecord;
      const { token } = await hub.tokens.create({ id: 'agent-1', role: 'agent' });
      await hub.close();

      const restarted = await start();
      assert.deepEqual(await restarted.authenticate(token), agent);
      assert.equal(await expectOk(restarted, viewer, { operation: 'readproperty', thingId: LAMP, name: 'brightness' }), 33);
      const device = session(restarted, agent);
      await expectOk(restarted, agent, { operation: 'subscriberequests' }, device.session);
      assert.deepEqual(
        device.received.map((m) => (m as { actionId: string }).actionId),
        [a.actionId, b.actionId],
      );
      const c = (await expectOk(restarted, operator, { operation: 'invokeaction', thingId: LAMP, name: 'toggle' })) as RequestRecord;
      assert.ok(c.seq > b.seq, 'sequence numbers keep increasing across restarts');
    });
  });

  describe('tokens', () => {
    it('stores only token hashes, authenticates, and ends sessions on revocation', async () => {
      const { token, tokenId } = await hub.tokens.create({ id: 'viewer-9', role: 'viewer' });
      assert.deepEqual(await hub.authenticate(token), { id: 'viewer-9', role: 'viewer' });
      assert.equal(await hub.authenticate(`${token}x`), undefined);
      for await (const [key, value] of store.bucket('tokens').entries()) {
        assert.ok(!key.includes(token) && !value.includes(token), 'the plain token must not be stored');
      }
      const live = session(hub, { id: 'viewer-9', role: 'viewer' });
      assert.equal(await hub.tokens.revoke({ tokenId }), 1);
      assert.equal(await hub.authenticate(token), undefined);
      assert.deepEqual(live.closed, ['token revoked']);
      await assert.rejects(hub.tokens.create({ id: 'viewer-9 bad', role: 'viewer' }), /client id/);
    });

    it('keeps a client with two tokens (and its sessions) until its last token is revoked', async () => {
      const first = await hub.tokens.create({ id: 'op-9', role: 'operator' });
      const second = await hub.tokens.create({ id: 'op-9', role: 'operator' });
      await assert.rejects(hub.tokens.create({ id: 'op-9', role: 'viewer' }), /already has role 'operator'/);
      const live = session(hub, { id: 'op-9', role: 'operator' });
      assert.equal(await hub.tokens.revoke({ tokenId: first.tokenId }), 1);
      assert.deepEqual(hub.clientById('op-9'), { id: 'op-9', role: 'operator' });
      assert.deepEqual(await hub.authenticate(second.token), { id: 'op-9', role: 'operator' });
      assert.deepEqual(live.closed, [], 'a remaining token keeps the client connected');
      assert.equal(await hub.tokens.revoke({ clientId: 'op-9' }), 1);
      assert.equal(hub.clientById('op-9'), undefined);
      assert.deepEqual(live.closed, ['token revoked']);
    });
  });
}
