// The twin document over HTTP (GET /things/{id}/twin), conditional reports (If-Match on the agent's
// report routes) and the agent's start-up configuration (GET /agent/desired).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lampTd, startHttpHub, type HttpHubFixture } from './testing.js';

const ID = 'urn:dev:ops:twin-doc-lamp';
const T = `/things/${encodeURIComponent(ID)}`;

describe('HTTP twin document, conditional reports and desired configuration', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    assert.equal((await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) })).status, 201);
    assert.equal((await fx.request('POST', `/agent${T}/properties`, { token: fx.tokens.agent, body: { brightness: 40 } })).status, 204);
  });
  after(() => fx.close());

  test('GET …/twin: reported, desired and delta; agents read their own without tags', async () => {
    assert.equal((await fx.request('PUT', `${T}/properties/brightness`, { token: fx.tokens.operator, body: 70 })).status, 202);
    assert.equal((await fx.request('PUT', `${T}/tags`, { token: fx.tokens.operator, body: { zone: 'b' } })).status, 200);
    const doc = (await fx.request('GET', `${T}/twin`, { token: fx.tokens.viewer })).body as Record<string, Record<string, unknown>>;
    assert.equal((doc.reported.brightness as { value: number }).value, 40);
    assert.equal((doc.desired.brightness as { value: number }).value, 70);
    assert.deepEqual(doc.delta, { brightness: 70 });
    assert.deepEqual(doc.tags, { zone: 'b' });
    const own = await fx.request('GET', `${T}/twin`, { token: fx.tokens.agent });
    assert.equal(own.status, 200, own.text);
    assert.equal((own.body as { tags?: unknown }).tags, undefined);
    assert.equal((await fx.request('GET', `${T}/twin`, { token: fx.tokens.otherAgent })).status, 403);
  });

  test('If-Match on a report: 412 with a stale state version, 204 with the current one', async () => {
    const version = ((await fx.request('GET', `${T}/twin`, { token: fx.tokens.agent })).body as { versions: { state: number } }).versions.state;
    const stale = await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.agent, body: 1, headers: { 'If-Match': `"${version - 1}"` } });
    assert.equal(stale.status, 412, stale.text);
    const current = await fx.request('POST', `/agent${T}/properties`, {
      token: fx.tokens.agent,
      body: { brightness: 2 },
      headers: { 'If-Match': `"${version}"` },
    });
    assert.equal(current.status, 204, current.text);
    assert.equal((await fx.request('GET', `${T}/properties/brightness`, { token: fx.tokens.viewer })).body, 2);
  });

  test('GET /agent/desired: the configuration to apply at start-up, for the agent only', async () => {
    const all = await fx.request('GET', '/agent/desired', { token: fx.tokens.agent });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.body, { [ID]: { brightness: 70 } }, 'the open write wins over the last report');
    assert.deepEqual((await fx.request('GET', `/agent${T}/desired`, { token: fx.tokens.agent })).body, { [ID]: { brightness: 70 } });
    assert.equal((await fx.request('GET', '/agent/desired', { token: fx.tokens.viewer })).status, 403);
    assert.equal((await fx.request('GET', `/agent${T}/desired`, { token: fx.tokens.otherAgent })).status, 403);
  });
});
