import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { RequestRecord, NotificationMessage } from '@twinhub/core';
import { captureLogs } from '@twinhub/testkit';
import { lampTd, openSse, startHttpHub, eventually, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;
const ID = 'urn:dev:ops:stream-lamp';
const T = `/things/${enc(ID)}`;

describe('HTTP SSE streams', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub({ binding: { heartbeatSeconds: 0.05 } });
    assert.equal((await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) })).status, 201);
  });
  after(() => fx.close());

  const report = (values: Record<string, unknown>) => fx.request('POST', `/agent${T}/properties`, { token: fx.tokens.agent, body: values });

  test('observe one property: unnamed events whose data is the value reported on the agent route', async () => {
    const sse = await openSse(fx.url, `${T}/properties/brightness/observe`, { token: fx.tokens.viewer });
    assert.equal(sse.status, 200, sse.body);
    assert.equal(sse.headers['cache-control'], 'no-cache, no-transform');
    assert.equal((await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.agent, body: 12 })).status, 204);
    await report({ status: 'on' }); // another property: not on this stream
    await report({ brightness: 13 });
    const first = await sse.next();
    assert.equal(first.event, undefined);
    assert.equal(first.data, '12');
    assert.match(first.id ?? '', /^\d+$/);
    assert.equal((await sse.next()).data, '13');
    assert.equal(sse.events.length, 2);
    sse.close();
  });

  test('heartbeat comments keep the stream alive', async () => {
    const sse = await openSse(fx.url, `${T}/properties/brightness/observe`, { token: fx.tokens.viewer });
    await eventually(() => sse.comments.includes('heartbeat'), 'a heartbeat', 2000);
    sse.close();
  });

  test('Last-Event-ID replays what was missed, then continues live', async () => {
    const sse = await openSse(fx.url, `${T}/properties/brightness/observe`, { token: fx.tokens.viewer });
    await report({ brightness: 1 });
    const seen = await sse.next();
    sse.close();
    await report({ brightness: 2 });
    await report({ status: 'off' });
    await report({ brightness: 3 });
    const resumed = await openSse(fx.url, `${T}/properties/brightness/observe`, { token: fx.tokens.viewer, lastEventId: seen.id });
    assert.equal(resumed.status, 200);
    assert.deepEqual([(await resumed.next()).data, (await resumed.next()).data], ['2', '3']);
    await report({ brightness: 4 });
    const live = await resumed.next();
    assert.equal(live.data, '4');
    assert.ok(Number(live.id) > Number(seen.id));
    resumed.close();
  });

  test('access_token in the query works on SSE routes only', async () => {
    const sse = await openSse(fx.url, `${T}/properties/brightness/observe`, { token: fx.tokens.viewer, tokenInQuery: true });
    assert.equal(sse.status, 200);
    sse.close();
    const plain = await fx.request('GET', `${T}/properties/brightness?access_token=${fx.tokens.viewer}`, { token: null });
    assert.equal(plain.status, 401);
    const none = await openSse(fx.url, `${T}/properties/brightness/observe`, { token: null });
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
  });

  test('a refused subscription is a problem response, not a stream', async () => {
    const property = await openSse(fx.url, `${T}/properties/nope/observe`, { token: fx.tokens.viewer });
    assert.equal(property.status, 404);
    assert.match(String(property.headers['content-type']), /application\/problem\+json/);
    assert.equal(JSON.parse(property.body).status, 404);
    const thing = await openSse(fx.url, `/things/${enc('urn:nope')}/events`, { token: fx.tokens.viewer });
    assert.equal(thing.status, 404);
    const otherAgent = await openSse(fx.url, `${T}/events/overheated`, { token: fx.tokens.otherAgent });
    assert.equal(otherAgent.status, 403);
  });

  test('one event: unnamed events with the event data', async () => {
    const sse = await openSse(fx.url, `${T}/events/overheated`, { token: fx.tokens.viewer });
    const published = await fx.request('POST', `/agent${T}/events/overheated`, { token: fx.tokens.agent, body: 81.5 });
    assert.equal(published.status, 204, published.text);
    const event = await sse.next();
    assert.equal(event.event, undefined);
    assert.equal(event.data, '81.5');
    const invalid = await fx.request('POST', `/agent${T}/events/overheated`, { token: fx.tokens.agent, body: 'hot' });
    assert.equal(invalid.status, 400);
    sse.close();
  });

  test('all properties / all events of a Thing: named events carrying the notification', async () => {
    const props = await openSse(fx.url, `${T}/properties/observe`, { token: fx.tokens.viewer });
    const events = await openSse(fx.url, `${T}/events`, { token: fx.tokens.viewer });
    await report({ status: 'on', brightness: 50 });
    await fx.request('POST', `/agent${T}/events/overheated`, { token: fx.tokens.agent, body: 90 });
    const a = await props.next();
    const b = await props.next();
    assert.deepEqual([a.event, b.event], ['observeproperty', 'observeproperty']);
    const values = Object.fromEntries([a, b].map((e) => JSON.parse(e.data) as NotificationMessage).map((n) => [n.name, n.data]));
    assert.deepEqual(values, { status: 'on', brightness: 50 });
    assert.equal(a.id, String((JSON.parse(a.data) as NotificationMessage).seq));
    const ev = await events.next();
    assert.equal(ev.event, 'subscribeevent');
    const n = JSON.parse(ev.data) as NotificationMessage;
    assert.equal(n.thingId, ID);
    assert.equal(n.data, 90);
    props.close();
    events.close();
  });

  test('/stream: every visible Thing plus the client’s own action status', async () => {
    const second = 'urn:dev:ops:stream-lamp-2';
    await fx.request('PUT', `/things/${enc(second)}`, { token: fx.tokens.agent, body: lampTd(second) });
    const sse = await openSse(fx.url, '/stream', { token: fx.tokens.operator });
    await fx.request('PUT', `/agent/things/${enc(second)}/properties/brightness`, { token: fx.tokens.agent, body: 7 });
    const property = await sse.next();
    assert.equal(property.event, 'observeproperty');
    assert.equal((JSON.parse(property.data) as NotificationMessage).thingId, second);

    const agentStream = await openSse(fx.url, '/agent/requests', { token: fx.tokens.agent });
    const invoked = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 5 } });
    const actionId = (invoked.body as RequestRecord).actionId;
    const request = await agentStream.next();
    await fx.request('POST', `/agent/requests/${enc(JSON.parse(request.data).actionId)}`, {
      token: fx.tokens.agent,
      body: { status: 'completed', output: { reached: 5 } },
    });
    let status: RequestRecord | undefined;
    while (status?.status !== 'completed') {
      const event = await sse.next();
      assert.equal(event.event, 'actionstatus');
      status = (JSON.parse(event.data) as NotificationMessage).data as RequestRecord;
      assert.equal(status.actionId, actionId);
    }
    assert.deepEqual(status.output, { reached: 5 });
    agentStream.close();
    sse.close();
  });
});

