import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lampTd, openSse, startHttpHub, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;

describe('HTTP directory (WoT Discovery Things API)', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
  });
  after(() => fx.close());

  test('PUT /things/{id} creates (201 + Location), then replaces (204); GET returns the twin TD', async () => {
    const id = 'urn:dev:dir:put-1';
    const created = await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id) });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('location'), `${fx.url}/things/${enc(id)}`);

    const replaced = await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: { ...lampTd(id), title: 'Lamp 2' } });
    assert.equal(replaced.status, 204, replaced.text);

    const got = await fx.request('GET', `/things/${enc(id)}`, { token: fx.tokens.viewer });
    assert.equal(got.status, 200);
    assert.match(got.headers.get('content-type') ?? '', /^application\/td\+json/);
    const td = got.body as Record<string, unknown>;
    assert.equal(td.id, id);
    assert.equal(td.title, 'Lamp 2');
  });

  test('?security= serves the twin TD with that Thing-level scheme, on GET /things/{id} and GET /things', async () => {
    const id = 'urn:dev:dir:security-1';
    assert.equal((await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id) })).status, 201);
    const plain = (await fx.request('GET', `/things/${enc(id)}`, { token: fx.tokens.viewer })).body as { security: string[] };
    assert.deepEqual(plain.security, ['bearer_sc']);
    const chosen = await fx.request('GET', `/things/${enc(id)}?security=bearer_sc`, { token: fx.tokens.viewer });
    assert.deepEqual((chosen.body as { security: string[] }).security, ['bearer_sc']);
    const listed = await fx.request('GET', `/things?security=bearer_sc&limit=1`, { token: fx.tokens.viewer });
    assert.deepEqual((listed.body as Array<{ security: string[] }>)[0].security, ['bearer_sc']);
    const unknown = await fx.request('GET', `/things/${enc(id)}?security=psk_sc`, { token: fx.tokens.viewer });
    assert.equal(unknown.status, 400);
    assert.match((unknown.body as { detail: string }).detail, /'psk_sc' is not defined by this Thing; it defines: bearer_sc/);
  });

  test('PUT with a body id that differs from the path id is a 400', async () => {
    const res = await fx.request('PUT', `/things/${enc('urn:dev:dir:a')}`, { token: fx.tokens.agent, body: lampTd('urn:dev:dir:b') });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.match((res.body as { detail: string }).detail, /differs/);
    assert.equal((await fx.request('GET', `/things/${enc('urn:dev:dir:a')}`)).status, 404);
  });

  test('POST /things registers a TD without id: 201 and a Location that resolves', async () => {
    const { id: _id, ...anonymous } = lampTd();
    const res = await fx.request('POST', '/things', { token: fx.tokens.agent, body: anonymous });
    assert.equal(res.status, 201, res.text);
    const location = res.headers.get('location');
    assert.ok(location?.startsWith(`${fx.url}/things/`), `Location ${location}`);
    if (!location) return;
    const got = await fx.request('GET', location.slice(fx.url.length));
    assert.equal(got.status, 200);
    assert.equal((got.body as { id: string }).id, decodeURIComponent(location.slice(`${fx.url}/things/`.length)));
  });

  test('POST /things with an id is refused (use PUT)', async () => {
    const res = await fx.request('POST', '/things', { token: fx.tokens.agent, body: lampTd('urn:dev:dir:post-with-id') });
    assert.equal(res.status, 400);
  });

  test('PATCH applies a merge patch; a wrong content type is 415', async () => {
    const id = 'urn:dev:dir:patch';
    assert.equal((await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id) })).status, 201);
    const wrong = await fx.request('PATCH', `/things/${enc(id)}`, { token: fx.tokens.agent, body: { title: 'Patched' } });
    assert.equal(wrong.status, 415);
    assert.equal(wrong.headers.get('accept-patch'), 'application/merge-patch+json');
    const res = await fx.request('PATCH', `/things/${enc(id)}`, {
      token: fx.tokens.agent,
      body: { title: 'Patched' },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(res.status, 204, res.text);
    assert.equal(((await fx.request('GET', `/things/${enc(id)}`)).body as { title: string }).title, 'Patched');
  });

  test('GET and list serve a changed TD after it changed, not an earlier serialization', async () => {
    const id = 'urn:dev:dir:reserve';
    const td = { ...lampTd(id), '@type': 'ReServed' };
    assert.equal((await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: td })).status, 201);
    const titles = async () => [
      ((await fx.request('GET', `/things/${enc(id)}`, { token: fx.tokens.viewer })).body as { title: string }).title,
      ...((await fx.request('GET', '/things?type=ReServed', { token: fx.tokens.viewer })).body as { title: string }[]).map((t) => t.title),
    ];
    assert.deepEqual(await titles(), [td.title, td.title]);
    assert.deepEqual(await titles(), [td.title, td.title]);
    assert.equal((await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: { ...td, title: 'Second' } })).status, 204);
    assert.deepEqual(await titles(), ['Second', 'Second']);
  });

  test('If-Match with a stale version is 412 (from the core); the current version succeeds', async () => {
    const id = 'urn:dev:dir:ifmatch';
    await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id) });
    const twin = await fx.request('GET', `/things/${enc(id)}/twin`);
    const version = (twin.body as { version: number }).version;
    const stale = await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id), headers: { 'If-Match': `"${version + 5}"` } });
    assert.equal(stale.status, 412, stale.text);
    const fresh = await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id), headers: { 'If-Match': `"${version}"` } });
    assert.equal(fresh.status, 204, fresh.text);
    const bad = await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id), headers: { 'If-Match': 'abc' } });
    assert.equal(bad.status, 400);
  });

  test('DELETE removes the Thing (204), then GET is 404; another agent gets 403', async () => {
    const id = 'urn:dev:dir:delete';
    await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id) });
    assert.equal((await fx.request('DELETE', `/things/${enc(id)}`, { token: fx.tokens.otherAgent })).status, 403);
    assert.equal((await fx.request('DELETE', `/things/${enc(id)}`, { token: fx.tokens.agent })).status, 204);
    const gone = await fx.request('GET', `/things/${enc(id)}`);
    assert.equal(gone.status, 404);
    assert.equal((gone.body as { status: number }).status, 404);
  });

  test('a viewer cannot register a TD (403)', async () => {
    const res = await fx.request('PUT', `/things/${enc('urn:dev:dir:viewer')}`, { token: fx.tokens.viewer, body: lampTd('urn:dev:dir:viewer') });
    assert.equal(res.status, 403);
  });

  test('an invalid TD is a 400 problem with the validation errors', async () => {
    const id = 'urn:dev:dir:invalid';
    const res = await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: { ...lampTd(id), properties: { p: { type: 'nope' } } } });
    assert.equal(res.status, 400, res.text);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  });
});

