// Resource bounds of a whole hub (HTTP/SSE, WebSocket and MQTT on one core), each limit set small:
// what a client sees on every binding when it hits one, that nothing over a limit is stored, and
// that clients which stop reading are dropped while the hub's memory stays bounded.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { jsonRequest, lampTd } from '@twinhub/binding-http/testing';
import { connectWs, refusedUpgrade, type WsTestClient } from '@twinhub/binding-ws/testing';
import { connectMqtt, connectRefusal, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import { DEFAULT_LIMITS, type RequestRecord, type Client, type HubLimits } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const THING = 'urn:dev:ops:bounds-lamp';
const enc = encodeURIComponent;
const thingPath = (suffix = '') => `/things/${enc(THING)}${suffix}`;

interface Fixture {
  running: RunningHub;
  tokens: Tokens;
  call(method: string, path: string, token: string, body?: unknown): ReturnType<typeof jsonRequest>;
  ws(token: string): Promise<WsTestClient>;
  mqtt(username: string, token: string): Promise<MqttTestClient>;
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** A hub (in-memory store, all bindings) with these limits, the lamp registered by agent-1. */
async function hubWith(limits: Partial<HubLimits>): Promise<Fixture> {
  const data = await tempDataDir();
  // No value history: in the in-memory store it is data the hub keeps by design (docs/history.md),
  // which would blur what these tests measure (buffers and bounds of the transports).
  const running = await startTestHub(data.dir, { memory: true, history: false, limits: { ...DEFAULT_LIMITS, ...limits } });
  cleanups.push(
    () => data.remove(),
    () => running.close(),
  );
  const tokens = await createTokens(running);
  const call = (method: string, path: string, token: string, body?: unknown) =>
    jsonRequest(running.urls.http, method, path, { token, ...(body !== undefined ? { body } : {}) });
  const registered = await call('PUT', thingPath(), tokens.agent, lampTd(THING));
  assert.equal(registered.status, 201, registered.text);
  return {
    running,
    tokens,
    call,
    async ws(token) {
      const client = await connectWs(running.urls.ws, { token });
      cleanups.push(() => client.close());
      return client;
    },
    async mqtt(username, token) {
      const client = await connectMqtt(running.urls.mqtt!, { username, password: token });
      cleanups.push(() => client.close(true));
      return client;
    },
  };
}

describe('resource bounds', { timeout: 60_000 }, () => {
  it('refuses requests beyond maxQueuedRequestsPerThing on every binding and stores none of them', async () => {
    const { call, tokens, ws, mqtt } = await hubWith({ maxQueuedRequestsPerThing: 3 });
    const queued: string[] = [];
    for (const level of [1, 2]) {
      const invoked = await call('POST', thingPath('/actions/fade'), tokens.operator, { level });
      assert.equal(invoked.status, 201, invoked.text);
      queued.push((invoked.body as RequestRecord).actionId);
    }
    const operatorWs = await ws(tokens.operator);
    const third = await operatorWs.request({ operation: 'writeproperty', thingId: THING, name: 'brightness', input: 3 });
    assert.equal(third.status, 202);
    queued.push((third.output as RequestRecord).actionId);

    const httpInvoke = await call('POST', thingPath('/actions/fade'), tokens.operator, { level: 10 });
    assert.equal(httpInvoke.status, 429);
    assert.equal(httpInvoke.headers.get('content-type'), 'application/problem+json');
    assert.match((httpInvoke.body as { detail: string }).detail, /3 requests waiting/);
    assert.equal((await call('PUT', thingPath('/properties/brightness'), tokens.operator, 11)).status, 429);
    const wsInvoke = await operatorWs.request({ operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: 12 } });
    assert.equal(wsInvoke.status, 429);
    assert.equal(wsInvoke.error?.status, 429);
    const operatorMqtt = await mqtt('operator-1', tokens.operator);
    const actionTopic = `things/${enc(THING)}/actions/fade`;
    await operatorMqtt.publish(actionTopic, { level: 13 }); // PUBACKed: refused, not lost
    assert.equal((await operatorMqtt.nextError(actionTopic)).status, 429);
    const setTopic = `things/${enc(THING)}/properties/brightness/set`;
    await operatorMqtt.publish(setTopic, 14);
    assert.equal((await operatorMqtt.nextError(setTopic)).status, 429);

    const stored = (await call('GET', thingPath('/actions'), tokens.operator)).body as RequestRecord[];
    assert.deepEqual(
      stored.map((r) => r.actionId),
      queued,
      'only the three accepted requests exist',
    );

    // The bound counts requests not yet ended: once the agent finishes one, there is room again.
    const done = await call('POST', `/agent/requests/${queued[0]}`, tokens.agent, { status: 'completed', output: { reached: 1 } });
    assert.equal(done.status, 200, done.text);
    assert.equal((await call('POST', thingPath('/actions/fade'), tokens.operator, { level: 20 })).status, 201);
    assert.equal((await call('POST', thingPath('/actions/fade'), tokens.operator, { level: 21 })).status, 429);
  });

  it('refuses subscriptions beyond maxSubscriptionsPerSession with a 429 envelope (WS and MQTT envelopes)', async () => {
    // 3, not less: the MQTT binding's own session holds three (properties, events, directory).
    const { tokens, ws, mqtt } = await hubWith({ maxSubscriptionsPerSession: 3 });
    const viewer = await ws(tokens.viewer);
    const observe = (name: string) => viewer.request({ operation: 'observeproperty', thingId: THING, name });
    assert.equal((await observe('brightness')).status, 204);
    assert.equal((await viewer.request({ operation: 'subscribeevent', thingId: THING, name: 'overheated' })).status, 204);
    assert.equal((await viewer.request({ operation: 'subscribedirectory' })).status, 204);
    const refused = await observe('status');
    assert.equal(refused.status, 429);
    assert.equal(refused.error?.status, 429);
    assert.match(refused.error?.detail ?? '', /3 subscriptions/);
    assert.equal((await observe('brightness')).status, 204, 'repeating a subscription it holds costs nothing');
    assert.equal((await viewer.request({ operation: 'unobserveproperty', thingId: THING, name: 'brightness' })).status, 204);
    assert.equal((await observe('status')).status, 204, 'room again after unobserving');

    // The bound is per session: another connection of the same client has its own.
    const second = await ws(tokens.viewer);
    assert.equal((await second.request({ operation: 'observeallproperties', thingId: THING })).status, 204);

    const viewerMqtt = await mqtt('viewer-1', tokens.viewer);
    for (const name of ['brightness', 'status', 'blob']) {
      assert.equal((await viewerMqtt.request({ operation: 'observeproperty', thingId: THING, name })).status, 204);
    }
    const overMqtt = await viewerMqtt.request({ operation: 'subscribeevent', thingId: THING, name: 'overheated' });
    assert.equal(overMqtt.status, 429);
    assert.equal(overMqtt.error?.status, 429);
  });

  it('refuses WebSocket upgrades beyond maxConnections with 503 (HTTP keeps serving) and MQTT connections with CONNACK 3', async () => {
    const { running, call, tokens, ws } = await hubWith({ maxConnections: 3 });
    const open = [await ws(tokens.viewer), await ws(tokens.operator), await ws(tokens.agent)];
    const refused = await refusedUpgrade(running.urls.ws, { token: tokens.admin });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal((refused.json() as { status: number }).status, 503);
    assert.equal((await call('GET', '/things', tokens.viewer)).status, 200, 'plain HTTP requests are still served');
    await open[0].close();
    const replacement = await connectWs(running.urls.ws, { token: tokens.admin });
    assert.equal((await replacement.request({ operation: 'listTDs' })).status, 200, 'a freed slot can be used again');
    await replacement.close();

    const mqttClients: MqttTestClient[] = [];
    for (const [id, token] of [
      ['viewer-1', tokens.viewer],
      ['operator-1', tokens.operator],
      ['agent-1', tokens.agent],
    ] as const) {
      mqttClients.push(await connectMqtt(running.urls.mqtt!, { username: id, password: token, subscribeOwnTopics: false }));
    }
    try {
      assert.equal(await connectRefusal(running.urls.mqtt!, { username: 'admin-1', password: tokens.admin }), 3);
    } finally {
      for (const client of mqttClients) await client.close(true);
    }
  });

  it('refuses sessions beyond maxSessionsPerClient on WebSocket (429 upgrade) and SSE (429), per client', async () => {
    const { running, tokens, ws, call } = await hubWith({ maxSessionsPerClient: 2 });
    const first = await ws(tokens.viewer);
    await ws(tokens.viewer);
    const refused = await refusedUpgrade(running.urls.ws, { token: tokens.viewer });
    assert.equal(refused.status, 429);
    assert.match((refused.json() as { detail: string }).detail, /2 open sessions/);
    const sse = await call('GET', thingPath('/properties/brightness/observe'), tokens.viewer);
    assert.equal(sse.status, 429);
    assert.equal(sse.headers.get('content-type'), 'application/problem+json');
    // Other clients are not affected, and a closed session frees its slot.
    await ws(tokens.operator);
    await first.close();
    const again = await connectWs(running.urls.ws, { token: tokens.viewer });
    assert.equal((await again.request({ operation: 'observeproperty', thingId: THING, name: 'brightness' })).status, 204);
    await again.close();
  });

  it('refuses MQTT connections beyond maxSessionsPerClient in the CONNACK (code 3), per client', async () => {
    const { running, tokens, mqtt } = await hubWith({ maxSessionsPerClient: 2 });
    await mqtt('agent-1', tokens.agent);
    const second = await mqtt('agent-1', tokens.agent);
    assert.equal(await connectRefusal(running.urls.mqtt!, { username: 'agent-1', password: tokens.agent }), 3);
    await mqtt('viewer-1', tokens.viewer);
    await second.close(true);
    const again = await mqtt('agent-1', tokens.agent);
    assert.deepEqual(await again.subscribe('agents/agent-1/requests', 1), [1], 'a freed slot works, requests included');
  });

  it('refuses a TD over maxTdBytes with 413 on HTTP, WS and MQTT, and stores nothing', async () => {
    const { call, tokens, ws, mqtt } = await hubWith({ maxTdBytes: 4096 });
    const big = (id: string) => ({ ...lampTd(id), description: 'x'.repeat(5000) });
    const id = 'urn:dev:ops:bounds-big';
    const overHttp = await call('PUT', `/things/${enc(id)}`, tokens.agent, big(id));
    assert.equal(overHttp.status, 413, overHttp.text);
    assert.equal(overHttp.headers.get('content-type'), 'application/problem+json');
    const agentWs = await ws(tokens.agent);
    const overWs = await agentWs.request({ operation: 'updateTD', thingId: id, input: big(id) });
    assert.equal(overWs.status, 413);
    assert.equal(overWs.error?.status, 413);
    const agentMqtt = await mqtt('agent-1', tokens.agent);
    const overMqtt = await agentMqtt.request({ operation: 'updateTD', thingId: id, input: big(id) });
    assert.equal(overMqtt.status, 413);
    assert.equal((await call('GET', `/things/${enc(id)}`, tokens.viewer)).status, 404, 'nothing was registered');
    // Just under the limit is fine.
    const small = await agentWs.request({ operation: 'updateTD', thingId: id, input: { ...lampTd(id), description: 'x'.repeat(100) } });
    assert.ok(small.status < 300, JSON.stringify(small.error));
  });

  it('refuses a payload over maxPayloadBytes with 413 on HTTP, WS and MQTT, and stores nothing', async () => {
    const { call, tokens, ws, mqtt } = await hubWith({ maxPayloadBytes: 1024 });
    const blob = 'x'.repeat(2000);
    const reportHttp = await call('PUT', `/agent${thingPath('/properties/blob')}`, tokens.agent, blob);
    assert.equal(reportHttp.status, 413, reportHttp.text);
    assert.equal((await call('POST', thingPath('/actions/fade'), tokens.operator, { level: 1, pad: blob })).status, 413);
    assert.equal((await call('PUT', thingPath('/properties/brightness'), tokens.operator, blob)).status, 413);
    const agentWs = await ws(tokens.agent);
    assert.equal((await agentWs.request({ operation: 'updateproperty', thingId: THING, name: 'blob', input: blob })).status, 413);
    assert.equal((await agentWs.request({ operation: 'publishevent', thingId: THING, name: 'overheated', input: blob })).status, 413);
    const operatorWs = await ws(tokens.operator);
    assert.equal((await operatorWs.request({ operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: 1, pad: blob } })).status, 413);
    const agentMqtt = await mqtt('agent-1', tokens.agent);
    const reported = `things/${enc(THING)}/properties/blob/reported`;
    await agentMqtt.publish(reported, blob);
    assert.equal((await agentMqtt.nextError(reported)).status, 413);
    const operatorMqtt = await mqtt('operator-1', tokens.operator);
    const set = `things/${enc(THING)}/properties/brightness/set`;
    await operatorMqtt.publish(set, blob);
    assert.equal((await operatorMqtt.nextError(set)).status, 413);

    assert.equal((await call('GET', thingPath('/properties/blob'), tokens.viewer)).status, 404, 'no value was stored');
    assert.deepEqual((await call('GET', thingPath('/actions'), tokens.operator)).body, [], 'no request was queued');
    const state = (await call('GET', thingPath('/state'), tokens.viewer)).body as { properties: Record<string, unknown>; events: Record<string, unknown> };
    assert.deepEqual([Object.keys(state.properties), Object.keys(state.events)], [[], []], 'no value, desired value or event was stored');
    // A value within the limit goes through on the same connections.
    assert.equal((await agentWs.request({ operation: 'updateproperty', thingId: THING, name: 'blob', input: 'ok' })).status, 204);
    assert.equal((await call('GET', thingPath('/properties/blob'), tokens.viewer)).body, 'ok');
  });

  it('drops an SSE and a WS client that stop reading once their buffers pass maxSendBufferBytes; memory stays bounded', async () => {
    const gc = exposeGc();
    const maxSendBufferBytes = 256 * 1024;
    const { running, tokens, ws } = await hubWith({ maxSendBufferBytes, maxPayloadBytes: 64 * 1024 });
    const agent = (await running.hub.authenticate(tokens.agent)) as Client;

    const reader = await ws(tokens.viewer);
    const paused = await ws(tokens.viewer);
    for (const client of [reader, paused]) {
      assert.equal((await client.request({ operation: 'observeproperty', thingId: THING, name: 'blob' })).status, 204);
    }
    let read = 0;
    // ws has no public pause: stop reading the socket itself, as a stuck client would.
    const pausedSocket = (paused.ws as unknown as { _socket: net.Socket })._socket;
    pausedSocket.pause();
    const sse = await stalledSse(running.urls.http, thingPath('/properties/blob/observe'), tokens.viewer);

    // 50 MB of notifications per subscriber. One shared value string: the hub's replay buffer
    // keeps references to the notifications it sent, and this measures the per-client buffers.
    const value = 'v'.repeat(60 * 1024);
    const reports = Math.ceil((50 * 1024 * 1024) / value.length);
    gc();
    const before = footprint();
    for (let i = 1; i <= reports; i++) {
      const result = await running.hub.handle({ operation: 'updateproperty', thingId: THING, name: 'blob', input: value }, { client: agent });
      assert.ok(result.ok, `report ${i}`);
      // Pace the flood to the client that reads (taking each notification, so the test client
      // keeps none), so it is never the one falling behind.
      const notification = await reader.nextNotification({ operation: 'observeproperty', name: 'blob' });
      if (notification.data === value) read++;
    }
    gc();
    const grown = footprint() - before;
    assert.ok(
      grown < 16 * 1024 * 1024,
      `heap + external grew by ${(grown / 1048576).toFixed(1)} MB while flooding ${reports} x 60 KB at two clients that do not read`,
    );

    // Once they read again, both find their connection ended by the hub; the reading one got everything.
    pausedSocket.resume();
    const closed = await Promise.race([paused.closed, timeout(5000, 'the paused WS client was not disconnected')]);
    assert.ok([1013, 1006].includes(closed.code), `close code ${closed.code}`);
    sse.socket.resume();
    await Promise.race([sse.ended, timeout(5000, 'the paused SSE client was not disconnected')]);
    assert.equal(read, reports, 'the client that reads got every notification');
    assert.equal((await reader.request({ operation: 'readproperty', thingId: THING, name: 'status' })).status, 404, 'and is still connected');
  });
});

/** heap + off-heap (Buffers) of this process: where unsent messages for a client would pile up. */
function footprint(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** The runner passes no --expose-gc; the flag can still be set at run time and gc taken from a fresh context. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
  };
}

function timeout(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(what)), ms).unref());
}

/**
 * An SSE client that stops reading once its stream is open: a raw socket that reads the response
 * head and then pauses, so everything the hub sends afterwards piles up (kernel, then hub).
 */
async function stalledSse(baseUrl: string, path: string, token: string): Promise<{ socket: net.Socket; ended: Promise<void> }> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  let head = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('stream open')) return;
      socket.off('data', onData);
      socket.pause();
      if (!head.startsWith('HTTP/1.1 200')) reject(new Error(`SSE refused: ${head}`));
      else resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`SSE closed before it opened: ${head}`)));
  });
  // Keep the paused socket consuming nothing; once resumed, drain to reach the end.
  socket.on('data', () => undefined);
  socket.pause();
  return { socket, ended };
}
