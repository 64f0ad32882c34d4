// Twin queries through the hub (listTDs with filter/sort/cursor): every operator of the language,
// the planner's choice of index, sorting, cursor paging, permissions and the bounded scan.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { createHub, type Hub } from '../hub.js';
import type { HubFailure, HubRequest, HubSuccess, TwinQuery } from '../model/operations.js';
import type { Client, ThingDescription } from '../model/types.js';
import { compileFilter, MAX_FILTER_CHARS } from './language.js';
import { compareCodePoints } from './sort.js';

const agent1: Client = { id: 'agent-1', role: 'agent' };
const agent2: Client = { id: 'agent-2', role: 'agent' };
const operator: Client = { id: 'op-1', role: 'operator' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };
const admin: Client = { id: 'admin-1', role: 'admin' };

function sensorTd(id: string, title: string, types: string[], extra: Record<string, unknown> = {}): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id,
    title,
    '@type': types,
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      temperature: { type: 'number', forms: [{ href: 'temperature' }] },
      on: { type: 'boolean', forms: [{ href: 'on' }] },
      secret: { type: 'string', writeOnly: true, forms: [{ href: 'secret' }] },
    },
    ...extra,
  };
}

async function call(hub: Hub, client: Client, request: HubRequest) {
  return hub.handle(request, { client });
}

async function ok(hub: Hub, client: Client, request: HubRequest): Promise<HubSuccess> {
  const result = await call(hub, client, request);
  assert.ok(result.ok, `${request.operation} failed: ${JSON.stringify(!result.ok && result.problem)}`);
  return result;
}

async function problem(hub: Hub, client: Client, request: HubRequest, status: number): Promise<HubFailure> {
  const result = await call(hub, client, request);
  assert.equal(result.ok, false, `${request.operation} should fail with ${status}`);
  assert.equal(result.status, status, JSON.stringify(!result.ok && result.problem));
  return result as HubFailure;
}

/** The Thing ids of a listing, in order. */
async function ids(hub: Hub, client: Client, query: TwinQuery): Promise<string[]> {
  const result = await ok(hub, client, { operation: 'listTDs', query });
  return (result.output as ThingDescription[]).map((td) => td.id as string);
}

/** Every page of a query, following the cursor. */
async function allPages(hub: Hub, client: Client, query: TwinQuery): Promise<{ ids: string[]; pages: HubSuccess[] }> {
  const seen: string[] = [];
  const pages: HubSuccess[] = [];
  let cursor: string | undefined;
  do {
    const page = await ok(hub, client, { operation: 'listTDs', query: { ...query, ...(cursor ? { cursor } : {}) } });
    pages.push(page);
    seen.push(...(page.output as ThingDescription[]).map((td) => td.id as string));
    cursor = page.page?.next;
    assert.ok(pages.length < 100, 'paging must end');
  } while (cursor);
  return { ids: seen, pages };
}

