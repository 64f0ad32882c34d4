import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonRequest, lampTd, openSse, startHttpHub, type HttpHubFixture } from './testing.js';

const PAGE = 'http://app.example:8000';
const OTHER = 'http://evil.example';

function preflight(fixture: HttpHubFixture, origin: string, method = 'PUT') {
  return jsonRequest(fixture.url, 'OPTIONS', '/things', {
    token: null,
    headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization,content-type' },
  });
}

describe('CORS', () => {
  let fixture: HttpHubFixture;
  before(async () => {
    fixture = await startHttpHub({ binding: { corsOrigins: [PAGE], heartbeatSeconds: 0 } });
    const created = await fixture.request('PUT', `/things/${encodeURIComponent('urn:dev:cors-lamp')}`, { body: lampTd('urn:dev:cors-lamp') });
    assert.equal(created.status, 201, created.text);
  });
  after(() => fixture.close());

  it('answers a preflight from an allowed origin with 204 and what a bearer-token request needs', async () => {
    const answer = await preflight(fixture, PAGE);
    assert.equal(answer.status, 204);
    assert.equal(answer.headers.get('access-control-allow-origin'), PAGE);
    assert.equal(answer.headers.get('vary'), 'Origin');
    assert.match(answer.headers.get('access-control-allow-methods') ?? '', /\bPUT\b.*\bDELETE\b/);
    for (const name of ['Authorization', 'Content-Type', 'If-Match', 'Prefer', 'Last-Event-ID']) {
      assert.ok(answer.headers.get('access-control-allow-headers')?.split(', ').includes(name), name);
    }
    assert.equal(answer.headers.get('access-control-max-age'), '7200');
    assert.equal(answer.headers.get('access-control-allow-credentials'), null);
  });

  it('refuses a preflight from another origin with a 403 problem and no CORS headers', async () => {
    const answer = await preflight(fixture, OTHER);
    assert.equal(answer.status, 403);
    assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.match((answer.body as { detail: string }).detail, /--cors-origin/);
    assert.equal(answer.headers.get('access-control-allow-origin'), null);
    assert.equal(answer.headers.get('access-control-allow-methods'), null);
  });

  it('shares REST answers, errors included, with an allowed origin and exposes the hub headers', async () => {
    const list = await fixture.request('GET', '/things?limit=1', { headers: { Origin: PAGE } });
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('access-control-allow-origin'), PAGE);
    assert.equal(list.headers.get('vary'), 'Origin');
    const exposed = list.headers.get('access-control-expose-headers')?.split(', ') ?? [];
    for (const name of ['Location', 'Link', 'X-Total-Count', 'Retry-After']) assert.ok(exposed.includes(name), name);
    const refused = await jsonRequest(fixture.url, 'GET', '/things', { token: null, headers: { Origin: PAGE } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), PAGE, 'a page can read why it was refused');
  });

  it('adds no CORS headers for another origin, and Vary: Origin for caches', async () => {
    const list = await fixture.request('GET', '/things', { headers: { Origin: OTHER } });
    assert.equal(list.status, 200, 'the hub still answers; the browser withholds the answer from the page');
    assert.equal(list.headers.get('access-control-allow-origin'), null);
    assert.equal(list.headers.get('access-control-expose-headers'), null);
    assert.equal(list.headers.get('vary'), 'Origin');
  });

  it('shares SSE streams opened with ?access_token= from an allowed origin', async () => {
    const stream = await openSse(fixture.url, '/events', { token: fixture.tokens.viewer, tokenInQuery: true, headers: { Origin: PAGE } });
    try {
      assert.equal(stream.status, 200);
      assert.equal(stream.headers['access-control-allow-origin'], PAGE);
      assert.match(String(stream.headers['content-type']), /text\/event-stream/);
    } finally {
      stream.close();
    }
  });

  it('sends no CORS headers at all when no origin is configured', async () => {
    const plain = await startHttpHub();
    try {
      const answer = await preflight(plain, PAGE);
      assert.equal(answer.status, 405, 'OPTIONS is no route: as before CORS existed');
      assert.equal(answer.headers.get('access-control-allow-origin'), null);
      assert.equal(answer.headers.get('vary'), null);
    } finally {
      await plain.close();
    }
  });
});
