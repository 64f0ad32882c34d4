// GET /search/jsonpath: RFC 9535 queries over the twin TDs a client may see, against a real hub.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lampTd, startHttpHub, type HttpHubFixture } from './testing.js';
import { QUERY_TIMEOUT_MS } from './search/protocol.js';

const enc = encodeURIComponent;

function sensorTd(id: string, title: string): Record<string, unknown> {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id,
    title,
    '@type': 'Sensor',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: { temperature: { type: 'number', readOnly: true, forms: [{ href: 'temperature' }] } },
  };
}

describe('JSONPath search (GET /search/jsonpath)', () => {
  let fx: HttpHubFixture;
  const jsonpath = (query: string, token?: string) => fx.request('GET', `/search/jsonpath?query=${enc(query)}`, { token: token ?? fx.tokens.viewer });

  before(async () => {
    fx = await startHttpHub();
    const put = async (td: Record<string, unknown>, token: string) => {
      const res = await fx.request('PUT', `/things/${enc(td.id as string)}`, { token, body: td });
      assert.equal(res.status, 201, res.text);
    };
    await put({ ...lampTd('urn:search:jp:lamp-1'), title: 'Lamp One' }, fx.tokens.agent);
    await put(sensorTd('urn:search:jp:sensor-1', 'Sensor One'), fx.tokens.agent);
    await put(sensorTd('urn:search:jp:sensor-2', 'Sensor Two'), fx.tokens.otherAgent);
  });
  after(() => fx.close());

  test('selects the titles of the Things with a given @type, and only those', async () => {
    const res = await jsonpath(`$[?@['@type'] == 'Sensor'].title`);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual((res.body as string[]).sort(), ['Sensor One', 'Sensor Two']);
  });

  test("filters on a property's type", async () => {
    const res = await jsonpath(`$[?@.properties[?@.type == 'integer']].id`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, ['urn:search:jp:lamp-1']);
    const numbers = await jsonpath(`$[*].properties[?@.type == 'number']`);
    assert.equal((numbers.body as unknown[]).length, 2);
  });

  test('results come from the twin TDs: forms are the hub’s own', async () => {
    const res = await jsonpath(`$[?@.id == 'urn:search:jp:lamp-1'].properties.brightness.forms[0].href`);
    assert.equal(res.status, 200, res.text);
    const [href] = res.body as string[];
    assert.ok(href.startsWith(fx.url), href);
  });

  test('match() and search() take I-Regexp patterns (run on RE2)', async () => {
    const matched = await jsonpath(`$[?match(@.title, 'Sensor.*')].title`);
    assert.deepEqual((matched.body as string[]).sort(), ['Sensor One', 'Sensor Two']);
    const searched = await jsonpath(`$[?search(@.title, 'On.')].id`);
    assert.deepEqual((searched.body as string[]).sort(), ['urn:search:jp:lamp-1', 'urn:search:jp:sensor-1']);
    // A backreference is no I-Regexp: the function is false, not an error (RFC 9535 §2.4.6).
    const invalid = await jsonpath(`$[?match(@.title, '(a)\\\\1')].title`);
    assert.equal(invalid.status, 200, invalid.text);
    assert.deepEqual(invalid.body, []);
  });

  test('a syntax error is a 400 problem saying what is wrong and where', async () => {
    const res = await jsonpath(`$[?@.title ==]`);
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    const { detail } = res.body as { detail: string };
    assert.match(detail, /invalid JSONPath query/);
    assert.match(detail, /unexpected end of expression/);
    assert.match(detail, /:13\)/);
    const unclosed = await jsonpath('$.things[');
    assert.match((unclosed.body as { detail: string }).detail, /unclosed bracketed selection/);
  });

  test('a missing, empty or over-long query is refused', async () => {
    assert.equal((await fx.request('GET', '/search/jsonpath', { token: fx.tokens.viewer })).status, 400);
    assert.equal((await jsonpath('  ')).status, 400);
    const long = await jsonpath(`$[?@.title == '${'x'.repeat(9000)}']`);
    assert.equal(long.status, 414);
    assert.match((long.body as { detail: string }).detail, /limit is 8192/);
  });

  test('needs a token', async () => {
    assert.equal((await fx.request('GET', `/search/jsonpath?query=${enc('$')}`, { token: null })).status, 401);
  });

  test('an agent finds only its own Things', async () => {
    const mine = await jsonpath('$[*].id', fx.tokens.agent);
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual((mine.body as string[]).sort(), ['urn:search:jp:lamp-1', 'urn:search:jp:sensor-1']);
    const theirs = await jsonpath('$[*].id', fx.tokens.otherAgent);
    assert.deepEqual(theirs.body, ['urn:search:jp:sensor-2']);
    // Viewers (and admins) see every Thing.
    assert.equal(((await jsonpath('$[*].id')).body as string[]).length, 3);
  });

  test('updates and deletions show in the next search', async () => {
    const id = 'urn:search:jp:changing';
    assert.equal((await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: sensorTd(id, 'Before') })).status, 201);
    assert.deepEqual((await jsonpath(`$[?@.id == '${id}'].title`)).body, ['Before']);
    assert.equal((await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: sensorTd(id, 'After') })).status, 204);
    assert.deepEqual((await jsonpath(`$[?@.id == '${id}'].title`)).body, ['After']);
    assert.equal((await fx.request('DELETE', `/things/${enc(id)}`, { token: fx.tokens.agent })).status, 204);
    assert.deepEqual((await jsonpath(`$[?@.id == '${id}'].title`)).body, []);
  });

  test('a runaway query (nested descendants) is stopped with a problem while the hub keeps answering', async () => {
    // 2000 enum values make ~2000 descendant nodes: the query visits them cubed (8e9 filter runs).
    const big = {
      ...sensorTd('urn:search:jp:big', 'Big'),
      properties: { level: { type: 'integer', enum: [...Array(2000).keys()], forms: [{ href: 'level' }] } },
    };
    assert.equal((await fx.request('PUT', `/things/${enc('urn:search:jp:big')}`, { token: fx.tokens.otherAgent, body: big })).status, 201);
    const started = Date.now();
    const pending = jsonpath('$..*[?count($..*[?count($..*) == -1]) == -1]');
    // The worker runs the query: the hub's own event loop stays free.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const health = await fx.request('GET', '/health', { token: null });
    assert.equal(health.status, 200);
    assert.ok(Date.now() - started < QUERY_TIMEOUT_MS, 'the hub answered /health while the query ran');
    const res = await pending;
    assert.equal(res.status, 422, res.text);
    assert.match((res.body as { detail: string }).detail, /the query ran more than 5 s, the limit, and was stopped/);
    assert.ok(Date.now() - started >= QUERY_TIMEOUT_MS, 'stopped by the time limit');
    // The next query gets a fresh worker and the same answers.
    assert.equal((await fx.request('DELETE', `/things/${enc('urn:search:jp:big')}`, { token: fx.tokens.otherAgent })).status, 204);
    const after = await jsonpath(`$[?@['@type'] == 'Sensor'].title`);
    assert.equal(after.status, 200, after.text);
    assert.deepEqual((after.body as string[]).sort(), ['Sensor One', 'Sensor Two']);
  });

  test('an answer over the size limit is refused with a problem', async () => {
    // Every TD 1000 times: some 7 MB.
    const res = await jsonpath(`$[${Array(1000).fill('*').join(',')}]`);
    assert.equal(res.status, 422, res.text.slice(0, 200));
    assert.match((res.body as { detail: string }).detail, /limit is 4194304/);
  });

  test('a catastrophic regular expression runs in linear time', async () => {
    await fx.request('PUT', `/things/${enc('urn:search:jp:redos')}`, { token: fx.tokens.agent, body: sensorTd('urn:search:jp:redos', `${'a'.repeat(5000)}!`) });
    const res = await jsonpath(`$[?match(@.title, '(a+)+b')].id`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, []);
  });
});
