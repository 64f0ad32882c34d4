// Resource hardening of the hub's HTTP port (REST, SSE and WebSocket on one node:http server):
// backlogs drain through flow control, unauthenticated sockets are bounded and timed out, oversized
// headers get 431, and failed authentications are logged sparingly and slowed down.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { captureLogs } from '@twinhub/testkit';
import { eventually, jsonRequest, lampTd, openSse } from '@twinhub/binding-http/testing';
import { connectWs, refusedUpgrade } from '@twinhub/binding-ws/testing';
import { DEFAULT_LIMITS, type RequestRecord, type AgentRequestMessage, type Client, type HubLimits } from '@twinhub/core';
import { startHub, type HubConfig, type RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, testConfig, type Tokens } from './support.js';

const THING = 'urn:dev:ops:hardening-lamp';
const enc = encodeURIComponent;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** A hub (in-memory store, HTTP + WS) with these limits, the lamp registered by agent-1. */
async function hubWith(limits: Partial<HubLimits> = {}): Promise<{ running: RunningHub; tokens: Tokens }> {
  const data = await tempDataDir();
  const running = await startTestHub(data.dir, { memory: true, mqtt: false, limits: { ...DEFAULT_LIMITS, ...limits } });
  cleanups.push(
    () => data.remove(),
    () => running.close(),
  );
  const tokens = await createTokens(running);
  const registered = await jsonRequest(running.urls.http, 'PUT', `/things/${enc(THING)}`, { token: tokens.agent, body: lampTd(THING) });
  assert.equal(registered.status, 201, registered.text);
  return { running, tokens };
}

describe('backlog delivery with flow control', { timeout: 120_000 }, () => {
  it('delivers 5,000 queued requests (over 4 x maxSendBufferBytes) to an SSE agent, then a WS agent, in order, once each, on one connection', async (t) => {
    const { running, tokens } = await hubWith({ maxQueuedRequestsPerThing: 10_000 });
    const operator = (await running.hub.authenticate(tokens.operator)) as Client;
    const pad = 'p'.repeat(1000);
    const invoke = async (level: number) => {
      const result = await running.hub.handle(
        { operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: level % 100, pad } },
        { client: operator },
      );
      assert.ok(result.ok, `request ${level}`);
      return (result.output as RequestRecord).actionId;
    };
    const queued: string[] = [];
    for (let start = 0; start < 5000; start += 500) {
      queued.push(...(await Promise.all(Array.from({ length: 500 }, (_, i) => invoke(start + i)))));
    }
    const backlogBytes = queued.length * (pad.length + 200);
    assert.ok(backlogBytes > 4 * DEFAULT_LIMITS.maxSendBufferBytes, 'the backlog is more than four send bounds');

    // SSE: one stream receives the whole backlog, then a live request behind it.
    let began = Date.now();
    const sse = await openSse(running.urls.http, '/agent/requests', { token: tokens.agent });
    assert.equal(sse.status, 200, sse.body);
    await eventually(() => sse.events.length >= queued.length, `${queued.length} requests on the SSE stream`, 60_000);
    t.diagnostic(`SSE: ${sse.events.length} requests in ${Date.now() - began} ms`);
    const live = await invoke(5000);
    await eventually(() => sse.events.length === queued.length + 1, 'the live request behind the backlog', 10_000);
    assert.deepEqual(
      sse.events.map((event) => event.id),
      [...queued, live],
      'every request once, oldest first, the live one last',
    );
    assert.deepEqual((JSON.parse(sse.events[0].data) as AgentRequestMessage).input, { level: 0, pad });
    sse.close();
    await eventually(() => !running.hub.presence('agent-1').connected, 'the SSE session to close');

    // WS: a new connection gets every unacknowledged request again, in order, on one socket.
    began = Date.now();
    const ws = await connectWs(running.urls.ws, { token: tokens.agent });
    cleanups.push(() => ws.close());
    assert.equal((await ws.request({ operation: 'subscriberequests' })).status, 204);
    const received: string[] = [];
    for (let i = 0; i <= queued.length; i++) received.push((await ws.nextAgentRequest(30_000)).actionId);
    t.diagnostic(`WS: ${received.length} requests in ${Date.now() - began} ms`);
    const liveWs = await invoke(5001);
    received.push((await ws.nextAgentRequest()).actionId);
    assert.deepEqual(received, [...queued, live, liveWs]);
    assert.equal((await ws.request({ operation: 'retrieveTD', thingId: THING })).status, 200, 'the socket is still open');
  });
});

