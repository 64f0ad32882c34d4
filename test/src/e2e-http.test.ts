// The walking skeleton end to end over real HTTP and SSE, on a LevelDB data folder: register,
// query, write while the agent is offline, deliver on connect, observe the reported change;
// invoke while offline, restart the hub, deliver, complete; expired and cancelled never delivered.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd, openSse, type SseConnection } from '@twinhub/binding-http/testing';
import type { RequestRecord, AgentRequestMessage } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const THING = 'urn:dev:ops:e2e-lamp';
const path = (suffix = '') => `/things/${encodeURIComponent(THING)}${suffix}`;

describe('HTTP + SSE end to end, across a restart', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const streams: SseConnection[] = [];
  const call = (method: string, route: string, token: string, body?: unknown, headers?: Record<string, string>) =>
    jsonRequest(running.urls.http, method, route, { token, ...(body !== undefined ? { body } : {}), ...(headers ? { headers } : {}) });
  const sse = async (route: string, token: string) => {
    const stream = await openSse(running.urls.http, route, { token });
    streams.push(stream);
    return stream;
  };
  const requestsFrom = (stream: SseConnection) => stream.events.filter((e) => e.event === 'request').map((e) => JSON.parse(e.data) as AgentRequestMessage);

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { mqtt: false });
    tokens = await createTokens(running);
  });

  after(async () => {
    for (const stream of streams) stream.close();
    await running.close();
    await data.remove();
  });

  it('registers a TD and finds it by agent and by @type, with forms pointing at the hub', async () => {
    const created = await call('PUT', path(), tokens.agent, lampTd(THING));
    assert.equal(created.status, 201, created.text);
    for (const query of ['agent=agent-1', 'type=Light']) {
      const list = await call('GET', `/things?${query}`, tokens.viewer);
      assert.equal(list.status, 200);
      assert.deepEqual(
        (list.body as Array<{ id: string }>).map((td) => td.id),
        [THING],
        query,
      );
    }
    const none = await call('GET', '/things?type=Thermostat', tokens.viewer);
    assert.deepEqual(none.body, []);
    const td = (await call('GET', path(), tokens.viewer)).body as { properties: Record<string, { forms: Array<{ href: string }> }> };
    const hrefs = td.properties.brightness.forms.map((f) => f.href);
    assert.ok(
      hrefs.some((href) => href.startsWith(running.urls.http)),
      `forms point at the hub: ${hrefs.join(', ')}`,
    );
  });

  it('queues a write for the offline agent, delivers it on connect, and streams the reported value', async () => {
    const observer = await sse(path('/properties/brightness/observe'), tokens.viewer);
    const write = await call('PUT', path('/properties/brightness'), tokens.operator, 80);
    assert.equal(write.status, 202, write.text);
    const record = write.body as RequestRecord;
    assert.equal(record.status, 'pending');

    const agentStream = await sse('/agent/requests', tokens.agent);
    const request = await agentStream.next();
    const delivered = JSON.parse(request.data) as AgentRequestMessage;
    assert.deepEqual([delivered.operation, delivered.name, delivered.input, delivered.actionId], ['writeproperty', 'brightness', 80, record.actionId]);

    assert.equal((await call('POST', `/agent/requests/${record.actionId}`, tokens.agent, { status: 'completed' })).status, 200);
    assert.equal((await call('PUT', `/agent${path('/properties/brightness')}`, tokens.agent, 80)).status, 204);
    const change = await observer.next();
    assert.equal(JSON.parse(change.data), 80);
    assert.equal((await call('GET', path('/properties/brightness'), tokens.viewer)).body, 80);
    agentStream.close();
  });

  it('keeps an action invoked while the agent is offline across a restart, then delivers and completes it', async () => {
    const invoked = await call('POST', path('/actions/fade'), tokens.operator, { level: 30 });
    assert.equal(invoked.status, 201, invoked.text);
    const location = invoked.headers.get('location');
    assert.ok(location, 'invokeaction answers with a Location');
    const { actionId } = invoked.body as RequestRecord;
    const expiring = (await call('POST', `${path('/actions/fade')}?ttl=1`, tokens.operator, { level: 1 })).body as RequestRecord;
    const cancelled = (await call('POST', path('/actions/fade'), tokens.operator, { level: 2 })).body as RequestRecord;
    assert.equal((await call('DELETE', path(`/actions/fade/${cancelled.actionId}`), tokens.operator)).status, 200);

    await running.close();
    await new Promise((resolve) => setTimeout(resolve, 1100)); // let the 1 s TTL pass while the hub is down
    running = await startTestHub(data.dir, { mqtt: false });

    const agentStream = await sse('/agent/requests', tokens.agent);
    const first = JSON.parse((await agentStream.next()).data) as AgentRequestMessage;
    assert.equal(first.actionId, actionId);
    assert.deepEqual(first.input, { level: 30 });
    const done = await call('POST', `/agent/requests/${actionId}`, tokens.agent, { status: 'completed', output: { reached: 30 } });
    assert.equal(done.status, 200, done.text);

    const queried = await jsonRequest(running.urls.http, 'GET', new URL(location!, running.urls.http).pathname, { token: tokens.operator });
    assert.equal((queried.body as RequestRecord).status, 'completed');
    assert.deepEqual((queried.body as RequestRecord).output, { reached: 30 });
    assert.equal(((await call('GET', path(`/actions/fade/${expiring.actionId}`), tokens.operator)).body as RequestRecord).status, 'expired');
    assert.equal(((await call('GET', path(`/actions/fade/${cancelled.actionId}`), tokens.operator)).body as RequestRecord).status, 'cancelled');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      requestsFrom(agentStream).map((r) => r.actionId),
      [actionId],
      'expired and cancelled requests never reach the agent',
    );
  });

  it('refuses wrong or missing tokens with 401 and forbidden operations with 403', async () => {
    const missing = await jsonRequest(running.urls.http, 'GET', '/things', { token: null });
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    assert.equal((await call('GET', '/things', 'th_not-a-token')).status, 401);
    const forbidden = await call('PUT', path('/properties/brightness'), tokens.viewer, 10);
    assert.equal(forbidden.status, 403);
    assert.match((forbidden.body as { detail: string }).detail, /viewer/);
    const foreign = await call('PUT', `/agent${path('/properties/brightness')}`, tokens.otherAgent, 10);
    assert.equal(foreign.status, 403);
    const wrongType = await call('PUT', path('/properties/brightness'), tokens.operator, 'very bright');
    assert.equal(wrongType.status, 400);
    const actions = (await call('GET', path('/actions'), tokens.operator)).body as RequestRecord[];
    assert.ok(!actions.some((a) => a.input === 'very bright'), 'nothing is queued for an invalid value');
  });
});