describe('HTTP agent request stream', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) });
  });
  after(() => fx.close());

  test('a write queued while the agent was offline arrives when it connects; its report completes it', async () => {
    const write = await fx.request('PUT', `${T}/properties/brightness`, { token: fx.tokens.operator, body: 64 });
    assert.equal(write.status, 202);
    const actionId = (write.body as RequestRecord).actionId;
    assert.equal(fx.hub.presence('agent-1').connected, false);

    const sse = await openSse(fx.url, '/agent/requests', { token: fx.tokens.agent });
    assert.equal(sse.status, 200, sse.body);
    const event = await sse.next();
    assert.equal(event.event, 'request');
    assert.equal(event.id, actionId);
    const message = JSON.parse(event.data) as { operation: string; name: string; input: unknown; actionId: string };
    assert.deepEqual([message.operation, message.name, message.input, message.actionId], ['writeproperty', 'brightness', 64, actionId]);
    assert.equal(fx.hub.presence('agent-1').connected, true);

    const done = await fx.request('POST', `/agent/requests/${enc(actionId)}`, { token: fx.tokens.agent, body: { status: 'completed' } });
    assert.equal(done.status, 200, done.text);
    assert.equal((done.body as RequestRecord).status, 'completed');
    const queried = await fx.request('GET', write.headers.get('location')!.slice(fx.url.length));
    assert.equal((queried.body as RequestRecord).status, 'completed');

    sse.close();
    await eventually(() => !fx.hub.presence('agent-1').connected, 'the session to close', 2000);
  });

  test('an unacknowledged request is redelivered on reconnect', async () => {
    const invoked = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 9 } });
    const actionId = (invoked.body as RequestRecord).actionId;
    const first = await openSse(fx.url, '/agent/requests', { token: fx.tokens.agent });
    assert.equal((await first.next()).id, actionId);
    first.close();
    await eventually(() => !fx.hub.presence('agent-1').connected, 'the session to close', 2000);
    const second = await openSse(fx.url, '/agent/requests', { token: fx.tokens.agent });
    assert.equal((await second.next()).id, actionId);
    second.close();
  });

  test('consumers may not open the request stream; bad status reports are 400', async () => {
    const sse = await openSse(fx.url, '/agent/requests', { token: fx.tokens.operator });
    assert.equal(sse.status, 403);
    const invoked = await fx.request('POST', `${T}/actions/fade`, { token: fx.tokens.operator, body: { level: 9 } });
    const actionId = (invoked.body as RequestRecord).actionId;
    const bad = await fx.request('POST', `/agent/requests/${enc(actionId)}`, { token: fx.tokens.agent, body: { status: 'done' } });
    assert.equal(bad.status, 400);
    const notOwner = await fx.request('POST', `/agent/requests/${enc(actionId)}`, { token: fx.tokens.otherAgent, body: { status: 'running' } });
    assert.equal(notOwner.status, 403);
    const unknown = await fx.request('POST', '/agent/requests/nope', { token: fx.tokens.agent, body: { status: 'running' } });
    assert.equal(unknown.status, 404);
  });

  test('agent property reports: many at once, one by one, schema-checked, owner only', async () => {
    assert.equal((await fx.request('POST', `/agent${T}/properties`, { token: fx.tokens.agent, body: { brightness: 1, status: 'x' } })).status, 204);
    assert.equal((await fx.request('PUT', `/agent${T}/properties/status`, { token: fx.tokens.agent, body: 'y' })).status, 204);
    assert.deepEqual((await fx.request('GET', `${T}/properties`)).body, { brightness: 1, status: 'y' });
    assert.equal((await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.agent, body: 'bright' })).status, 400);
    assert.equal((await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.otherAgent, body: 2 })).status, 403);
    assert.equal((await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.viewer, body: 2 })).status, 403);
    assert.equal((await fx.request('POST', `/agent${T}/properties`, { token: fx.tokens.agent, body: [1] })).status, 400);
  });
});

