// Value history end to end: a whole hub on LevelDB records values reported over MQTT and HTTP,
// serves the same history over HTTP, WebSocket and MQTT envelopes, keeps it (and the admin's
// policy) across a restart, and records nothing with --history off.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd } from '@twinhub/binding-http/testing';
import { connectWs } from '@twinhub/binding-ws/testing';
import { connectMqtt, eventually } from '@twinhub/binding-mqtt/testing';
import type { Client, ResponseMessage } from '@twinhub/core';
import { ConfigError, resolveConfig, type RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const THING = 'urn:dev:history-e2e:lamp';
const enc = encodeURIComponent;
const AGENT: Client = { id: 'agent-1', role: 'agent' };

interface Page {
  samples: { time: string; value?: unknown; data?: unknown }[];
  next?: string;
}

describe('value history end to end', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;

  const http = async (path: string, token = tokens.viewer) => {
    const response = await jsonRequest(running.urls.http, 'GET', path, { token });
    assert.equal(response.status, 200, response.text);
    return response.body;
  };
  const levels = (page: unknown) => (page as Page).samples.map((s) => s.value);

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
    const registered = await running.hub.handle({ operation: 'updateTD', input: lampTd(THING) }, { client: AGENT });
    assert.ok(registered.ok);
  });

  after(async () => {
    await running?.close();
    await data?.remove();
  });

  it('records values reported over MQTT and HTTP and serves them alike over HTTP, WebSocket and MQTT envelopes', async () => {
    const agent = await connectMqtt(running.urls.mqtt!, { username: 'agent-1', password: tokens.agent });
    try {
      for (const level of [11, 12, 13]) await agent.publish(`things/${enc(THING)}/properties/brightness/reported`, level);
      await eventually(async () => assert.deepEqual(levels(await http(`/things/${enc(THING)}/properties/brightness/history`)), [13, 12, 11]));
    } finally {
      await agent.close(true);
    }
    const report = await jsonRequest(running.urls.http, 'PUT', `/agent/things/${enc(THING)}/properties/brightness`, { token: tokens.agent, body: 14 });
    assert.equal(report.status, 204);
    await jsonRequest(running.urls.http, 'POST', `/agent/things/${enc(THING)}/events/overheated`, { token: tokens.agent, body: 90 });

    const viaHttp = await http(`/things/${enc(THING)}/properties/brightness/history?order=oldest&limit=2`);
    const ws = await connectWs(running.urls.ws, { token: tokens.viewer });
    const mqtt = await connectMqtt(running.urls.mqtt!, { username: 'viewer-1', password: tokens.viewer });
    try {
      for (const client of [ws, mqtt]) {
        const response: ResponseMessage = await client.request({
          operation: 'readpropertyhistory',
          thingId: THING,
          name: 'brightness',
          query: { order: 'oldest', limit: 2 },
        });
        assert.equal(response.status, 200, JSON.stringify(response));
        assert.deepEqual(response.output, viaHttp, 'the same page on every binding');
        const next = await client.request({
          operation: 'readpropertyhistory',
          thingId: THING,
          name: 'brightness',
          query: { order: 'oldest', limit: 2, cursor: (response.output as Page).next! },
        });
        assert.deepEqual(levels(next.output), [13, 14]);
        const agg = await client.request({
          operation: 'readpropertyhistory',
          thingId: THING,
          name: 'brightness',
          query: { every: '1d', agg: ['min', 'max', 'count'] },
        });
        const [bucket] = (agg.output as { buckets: Record<string, unknown>[] }).buckets;
        assert.deepEqual([bucket.min, bucket.max, bucket.count], [11, 14, 4]);
        const events = await client.request({ operation: 'readeventhistory', thingId: THING, name: 'overheated' });
        assert.deepEqual(
          (events.output as Page).samples.map((s) => s.data),
          [90],
        );
        assert.equal(
          (await client.request({ operation: 'readpropertyhistory', thingId: THING, name: 'brightness', query: { every: '1d', agg: 'median' } })).status,
          400,
        );
        assert.equal((await client.request({ operation: 'updatehistorypolicy', thingId: THING, input: { maxSamples: 5 } })).status, 403);
      }
    } finally {
      await ws.close();
      await mqtt.close(true);
    }
  });

  it('history and the admin policy survive a restart of the hub', async () => {
    const policy = { properties: { brightness: { maxSamples: 500 } } };
    const put = await jsonRequest(running.urls.http, 'PUT', `/things/${enc(THING)}/history-policy`, { token: tokens.admin, body: policy });
    assert.equal(put.status, 200, put.text);
    const before = await http(`/things/${enc(THING)}/properties/brightness/history`);
    await running.close();
    running = await startTestHub(data.dir);
    assert.deepEqual(await http(`/things/${enc(THING)}/properties/brightness/history`), before);
    assert.deepEqual(levels(before), [14, 13, 12, 11]);
    const read = await jsonRequest(running.urls.http, 'GET', `/things/${enc(THING)}/history-policy`, { token: tokens.admin });
    assert.deepEqual((read.body as { policy: unknown }).policy, policy);
    // Recording goes on after the restart, after the samples written before it.
    assert.ok((await running.hub.handle({ operation: 'updateproperty', thingId: THING, name: 'brightness', input: 15 }, { client: AGENT })).ok);
    assert.deepEqual(levels(await http(`/things/${enc(THING)}/properties/brightness/history`)), [15, 14, 13, 12, 11]);
  });

  it('--history off records nothing; the settings are checked', async () => {
    const offData = await tempDataDir();
    const off = await startTestHub(offData.dir, { history: false });
    try {
      const offTokens = await createTokens(off);
      assert.ok((await off.hub.handle({ operation: 'updateTD', input: lampTd(THING) }, { client: AGENT })).ok);
      assert.ok((await off.hub.handle({ operation: 'updateproperty', thingId: THING, name: 'brightness', input: 1 }, { client: AGENT })).ok);
      const page = await jsonRequest(off.urls.http, 'GET', `/things/${enc(THING)}/properties/brightness/history`, { token: offTokens.viewer });
      assert.deepEqual(page.body, { samples: [] });
    } finally {
      await off.close();
      await offData.remove();
    }
    const config = resolveConfig({ history: 'off', 'history-retention-days': '7' }, { TWINHUB_HISTORY_MAX_SAMPLES: '500' });
    assert.deepEqual([config.history, config.historyRetentionDays, config.historyMaxSamples], [false, 7, 500]);
    assert.deepEqual([resolveConfig({}, {}).history, resolveConfig({}, {}).historyRetentionDays, resolveConfig({}, {}).historyMaxSamples], [true, 30, 10_000]);
    assert.throws(() => resolveConfig({ history: 'maybe' }, {}), ConfigError);
    assert.throws(() => resolveConfig({ 'history-max-samples': '0' }, {}), ConfigError);
  });
});
