// Agents and consumers on different bindings of one hub: an agent on MQTT observed over SSE, WS
// and HTTP; an agent on WS observed over MQTT; actions invoked while the agent is offline reach it
// when it reconnects (over MQTT and over WS), and their completion reaches the invoking consumer.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd, openSse, type SseConnection } from '@twinhub/binding-http/testing';
import { connectMqtt, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import type { RequestRecord, NotificationMessage } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const MQTT_LAMP = 'urn:dev:ops:cross-mqtt-lamp';
const WS_LAMP = 'urn:dev:ops:cross-ws-lamp';
const enc = encodeURIComponent;

describe('bindings mixed on one hub', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const closers: Array<() => unknown> = [];

  const mqttAs = async (username: string, password: string, options: { clientId?: string; clean?: boolean } = {}) => {
    const client = await connectMqtt(running.urls.mqtt!, { username, password, ...options });
    closers.push(() => client.close(true));
    return client;
  };
  const wsAs = async (token: string) => {
    const client = await connectWs(running.urls.ws, { token });
    closers.push(() => client.close());
    return client;
  };
  const sseAs = async (path: string, token: string) => {
    const stream = await openSse(running.urls.http, path, { token });
    closers.push(() => stream.close());
    return stream;
  };
  const ok = async <T extends { status: number }>(promise: Promise<T>): Promise<T> => {
    const response = await promise;
    assert.ok(response.status < 300, JSON.stringify(response));
    return response;
  };

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
  });

  after(async () => {
    for (const close of closers) await close();
    await running.close();
    await data.remove();
  });

  it('agent on MQTT, consumers on SSE, WS and HTTP see the same reported value', async () => {
    const agent = await mqttAs('agent-1', tokens.agent);
    await ok(agent.request({ operation: 'updateTD', input: lampTd(MQTT_LAMP) }));

    const sse: SseConnection = await sseAs(`/things/${enc(MQTT_LAMP)}/properties/brightness/observe`, tokens.viewer);
    const ws: WsTestClient = await wsAs(tokens.viewer);
    await ok(ws.request({ operation: 'observeproperty', thingId: MQTT_LAMP, name: 'brightness' }));

    await agent.publish(`things/${enc(MQTT_LAMP)}/properties/brightness/reported`, 64);

    assert.equal(JSON.parse((await sse.next()).data), 64, 'SSE consumer');
    const notification = await ws.nextNotification({ operation: 'observeproperty', thingId: MQTT_LAMP, name: 'brightness' });
    assert.equal(notification.data, 64, 'WS consumer');
    const read = await jsonRequest(running.urls.http, 'GET', `/things/${enc(MQTT_LAMP)}/properties/brightness`, { token: tokens.viewer });
    assert.equal(read.body, 64, 'HTTP consumer');
  });

  it('agent on WS, consumer on MQTT sees the reported value and event', async () => {
    const agent = await wsAs(tokens.agent);
    await ok(agent.request({ operation: 'updateTD', input: lampTd(WS_LAMP) }));
    const consumer = await mqttAs('viewer-1', tokens.viewer);
    await consumer.subscribe([`things/${enc(WS_LAMP)}/properties/brightness`, `things/${enc(WS_LAMP)}/events/overheated`]);

    await ok(agent.request({ operation: 'updateproperty', thingId: WS_LAMP, name: 'brightness', input: 12 }));
    await ok(agent.request({ operation: 'publishevent', thingId: WS_LAMP, name: 'overheated', input: 91.5 }));

    const value = await consumer.nextMessage(`things/${enc(WS_LAMP)}/properties/brightness`);
    assert.equal(value.json(), 12);
    const event = await consumer.nextMessage(`things/${enc(WS_LAMP)}/events/overheated`);
    assert.equal(event.json(), 91.5);
  });

  it('an action invoked over WS while the MQTT agent is offline is delivered when it reconnects; the WS consumer sees it complete', async () => {
    const consumer = await wsAs(tokens.operator);
    const invoked = await ok(consumer.request({ operation: 'invokeaction', thingId: MQTT_LAMP, name: 'fade', input: { level: 40 } }));
    const { actionId } = invoked.output as RequestRecord;

    const agent = await mqttAs('agent-1', tokens.agent);
    await agent.subscribe('agents/agent-1/requests', 1);
    const request = await agent.nextAgentRequest();
    assert.deepEqual([request.actionId, request.name, request.input], [actionId, 'fade', { level: 40 }]);
    await ok(agent.request({ operation: 'updateactionstatus', actionId, input: { status: 'completed', output: { reached: 40 } } }));

    const done = await consumer.nextNotification(
      (n: NotificationMessage) => n.operation === 'actionstatus' && (n.data as RequestRecord).status === 'completed',
    );
    assert.equal((done.data as RequestRecord).actionId, actionId);
    assert.deepEqual((done.data as RequestRecord).output, { reached: 40 });
  });

  it('an action invoked over MQTT while the WS agent is offline is delivered when it reconnects; the MQTT consumer sees it complete', async () => {
    const consumer = await mqttAs('operator-1', tokens.operator);
    const invoked = await ok(consumer.request({ operation: 'invokeaction', thingId: WS_LAMP, name: 'fade', input: { level: 7 } }));
    const { actionId } = invoked.output as RequestRecord;

    const agent = await wsAs(tokens.agent);
    await ok(agent.request({ operation: 'subscriberequests' }));
    const request = await agent.nextAgentRequest();
    assert.deepEqual([request.actionId, request.input], [actionId, { level: 7 }]);
    await ok(agent.request({ operation: 'updateactionstatus', actionId, input: { status: 'completed', output: { reached: 7 } } }));

    const done = await consumer.nextNotification((n) => n.operation === 'actionstatus' && (n.data as RequestRecord).status === 'completed');
    assert.equal((done.data as RequestRecord).actionId, actionId);
  });

  it('an action invoked over HTTP reaches an MQTT agent with a persistent session, once, after a reconnect', async () => {
    const first: MqttTestClient = await mqttAs('agent-1', tokens.agent, { clientId: 'agent-1-lamp', clean: false });
    await first.subscribe('agents/agent-1/requests', 1);
    await first.close(true); // network drop: the broker keeps the session and its subscription
    const invoked = await jsonRequest(running.urls.http, 'POST', `/things/${enc(MQTT_LAMP)}/actions/fade`, { token: tokens.operator, body: { level: 3 } });
    assert.equal(invoked.status, 201, invoked.text);
    const { actionId } = invoked.body as RequestRecord;

    const again = await mqttAs('agent-1', tokens.agent, { clientId: 'agent-1-lamp', clean: false });
    const request = await again.nextAgentRequest();
    assert.equal(request.actionId, actionId);
    await ok(again.request({ operation: 'updateactionstatus', actionId, input: { status: 'completed', output: { reached: 3 } } }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const copies = again.received.filter((m) => m.topic === 'agents/agent-1/requests' && (m.json() as { actionId: string }).actionId === actionId);
    assert.equal(copies.length, 1, 'delivered exactly once');
    const status = await jsonRequest(running.urls.http, 'GET', new URL(invoked.headers.get('location')!, running.urls.http).pathname, {
      token: tokens.operator,
    });
    assert.equal((status.body as RequestRecord).status, 'completed');
  });
});