describe('HTTP SSE limits', () => {
  test('Last-Event-ID older than the replay buffer gets an `event: reset`', async () => {
    const fx = await startHttpHub({ hub: { replayBufferSize: 2 } });
    try {
      await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) });
      for (let i = 0; i < 5; i++) await fx.request('PUT', `/agent${T}/properties/brightness`, { token: fx.tokens.agent, body: i });
      const sse = await openSse(fx.url, '/stream', { token: fx.tokens.viewer, lastEventId: '0' });
      const reset = await sse.next();
      assert.equal(reset.event, 'reset');
      assert.equal(JSON.parse(reset.data).lastEventId, 0);
      sse.close();
    } finally {
      await fx.close();
    }
  });

  test('a client that does not read is dropped once its send buffer passes the limit', async () => {
    const { logger, raw: lines } = captureLogs('warn');
    const fx = await startHttpHub({ limits: { maxSendBufferBytes: 64 * 1024 }, logger });
    try {
      await fx.request('PUT', T, { token: fx.tokens.agent, body: lampTd(ID) });
      const { port } = new URL(fx.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`GET ${T}/properties/blob/observe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${fx.tokens.viewer}\r\n\r\n`);
      const head = await new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(String(chunk))));
      assert.match(head, /^HTTP\/1.1 200/);
      socket.pause(); // stop reading: kernel buffers fill, then the server's
      let closed = false;
      socket.on('close', () => (closed = true));
      socket.on('error', () => undefined);
      const value = 'x'.repeat(32 * 1024);
      let sent = 0;
      for (; sent < 2000 && !lines.some((l) => l.includes('dropping slow SSE client')); sent++) {
        const res = await fx.request('PUT', `/agent${T}/properties/blob`, { token: fx.tokens.agent, body: `${sent}${value}` });
        assert.equal(res.status, 204);
      }
      assert.ok(
        lines.some((l) => l.includes('dropping slow SSE client')),
        `not dropped after ${sent} values`,
      );
      socket.resume();
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      await eventually(() => closed, 'the server to close the connection', 5000);
      assert.ok(received < sent * value.length, `received ${received} of ${sent * value.length} bytes`);
      // The hub is fine: a fresh client gets a stream.
      const fresh = await openSse(fx.url, `${T}/properties/blob/observe`, { token: fx.tokens.viewer });
      assert.equal(fresh.status, 200);
      fresh.close();
    } finally {
      await fx.close();
    }
  });
});
