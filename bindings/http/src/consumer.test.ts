import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestRecord } from '@twinhub/core';
import { lampTd, openSse, startHttpHub, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;
const ID = 'https://example.com/lamps/1?v=2';
const T = `/things/${enc(ID)}`;

describe('HTTP consumer routes', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    const res = await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) });
    assert.equal(res.status, 201, res.text);
    const report = await fx.request('POST', `/agent${T}/properties`, { token: fx.tokens.agent, body: { brightness: 40, status: 'on' } });
    assert.equal(report.status, 204, report.text);
  });
  after(() => fx.close());

  test('GET a property returns its JSON value; all and multiple properties', async () => {
    const one = await fx.request('GET', `${T}/properties/brightness`, { token: fx.tokens.viewer });
    assert.equal(one.status, 200);
    assert.match(one.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(one.text, '40');
    assert.ok(one.headers.get('last-modified'));
    const all = await fx.request('GET', `${T}/properties`, { token: fx.tokens.viewer });
    assert.deepEqual(all.body, { brightness: 40, status: 'on' });
    const some = await fx.request('GET', `${T}/properties?name=status`, { token: fx.tokens.viewer });
    assert.deepEqual(some.body, { status: 'on' });
  });

  test('unknown Thing and unknown property are 404 problems', async () => {
    const thing = await fx.request('GET', `/things/${enc('urn:nope')}/properties/brightness`);
    assert.equal(thing.status, 404);
    assert.match(thing.headers.get('content-type') ?? '', /application\/problem\+json/);
    const property = await fx.request('GET', `${T}/properties/nope`);
    assert.equal(property.status, 404);
    assert.equal((await fx.request('PUT', `${T}/properties/nope`, { body: 1 })).status, 404);
  });

  test('PUT a property queues a write: 202, Location of the write, the request record', async () => {
    const res = await fx.request('PUT', `${T}/properties/brightness?ttl=60`, { token: fx.tokens.operator, body: 75 });
    assert.equal(res.status, 202, res.text);
    const record = res.body as RequestRecord;
    assert.equal(record.operation, 'writeproperty');
    assert.equal(record.input, 75);
    assert.equal(record.status, 'pending');
    const ttl = Date.parse(record.expiresAt) - Date.parse(record.timeRequested);
    assert.ok(ttl > 59_000 && ttl <= 60_000, `ttl ${ttl}`);
    const location = res.headers.get('location');
    assert.equal(location, `${fx.url}${T}/properties/brightness/writes/${record.actionId}`);
    const queried = await fx.request('GET', location!.slice(fx.url.length), { token: fx.tokens.viewer });
    assert.equal(queried.status, 200);
    assert.equal((queried.body as RequestRecord).actionId, record.actionId);
    const state = await fx.request('GET', `${T}/state`);
    assert.equal((state.body as { properties: Record<string, { desired?: unknown }> }).properties.brightness.desired, 75);
    // A pending write can be cancelled.
    const cancelled = await fx.request('DELETE', location!.slice(fx.url.length), { token: fx.tokens.operator });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal((cancelled.body as RequestRecord).status, 'cancelled');
  });

  test('a viewer may not write (403); a read-only property is refused', async () => {
    const viewer = await fx.request('PUT', `${T}/properties/brightness`, { token: fx.tokens.viewer, body: 10 });
    assert.equal(viewer.status, 403);
    const readOnly = await fx.request('PUT', `${T}/properties/status`, { token: fx.tokens.operator, body: 'off' });
    assert.equal(readOnly.status, 400);
  });

  test('a schema-invalid value is 400 and nothing is queued', async () => {
    const before = ((await fx.request('GET', `${T}/actions`)).body as RequestRecord[]).length;
    const res = await fx.request('PUT', `${T}/properties/brightness`, { token: fx.tokens.operator, body: 500 });
    assert.equal(res.status, 400, res.text);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    const after = ((await fx.request('GET', `${T}/actions`)).body as RequestRecord[]).length;
    assert.equal(after, before);
    const badAction = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 'high' } });
    assert.equal(badAction.status, 400);
    assert.equal(((await fx.request('GET', `${T}/actions`)).body as RequestRecord[]).length, before);
  });

  test('PUT with an empty body is 400; with If-Match of a stale state version is 412', async () => {
    assert.equal((await fx.request('PUT', `${T}/properties/brightness`, { token: fx.tokens.operator, raw: '' })).status, 400);
    const state = await fx.request('GET', `${T}/state`);
    const version = (state.body as { version: number }).version;
    const stale = await fx.request('PUT', `${T}/properties/brightness`, { token: fx.tokens.operator, body: 5, headers: { 'If-Match': `"${version + 10}"` } });
    assert.equal(stale.status, 412, stale.text);
  });

  test('POST an action: 201 Created, Location, queryable, listed, cancellable', async () => {
    const res = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 10 } });
    assert.equal(res.status, 201, res.text);
    const record = res.body as RequestRecord;
    assert.equal(record.status, 'pending');
    assert.deepEqual(record.input, { level: 10 });
    const location = res.headers.get('location')!;
    assert.equal(location, `${fx.url}${T}/actions/fade/${record.actionId}`);
    const queried = await fx.request('GET', location.slice(fx.url.length), { token: fx.tokens.viewer });
    assert.equal((queried.body as RequestRecord).actionId, record.actionId);
    const all = await fx.request('GET', `${T}/actions`, { token: fx.tokens.viewer });
    assert.ok((all.body as RequestRecord[]).some((r) => r.actionId === record.actionId));
    assert.equal((await fx.request('DELETE', location.slice(fx.url.length), { token: fx.tokens.viewer })).status, 403);
    const cancelled = await fx.request('DELETE', location.slice(fx.url.length), { token: fx.tokens.operator });
    assert.equal((cancelled.body as RequestRecord).status, 'cancelled');
    const unknown = await fx.request('GET', `${T}/actions/fade/no-such-action`);
    assert.equal(unknown.status, 404);
  });

  test('Prefer: respond-async answers 201 at once even with no agent online', async () => {
    const res = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 1 }, headers: { Prefer: 'respond-async' } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('preference-applied'), null);
  });

  test('GET /twin, PUT /tags', async () => {
    const tags = await fx.request('PUT', `${T}/tags`, { token: fx.tokens.operator, body: { room: 'hall' } });
    assert.equal(tags.status, 200, tags.text);
    const twin = await fx.request('GET', `${T}/twin`, { token: fx.tokens.viewer });
    assert.equal(twin.status, 200);
    assert.deepEqual((twin.body as { tags: unknown }).tags, { room: 'hall' });
    assert.equal((twin.body as { agentId: string }).agentId, 'agent-1');
    assert.equal((await fx.request('PUT', `${T}/tags`, { token: fx.tokens.viewer, body: { room: 'x' } })).status, 403);
    assert.equal((await fx.request('PUT', `${T}/tags`, { token: fx.tokens.operator, body: [1] })).status, 400);
  });
});