describe('HTTP directory listing', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    for (let i = 0; i < 5; i++) {
      const id = `urn:dev:list:${i}`;
      const td = { ...lampTd(id), title: i % 2 === 0 ? `Even ${i}` : `Odd ${i}`, '@type': i < 2 ? 'Sensor' : 'Light' };
      const res = await fx.request('PUT', `/things/${enc(id)}`, { token: i === 4 ? fx.tokens.otherAgent : fx.tokens.agent, body: td });
      assert.equal(res.status, 201, res.text);
    }
    await fx.request('PUT', `/things/${enc('urn:dev:list:1')}/tags`, { body: { room: 'kitchen' } });
  });
  after(() => fx.close());

  test('GET /things pages with limit/offset, X-Total-Count and a rel="next" Link', async () => {
    const first = await fx.request('GET', '/things?limit=2', { token: fx.tokens.viewer });
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /^application\/ld\+json/);
    assert.equal(first.headers.get('x-total-count'), '5');
    assert.equal((first.body as unknown[]).length, 2);
    const link = first.headers.get('link') ?? '';
    const match = /^<([^>]+)>; rel="next", <[^>]+\/things>; rel="canonical"; etag="[^"]+"$/.exec(link);
    assert.ok(match, `Link header ${link}`);
    const next = new URL(match[1]);
    assert.equal(next.searchParams.get('offset'), '2');
    assert.equal(next.searchParams.get('limit'), '2');

    const seen = new Set((first.body as { id: string }[]).map((td) => td.id));
    let url: string | undefined = match[1];
    while (url) {
      const page = await fx.request('GET', url.slice(fx.url.length), { token: fx.tokens.viewer });
      for (const td of page.body as { id: string }[]) seen.add(td.id);
      url = /^<([^>]+)>; rel="next"/.exec(page.headers.get('link') ?? '')?.[1];
    }
    assert.equal(seen.size, 5);
  });

  test('the last page has no next Link, only the canonical one', async () => {
    const res = await fx.request('GET', '/things?offset=4&limit=2');
    assert.equal((res.body as unknown[]).length, 1);
    assert.match(res.headers.get('link') ?? '', /^<[^>]+\/things>; rel="canonical"; etag="[^"]+"$/);
  });

  test('filters: type (and @type), title, agent, tag', async () => {
    const ids = async (query: string) => ((await fx.request('GET', `/things?${query}`)).body as { id: string }[]).map((td) => td.id).sort();
    assert.deepEqual(await ids('type=Sensor'), ['urn:dev:list:0', 'urn:dev:list:1']);
    assert.deepEqual(await ids(`${enc('@type')}=Sensor`), ['urn:dev:list:0', 'urn:dev:list:1']);
    assert.deepEqual(await ids('title=odd'), ['urn:dev:list:1', 'urn:dev:list:3']);
    assert.deepEqual(await ids('agent=agent-2'), ['urn:dev:list:4']);
    assert.deepEqual(await ids('tag=room:kitchen'), ['urn:dev:list:1']);
  });

  test('bad paging parameters and tag filters are 400', async () => {
    assert.equal((await fx.request('GET', '/things?limit=-1')).status, 400);
    assert.equal((await fx.request('GET', '/things?offset=x')).status, 400);
    assert.equal((await fx.request('GET', '/things?tag=nocolon')).status, 400);
  });

  test('an agent lists only its own Things', async () => {
    const res = await fx.request('GET', '/things', { token: fx.tokens.otherAgent });
    assert.deepEqual(
      (res.body as { id: string }[]).map((td) => td.id),
      ['urn:dev:list:4'],
    );
  });
});