describe('twin queries', () => {
  let hub: Hub;

  before(async () => {
    hub = await createHub({ store: new MemoryStore(), expiryIntervalMs: 60_000 });
    const things: [Client, string, string, string[], Record<string, unknown>][] = [
      [agent1, 'urn:q:1', 'Kitchen lamp', ['Lamp'], { description: 'over the sink' }],
      [agent1, 'urn:q:2', 'Kitchen sensor', ['Sensor'], {}],
      [agent1, 'urn:q:3', 'Hall lamp', ['Lamp', 'Dimmable'], {}],
      [agent2, 'urn:q:4', 'Garage sensor', ['Sensor'], {}],
      [agent2, 'urn:q:5', 'Attic', [], {}],
    ];
    for (const [client, id, title, types, extra] of things) await ok(hub, client, { operation: 'updateTD', input: sensorTd(id, title, types, extra) });
    await ok(hub, agent1, { operation: 'updateproperty', thingId: 'urn:q:1', input: { temperature: 21.5, on: true, secret: 'hunter2' } });
    await ok(hub, agent1, { operation: 'updateproperty', thingId: 'urn:q:2', input: { temperature: 18, on: false } });
    await ok(hub, agent1, { operation: 'updateproperty', thingId: 'urn:q:3', input: { temperature: 25 } });
    await ok(hub, agent2, { operation: 'updateproperty', thingId: 'urn:q:4', input: { temperature: -3, on: true } });
    await ok(hub, operator, { operation: 'updatetags', thingId: 'urn:q:1', input: { room: 'kitchen', floor: '0' } });
    await ok(hub, operator, { operation: 'updatetags', thingId: 'urn:q:2', input: { room: 'kitchen' } });
    await ok(hub, operator, { operation: 'updatetags', thingId: 'urn:q:4', input: { room: 'garage' } });
    // Desired values: open writes (agent-2 has no live session, so they stay pending).
    await ok(hub, operator, { operation: 'writeproperty', thingId: 'urn:q:4', name: 'on', input: false });
    await ok(hub, operator, { operation: 'writeproperty', thingId: 'urn:q:5', name: 'secret', input: 'swordfish' });
    // Presence: agent-1 has a live session receiving requests; agent-2 has none.
    const session = hub.openSession(agent1, 'test', { send: () => {}, close: () => {} });
    await hub.handle({ operation: 'subscriberequests' }, { client: agent1, session });
  });

  after(() => hub.close());

  describe('operators', () => {
    const cases: [string, string[]][] = [
      ['@.reported.temperature == 18', ['urn:q:2']],
      // RFC 9535 §2.3.5.2.2: an absent value is not equal to 18 (urn:q:5 reported none).
      ['@.reported.temperature != 18', ['urn:q:1', 'urn:q:3', 'urn:q:4', 'urn:q:5']],
      ['@.reported.temperature < 18', ['urn:q:4']],
      ['@.reported.temperature <= 18', ['urn:q:2', 'urn:q:4']],
      ['@.reported.temperature > 21.5', ['urn:q:3']],
      ['@.reported.temperature >= 21.5', ['urn:q:1', 'urn:q:3']],
      ['@.reported.on == true && @.reported.temperature > 0', ['urn:q:1']],
      ['@.reported.on == false || @.reported.temperature > 24', ['urn:q:2', 'urn:q:3']],
      ['!(@.reported.on == true)', ['urn:q:2', 'urn:q:3', 'urn:q:5']],
      ['@.reported.on', ['urn:q:1', 'urn:q:2', 'urn:q:4']],
      ['!@.reported.temperature', ['urn:q:5']],
      ["@.type[?@ == 'Lamp']", ['urn:q:1', 'urn:q:3']],
      ["@.type[?@ == 'Dimmable' || @ == 'Sensor']", ['urn:q:2', 'urn:q:3', 'urn:q:4']],
      ["@.agent == 'agent-2'", ['urn:q:4', 'urn:q:5']],
      ["@.tags.room == 'kitchen'", ['urn:q:1', 'urn:q:2']],
      ["@.tags.room == 'kitchen' && @.tags.floor == '0'", ['urn:q:1']],
      ["@.title == 'Hall lamp'", ['urn:q:3']],
      ["match(@.title, 'Kitchen.*')", ['urn:q:1', 'urn:q:2']],
      ["search(@.title, '[Ss]ensor')", ['urn:q:2', 'urn:q:4']],
      ["@.id == 'urn:q:5'", ['urn:q:5']],
      ['@.desired.on == false', ['urn:q:4']],
      ['@.presence.connected == true', ['urn:q:1', 'urn:q:2', 'urn:q:3']],
      ["@.td.description == 'over the sink'", ['urn:q:1']],
      ["$.agent == 'agent-1' && length(@.type) == 2", ['urn:q:3']],
    ];
    for (const [filter, expected] of cases) {
      it(`${filter}`, async () => {
        assert.deepEqual(await ids(hub, admin, { filter }), expected);
      });
    }

    it('combines a filter with the plain filters (AND)', async () => {
      assert.deepEqual(await ids(hub, viewer, { filter: '@.reported.temperature > 0', type: 'Lamp' }), ['urn:q:1', 'urn:q:3']);
      assert.deepEqual(await ids(hub, viewer, { filter: '@.reported.temperature > 0', title: 'KITCHEN' }), ['urn:q:1', 'urn:q:2']);
    });

    it('lists metadata for the matches with metadataOnly', async () => {
      const result = await ok(hub, viewer, { operation: 'listTDs', query: { filter: "@.tags.room == 'garage'", metadataOnly: true } });
      assert.deepEqual(
        (result.output as { thingId: string }[]).map((m) => m.thingId),
        ['urn:q:4'],
      );
      assert.equal(result.total, 1);
    });

    it('refuses a bad filter with 400 naming the position', async () => {
      const bad = await problem(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature > ' } }, 400);
      assert.match(bad.problem.detail, /position 25/);
      await problem(hub, viewer, { operation: 'listTDs', query: { filter: '@.a] [?@.b' } }, 400);
      await problem(hub, viewer, { operation: 'listTDs', query: { filter: 'x'.repeat(MAX_FILTER_CHARS + 1) } }, 400);
      await problem(hub, viewer, { operation: 'listTDs', query: { filter: Array.from({ length: 120 }, (_, i) => `@.a == ${i}`).join(' || ') } }, 400);
      await problem(hub, viewer, { operation: 'listTDs', query: { filter: 42 as unknown as string } }, 400);
    });

    it('runs match() and search() in linear time (a catastrophic pattern for a backtracking engine is quick)', async () => {
      const started = Date.now();
      assert.deepEqual(await ids(hub, viewer, { filter: "match(@.title, '(a+)+$')" }), []);
      assert.ok(Date.now() - started < 1000);
    });

    it('caches compiled filters', () => {
      assert.equal(compileFilter('@.id == "a"'), compileFilter('@.id == "a"'));
    });
  });

  describe('planner', () => {
    const plan = async (client: Client, query: TwinQuery) => (await ok(hub, client, { operation: 'listTDs', query })).page?.plan;

    it('answers agent, @type, tag, title, title prefix and id conjuncts from indexes', async () => {
      assert.deepEqual(await plan(viewer, { filter: "@.agent == 'agent-2' && @.reported.temperature < 0" }), {
        kind: 'index',
        indexes: ['agent=agent-2'],
        candidates: 2,
        evaluated: 2,
      });
      assert.deepEqual((await plan(viewer, { filter: "@.type[?@ == 'Lamp' || @ == 'Sensor']" }))?.indexes, ['type in [Lamp,Sensor]']);
      assert.equal((await plan(viewer, { filter: "@.type[?@ == 'Lamp' || @ == 'Sensor']" }))?.candidates, 4);
      const tag = await plan(viewer, { filter: "@.tags.room == 'kitchen' && @.type[?@ == 'Lamp']" });
      assert.deepEqual([tag?.kind, tag?.indexes, tag?.candidates], ['index', ['tag room=kitchen', 'type=Lamp'], 1]);
      assert.deepEqual((await plan(viewer, { filter: "@.title == 'Attic'" }))?.candidates, 1);
      const prefix = await plan(viewer, { filter: "match(@.title, 'Kitchen.*')" });
      assert.deepEqual([prefix?.indexes, prefix?.candidates], [['title^=Kitchen'], 2]);
      assert.deepEqual((await plan(viewer, { filter: "@.id == 'urn:q:3'" }))?.candidates, 1);
    });

    it('scans when no conjunct has an index, and says so', async () => {
      assert.deepEqual(await plan(viewer, { filter: '@.reported.temperature > 0' }), { kind: 'scan', indexes: [], candidates: 5, evaluated: 5 });
      // A disjunction with one unindexed side cannot use the index of the other.
      assert.equal((await plan(viewer, { filter: "@.agent == 'agent-1' || @.reported.on == true" }))?.kind, 'scan');
    });

    it("uses the agent index for an agent's own Things", async () => {
      assert.deepEqual(await plan(agent2, { filter: '@.reported.temperature < 100' }), {
        kind: 'index',
        indexes: ['agent=agent-2'],
        candidates: 2,
        evaluated: 2,
      });
    });

    it('keeps the tag and title indexes current on tag changes, TD replacement and delete', async () => {
      const id = 'urn:q:indexed';
      await ok(hub, agent2, { operation: 'updateTD', input: sensorTd(id, 'Porch light', ['Lamp']) });
      await ok(hub, operator, { operation: 'updatetags', thingId: id, input: { room: 'porch' } });
      assert.deepEqual(await ids(hub, viewer, { filter: "@.tags.room == 'porch'" }), [id]);
      await ok(hub, operator, { operation: 'updatetags', thingId: id, input: { room: 'garden' } });
      assert.deepEqual(await ids(hub, viewer, { filter: "@.tags.room == 'porch'" }), []);
      assert.deepEqual(await ids(hub, viewer, { filter: "@.tags.room == 'garden'" }), [id]);
      assert.deepEqual(await ids(hub, viewer, { filter: "match(@.title, 'Porch.*')" }), [id]);
      await ok(hub, agent2, { operation: 'updateTD', input: sensorTd(id, 'Garden light', ['Lamp']) });
      assert.deepEqual(await ids(hub, viewer, { filter: "match(@.title, 'Porch.*')" }), []);
      assert.equal((await plan(viewer, { filter: "match(@.title, 'Porch.*')" }))?.candidates, 0);
      assert.deepEqual(await ids(hub, viewer, { filter: "@.title == 'Garden light'" }), [id]);
      await ok(hub, agent2, { operation: 'deleteTD', thingId: id });
      assert.equal((await plan(viewer, { filter: "@.tags.room == 'garden'" }))?.candidates, 0);
      assert.equal((await plan(viewer, { filter: "@.title == 'Garden light'" }))?.candidates, 0);
    });
  });

  describe('sorting', () => {
    it('sorts by a JSON Pointer, asc and desc, ties by id', async () => {
      assert.deepEqual(await ids(hub, viewer, { sort: { by: '/title' } }), ['urn:q:5', 'urn:q:4', 'urn:q:3', 'urn:q:1', 'urn:q:2']);
      assert.deepEqual(await ids(hub, viewer, { sort: { by: '/title', order: 'desc' } }), ['urn:q:2', 'urn:q:1', 'urn:q:3', 'urn:q:4', 'urn:q:5']);
      assert.deepEqual(await ids(hub, viewer, { sort: { by: '/agent', order: 'desc' } }), ['urn:q:4', 'urn:q:5', 'urn:q:1', 'urn:q:2', 'urn:q:3']);
    });

    it('sorts numbers as numbers, puts Things without the value last (in both orders)', async () => {
      assert.deepEqual(await ids(hub, viewer, { sort: { by: '/reported/temperature' } }), ['urn:q:4', 'urn:q:2', 'urn:q:1', 'urn:q:3', 'urn:q:5']);
      assert.deepEqual(await ids(hub, viewer, { sort: { by: '/reported/temperature', order: 'desc' } }), [
        'urn:q:3',
        'urn:q:1',
        'urn:q:2',
        'urn:q:4',
        'urn:q:5',
      ]);
      assert.deepEqual(await ids(hub, viewer, { filter: "@.type[?@ == 'Lamp']", sort: { by: '/reported/temperature', order: 'desc' } }), [
        'urn:q:3',
        'urn:q:1',
      ]);
    });

    it('compares strings by Unicode code point, not UTF-16 code unit', () => {
      // U+FF5A (fullwidth z) is below U+1D538 (double-struck A) in code points, above it in UTF-16 units.
      assert.ok('\u{FF5A}' > '\u{1D538}');
      assert.ok(compareCodePoints('\u{FF5A}', '\u{1D538}') < 0);
      assert.ok(compareCodePoints('a', 'b') < 0 && compareCodePoints('b', 'a') > 0 && compareCodePoints('ab', 'a') > 0 && compareCodePoints('a', 'a') === 0);
    });

    it('sorts titles past U+FFFF in code point order', async () => {
      await ok(hub, agent2, { operation: 'updateTD', input: sensorTd('urn:q:u1', '\u{1D538} double-struck', []) });
      await ok(hub, agent2, { operation: 'updateTD', input: sensorTd('urn:q:u2', '\u{FF5A} fullwidth', []) });
      try {
        assert.deepEqual(await ids(hub, viewer, { filter: "search(@.id, 'urn:q:u')", sort: { by: '/title' } }), ['urn:q:u2', 'urn:q:u1']);
      } finally {
        await ok(hub, agent2, { operation: 'deleteTD', thingId: 'urn:q:u1' });
        await ok(hub, agent2, { operation: 'deleteTD', thingId: 'urn:q:u2' });
      }
    });

    it('refuses to sort on fields that hold no basic value, and unknown orders', async () => {
      for (const by of ['/type', '/td', '/reported', '/presence', '/tags', '/nope', 'title', '/title/x', '/td/properties']) {
        const refused = await problem(hub, viewer, { operation: 'listTDs', query: { sort: { by } } }, 400);
        assert.match(refused.problem.detail, /sort/, by);
      }
      await problem(hub, viewer, { operation: 'listTDs', query: { sort: { by: '/title', order: 'up' as 'asc' } } }, 400);
      await problem(hub, agent1, { operation: 'listTDs', query: { sort: { by: '/tags/room' } } }, 403);
    });
  });

  describe('cursor paging', () => {
    it('pages through a sorted query, stable under inserts before and after the cursor', async () => {
      const query: TwinQuery = { filter: "@.agent == 'agent-1' || @.agent == 'agent-2'", sort: { by: '/title', order: 'desc' }, limit: 2 };
      const first = await ok(hub, viewer, { operation: 'listTDs', query });
      assert.deepEqual(
        (first.output as ThingDescription[]).map((td) => td.id),
        ['urn:q:2', 'urn:q:1'],
      );
      assert.equal(first.total, 5);
      const cursor = first.page?.next;
      assert.ok(cursor);
      // Inserted meanwhile: one that sorts before the cursor (already passed), one after it.
      await ok(hub, agent2, { operation: 'updateTD', input: sensorTd('urn:q:zz-before', 'Lobby', []) });
      await ok(hub, agent2, { operation: 'updateTD', input: sensorTd('urn:q:zz-after', 'Basement', []) });
      try {
        const rest: string[] = [];
        let next: string | undefined = cursor;
        while (next) {
          const page = await ok(hub, viewer, { operation: 'listTDs', query: { ...query, cursor: next } });
          rest.push(...(page.output as ThingDescription[]).map((td) => td.id as string));
          next = page.page?.next;
        }
        assert.deepEqual(rest, ['urn:q:3', 'urn:q:4', 'urn:q:zz-after', 'urn:q:5'], 'nothing repeated, nothing skipped, the new one after the cursor included');
      } finally {
        await ok(hub, agent2, { operation: 'deleteTD', thingId: 'urn:q:zz-before' });
        await ok(hub, agent2, { operation: 'deleteTD', thingId: 'urn:q:zz-after' });
      }
    });

    it('pages through a filter in id order, and a plain listing with a cursor', async () => {
      assert.deepEqual((await allPages(hub, viewer, { filter: '@.reported.temperature', limit: 1 })).ids, ['urn:q:1', 'urn:q:2', 'urn:q:3', 'urn:q:4']);
      const plain = await allPages(hub, viewer, { limit: 2 });
      assert.deepEqual(plain.ids, ['urn:q:1', 'urn:q:2', 'urn:q:3', 'urn:q:4', 'urn:q:5']);
      assert.equal(plain.pages.length, 3);
    });

    it('refuses a cursor of another query, a forged one, and a cursor with an offset', async () => {
      const first = await ok(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature', limit: 1 } });
      const cursor = first.page?.next as string;
      const other = await problem(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.on', cursor } }, 400);
      assert.match(other.problem.detail, /another query/);
      await problem(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature', cursor: 'bm90LWEtY3Vyc29y' } }, 400);
      await problem(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature', cursor: '!!' } }, 400);
      await problem(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature', cursor, offset: 1 } }, 400);
    });

    it('keeps offset paging for plain and filtered listings', async () => {
      assert.deepEqual(await ids(hub, viewer, { offset: 3, limit: 1 }), ['urn:q:4']);
      assert.deepEqual(await ids(hub, viewer, { filter: '@.reported.temperature', offset: 1, limit: 2 }), ['urn:q:2', 'urn:q:3']);
      assert.deepEqual(await ids(hub, viewer, { sort: { by: '/title' }, offset: 1, limit: 1 }), ['urn:q:4']);
    });
  });

  describe('permissions', () => {
    it('shows an agent only its own Things, whatever the filter', async () => {
      assert.deepEqual(await ids(hub, agent1, { filter: "@.agent == 'agent-2'" }), []);
      assert.deepEqual(await ids(hub, agent1, { filter: '@.reported.temperature < 100' }), ['urn:q:1', 'urn:q:2', 'urn:q:3']);
      assert.deepEqual(await ids(hub, agent1, { sort: { by: '/title' } }), ['urn:q:3', 'urn:q:1', 'urn:q:2']);
    });

    it('refuses agents any query naming tags (403), and leaves tags out of their documents', async () => {
      await problem(hub, agent1, { operation: 'listTDs', query: { filter: "@.tags.room == 'kitchen'" } }, 403);
      await problem(hub, agent1, { operation: 'listTDs', query: { filter: "$['tags']" } }, 403);
      await problem(hub, agent1, { operation: 'listTDs', query: { tags: { room: 'kitchen' } } }, 403);
      // A wildcard cannot reach them either: the document has none.
      assert.deepEqual(await ids(hub, agent1, { filter: "@.*[?@ == 'kitchen']" }), []);
      assert.deepEqual(await ids(hub, viewer, { filter: "@.*[?@ == 'kitchen']" }), ['urn:q:1', 'urn:q:2']);
    });

    it('never matches write-only values for consumers; the owning agent may', async () => {
      for (const client of [viewer, operator, admin]) {
        for (const filter of [
          "@.reported.secret == 'hunter2'",
          '@.reported.secret',
          "@.reported[?@ == 'hunter2']",
          "@..[?@ == 'hunter2']",
          "@.desired.secret == 'swordfish'",
          "@..[?@ == 'swordfish']",
        ]) {
          assert.deepEqual(await ids(hub, client, { filter }), [], `${client.role}: ${filter}`);
        }
        // Sorting by it tells nothing either: every Thing sorts as if it had no value (by id).
        assert.deepEqual(await ids(hub, client, { sort: { by: '/reported/secret' } }), ['urn:q:1', 'urn:q:2', 'urn:q:3', 'urn:q:4', 'urn:q:5']);
      }
      assert.deepEqual(await ids(hub, agent1, { filter: "@.reported.secret == 'hunter2'" }), ['urn:q:1']);
      assert.deepEqual(await ids(hub, agent2, { filter: "@.desired.secret == 'swordfish'" }), ['urn:q:5']);
    });
  });
});

describe('twin queries: the scan limit', () => {
  let hub: Hub;
  const all = Array.from({ length: 7 }, (_, i) => `urn:scan:${i}`);

  before(async () => {
    hub = await createHub({ store: new MemoryStore(), expiryIntervalMs: 60_000, queryScanLimit: 3 });
    for (const [i, id] of all.entries()) {
      await ok(hub, agent1, { operation: 'updateTD', input: sensorTd(id, `Thing ${i}`, i < 2 ? ['Rare'] : ['Common']) });
      await ok(hub, agent1, { operation: 'updateproperty', thingId: id, input: { temperature: i } });
    }
  });

  after(() => hub.close());

  it('evaluates at most the limit per request, says so, and continues with the cursor', async () => {
    const first = await ok(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature >= 5', limit: 10 } });
    assert.deepEqual(first.output, []);
    assert.equal(first.total, undefined, 'no total: not every candidate was evaluated');
    assert.deepEqual(first.page?.partial, { evaluated: 3, scanLimit: 3 });
    assert.equal(first.page?.plan.evaluated, 3);
    assert.ok(first.page?.next);
    const { ids: found, pages } = await allPages(hub, viewer, { filter: '@.reported.temperature >= 5', limit: 10 });
    assert.deepEqual(found, ['urn:scan:5', 'urn:scan:6']);
    assert.ok(pages.every((page) => (page.page?.plan.evaluated ?? 0) <= 3));
    assert.ok(pages.slice(0, -1).every((page) => page.page?.partial !== undefined));
    assert.equal(pages.at(-1)?.page?.partial, undefined, 'the last page reached the end');
  });

  it('answers a full page past the limit without saying partial', async () => {
    const page = await ok(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature >= 0', limit: 2 } });
    assert.equal((page.output as unknown[]).length, 2);
    assert.equal(page.page?.partial, undefined);
    assert.ok(page.page?.next);
  });

  it('is exact when the indexes leave no more candidates than the limit', async () => {
    const page = await ok(hub, viewer, { operation: 'listTDs', query: { filter: "@.type[?@ == 'Rare'] && @.reported.temperature >= 0" } });
    assert.equal(page.total, 2);
    assert.equal(page.page?.partial, undefined);
    assert.deepEqual(page.page?.plan, { kind: 'index', indexes: ['type=Rare'], candidates: 2, evaluated: 2 });
  });

  it('refuses (422) a sort or an offset over more candidates than the limit, never answering from a part', async () => {
    await problem(hub, viewer, { operation: 'listTDs', query: { sort: { by: '/title' } } }, 422);
    await problem(hub, viewer, { operation: 'listTDs', query: { filter: '@.reported.temperature >= 0', offset: 1 } }, 422);
    assert.deepEqual(await ids(hub, viewer, { filter: "@.type[?@ == 'Rare']", sort: { by: '/title', order: 'desc' } }), ['urn:scan:1', 'urn:scan:0']);
  });

  it('still pages a plain listing by offset and by cursor without evaluating', async () => {
    const page = await ok(hub, viewer, { operation: 'listTDs', query: { offset: 5 } });
    assert.deepEqual(
      (page.output as ThingDescription[]).map((td) => td.id),
      ['urn:scan:5', 'urn:scan:6'],
    );
    assert.equal(page.total, 7);
    assert.equal(page.page?.plan.evaluated, 0);
  });
});
