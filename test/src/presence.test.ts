// Presence end to end (issue #10): readtwin and GET /agents show an agent connected over WS, then
// disconnected with lastSeen; agent_connected / agent_disconnected reach directory subscribers on
// /events (SSE), WebSocket and MQTT, never an unrelated agent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd, openSse, type SseConnection } from '@twinhub/binding-http/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import { connectMqtt, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import type { AgentPresence, NotificationMessage } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const LAMP = 'urn:dev:presence:lamp'; // agent-1's
const OTHER = 'urn:dev:presence:other'; // agent-2's
const enc = encodeURIComponent;

interface AgentRecord extends AgentPresence {
  things: string[];
}

describe('presence: readtwin, /agents and agent notifications on every binding', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let sse: SseConnection;
  let wsViewer: WsTestClient;
  let wsOther: WsTestClient;
  let mqttOperator: MqttTestClient;
  const get = async <T>(path: string, token: string | null = tokens.viewer) => {
    const response = await jsonRequest(running.urls.http, 'GET', path, { token });
    return { status: response.status, body: response.body as T };
  };
  const isAgent = (operation: string) => (n: NotificationMessage) => n.operation === operation && n.agentId === 'agent-1';

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
    await running.hub.handle({ operation: 'updateTD', input: lampTd(LAMP) }, { client: { id: 'agent-1', role: 'agent' } });
    await running.hub.handle({ operation: 'updateTD', input: lampTd(OTHER) }, { client: { id: 'agent-2', role: 'agent' } });
    sse = await openSse(running.urls.http, '/events', { token: tokens.viewer });
    wsViewer = await connectWs(running.urls.ws, { token: tokens.viewer });
    wsOther = await connectWs(running.urls.ws, { token: tokens.otherAgent });
    mqttOperator = await connectMqtt(running.urls.mqtt!, { username: 'operator-1', password: tokens.operator });
    for (const client of [wsViewer, wsOther, mqttOperator]) assert.equal((await client.request({ operation: 'subscribedirectory' })).status, 204);
  });

  after(async () => {
    sse?.close();
    await wsViewer?.close();
    await wsOther?.close();
    await mqttOperator?.close(true).catch(() => undefined);
    await running?.close();
    await data?.remove();
  });

  it('an agent connecting over WS and leaving: presence in readtwin and /agents, notifications to those who may see its Things only', async () => {
    const twinBefore = await get<{ presence: AgentPresence }>(`/things/${enc(LAMP)}/twin`);
    assert.equal(twinBefore.status, 200);
    assert.equal(twinBefore.body.presence.connected, false);

    const agent = await connectWs(running.urls.ws, { token: tokens.agent });
    assert.equal((await agent.request({ operation: 'subscriberequests' })).status, 204);

    const connected = await wsViewer.nextNotification(isAgent('agent_connected'));
    assert.equal((connected.data as AgentPresence).connected, true);
    assert.equal((await mqttOperator.nextNotification(isAgent('agent_connected'))).operation, 'agent_connected');
    const sseConnected = await sse.next();
    assert.equal(sseConnected.event, 'agent_connected');
    assert.deepEqual(JSON.parse(sseConnected.data), connected.data);
    assert.equal(sseConnected.id, String(connected.seq));

    const twin = await get<{ presence: AgentPresence }>(`/things/${enc(LAMP)}/twin`);
    assert.equal(twin.body.presence.connected, true);
    assert.equal(twin.body.presence.sessions, 1);
    assert.ok(twin.body.presence.since);
    const record = await get<AgentRecord>('/agents/agent-1');
    assert.equal(record.status, 200);
    assert.deepEqual(
      { ...record.body, since: undefined, lastSeen: undefined },
      {
        agentId: 'agent-1',
        connected: true,
        sessions: 1,
        since: undefined,
        lastSeen: undefined,
        things: [LAMP],
      },
    );
    const list = await jsonRequest(running.urls.http, 'GET', '/agents', { token: tokens.operator });
    assert.deepEqual(
      (list.body as AgentRecord[]).map((a) => [a.agentId, a.connected, a.things]),
      [
        ['agent-1', true, [LAMP]],
        ['agent-2', false, [OTHER]],
      ],
    );
    assert.equal(list.headers.get('x-total-count'), '2');

    await agent.close();
    const disconnected = await wsViewer.nextNotification(isAgent('agent_disconnected'));
    assert.equal((disconnected.data as AgentPresence).connected, false);
    assert.ok((disconnected.data as AgentPresence).lastSeen);
    await mqttOperator.nextNotification(isAgent('agent_disconnected'));
    assert.equal((await sse.next()).event, 'agent_disconnected');
    const after = await get<AgentRecord>('/agents/agent-1');
    assert.equal(after.body.connected, false);
    assert.equal(after.body.sessions, 0);
    assert.equal(after.body.since, undefined);
    assert.ok(after.body.lastSeen && !Number.isNaN(Date.parse(after.body.lastSeen)));
    assert.equal((await get<{ presence: AgentPresence }>(`/things/${enc(LAMP)}/twin`)).body.presence.lastSeen, after.body.lastSeen);

    // agent-2 subscribed to the directory too, and got none of agent-1's presence: its next
    // directory notification is about its own Thing.
    await running.hub.handle({ operation: 'patchTD', thingId: OTHER, input: { description: 'touched' } }, { client: { id: 'agent-2', role: 'agent' } });
    const next = await wsOther.nextNotification();
    assert.equal(next.operation, 'thing_updated');
    assert.equal(next.thingId, OTHER);
  });

  it('an agent sees only itself under /agents', async () => {
    const own = await get<AgentRecord[]>('/agents', tokens.otherAgent);
    assert.deepEqual(
      own.body.map((a) => a.agentId),
      ['agent-2'],
    );
    const foreign = await get<{ detail: string }>('/agents/agent-1', tokens.otherAgent);
    assert.equal(foreign.status, 403);
    assert.match(foreign.body.detail, /may only readagent itself/);
    assert.equal((await get('/agents/nobody')).status, 404);
    assert.equal((await get('/agents', null)).status, 401);
  });
});
