// Resource hardening of the hub's HTTP port (REST, SSE and WebSocket on one node:http server):
// backlogs drain through flow control, unauthenticated sockets are bounded and timed out, oversized
// headers get 431, and failed authentications are logged sparingly and slowed down.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, jsonRequest, lampTd, openSse } from '@twinhub/binding-http/test-helpers';
import { connectWs } from '@twinhub/binding-ws/test-helpers';
import { DEFAULT_LIMITS, type ActionRecord, type AgentRequestMessage, type Client, type HubLimits } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

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
  cleanups.push(() => data.remove(), () => running.close());
  const tokens = await createTokens(running);
  const registered = await jsonRequest(running.urls.http, 'PUT', `/things/${enc(THING)}`, { token: tokens.agent, body: lampTd(THING) });
  assert.equal(registered.status, 201, registered.text);
  return { running, tokens };
}

describe('backlog delivery with flow control', { timeout: 120_000 }, () => {
  it('delivers 5,000 queued requests (over 4 x maxSendBufferBytes) to an SSE agent, then a WS agent, in order, once each, on one connection', async (t) => {
    const { running, tokens } = await hubWith({ maxQueuedActionsPerThing: 10_000 });
    const operator = (await running.hub.authenticate(tokens.operator)) as Client;
    const pad = 'p'.repeat(1000);
    const invoke = async (level: number) => {
      const result = await running.hub.handle({ operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: level % 100, pad } }, { client: operator });
      assert.ok(result.ok, `request ${level}`);
      return (result.output as ActionRecord).actionId;
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
