import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lampTd, startHttpHub, eventually, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;
const ID = 'urn:dev:ops:longpoll-lamp';
const T = `/things/${enc(ID)}`;

/** A long-poll request that can be abandoned half-way, as node-wot does when it unsubscribes. */
function poll(fx: HttpHubFixture, path: string, token: string | null, method = 'GET') {
  const controller = new AbortController();
  const response = fetch(new URL(path, fx.url), {
    method,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    signal: controller.signal,
  }).then(async (res) => ({ status: res.status, headers: res.headers, text: await res.text() }));
  response.catch(() => undefined); // an aborted poll rejects; tests that abort do not await it
  return { response, abort: () => controller.abort() };
}

describe('HTTP long polling (node-wot subprotocol "longpoll")', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    assert.equal((await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) })).status, 201);
  });
  after(() => fx.close());

  const report = (name: string, value: unknown) => fx.request('PUT', `/agent${T}/properties/${name}`, { token: fx.tokens.agent, body: value });
  /** Reports until the poll answers: the poll's subscription lands shortly after the request is sent. */
  const reportUntilAnswered = async (pending: Promise<unknown>, name: string, values: () => unknown) => {
    let answered = false;
    void pending.then(() => (answered = true));
    while (!answered) {
      assert.equal((await report(name, values())).status, 204);
      await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
  };

  test('HEAD is the handshake: 200 at once, no body, for an allowed subscription', async () => {
    for (const path of [`${T}/properties/brightness/longpoll`, `${T}/events/overheated/longpoll`]) {
      const started = Date.now();
      const head = await poll(fx, path, fx.tokens.viewer, 'HEAD').response;
      assert.equal(head.status, 200, path);
      assert.equal(head.text, '');
      assert.ok(Date.now() - started < 1000, 'node-wot gives the handshake 1 s');
    }
  });

  test('HEAD and GET refuse what the subscription would refuse: 401, 403, 404', async () => {
    for (const method of ['HEAD', 'GET']) {
      const none = await poll(fx, `${T}/properties/brightness/longpoll`, null, method).response;
      assert.equal(none.status, 401, method);
      assert.match(String(none.headers.get('www-authenticate')), /^Bearer/);
      assert.equal((await poll(fx, `${T}/properties/nope/longpoll`, fx.tokens.viewer, method).response).status, 404, method);
      assert.equal((await poll(fx, `/things/${enc('urn:nope')}/events/overheated/longpoll`, fx.tokens.viewer, method).response).status, 404, method);
      assert.equal((await poll(fx, `${T}/events/overheated/longpoll`, fx.tokens.otherAgent, method).response).status, 403, method);
    }
    const problem = await poll(fx, `${T}/properties/nope/longpoll`, fx.tokens.viewer).response;
    assert.match(String(problem.headers.get('content-type')), /application\/problem\+json/);
    assert.equal(JSON.parse(problem.text).status, 404);
  });

  test('GET answers with the next value of that property only, as JSON; the next GET with the one after', async () => {
    assert.equal((await report('brightness', 10)).status, 204);
    const first = poll(fx, `${T}/properties/brightness/longpoll`, fx.tokens.viewer);
    let answeredEarly = false;
    void first.response.then(() => (answeredEarly = true));
    for (let i = 0; i < 3; i++) {
      assert.equal((await report('status', `other-${i}`)).status, 204);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(answeredEarly, false, 'another property does not answer the poll');
    let next = 20;
    await reportUntilAnswered(first.response, 'brightness', () => ++next);
    const answer = await first.response;
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers.get('content-type')), /^application\/json/);
    const value = JSON.parse(answer.text) as number;
    assert.ok(value > 20 && value <= next, `a value reported after the poll started, got ${value}`);

    const second = poll(fx, `${T}/properties/brightness/longpoll`, fx.tokens.viewer);
    const before = next;
    await reportUntilAnswered(second.response, 'brightness', () => ++next);
    assert.ok(JSON.parse((await second.response).text) > before);
  });

  test('GET on an event answers with the next event data', async () => {
    const pending = poll(fx, `${T}/events/overheated/longpoll`, fx.tokens.viewer);
    let answered = false;
    void pending.response.then(() => (answered = true));
    let degrees = 80;
    while (!answered) {
      const published = await fx.request('POST', `/agent${T}/events/overheated`, { token: fx.tokens.agent, body: ++degrees });
      assert.equal(published.status, 204, published.text);
      await Promise.race([pending.response, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    const answer = await pending.response;
    assert.equal(answer.status, 200);
    const data = JSON.parse(answer.text) as number;
    assert.ok(data > 80 && data <= degrees);
  });
});

describe('HTTP long polling: sessions', () => {
  test('a poll holds one hub session while it waits and frees it when the client goes away', async () => {
    const fx = await startHttpHub({ limits: { maxSessionsPerClient: 1 } });
    try {
      await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) });
      const waiting = poll(fx, `${T}/properties/brightness/longpoll`, fx.tokens.viewer);
      // While it waits, the viewer's only session is taken.
      await eventually(
        async () => (await poll(fx, `${T}/properties/brightness/longpoll`, fx.tokens.viewer, 'HEAD').response).status === 429,
        'the poll to hold a session',
        5000,
      );
      waiting.abort();
      await eventually(
        async () => (await poll(fx, `${T}/properties/brightness/longpoll`, fx.tokens.viewer, 'HEAD').response).status === 200,
        'the session to be freed',
        5000,
      );
      // Answered polls free theirs too.
      const answered = poll(fx, `${T}/properties/brightness/longpoll`, fx.tokens.viewer);
      let done = false;
      void answered.response.then(() => (done = true));
      for (let level = 1; !done; level++) {
        await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.agent, body: level });
        await Promise.race([answered.response, new Promise((resolve) => setTimeout(resolve, 100))]);
      }
      assert.equal((await answered.response).status, 200);
      await eventually(
        async () => (await poll(fx, `${T}/properties/brightness/longpoll`, fx.tokens.viewer, 'HEAD').response).status === 200,
        'the answered poll to free its session',
        5000,
      );
    } finally {
      await fx.close();
    }
  });
});
