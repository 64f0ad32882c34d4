// Twin queries end to end (issue #12): one query language on GET /things?query= and in the
// listTDs envelope over WebSocket and MQTT, with the same matches, order, cursors and refusals,
// on a hub with its LevelDB store. Values are reported by an agent over WS, tags set over HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd } from '@twinhub/binding-http/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import { connectMqtt, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import type { ResponseMessage, ThingDescription } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const enc = encodeURIComponent;
const THINGS = ['urn:e2e:q:a', 'urn:e2e:q:b', 'urn:e2e:q:c', 'urn:e2e:q:d'];

const idsOf = (output: unknown) => (output as ThingDescription[]).map((td) => td.id);

describe('twin queries on HTTP, WebSocket and MQTT', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let wsAgent: WsTestClient;
  let wsViewer: WsTestClient;
  let mqttOperator: MqttTestClient;

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
    wsAgent = await connectWs(running.urls.ws, { token: tokens.agent });
    wsViewer = await connectWs(running.urls.ws, { token: tokens.viewer });
    mqttOperator = await connectMqtt(running.urls.mqtt!, { username: 'operator-1', password: tokens.operator });
    // Brightness 10, 40, 70, 100; titles in reverse order of the ids.
    for (const [i, id] of THINGS.entries()) {
      const td = { ...lampTd(id), title: `Lamp ${String.fromCharCode(122 - i)}`, '@type': i % 2 ? 'Dimmer' : 'Light' };
      assert.equal((await wsAgent.request({ operation: 'updateTD', input: td })).status, 201);
      assert.equal((await wsAgent.request({ operation: 'updateproperty', thingId: id, name: 'brightness', input: 10 + 30 * i })).status, 204);
    }
    const tagged = await jsonRequest(running.urls.http, 'PUT', `/things/${enc(THINGS[1])}/tags`, { token: tokens.operator, body: { zone: 'north' } });
    assert.equal(tagged.status, 200, tagged.text);
  });

  after(async () => {
    await wsAgent?.close();
    await wsViewer?.close();
    await mqttOperator?.close(true).catch(() => undefined);
    await running?.close();
    await data?.remove();
  });

  const filter = "@.type[?@ == 'Light' || @ == 'Dimmer'] && @.reported.brightness >= 40";

  it('answers the same query alike on HTTP, WS and MQTT', async () => {
    const http = await jsonRequest(running.urls.http, 'GET', `/things?query=${enc(filter)}&sort_by=/title`, { token: tokens.viewer });
    assert.equal(http.status, 200, http.text);
    const expected = ['urn:e2e:q:d', 'urn:e2e:q:c', 'urn:e2e:q:b'];
    assert.deepEqual(idsOf(http.body), expected);
    const ws = await wsViewer.request({ operation: 'listTDs', query: { filter, sort: { by: '/title' } } });
    assert.equal(ws.status, 200);
    assert.deepEqual(idsOf(ws.output), expected);
    assert.equal(ws.total, 3);
    assert.deepEqual(ws.page?.plan, { kind: 'index', indexes: ['type in [Light,Dimmer]'], candidates: 4, evaluated: 4 });
    const mqtt = (await mqttOperator.request({ operation: 'listTDs', query: { filter, sort: { by: '/title' } } })) as ResponseMessage;
    assert.equal(mqtt.status, 200);
    assert.deepEqual(idsOf(mqtt.output), expected);
  });

  it('pages with the cursor over WS (metadata only, descending)', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await wsViewer.request({
        operation: 'listTDs',
        query: {
          filter: '@.reported.brightness',
          sort: { by: '/reported/brightness', order: 'desc' },
          limit: 3,
          metadataOnly: true,
          ...(cursor ? { cursor } : {}),
        },
      });
      assert.equal(page.status, 200, JSON.stringify(page.error));
      seen.push(...(page.output as { thingId: string }[]).map((m) => m.thingId));
      cursor = page.page?.next;
    } while (cursor);
    assert.deepEqual(seen, [...THINGS].reverse());
  });

  it('refuses a bad query (400) and an agent naming tags (403) over WS; the agent sees only its own Things', async () => {
    const bad = await wsViewer.request({ operation: 'listTDs', query: { filter: '@.reported.brightness >' } });
    assert.equal(bad.status, 400);
    assert.match(bad.error?.detail ?? '', /position/);
    assert.equal((await wsAgent.request({ operation: 'listTDs', query: { filter: "@.tags.zone == 'north'" } })).status, 403);
    assert.deepEqual(idsOf((await wsViewer.request({ operation: 'listTDs', query: { filter: "@.tags.zone == 'north'" } })).output), [THINGS[1]]);
    const other = await connectWs(running.urls.ws, { token: tokens.otherAgent });
    try {
      const mine = await other.request({ operation: 'listTDs', query: { filter: '@.reported.brightness > 0' } });
      assert.equal(mine.status, 200);
      assert.deepEqual(mine.output, []);
    } finally {
      await other.close();
    }
  });

  it('matches presence: the agent is connected while its WS session receives requests', async () => {
    assert.equal((await wsAgent.request({ operation: 'subscriberequests' })).status, 204);
    const res = await jsonRequest(running.urls.http, 'GET', `/things?query=${enc('@.presence.connected == true')}`, { token: tokens.viewer });
    assert.deepEqual(idsOf(res.body), THINGS);
  });
});