/** A hub with these settings whose warn+ log lines are collected (parsed JSON). */
async function loggedHub(
  overrides: Partial<HubConfig>,
): Promise<{ running: RunningHub; tokens: Tokens; logs(): Array<Record<string, unknown>>; raw: string[] }> {
  const data = await tempDataDir();
  const { logger, raw, records } = captureLogs('warn');
  const running = await startHub(testConfig(data.dir, { memory: true, mqtt: false, ...overrides }), logger);
  cleanups.push(
    () => data.remove(),
    () => running.close(),
  );
  const tokens = await createTokens(running);
  return {
    running,
    tokens,
    raw,
    logs: () => records,
  };
}

/**
 * A TCP socket to the hub's HTTP port that has sent nothing; `closed` resolves when the hub closes it,
 * `answer()` is what the hub sent before (a 408 when node:http's headersTimeout came first).
 */
async function idleSocket(url: string): Promise<{ socket: net.Socket; closed: Promise<void>; isClosed(): boolean; answer(): string }> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  // Read whatever the hub answers: a socket left unread never sees the hub's FIN behind an unread
  // 408, and would stay open for good once the hub stopped reading too.
  let answer = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (answer += chunk));
  let done = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve())).then(() => {
    done = true;
  });
  await once(socket, 'connect');
  cleanups.push(async () => socket.destroy());
  return { socket, closed, isClosed: () => done, answer: () => answer };
}

/** Sends raw bytes on a new socket and resolves with everything the hub answered before closing. */
async function rawExchange(url: string, request: string): Promise<{ answer: string; error?: string }> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let answer = '';
  let error: string | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
  socket.write(request);
  await once(socket, 'close');
  return { answer, ...(error ? { error } : {}) };
}

describe('unauthenticated sockets', { timeout: 60_000 }, () => {
  it('bounds sockets that never authenticate: the oldest beyond the bound are closed, authenticated clients keep working', async () => {
    const { running, tokens } = await loggedHub({ maxPendingConnections: 20, handshakeTimeoutSeconds: 30 });
    // An authenticated keep-alive client and a WebSocket, connected before the flood.
    const agentWs = await connectWs(running.urls.ws, { token: tokens.agent });
    cleanups.push(() => agentWs.close());
    const before = await jsonRequest(running.urls.http, 'GET', '/things', { token: tokens.viewer });
    assert.equal(before.status, 200);

    const idle: Array<Awaited<ReturnType<typeof idleSocket>>> = [];
    for (let i = 0; i < 30; i++) idle.push(await idleSocket(running.urls.http));
    await eventually(() => idle.filter((s) => s.isClosed()).length === 10, 'the 10 sockets beyond the bound to be closed', 5000);
    assert.ok(
      idle.slice(0, 10).every((s) => s.isClosed()),
      'the oldest ones went',
    );
    assert.ok(
      idle.slice(10).every((s) => !s.isClosed()),
      'the newest 20 stay until their timeout',
    );

    // A new client that authenticates still gets in (evicting one more idle socket), and the
    // authenticated connections made before the flood are untouched.
    const during = await jsonRequest(running.urls.http, 'GET', '/things', { token: tokens.viewer });
    assert.equal(during.status, 200, during.text);
    const ws = await connectWs(running.urls.ws, { token: tokens.operator });
    cleanups.push(() => ws.close());
    assert.equal((await ws.request({ operation: 'listTDs' })).status, 200);
    assert.equal((await agentWs.request({ operation: 'listTDs' })).status, 200);
  });

  it('closes a socket that sends nothing, or not all of its headers, within the handshake timeout; authenticated streams stay', async () => {
    const { running, tokens } = await loggedHub({ handshakeTimeoutSeconds: 1 });
    const sse = await openSse(running.urls.http, '/agent/requests', { token: tokens.agent });
    assert.equal(sse.status, 200);
    let sseEnded = false;
    void sse.ended.then(() => (sseEnded = true));
    const ws = await connectWs(running.urls.ws, { token: tokens.viewer });
    cleanups.push(() => ws.close());
    const silent = await idleSocket(running.urls.http);
    const slow = await idleSocket(running.urls.http);
    slow.socket.write('GET /things HTTP/1.1\r\nHost: hub\r\n');
    // Trickling a header line now and then (slowloris) does not keep it open past headersTimeout.
    const trickle = setInterval(() => slow.socket.write('X-Slow: 1\r\n'), 300);
    await Promise.all([silent.closed, slow.closed]);
    clearInterval(trickle);
    // Whichever timer closed them (the hub's handshake timeout or node:http's headersTimeout), an
    // answer, if any, is a 408 problem (RFC 9110 §15.5.9).
    for (const socket of [silent, slow]) {
      if (socket.answer() !== '') assert.match(socket.answer(), /^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*"status":408/);
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await ws.request({ operation: 'listTDs' })).status, 200, 'an authenticated WebSocket outlives the timeout');
    assert.ok(!sseEnded, 'an authenticated SSE stream outlives the timeout');
    sse.close();
  });
});