describe('HTTP synchronous actions (Prefer: wait)', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub({ binding: { syncActionMaxWaitSeconds: 2 } });
    await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) });
  });
  after(() => fx.close());

  /** An agent on the SSE request stream that answers each request with `answer`. */
  async function agent(answer: (request: { actionId: string; input?: unknown }) => unknown) {
    const sse = await openSse(fx.url, '/agent/requests', { token: fx.tokens.agent });
    assert.equal(sse.status, 200, sse.body);
    void (async () => {
      for (;;) {
        const event = await sse.next(5000).catch(() => undefined);
        if (!event) return;
        const request = JSON.parse(event.data) as { actionId: string; input?: unknown };
        await fx.request('POST', `/agent/requests/${enc(request.actionId)}`, { token: fx.tokens.agent, body: answer(request) });
      }
    })();
    return sse;
  }

  test('returns 200 with the output when the agent completes in time', async () => {
    const sse = await agent((r) => ({ status: 'completed', output: { reached: (r.input as { level: number }).level } }));
    const res = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 33 }, headers: { Prefer: 'wait=10' } });
    sse.close();
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { reached: 33 });
    assert.equal(res.headers.get('preference-applied'), 'wait=2');
  });

  test('returns a 502 problem with the agent error when the action fails', async () => {
    const sse = await agent(() => ({ status: 'failed', error: { title: 'Bulb Broken', detail: 'filament is gone' } }));
    const res = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 1 }, headers: { Prefer: 'wait=5' } });
    sse.close();
    assert.equal(res.status, 502, res.text);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    const problem = res.body as { title: string; detail: string; actionId: string };
    assert.equal(problem.title, 'Bulb Broken');
    assert.equal(problem.detail, 'filament is gone');
    assert.ok(problem.actionId);
  });

  test('falls back to 201 + Location when the action does not end in time', async () => {
    const started = Date.now();
    const res = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 2 }, headers: { Prefer: 'wait=1' } });
    assert.equal(res.status, 201, res.text);
    assert.ok(Date.now() - started >= 900, 'waited about a second');
    assert.ok(res.headers.get('location')?.includes('/actions/fade/'));
    assert.equal((res.body as RequestRecord).status, 'pending');
  });
});
