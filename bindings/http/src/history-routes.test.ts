import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TWINHUB_VOCABULARY, validateThingDescription, type ThingDescription } from '@twinhub/core';
import { lampTd, startHttpHub, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;
const ID = 'urn:dev:http-history:lamp';
const T = `/things/${enc(ID)}`;

interface Page {
  samples: { time: string; value?: unknown; data?: unknown }[];
  next?: string;
}

describe('HTTP history routes', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    const td = lampTd(ID);
    (td.properties as Record<string, Record<string, unknown>>).secret = { type: 'string', writeOnly: true, forms: [{ href: 'secret' }] };
    assert.equal((await fx.request('PUT', T, { token: fx.tokens.agent, body: td })).status, 201);
    for (const level of [10, 20, 30, 40, 50]) {
      const res = await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.agent, body: level });
      assert.equal(res.status, 204, res.text);
    }
    assert.equal((await fx.request('POST', `/agent${T}/events/overheated`, { token: fx.tokens.agent, body: 81.5 })).status, 204);
  });
  after(() => fx.close());

  test('GET …/properties/{name}/history pages newest first, with a next cursor in the body and a Link header', async () => {
    const first = await fx.request('GET', `${T}/properties/brightness/history?limit=2`, { token: fx.tokens.viewer });
    assert.equal(first.status, 200, first.text);
    const page = first.body as Page;
    assert.deepEqual(
      page.samples.map((s) => s.value),
      [50, 40],
    );
    assert.ok(page.next);
    const link = first.headers.get('link') ?? '';
    const href = /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
    assert.ok(href, link);
    const second = await fx.request('GET', new URL(href).pathname + new URL(href).search, { token: fx.tokens.viewer });
    assert.deepEqual(
      (second.body as Page).samples.map((s) => s.value),
      [30, 20],
      'the Link follows on with the same limit',
    );
    const oldest = await fx.request('GET', `${T}/properties/brightness/history?order=oldest&limit=1000`, { token: fx.tokens.viewer });
    assert.deepEqual(
      (oldest.body as Page).samples.map((s) => s.value),
      [10, 20, 30, 40, 50],
    );
    assert.equal(oldest.headers.get('link'), null, 'no next page');
  });

  test('aggregates with every and agg; events have their own route', async () => {
    const agg = await fx.request('GET', `${T}/properties/brightness/history?every=1d&agg=min,max,avg,count`, { token: fx.tokens.viewer });
    assert.equal(agg.status, 200, agg.text);
    const [bucket] = (agg.body as { buckets: Record<string, unknown>[] }).buckets;
    assert.deepEqual([bucket.min, bucket.max, bucket.avg, bucket.count], [10, 50, 30, 5]);
    const events = await fx.request('GET', `${T}/events/overheated/history`, { token: fx.tokens.viewer });
    assert.deepEqual(
      (events.body as Page).samples.map((s) => s.data),
      [81.5],
    );
  });

  test('bad parameters are 400 problems; write-only history is 403 for consumers', async () => {
    for (const query of ['limit=abc', 'limit=0', 'from=today', 'order=up', 'every=1y', 'agg=max', 'every=1m&agg=avg,mode', 'cursor=zz']) {
      const res = await fx.request('GET', `${T}/properties/brightness/history?${query}`, { token: fx.tokens.viewer });
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    }
    assert.equal((await fx.request('GET', `${T}/properties/status/history?every=1h&agg=avg`, { token: fx.tokens.viewer })).status, 400, 'avg of strings');
    assert.equal((await fx.request('GET', `${T}/properties/secret/history`, { token: fx.tokens.viewer })).status, 403);
    assert.equal((await fx.request('GET', `${T}/properties/secret/history`, { token: fx.tokens.agent })).status, 200);
    assert.equal((await fx.request('GET', `${T}/properties/nope/history`, { token: fx.tokens.viewer })).status, 404);
  });

  test('the history policy: admins read and replace it, others get 403', async () => {
    const put = await fx.request('PUT', `${T}/history-policy`, { body: { maxSamples: 100, properties: { brightness: { delta: 5 } } } });
    assert.equal(put.status, 200, put.text);
    const read = await fx.request('GET', `${T}/history-policy`);
    const body = read.body as { policy: unknown; effective: { properties: { brightness: Record<string, unknown> } } };
    assert.deepEqual(body.policy, { maxSamples: 100, properties: { brightness: { delta: 5 } } });
    assert.equal(body.effective.properties.brightness.delta, 5);
    assert.equal((await fx.request('PUT', `${T}/history-policy`, { body: { maxSamples: -1 } })).status, 400);
    assert.equal((await fx.request('PUT', `${T}/history-policy`, { token: fx.tokens.operator, body: {} })).status, 403);
    assert.equal((await fx.request('GET', `${T}/history-policy`, { token: fx.tokens.viewer })).status, 403);
  });

  test('the twin TD carries the history forms in a twinhub:historyForm term, declares the prefix, and stays a valid TD 1.1', async () => {
    const res = await fx.request('GET', T, { token: fx.tokens.viewer });
    const td = res.body as ThingDescription;
    assert.ok((td['@context'] as unknown[]).some((entry) => (entry as Record<string, unknown>)?.twinhub === TWINHUB_VOCABULARY));
    const property = (td.properties as Record<string, { forms: Record<string, unknown>[] }>).brightness;
    assert.deepEqual(property.forms[0]['twinhub:historyForm'], {
      href: `${fx.url}${T}/properties/brightness/history`,
      op: 'twinhub:readpropertyhistory',
      'htv:methodName': 'GET',
      contentType: 'application/json',
    });
    const event = (td.events as Record<string, { forms: Record<string, unknown>[] }>).overheated;
    assert.equal((event.forms[0]['twinhub:historyForm'] as { href: string }).href, `${fx.url}${T}/events/overheated/history`);
    assert.ok(!JSON.stringify((td.properties as Record<string, unknown>).secret ?? {}).includes('history'), 'no history form for a write-only property');
    // No extension op in `forms` (TD 1.1 fixes their list): the twin TD still passes the TD 1.1 JSON Schema.
    assert.doesNotThrow(() => validateThingDescription(td, 1 << 20));
    // And every advertised history href answers.
    const followed = await fetch(property.forms[0]['twinhub:historyForm'] ? (property.forms[0]['twinhub:historyForm'] as { href: string }).href : '', {
      headers: { Authorization: `Bearer ${fx.tokens.viewer}` },
    });
    assert.equal(followed.status, 200);
  });
});
