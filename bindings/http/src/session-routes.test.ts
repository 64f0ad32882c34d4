// The envelope over plain HTTP: an SSE stream bound to one hub session (GET /session?key=) and
// request envelopes posted into it (POST /session/{key}), answered with their response envelopes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lampTd, openSse, startHttpHub, type HttpHubFixture } from './testing.js';

const ID = 'urn:dev:ops:session-lamp';
const KEY = 'a1b2c3d4e5f6a7b8c9d0';

describe('the envelope over HTTP (/session)', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    assert.equal((await fx.request('PUT', `/things/${encodeURIComponent(ID)}`, { token: fx.tokens.agent, body: lampTd(ID) })).status, 201);
  });
  after(() => fx.close());

  test('requests run in the stream’s session: an observation posted there is pushed on the stream', async () => {
    const stream = await openSse(fx.url, `/session?key=${KEY}`, { token: fx.tokens.viewer });
    assert.equal(stream.status, 200);
    try {
      const observe = await fx.request('POST', `/session/${KEY}`, {
        token: fx.tokens.viewer,
        body: { operation: 'observeproperty', thingId: ID, name: 'brightness', correlationId: 'c1' },
      });
      assert.equal(observe.status, 200);
      assert.deepEqual(observe.body, { type: 'response', operation: 'observeproperty', thingId: ID, name: 'brightness', correlationId: 'c1', status: 204 });
      assert.equal((await fx.request('PUT', `/agent/things/${encodeURIComponent(ID)}/properties/brightness`, { token: fx.tokens.agent, body: 9 })).status, 204);
      const event = await stream.next(5000);
      assert.equal(event.event, 'message');
      const message = JSON.parse(event.data) as { type: string; operation: string; data: unknown; seq: number };
      assert.deepEqual([message.type, message.operation, message.data], ['notification', 'observeproperty', 9]);
      assert.equal(event.id, String(message.seq));
      // A refused request is a response envelope with its problem, not an HTTP error.
      const refused = await fx.request('POST', `/session/${KEY}`, {
        token: fx.tokens.viewer,
        body: { operation: 'writeproperty', thingId: ID, name: 'brightness', input: 1 },
      });
      assert.equal((refused.body as { status: number }).status, 403);
    } finally {
      stream.close();
    }
  });

  test("a session is its client's alone, needs a sane key, and ends with its stream", async () => {
    const stream = await openSse(fx.url, `/session?key=${KEY}x`, { token: fx.tokens.viewer });
    const other = await fx.request('POST', `/session/${KEY}x`, { token: fx.tokens.operator, body: { operation: 'listTDs' } });
    assert.equal(other.status, 404, 'another client cannot post into it');
    assert.equal((await openSse(fx.url, `/session?key=${KEY}x`, { token: fx.tokens.viewer })).status, 409, 'a key in use');
    assert.equal((await openSse(fx.url, '/session?key=short', { token: fx.tokens.viewer })).status, 400);
    assert.equal((await openSse(fx.url, `/session?key=${KEY}y`)).status, 401);
    stream.close();
    let gone = 0;
    for (let i = 0; i < 50 && gone !== 404; i++) {
      gone = (await fx.request('POST', `/session/${KEY}x`, { token: fx.tokens.viewer, body: { operation: 'listTDs' } })).status;
      if (gone !== 404) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(gone, 404, 'posting into a closed session');
    const bad = await fx.request('POST', `/session/${KEY}`, { token: fx.tokens.viewer, body: { operation: 'nope' } });
    assert.equal(bad.status, 404, 'no such session (the first test closed it)');
  });
});
