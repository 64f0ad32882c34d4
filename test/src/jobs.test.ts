// Fleet jobs end to end on a whole hub (LevelDB, every binding): a job created over MQTT, read
// over WebSocket and HTTP, its requests taken by an agent on WebSocket while another agent is
// offline; the counts survive a restart, and the offline agent's requests reach it over MQTT.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectMqtt, eventually, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import { jsonRequest, lampTd } from '@twinhub/binding-http/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import type { Client, JobCounts, JobRecord } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const PER_AGENT = 100;
const ids = (agent: string) => Array.from({ length: PER_AGENT }, (_, i) => `urn:test:e2e-jobs:${agent}:${String(i).padStart(3, '0')}`);

describe('fleet jobs end to end', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const closers: Array<() => Promise<unknown>> = [];

  const register = async (client: Client, thingIds: string[]) => {
    for (const id of thingIds) {
      const result = await running.hub.handle({ operation: 'updateTD', input: { ...lampTd(), id } }, { client });
      assert.ok(result.ok, JSON.stringify(result));
    }
  };
  const readOverHttp = async (jobId: string) => {
    const response = await jsonRequest(running.urls.http, 'GET', `/jobs/${encodeURIComponent(jobId)}`, { token: tokens.viewer });
    assert.equal(response.status, 200, response.text);
    return response.body as JobRecord;
  };
  const pick = (counts: JobCounts, ...keys: (keyof JobCounts)[]) => Object.fromEntries(keys.map((k) => [k, counts[k]]));

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
    await register({ id: 'agent-1', role: 'agent' }, ids('agent-1'));
    await register({ id: 'agent-2', role: 'agent' }, ids('agent-2'));
  });

  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await running?.close();
    await data?.remove();
  });

  it('a job over two agents, one offline: created over MQTT, followed over WS and HTTP, resumed delivery after a restart', async () => {
    const agentWs: WsTestClient = await connectWs(running.urls.ws, { token: tokens.agent });
    closers.push(() => agentWs.close());
    assert.equal((await agentWs.request({ operation: 'subscriberequests' })).status, 204);

    const operatorMqtt: MqttTestClient = await connectMqtt(running.urls.mqtt!, { username: 'operator-1', password: tokens.operator });
    closers.push(() => operatorMqtt.close(true));
    const created = await operatorMqtt.request({
      operation: 'createjob',
      input: { operation: 'writeproperty', name: 'brightness', input: 64, query: { type: 'Light' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.error));
    const { jobId } = created.output as JobRecord;

    // Agent 1 takes its 100 requests over WebSocket and completes them.
    for (let i = 0; i < PER_AGENT; i++) {
      const request = await agentWs.nextAgentRequest();
      assert.equal(request.input, 64);
      const answer = await agentWs.request({ operation: 'updateactionstatus', actionId: request.actionId, input: { status: 'completed' } });
      assert.equal(answer.status, 200);
    }
    const viewerWs = await connectWs(running.urls.ws, { token: tokens.viewer });
    closers.push(() => viewerWs.close());
    await eventually(async () => {
      const read = await viewerWs.request({ operation: 'readjob', input: { jobId } });
      assert.equal(read.status, 200);
      assert.deepEqual(pick((read.output as JobRecord).counts, 'matched', 'queued', 'pending', 'completed'), {
        matched: 200,
        queued: 200,
        pending: 100,
        completed: 100,
      });
    });
    const before = await readOverHttp(jobId);
    assert.equal(before.status, 'queued');
    await agentWs.close();
    await viewerWs.close();
    await operatorMqtt.close(true);

    // A restart keeps the job and its counts; agent 2 then gets its requests over MQTT.
    await running.close();
    running = await startTestHub(data.dir);
    assert.deepEqual((await readOverHttp(jobId)).counts, before.counts);
    const agentMqtt = await connectMqtt(running.urls.mqtt!, { username: 'agent-2', password: tokens.otherAgent });
    closers.push(() => agentMqtt.close(true));
    await agentMqtt.subscribe('agents/agent-2/requests');
    for (let i = 0; i < PER_AGENT; i++) {
      const request = await agentMqtt.nextAgentRequest();
      assert.ok(request.thingId.startsWith('urn:test:e2e-jobs:agent-2:'));
      const answer = await agentMqtt.request({
        operation: 'updateactionstatus',
        actionId: request.actionId,
        input: { status: 'failed', error: { title: 'Dimmer stuck' } },
      });
      assert.equal(answer.status, 200);
    }
    await eventually(async () => assert.equal((await readOverHttp(jobId)).status, 'completed'));
    assert.deepEqual(pick((await readOverHttp(jobId)).counts, 'queued', 'completed', 'failed'), { queued: 200, completed: 100, failed: 100 });
    const listed = await jsonRequest(running.urls.http, 'GET', '/jobs', { token: tokens.operator });
    assert.deepEqual(
      (listed.body as JobRecord[]).map((job) => job.jobId),
      [jobId],
    );
  });
});