describe('HTTP directory events (SSE)', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
  });
  after(() => fx.close());

  test('GET /events streams thing_created, thing_updated and thing_deleted', async () => {
    const sse = await openSse(fx.url, '/events', { token: fx.tokens.viewer });
    assert.equal(sse.status, 200);
    assert.match(sse.headers['content-type'] ?? '', /^text\/event-stream/);
    const id = 'urn:dev:events:1';
    await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id) });
    await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: { ...lampTd(id), title: 'Renamed' } });
    await fx.request('DELETE', `/things/${enc(id)}`, { token: fx.tokens.agent });
    const created = await sse.next();
    assert.equal(created.event, 'thing_created');
    assert.equal(JSON.parse(created.data).id, id);
    assert.match(created.id ?? '', /^\d+$/);
    const updated = await sse.next();
    assert.equal(updated.event, 'thing_updated');
    assert.equal(JSON.parse(updated.data).title, 'Renamed');
    const deleted = await sse.next();
    assert.equal(deleted.event, 'thing_deleted');
    assert.deepEqual(JSON.parse(deleted.data), { id });
    sse.close();
  });

  test('GET /events/thing_deleted streams only deletions; an unknown kind is 404', async () => {
    const sse = await openSse(fx.url, '/events/thing_deleted', { token: fx.tokens.viewer });
    const id = 'urn:dev:events:2';
    await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: lampTd(id) });
    await fx.request('DELETE', `/things/${enc(id)}`, { token: fx.tokens.agent });
    const event = await sse.next();
    assert.equal(event.event, 'thing_deleted');
    assert.equal(sse.events.length, 1);
    sse.close();
    const unknown = await openSse(fx.url, '/events/thing_renamed', { token: fx.tokens.viewer });
    assert.equal(unknown.status, 404);
  });
});
