// Twin queries over HTTP: GET /things?query=…&sort_by=…&sort_order=…&cursor=…, the next link that
// carries the cursor, X-Query-Plan, and X-Query-Partial when the scan limit stopped a query.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpHub, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;

function td(id: string, title: string, type: string) {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id,
    title,
    '@type': type,
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: { temperature: { type: 'number', forms: [{ href: 'temperature' }] } },
  };
}

/** The rel="next" URL of a Link header. */
function nextLink(headers: Headers): string | undefined {
  return /<([^>]*)>;\s*rel="next"/.exec(headers.get('link') ?? '')?.[1];
}

const ids = (body: unknown) => (body as { id: string }[]).map((t) => t.id);

describe('HTTP twin queries', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub({ hub: { queryScanLimit: 4 } });
    for (let i = 0; i < 6; i++) {
      const id = `urn:http:q:${i}`;
      assert.equal(
        (await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: td(id, `Sensor ${5 - i}`, i % 2 ? 'Odd' : 'Even') })).status,
        201,
      );
      assert.equal((await fx.request('PUT', `/agent/things/${enc(id)}/properties/temperature`, { token: fx.tokens.agent, body: i * 10 })).status < 300, true);
    }
  });
  after(() => fx.close());

  test('?query= filters with an RFC 9535 filter expression; X-Query-Plan names the index', async () => {
    const res = await fx.request('GET', `/things?query=${enc("@.type[?@ == 'Odd'] && @.reported.temperature > 10")}`, { token: fx.tokens.viewer });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(ids(res.body), ['urn:http:q:3', 'urn:http:q:5']);
    assert.equal(res.headers.get('x-total-count'), '2');
    assert.equal(res.headers.get('x-query-plan'), 'kind=index; candidates=3; evaluated=3; indexes=type%3DOdd');
  });

  test('a bad query is a 400 problem naming the position', async () => {
    const res = await fx.request('GET', `/things?query=${enc('@.title == ')}`, { token: fx.tokens.viewer });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.match((res.body as { detail: string }).detail, /position 11/);
  });

  test('sort_by / sort_order with cursor paging: the next link keeps the sort and carries the cursor', async () => {
    const indexed = `query=${enc("@.type[?@ == 'Even' || @ == 'Odd'] && @.agent == 'agent-1'")}`;
    const first = await fx.request('GET', `/things?${indexed}&sort_by=${enc('/title')}&sort_order=desc&limit=4`, { token: fx.tokens.viewer });
    assert.equal(first.status, 422, 'six candidates, more than the scan limit of four: a sort is refused');
    const narrowed = `query=${enc("@.type[?@ == 'Odd']")}`;
    const page1 = await fx.request('GET', `/things?${narrowed}&sort_by=/title&sort_order=asc&limit=2`, { token: fx.tokens.viewer });
    assert.equal(page1.status, 200, page1.text);
    assert.deepEqual(ids(page1.body), ['urn:http:q:5', 'urn:http:q:3']);
    const next = nextLink(page1.headers);
    assert.ok(next, 'a next link');
    const params = new URL(next).searchParams;
    assert.deepEqual(
      [params.get('sort_by'), params.get('sort_order'), params.get('query'), params.get('limit')],
      ['/title', 'asc', "@.type[?@ == 'Odd']", '2'],
    );
    assert.ok(params.get('cursor'));
    assert.equal(params.get('offset'), null);
    const page2 = await fx.request('GET', next, { token: fx.tokens.viewer });
    assert.deepEqual(ids(page2.body), ['urn:http:q:1']);
    assert.equal(nextLink(page2.headers), undefined);
  });

  test('a scan past the scan limit says so: X-Query-Partial, no X-Total-Count, a next link to continue', async () => {
    const query = `query=${enc('@.reported.temperature >= 40')}`;
    const first = await fx.request('GET', `/things?${query}`, { token: fx.tokens.viewer });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(ids(first.body), []);
    assert.equal(first.headers.get('x-query-partial'), 'evaluated=4; scan-limit=4');
    assert.equal(first.headers.get('x-total-count'), null);
    assert.match(first.headers.get('x-query-plan') ?? '', /^kind=scan; candidates=6; evaluated=4/);
    const next = nextLink(first.headers);
    assert.ok(next);
    const second = await fx.request('GET', next, { token: fx.tokens.viewer });
    assert.deepEqual(ids(second.body), ['urn:http:q:4', 'urn:http:q:5']);
    assert.equal(second.headers.get('x-query-partial'), null);
    assert.equal(nextLink(second.headers), undefined);
    const collection = await fx.request('GET', `/things?${query}&format=collection`, { token: fx.tokens.viewer });
    assert.equal((collection.body as { total?: number }).total, undefined, 'no total in the collection either');
  });

  test('agents cannot query tags (403); write-only values are never matchable', async () => {
    const res = await fx.request('GET', `/things?query=${enc("@.tags.room == 'x'")}`, { token: fx.tokens.agent });
    assert.equal(res.status, 403);
    const others = await fx.request('GET', `/things?query=${enc("@.agent == 'agent-1'")}`, { token: fx.tokens.otherAgent });
    assert.deepEqual(others.body, []);
  });

  test('plain listings keep offset next links', async () => {
    const res = await fx.request('GET', '/things?limit=4', { token: fx.tokens.viewer });
    const next = new URL(nextLink(res.headers) ?? '').searchParams;
    assert.equal(next.get('offset'), '4');
    assert.equal(next.get('cursor'), null);
    assert.equal(res.headers.get('x-total-count'), '6');
  });
});
