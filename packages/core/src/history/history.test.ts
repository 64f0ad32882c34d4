// The history domain through the Hub: recording (delta sampling by value and time, opt-outs,
// policies), queries (ranges, order, cursor paging, aggregation), retention by age and count, the
// write-only rule, and history surviving a new hub over the same store.

import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { createHub, type Hub } from '../hub.js';
import type { HubRequest, HubResult, TwinQuery } from '../model/operations.js';
import type { Client, ThingDescription } from '../model/types.js';
import { keepOpen } from '../testing/index.js';
import { HISTORY_BUCKET, seriesId } from './keys.js';
import { aggregateSamples, parseHistoryQuery } from './query.js';

const THING = 'urn:dev:history:sensor';
const agent: Client = { id: 'agent-1', role: 'agent' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };
const admin: Client = { id: 'admin-1', role: 'admin' };
const T0 = Date.parse('2026-03-01T12:00:00Z');

function sensorTd(): ThingDescription {
  return {
    '@context': ['https://www.w3.org/2022/wot/td/v1.1', { twinhub: 'urn:twinhub:vocab#' }],
    id: THING,
    title: 'Sensor',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      temperature: { type: 'number', observable: true, forms: [{ href: 'temperature' }] },
      mode: { type: 'string', forms: [{ href: 'mode' }] },
      secret: { type: 'string', writeOnly: true, forms: [{ href: 'secret' }] },
      quiet: { type: 'number', 'twinhub:history': false, forms: [{ href: 'quiet' }] },
      coarse: { type: 'number', 'twinhub:history': { delta: 0.5 }, forms: [{ href: 'coarse' }] },
      label: { 'twinhub:history': { delta: 0 }, forms: [{ href: 'label' }] },
    },
    events: { alarm: { data: { type: 'integer' }, forms: [{ href: 'alarm' }] } },
  };
}

interface Sample {
  time: string;
  value?: unknown;
  data?: unknown;
  since?: string;
}
interface Page {
  samples: Sample[];
  next?: string;
}