describe('oversized request headers', () => {
  it('answers 431 with a problem (RFC 6585 §5), on plain requests and WebSocket upgrades, without a reset', async () => {
    const { running } = await hubWith();
    const padding = Array.from({ length: 40 }, (_, i) => `X-Pad-${i}: ${'a'.repeat(1000)}\r\n`).join('');
    for (const head of ['GET /things HTTP/1.1\r\nHost: hub\r\n', 'GET /ws HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n']) {
      const { answer, error } = await rawExchange(running.urls.http, `${head}${padding}\r\n`);
      assert.equal(error, undefined, 'no connection reset');
      assert.match(answer, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      assert.match(answer, /\r\nContent-Type: application\/problem\+json\r\n/i);
      const problem = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { status: number; detail: string };
      assert.equal(problem.status, 431);
      assert.match(problem.detail, /exceed \d+ bytes/);
    }
  });
});

describe('failed authentications', { timeout: 60_000 }, () => {
  it('logs them at warn, at most one line per address per interval, never the token; WS too', async () => {
    const { running, tokens, logs, raw } = await loggedHub({});
    const guess = 'th_guessed-secret-token-value';
    for (let i = 0; i < 3; i++) assert.equal((await jsonRequest(running.urls.http, 'GET', '/things', { token: guess })).status, 401);
    assert.equal((await jsonRequest(running.urls.http, 'GET', '/things', { token: tokens.viewer })).status, 200);
    const failures = () => logs().filter((line) => line.msg === 'authentication failed');
    assert.equal(failures().length, 1, 'one line for three failures within the interval');
    assert.deepEqual(
      { level: failures()[0].level, remoteAddress: failures()[0].remoteAddress, binding: failures()[0].binding, failures: failures()[0].failures },
      { level: 40, remoteAddress: '127.0.0.1', binding: 'http', failures: 1 },
    );
    // A WebSocket failure from the same address is counted with them, but not logged again yet.
    const refused = await refusedUpgrade(running.urls.ws, { token: guess });
    assert.equal(refused.status, 401);
    assert.equal(failures().length, 1);
    assert.ok(!raw.join('').includes(guess), 'the token never reaches the log');
    assert.ok(!raw.join('').includes(tokens.viewer));
  });

  it('slows down repeated failures from one address with a growing delay before the 401', async () => {
    const { running, tokens } = await loggedHub({});
    const elapsed: number[] = [];
    for (let i = 0; i < 5; i++) {
      const began = performance.now();
      const sse = await openSse(running.urls.http, '/agent/requests', { token: `th_wrong-${i}` });
      assert.equal(sse.status, 401);
      elapsed.push(performance.now() - began);
    }
    // Delays 0, 100, 200, 400, 800 ms: each at least its delay (timers never fire early).
    assert.ok(elapsed[4] >= 700, `the fifth failure waited ${elapsed[4].toFixed(0)} ms`);
    assert.ok(elapsed[4] > elapsed[1], 'the delay grows');
    const ok = await jsonRequest(running.urls.http, 'GET', '/things', { token: tokens.viewer });
    assert.equal(ok.status, 200, 'a valid token from the same address is answered');
  });
});
