import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubApi } from '@twinhub/core';
import { createHttpBinding } from './binding.js';
import { captureLogs } from '@twinhub/testkit';
import { jsonRequest, lampTd, startHttpHub, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;
const ID = 'urn:dev:ops:errors-lamp';
const T = `/things/${enc(ID)}`;

describe('HTTP-level errors', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub({ limits: { maxPayloadBytes: 1024, maxTdBytes: 8 * 1024 } });
    await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) });
  });
  after(() => fx.close());

  test('GET /health needs no token; GET / needs one and lists entry points', async () => {
    const health = await fx.request('GET', '/health', { token: null });
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    assert.equal((await fx.request('GET', '/', { token: null })).status, 401);
    const root = await fx.request('GET', '/', { token: fx.tokens.viewer });
    assert.ok((root.body as { links: { rel: string; href: string }[] }).links.some((l) => l.href === `${fx.url}/things`));
  });

  test('missing, unknown or malformed tokens are 401 problems with WWW-Authenticate', async () => {
    const variants: Record<string, string>[] = [{}, { Authorization: 'Bearer nope' }, { Authorization: `Basic ${fx.tokens.admin}` }];
    for (const headers of variants) {
      const res = await fx.request('GET', '/things', { token: null, headers });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal((res.body as { status: number }).status, 401);
    }
  });

  test('a revoked-looking token (valid format, unknown) cannot stream either', async () => {
    const res = await fx.request('GET', '/stream?access_token=th_unknown', { token: null });
    assert.equal(res.status, 401);
  });

  test('malformed JSON is 400 with the parser message', async () => {
    const res = await fx.request('PUT', `${T}/properties/brightness`, { raw: '{"a":', headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.match((res.body as { detail: string }).detail, /not valid JSON: .*JSON/);
  });

  test('bodies over the limit are 413: maxPayloadBytes for values, maxTdBytes for TDs', async () => {
    const big = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, raw: JSON.stringify({ level: 1, pad: 'x'.repeat(2000) }) });
    assert.equal(big.status, 413);
    assert.equal((big.body as { status: number }).status, 413);
    // A TD of 2 KB is fine on the TD route although it is over the payload limit...
    const td = { ...lampTd('urn:dev:ops:errors-big'), description: 'd'.repeat(2000) };
    assert.equal((await fx.request('PUT', `/things/${enc('urn:dev:ops:errors-big')}`, { token: fx.tokens.agent, body: td })).status, 201);
    // ...but not one over maxTdBytes.
    const huge = { ...td, description: 'd'.repeat(10_000) };
    assert.equal((await fx.request('PUT', `/things/${enc('urn:dev:ops:errors-big')}`, { token: fx.tokens.agent, body: huge })).status, 413);
  });

  test('a chunked body over the limit is cut off with 413', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(`"${'y'.repeat(500)}"`.slice(0, 500)));
        controller.close();
      },
    });
    const res = await fetch(`${fx.url}${T}/properties/brightness`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${fx.tokens.operator}`, 'Content-Type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
  });

  test('unknown route is 404; wrong method is 405 with Allow', async () => {
    const unknown = await fx.request('GET', '/nope/nothing');
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const method = await fx.request('DELETE', `${T}/properties`);
    assert.equal(method.status, 405);
    assert.equal(method.headers.get('allow'), 'GET, HEAD');
    const things = await fx.request('PATCH', '/things');
    assert.equal(things.status, 405);
    assert.equal(things.headers.get('allow'), 'GET, HEAD, POST');
  });

  test('an unsupported content type is 415', async () => {
    const res = await fx.request('PUT', `${T}/properties/brightness`, { token: fx.tokens.operator, raw: '5', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(res.status, 415);
    assert.equal((res.body as { status: number }).status, 415);
  });

  test('malformed percent-encoding in the path is 400', async () => {
    const res = await fx.request('GET', '/things/%E0%A4%A');
    assert.equal(res.status, 400);
  });

  test('a ttl that is not a positive integer is 400', async () => {
    assert.equal((await fx.request('PUT', `${T}/properties/brightness?ttl=abc`, { token: fx.tokens.operator, body: 5 })).status, 400);
    assert.equal((await fx.request('PUT', `${T}/properties/brightness?ttl=0`, { token: fx.tokens.operator, body: 5 })).status, 400);
  });
});

describe('HTTP handler exceptions', () => {
  test('an exception becomes a 500 problem without internals, and a log line', async () => {
    const fx = await startHttpHub();
    const { logger, raw: lines } = captureLogs('error');
    // A hub whose handle() breaks its contract (it must never throw): the binding still answers.
    const broken: HubApi = Object.create(fx.hub, {
      handle: { value: () => Promise.reject(new Error('secret internal detail')) },
    }) as HubApi;
    const binding = createHttpBinding({ hub: broken, logger });
    const { url } = await binding.start();
    try {
      const res = await jsonRequest(url, 'GET', '/things', { token: fx.tokens.admin });
      assert.equal(res.status, 500);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.doesNotMatch(res.text, /secret|at .*\.js/);
      assert.ok(lines.some((line) => line.includes('HTTP handler failed') && line.includes('secret internal detail')));
    } finally {
      await binding.close();
      await fx.close();
    }
  });
});