describe('history', () => {
  let store: MemoryStore;
  let clock: { ms: number };
  let hub: Hub;
  const hubs: Hub[] = [];

  async function start(options: Partial<Parameters<typeof createHub>[0]> = {}): Promise<Hub> {
    const started = await createHub({ store: keepOpen(store), now: () => new Date(clock.ms), expiryIntervalMs: 3_600_000, ...options });
    hubs.push(started);
    return started;
  }

  async function call(client: Client, request: HubRequest, on = hub): Promise<HubResult> {
    return on.handle(request, { client });
  }

  async function expectOk<T = unknown>(client: Client, request: HubRequest, on = hub): Promise<T> {
    const result = await call(client, request, on);
    assert.ok(result.ok, `${request.operation} failed: ${JSON.stringify(!result.ok && result.problem)}`);
    return result.output as T;
  }

  async function expectStatus(client: Client, request: HubRequest, status: number, on = hub): Promise<string> {
    const result = await call(client, request, on);
    assert.equal(result.status, status, JSON.stringify(result));
    return result.ok ? '' : result.problem.detail;
  }

  /** Reports a property value at `seconds` after T0. */
  async function report(name: string, value: unknown, seconds: number, on = hub): Promise<void> {
    clock.ms = T0 + seconds * 1000;
    await expectOk(agent, { operation: 'updateproperty', thingId: THING, name, input: value }, on);
  }

  const history = (name: string, query: TwinQuery = {}, client = viewer, on = hub) =>
    expectOk<Page>(client, { operation: 'readpropertyhistory', thingId: THING, name, query }, on);
  const values = (page: Page) => page.samples.map((s) => s.value);
  /** One retention run of the hub's sweeps (the test's sweep interval is an hour). */
  // biome-ignore lint/complexity/useLiteralKeys: `parts` is private; element access is TypeScript's way in for a test.
  const sweep = (on = hub) => on['parts'].sweeps.run();

  beforeEach(async () => {
    store = new MemoryStore();
    clock = { ms: T0 };
    hub = await start();
    await expectOk(agent, { operation: 'updateTD', input: sensorTd() });
  });

  after(async () => {
    for (const h of hubs) await h.close();
  });

  describe('recording and queries', () => {
    it('keeps every value by default, newest first; oldest first on request', async () => {
      for (let i = 0; i < 5; i++) await report('temperature', 20 + i, i);
      const newest = await history('temperature');
      assert.deepEqual(values(newest), [24, 23, 22, 21, 20]);
      assert.equal(newest.samples[0].time, new Date(T0 + 4000).toISOString());
      assert.equal(newest.next, undefined, 'everything fits in one page');
      assert.deepEqual(values(await history('temperature', { order: 'oldest' })), [20, 21, 22, 23, 24]);
    });

    it('serves a from/to range (from inclusive, to exclusive)', async () => {
      for (let i = 0; i < 6; i++) await report('temperature', i, i * 60);
      const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
      assert.deepEqual(values(await history('temperature', { from: at(60), to: at(240), order: 'oldest' })), [1, 2, 3]);
      assert.deepEqual(values(await history('temperature', { from: at(200) })), [5, 4]);
      assert.deepEqual(values(await history('temperature', { to: at(60) })), [0]);
    });

    it('pages with an opaque cursor in either order, without gaps or repeats', async () => {
      for (let i = 0; i < 7; i++) await report('temperature', i, i);
      for (const [order, expected] of [
        ['newest', [6, 5, 4, 3, 2, 1, 0]],
        ['oldest', [0, 1, 2, 3, 4, 5, 6]],
      ] as const) {
        const seen: unknown[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await history('temperature', { limit: 3, order, ...(cursor ? { cursor } : {}) });
          seen.push(...values(page));
          cursor = page.next;
          pages += 1;
        } while (cursor);
        assert.deepEqual(seen, expected, order);
        assert.equal(pages, 3);
      }
      const first = await history('temperature', { limit: 2 });
      assert.match(
        await expectStatus(
          viewer,
          { operation: 'readpropertyhistory', thingId: THING, name: 'temperature', query: { cursor: first.next!, order: 'oldest' } },
          400,
        ),
        /order=newest/,
      );
      assert.equal(
        (await call(viewer, { operation: 'readpropertyhistory', thingId: THING, name: 'mode', query: { cursor: first.next! } })).status,
        400,
        "another series' cursor",
      );
      assert.equal(
        (await call(viewer, { operation: 'readpropertyhistory', thingId: THING, name: 'temperature', query: { cursor: 'not-a-cursor' } })).status,
        400,
      );
    });

    it('samples of the same millisecond keep their order', async () => {
      clock.ms = T0;
      for (let i = 0; i < 3; i++) await expectOk(agent, { operation: 'updateproperty', thingId: THING, name: 'temperature', input: i });
      // Several values in one report batch (one commit): still one sample each.
      await Promise.all([3, 4].map((v) => expectOk(agent, { operation: 'updateproperty', thingId: THING, name: 'temperature', input: v })));
      assert.deepEqual(values(await history('temperature', { order: 'oldest' })), [0, 1, 2, 3, 4]);
    });

    it('records events (data) and multi-value reports', async () => {
      clock.ms = T0;
      await expectOk(agent, { operation: 'publishevent', thingId: THING, name: 'alarm', input: 3 });
      clock.ms = T0 + 1000;
      await expectOk(agent, { operation: 'publishevent', thingId: THING, name: 'alarm', input: 4 });
      const events = await expectOk<Page>(viewer, { operation: 'readeventhistory', thingId: THING, name: 'alarm', query: {} });
      assert.deepEqual(
        events.samples.map((s) => s.data),
        [4, 3],
      );
      await expectOk(agent, { operation: 'updateproperty', thingId: THING, input: { temperature: 1, mode: 'eco' } });
      assert.deepEqual(values(await history('mode')), ['eco']);
      assert.deepEqual(values(await history('temperature')), [1]);
    });

    it('refuses bad queries with a 400 naming the field, and unknown names with a 404', async () => {
      const bad: TwinQuery[] = [
        { from: 'yesterday' },
        { from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' },
        { limit: 0 },
        { limit: 1001 },
        { order: 'random' as 'newest' },
        { every: '5x' },
        { every: '500ms' },
        { agg: 'max' },
        { every: '1m', agg: 'median' },
        { tags: { a: 'b' } },
      ];
      for (const query of bad) await expectStatus(viewer, { operation: 'readpropertyhistory', thingId: THING, name: 'temperature', query }, 400);
      await expectStatus(viewer, { operation: 'readpropertyhistory', thingId: THING, name: 'nope' }, 404);
      await expectStatus(viewer, { operation: 'readeventhistory', thingId: THING, name: 'temperature' }, 404);
      await expectStatus(viewer, { operation: 'readpropertyhistory', thingId: 'urn:dev:none', name: 'temperature' }, 404);
    });

    it("a write-only property's history is its agent's alone", async () => {
      await report('secret', 's3cret', 0);
      assert.match(await expectStatus(viewer, { operation: 'readpropertyhistory', thingId: THING, name: 'secret' }, 403), /write-only/);
      await expectStatus(admin, { operation: 'readpropertyhistory', thingId: THING, name: 'secret' }, 403);
      assert.deepEqual(values(await history('secret', {}, agent)), ['s3cret']);
      await expectStatus({ id: 'agent-2', role: 'agent' }, { operation: 'readpropertyhistory', thingId: THING, name: 'temperature' }, 403);
    });
  });

  describe('delta sampling', () => {
    it('by value: a number within delta of the sample’s opening value replaces it; outside opens a new one', async () => {
      // coarse: "twinhub:history": { "delta": 0.5 }
      await report('coarse', 20, 0);
      await report('coarse', 20.3, 1); // within 0.5 of 20: replaces
      await report('coarse', 19.6, 2); // within 0.5 of 20 (the opening value, not 20.3): replaces
      await report('coarse', 20.6, 3); // 0.6 from 20: new sample
      await report('coarse', 20.9, 4); // within 0.5 of 20.6: replaces
      await report('coarse', 21.2, 5); // 0.6 from 20.6: new sample
      const page = await history('coarse', { order: 'oldest' });
      assert.deepEqual(values(page), [19.6, 20.9, 21.2]);
      assert.deepEqual(
        page.samples.map((s) => [s.time, s.since]),
        [
          [new Date(T0 + 2000).toISOString(), new Date(T0).toISOString()],
          [new Date(T0 + 4000).toISOString(), new Date(T0 + 3000).toISOString()],
          [new Date(T0 + 5000).toISOString(), undefined],
        ],
        'a replaced sample moves to its latest value and keeps when it opened in "since"',
      );
      const stored = [];
      for await (const entry of store.bucket(HISTORY_BUCKET).entries({ prefix: seriesId(THING, 'p', 'coarse') })) stored.push(entry);
      assert.equal(stored.length, 3, 'one record per sample: replaced samples leave nothing behind');
    });

    it('by value for non-numbers: equal JSON replaces, a different value opens a new sample', async () => {
      // label: "twinhub:history": { "delta": 0 }
      await report('label', { a: 1 }, 0);
      await report('label', { a: 1 }, 1);
      await report('label', { a: 2 }, 2);
      await report('label', 'x', 3);
      await report('label', 'x', 4);
      assert.deepEqual(values(await history('label', { order: 'oldest' })), [{ a: 1 }, { a: 2 }, 'x']);
    });

    it('by time (an admin policy): values within `interval` of the sample’s opening replace it', async () => {
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { properties: { temperature: { interval: 60 } } } });
      for (const [value, seconds] of [
        [1, 0],
        [2, 30],
        [3, 59],
        [4, 60], // 60 s after the opening: new sample
        [5, 100],
        [6, 125],
      ] as const)
        await report('temperature', value, seconds);
      assert.deepEqual(values(await history('temperature', { order: 'oldest' })), [3, 5, 6]);
    });

    it('by time and value together: both must hold (a steady value still yields one sample per interval)', async () => {
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { properties: { temperature: { interval: 10, delta: 1 } } } });
      await report('temperature', 10, 0);
      await report('temperature', 10.5, 5); // close and recent: replaces
      await report('temperature', 15, 6); // recent but far: new
      await report('temperature', 15, 17); // close but 11 s after its sample opened: new
      assert.deepEqual(values(await history('temperature', { order: 'oldest' })), [10.5, 15, 15]);
    });
  });

  describe('policies', () => {
    it('refuses a TD whose twinhub:history annotation has another shape, naming it', async () => {
      for (const annotation of [{ delta: 'x' }, { sampling: 1 }, 'yes']) {
        const td = sensorTd();
        (td.properties as Record<string, Record<string, unknown>>).mode['twinhub:history'] = annotation;
        const result = await call(agent, { operation: 'updateTD', input: { ...td, id: 'urn:test:bad-annotation' } });
        assert.equal(result.ok, false, JSON.stringify(annotation));
        assert.equal(result.status, 400);
        assert.equal(!result.ok && result.problem.errors?.[0]?.pointer, '/properties/mode/twinhub:history');
      }
    });

    it('the agent opts an affordance out with "twinhub:history": false; an admin policy wins over it', async () => {
      await report('quiet', 1, 0);
      assert.deepEqual(values(await history('quiet')), []);
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { properties: { quiet: { enabled: true } } } });
      await report('quiet', 2, 1);
      assert.deepEqual(values(await history('quiet')), [2]);
      // A Thing-wide admin "off", with the per-affordance "on" still winning for quiet.
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { enabled: false, properties: { quiet: { enabled: true } } } });
      await report('quiet', 3, 2);
      await report('temperature', 3, 2);
      assert.deepEqual(values(await history('quiet')), [3, 2]);
      assert.deepEqual(values(await history('temperature')), []);
    });

    it('readhistorypolicy shows the stored policy and the effective one; only admins read or set it', async () => {
      const input = { maxSamples: 50, events: { alarm: { maxAgeSeconds: 3600 } } };
      const answer = await expectOk<{ policy: unknown; effective: { properties: Record<string, unknown>; events: Record<string, unknown> } }>(admin, {
        operation: 'updatehistorypolicy',
        thingId: THING,
        input,
      });
      assert.deepEqual(answer.policy, input);
      assert.deepEqual(answer.effective.events.alarm, { enabled: true, maxAgeSeconds: 3600, maxSamples: 50 });
      assert.deepEqual(answer.effective.properties.coarse, { enabled: true, delta: 0.5, maxAgeSeconds: 30 * 24 * 3600, maxSamples: 50 });
      assert.deepEqual(answer.effective.properties.quiet, { enabled: false, maxAgeSeconds: 30 * 24 * 3600, maxSamples: 50 });
      assert.deepEqual((await expectOk<{ policy: unknown }>(admin, { operation: 'readhistorypolicy', thingId: THING })).policy, input);
      for (const client of [viewer, agent, { id: 'op-1', role: 'operator' } as Client]) {
        await expectStatus(client, { operation: 'readhistorypolicy', thingId: THING }, 403);
        await expectStatus(client, { operation: 'updatehistorypolicy', thingId: THING, input: {} }, 403);
      }
      for (const bad of [
        [],
        { delta: -1 },
        { maxSamples: 0 },
        { maxAgeSeconds: 1.5 },
        { enabled: 'yes' },
        { color: 'red' },
        { properties: { x: { bogus: 1 } } },
      ]) {
        await expectStatus(admin, { operation: 'updatehistorypolicy', thingId: THING, input: bad }, 400);
      }
      // An empty policy deletes it.
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: {} });
      assert.deepEqual((await expectOk<{ policy: unknown }>(admin, { operation: 'readhistorypolicy', thingId: THING })).policy, {});
    });

    it('the hub-wide switch turns recording off whatever the policies say', async () => {
      const off = await start({ store: keepOpen(new MemoryStore()), history: { enabled: false } });
      await expectOk(agent, { operation: 'updateTD', input: sensorTd() }, off);
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { enabled: true } }, off);
      await report('temperature', 1, 0, off);
      assert.deepEqual(values(await history('temperature', {}, viewer, off)), []);
    });
  });

  describe('aggregation', () => {
    it('per time bucket aligned to the epoch: min, max, avg, first, last, count', async () => {
      // Minute 0: 1, 5, 3; minute 1: none; minute 2: 10, 20.
      for (const [value, seconds] of [
        [1, 0],
        [5, 20],
        [3, 40],
        [10, 120],
        [20, 150],
      ] as const)
        await report('temperature', value, seconds);
      const answer = await expectOk<{ buckets: Record<string, unknown>[]; every: string; scanned: number }>(viewer, {
        operation: 'readpropertyhistory',
        thingId: THING,
        name: 'temperature',
        query: { every: '1m', agg: 'min,max,avg,first,last,count', order: 'oldest' },
      });
      assert.equal(answer.every, '1m');
      assert.equal(answer.scanned, 5);
      assert.deepEqual(answer.buckets, [
        { start: '2026-03-01T12:00:00.000Z', end: '2026-03-01T12:01:00.000Z', min: 1, max: 5, avg: 3, first: 1, last: 3, count: 3 },
        { start: '2026-03-01T12:02:00.000Z', end: '2026-03-01T12:03:00.000Z', min: 10, max: 20, avg: 15, first: 10, last: 20, count: 2 },
      ]);
      const newest = await expectOk<{ buckets: Record<string, unknown>[]; next?: string }>(viewer, {
        operation: 'readpropertyhistory',
        thingId: THING,
        name: 'temperature',
        query: { every: '1m', agg: ['first', 'last'], limit: 1 },
      });
      assert.deepEqual(newest.buckets, [{ start: '2026-03-01T12:02:00.000Z', end: '2026-03-01T12:03:00.000Z', first: 10, last: 20 }]);
      const rest = await expectOk<{ buckets: Record<string, unknown>[]; next?: string }>(viewer, {
        operation: 'readpropertyhistory',
        thingId: THING,
        name: 'temperature',
        query: { every: '1m', agg: ['first', 'last'], limit: 1, cursor: newest.next! },
      });
      assert.deepEqual(
        rest.buckets,
        [{ start: '2026-03-01T12:00:00.000Z', end: '2026-03-01T12:01:00.000Z', first: 1, last: 3 }],
        'the next page starts at the next bucket, whole',
      );
      assert.equal(rest.next, undefined);
    });

    it('numeric aggregates of values that are not numbers are refused (400); first/last/count are fine', async () => {
      await report('mode', 'eco', 0);
      assert.match(
        await expectStatus(viewer, { operation: 'readpropertyhistory', thingId: THING, name: 'mode', query: { every: '1h', agg: 'avg' } }, 400),
        /need numbers/,
      );
      const ok = await expectOk<{ buckets: unknown[] }>(viewer, {
        operation: 'readpropertyhistory',
        thingId: THING,
        name: 'mode',
        query: { every: '1h', agg: 'last,count' },
      });
      assert.equal(ok.buckets.length, 1);
    });

    it('stops at the scan bound: whole buckets and a cursor, or one partial bucket', async () => {
      for (let i = 0; i < 6; i++) await report('temperature', i, i < 3 ? i : 60 + i);
      const series = seriesId(THING, 'p', 'temperature');
      const bucket = store.bucket(HISTORY_BUCKET);
      const query = (extra: TwinQuery = {}) => parseHistoryQuery({ every: '1m', agg: 'count', order: 'oldest', ...extra }, series, true);
      // 3 samples in minute 0, 3 in minute 1; at most 4 read: minute 0 whole, minute 1 on the next page.
      const first = (await aggregateSamples(bucket, series, query(), 4)) as { buckets: { count: number }[]; truncated?: boolean; next?: string };
      assert.deepEqual(
        first.buckets.map((b) => b.count),
        [3],
      );
      assert.equal(first.truncated, true);
      const second = (await aggregateSamples(bucket, series, query({ cursor: first.next! }), 4)) as { buckets: { count: number }[]; next?: string };
      assert.deepEqual(
        second.buckets.map((b) => b.count),
        [3],
      );
      assert.equal(second.next, undefined);
      // A bucket larger than the bound is served partial, and continued.
      const partial = (await aggregateSamples(bucket, series, query({ every: '1h' }), 4)) as { buckets: { count: number; partial?: boolean }[]; next?: string };
      assert.deepEqual(partial.buckets, [{ start: '2026-03-01T12:00:00.000Z', end: '2026-03-01T13:00:00.000Z', count: 4, partial: true }]);
      const remainder = (await aggregateSamples(bucket, series, query({ every: '1h', cursor: partial.next! }), 4)) as { buckets: { count: number }[] };
      assert.deepEqual(
        remainder.buckets.map((b) => b.count),
        [2],
      );
    });
  });

  describe('retention', () => {
    const stored = async (name: string) => {
      const keys = [];
      for await (const [key] of store.bucket(HISTORY_BUCKET).entries({ prefix: `${seriesId(THING, 'p', name)}\u0001` })) keys.push(key);
      return keys.length;
    };

    it('by age: samples older than maxAgeSeconds go in the sweep', async () => {
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { maxAgeSeconds: 3600 } });
      await report('temperature', 1, 0);
      await report('temperature', 2, 1800);
      await report('temperature', 3, 3000);
      clock.ms = T0 + 6000 * 1000; // the first two are now over an hour old, the third is not
      await sweep();
      assert.deepEqual(values(await history('temperature')), [3]);
      assert.equal(await stored('temperature'), 1);
    });

    it('by count: at most maxSamples per series, the oldest go (also after later values)', async () => {
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { properties: { temperature: { maxSamples: 3 } } } });
      for (let i = 0; i < 5; i++) await report('temperature', i, i);
      for (let i = 0; i < 4; i++) await report('mode', `m${i}`, i);
      await sweep();
      assert.deepEqual(values(await history('temperature')), [4, 3, 2]);
      assert.equal(await stored('mode'), 4, 'other series keep the default (10 000)');
      for (let i = 5; i < 9; i++) await report('temperature', i, i);
      await sweep();
      assert.deepEqual(values(await history('temperature')), [8, 7, 6]);
    });

    it('by default, bounded: 30 days and 10 000 samples', async () => {
      await report('temperature', 1, 0);
      clock.ms = T0 + 31 * 24 * 3600 * 1000;
      await sweep();
      assert.equal(await stored('temperature'), 0);
      const effective = await expectOk<{ effective: { properties: { temperature: unknown } } }>(admin, { operation: 'readhistorypolicy', thingId: THING });
      assert.deepEqual(effective.effective.properties.temperature, { enabled: true, maxAgeSeconds: 2_592_000, maxSamples: 10_000 });
    });

    it('deletes the history of a Thing that was deleted and of an affordance its TD dropped', async () => {
      await report('temperature', 1, 0);
      await report('mode', 'eco', 0);
      const td = sensorTd();
      delete (td.properties as Record<string, unknown>).mode;
      await expectOk(agent, { operation: 'updateTD', input: td });
      await sweep();
      assert.equal(await stored('mode'), 0);
      assert.equal(await stored('temperature'), 1);
      await expectOk(agent, { operation: 'deleteTD', thingId: THING });
      await sweep();
      assert.equal(await stored('temperature'), 0);
    });

    it('works through a large series in slices, one budget per run', async () => {
      await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { maxSamples: 10 } });
      const writes = [];
      for (let i = 0; i < 2500; i++)
        writes.push({
          type: 'put' as const,
          bucket: HISTORY_BUCKET,
          key: `${seriesId(THING, 'p', 'temperature')}\u0001${String(T0 + i).padStart(15, '0')}\u0001000000`,
          value: JSON.stringify({ t: new Date(T0 + i).toISOString(), v: i }),
        });
      await store.batch(writes);
      await sweep(); // at most 2000 deletes a run
      assert.ok((await stored('temperature')) > 10);
      await sweep();
      assert.equal(await stored('temperature'), 10);
      assert.deepEqual(values(await history('temperature', { limit: 1 })), [2499]);
    });
  });

  it('a Thing deleted and registered again starts with no history, even before retention pruned the old samples', async () => {
    await report('temperature', 20, 0);
    assert.deepEqual(values(await history('temperature')), [20]);
    await expectOk(agent, { operation: 'deleteTD', thingId: THING });
    clock.ms += 1000;
    await expectOk(agent, { operation: 'updateTD', input: sensorTd() });
    assert.deepEqual(values(await history('temperature')), []);
    await report('temperature', 21, 2);
    assert.deepEqual(values(await history('temperature')), [21]);
  });

  it('history and admin policies survive a new hub over the same store', async () => {
    await expectOk(admin, { operation: 'updatehistorypolicy', thingId: THING, input: { properties: { temperature: { delta: 5 } } } });
    await report('temperature', 1, 0);
    await report('temperature', 10, 1);
    await hub.close();
    hub = await start();
    assert.deepEqual(values(await history('temperature')), [10, 1]);
    assert.deepEqual((await expectOk<{ policy: unknown }>(admin, { operation: 'readhistorypolicy', thingId: THING })).policy, {
      properties: { temperature: { delta: 5 } },
    });
    // The first value after a restart opens a sample (the last one is not read back); later ones are sampled again.
    await report('temperature', 11, 2);
    await report('temperature', 12, 3);
    assert.deepEqual(values(await history('temperature')), [12, 10, 1]);
  });
});
