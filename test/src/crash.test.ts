// Crash durability and graceful shutdown of a real `twinhub serve` process on a LevelDB data folder.
//
// Concurrent load over HTTP, WebSocket and MQTT (QoS 1) records every operation the hub
// acknowledged (HTTP 2xx, WS response < 300, MQTT PUBACK). The hub is killed with SIGKILL in the
// middle of it, restarted on the same folder, and must still hold every acknowledged report and
// queued request; the offline agent then receives each owed request exactly once, in order, and
// nothing it acknowledged ever again. A second run ends the hub with SIGTERM mid-load: it exits 0
// promptly, keeps what it acknowledged, and its data folder opens again.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, type JsonResponse } from '@twinhub/binding-http/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import { connectMqtt, quiet, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import type { RequestRecord, AgentRequestMessage, ThingDescription } from '@twinhub/core';
import { cliToken, spawnHub, tempDataDir, type ChildHub } from './support.js';

const SENSOR = 'urn:dev:ops:crash-sensor';
const ACTUATOR = 'urn:dev:ops:crash-actuator';
/** Reporting loops per binding; each owns one property of the sensor. */
const REPORTERS = 3;
/** Acknowledged operations after which the hub is killed (or stopped) while the load goes on. */
const ACKS_BEFORE_KILL = 400;
const ACKS_BEFORE_TERM = 200;
const enc = encodeURIComponent;

function sensorTd(): ThingDescription {
  const properties: Record<string, unknown> = {};
  for (const binding of ['http', 'ws', 'mqtt']) {
    for (let i = 0; i < REPORTERS; i++)
      properties[`${binding}${i}`] = { type: 'integer', readOnly: true, observable: true, forms: [{ href: `p/${binding}${i}` }] };
  }
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id: SENSOR,
    title: 'Crash sensor',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties,
  };
}

function actuatorTd(): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id: ACTUATOR,
    title: 'Crash actuator',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: { target: { type: 'integer', observable: true, forms: [{ href: 'target' }] } },
    actions: {
      move: {
        input: { type: 'object', properties: { src: { type: 'string' }, n: { type: 'integer' } }, required: ['src', 'n'] },
        forms: [{ href: 'move' }],
      },
    },
  };
}

type Outcome = { acked: true; actionId?: string } | { acked: false; status: number; detail: string };

/** One sequential writer: op(n) for n = 1, 2, ... until stopped or the hub goes away. */
interface Writer {
  id: string;
  kind: 'report' | 'invoke' | 'write';
  /** Reports: the sensor property it owns. */
  property?: string;
  /** Writes: the value written for n (unique per writer). */
  value?: (n: number) => number;
  /** The n of a queued request of this writer, else undefined. */
  owns?: (record: RequestRecord) => number | undefined;
  op(n: number): Promise<Outcome>;
  /** Highest n acknowledged (writers wait for each acknowledgement, so 1..acked all were). */
  acked: number;
  /** Highest n sent (acked or acked + 1). */
  sent: number;
  actionIds: Map<number, string>;
}

const http2xx = (response: JsonResponse): Outcome =>
  response.status >= 200 && response.status < 300
    ? {
        acked: true,
        ...(typeof (response.body as RequestRecord | undefined)?.actionId === 'string' ? { actionId: (response.body as RequestRecord).actionId } : {}),
      }
    : { acked: false, status: response.status, detail: response.text };

const wsOk = (response: { status: number; output?: unknown; error?: { detail?: string } }): Outcome =>
  response.status < 300
    ? {
        acked: true,
        ...(typeof (response.output as RequestRecord | undefined)?.actionId === 'string' ? { actionId: (response.output as RequestRecord).actionId } : {}),
      }
    : { acked: false, status: response.status, detail: response.error?.detail ?? '' };

interface Clients {
  hub: ChildHub;
  agentWs: WsTestClient;
  operatorWs: WsTestClient;
  agentMqtt: MqttTestClient;
  operatorMqtt: MqttTestClient;
}

/** The writers of one load phase; `phase` keeps values and sources distinct between phases. */
function writers(c: Clients, tokens: { agent: string; operator: string }, phase: number): Writer[] {
  const http = (method: string, path: string, token: string, body: unknown) => jsonRequest(c.hub.urls.http, method, path, { token, body });
  const list: Writer[] = [];
  const writer = (w: Omit<Writer, 'acked' | 'sent' | 'actionIds'>) => list.push({ ...w, acked: 0, sent: 0, actionIds: new Map() });
  // Report values grow across phases, so "the acknowledged value or a later one" stays decidable.
  const reportValue = (n: number) => phase * 100_000 + n;
  for (let i = 0; i < REPORTERS; i++) {
    writer({
      id: `p${phase}-http-report-${i}`,
      kind: 'report',
      property: `http${i}`,
      op: async (n) => http2xx(await http('PUT', `/agent/things/${enc(SENSOR)}/properties/http${i}`, tokens.agent, reportValue(n))),
    });
    writer({
      id: `p${phase}-ws-report-${i}`,
      kind: 'report',
      property: `ws${i}`,
      op: async (n) => wsOk(await c.agentWs.request({ operation: 'updateproperty', thingId: SENSOR, name: `ws${i}`, input: reportValue(n) })),
    });
    writer({
      id: `p${phase}-mqtt-report-${i}`,
      kind: 'report',
      property: `mqtt${i}`,
      op: async (n) => {
        await c.agentMqtt.publish(`things/${enc(SENSOR)}/properties/mqtt${i}/reported`, reportValue(n), { qos: 1 });
        return { acked: true };
      },
    });
  }
  const invoker = (binding: 'http' | 'ws') => {
    const src = `p${phase}-${binding}-invoke`;
    writer({
      id: src,
      kind: 'invoke',
      owns: (r) => (r.operation === 'invokeaction' && (r.input as { src?: string } | undefined)?.src === src ? (r.input as { n: number }).n : undefined),
      op: async (n) =>
        binding === 'http'
          ? http2xx(await http('POST', `/things/${enc(ACTUATOR)}/actions/move`, tokens.operator, { src, n }))
          : wsOk(await c.operatorWs.request({ operation: 'invokeaction', thingId: ACTUATOR, name: 'move', input: { src, n } })),
    });
  };
  invoker('http');
  invoker('ws');
  const setter = (binding: 'http' | 'ws' | 'mqtt', code: number) => {
    const value = (n: number) => code * 1_000_000 + n;
    writer({
      id: `p${phase}-${binding}-write`,
      kind: 'write',
      value,
      owns: (r) =>
        r.operation === 'writeproperty' && typeof r.input === 'number' && Math.floor(r.input / 1_000_000) === code ? r.input % 1_000_000 : undefined,
      op: async (n) => {
        if (binding === 'http') return http2xx(await http('PUT', `/things/${enc(ACTUATOR)}/properties/target`, tokens.operator, value(n)));
        if (binding === 'ws') return wsOk(await c.operatorWs.request({ operation: 'writeproperty', thingId: ACTUATOR, name: 'target', input: value(n) }));
        await c.operatorMqtt.publish(`things/${enc(ACTUATOR)}/properties/target/set`, value(n), { qos: 1 });
        return { acked: true };
      },
    });
  };
  setter('http', phase * 10 + 1);
  setter('ws', phase * 10 + 2);
  setter('mqtt', phase * 10 + 3);
  return list;
}

interface LoadResult {
  /** Refusals (non-2xx answers) received before the hub was told to stop: there must be none. */
  anomalies: string[];
  /** How long the hub took to exit after the signal. */
  exitMs: number;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/**
 * Runs every writer concurrently; once `acksBeforeSignal` operations were acknowledged, signals the
 * hub while the writers keep going, and returns when the hub exited and every writer stopped.
 */
async function runLoad(hub: ChildHub, list: Writer[], acksBeforeSignal: number, signal: NodeJS.Signals): Promise<LoadResult> {
  const anomalies: string[] = [];
  let signalled = false;
  let signalledAt = 0;
  let total = 0;
  let exited = false;
  const gone = hub.exited.then(() => {
    exited = true;
    throw new Error('the hub exited');
  });
  gone.catch(() => undefined);
  const loop = async (w: Writer) => {
    // Writers go on after the signal (requests keep arriving while the hub stops) until the hub
    // refuses or goes away; 5000 is a bound far above what the signal threshold needs.
    for (let n = 1; n <= 5000 && !exited; n++) {
      w.sent = n;
      let outcome: Outcome;
      try {
        // An MQTT publish whose broker died never settles: the process exit ends the wait.
        outcome = await Promise.race([w.op(n), gone]);
      } catch {
        return; // no acknowledgement: the hub went away (or is going)
      }
      if (!outcome.acked) {
        if (!signalled) anomalies.push(`${w.id} #${n}: ${outcome.status} ${outcome.detail}`);
        return;
      }
      w.acked = n;
      if (outcome.actionId) w.actionIds.set(n, outcome.actionId);
      if (++total >= acksBeforeSignal && !signalled) {
        signalled = true;
        signalledAt = Date.now();
        hub.child.kill(signal);
      }
    }
  };
  const loops = list.map(loop);
  const exit = await Promise.race([
    hub.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`load did not reach ${acksBeforeSignal} acknowledgements: ${anomalies.join('; ')}`)), 20_000).unref(),
    ),
  ]);
  const exitMs = Date.now() - signalledAt;
  await Promise.all(loops);
  return { anomalies, exitMs, exit };
}

async function connectAll(hub: ChildHub, tokens: { agent: string; operator: string }): Promise<Clients> {
  const [agentWs, operatorWs, agentMqtt, operatorMqtt] = await Promise.all([
    connectWs(hub.urls.ws, { token: tokens.agent }),
    connectWs(hub.urls.ws, { token: tokens.operator }),
    connectMqtt(hub.urls.mqtt!, { username: 'agent-1', password: tokens.agent }),
    connectMqtt(hub.urls.mqtt!, { username: 'operator-1', password: tokens.operator }),
  ]);
  return { hub, agentWs, operatorWs, agentMqtt, operatorMqtt };
}

function closeAll(c: Clients | undefined): Promise<unknown> {
  if (!c) return Promise.resolve();
  return Promise.allSettled([c.agentWs.close(), c.operatorWs.close(), c.agentMqtt.close(true), c.operatorMqtt.close(true)]);
}

describe('crash durability and graceful shutdown of twinhub serve', { timeout: 60_000 }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let hub: ChildHub | undefined;
  const tokens = { agent: '', actuatorAgent: '', operator: '', admin: '' };
  const opened: WsTestClient[] = [];

  const call = (method: string, path: string, token: string, body?: unknown) =>
    jsonRequest(hub!.urls.http, method, path, { token, ...(body !== undefined ? { body } : {}) });
  const actuatorRecords = async (): Promise<RequestRecord[]> => {
    const response = await call('GET', `/things/${enc(ACTUATOR)}/actions`, tokens.admin);
    assert.equal(response.status, 200, response.text);
    return response.body as RequestRecord[];
  };
  const start = async () => {
    hub = await spawnHub(data.dir, ['--max-queued-actions', '20000']);
    return hub;
  };
  const ws = async (token: string) => {
    const client = await connectWs(hub!.urls.ws, { token });
    opened.push(client);
    return client;
  };

  /** Every acknowledged report is readable: the acknowledged value or the one sent after it. */
  async function assertReports(list: Writer[]) {
    for (const w of list.filter((x) => x.kind === 'report')) {
      assert.ok(w.acked > 0, `${w.id} got acknowledgements before the hub went down`);
      const read = await call('GET', `/things/${enc(SENSOR)}/properties/${w.property}`, tokens.operator);
      assert.equal(read.status, 200, `${w.id}: ${read.text}`);
      const value = read.body as number;
      const base = Number(/^p(\d+)/.exec(w.id)![1]) * 100_000;
      assert.ok(value >= base + w.acked && value <= base + w.sent, `${w.id}: read ${value}, acknowledged ${base + w.acked}, last sent ${base + w.sent}`);
    }
  }

  /**
   * Every acknowledged queued request exists with its input; each writer's requests are stored
   * once each, as 1..k in request order, where k is the last acknowledged n or the one after it.
   */
  function assertQueued(list: Writer[], records: RequestRecord[]) {
    const bySeq = [...records].sort((a, b) => a.seq - b.seq);
    for (const w of list.filter((x) => x.owns)) {
      assert.ok(w.acked > 0, `${w.id} got acknowledgements before the hub went down`);
      const mine = bySeq.filter((r) => w.owns!(r) !== undefined);
      const ns = mine.map((r) => w.owns!(r)!);
      const expected = Array.from({ length: ns.length }, (_, i) => i + 1);
      assert.deepEqual(ns, expected, `${w.id}: stored once each, in order`);
      assert.ok(ns.length >= w.acked && ns.length <= w.sent, `${w.id}: ${ns.length} stored, ${w.acked} acknowledged, ${w.sent} sent`);
      for (const [n, actionId] of w.actionIds) {
        const record = mine[n - 1];
        assert.equal(record.actionId, actionId, `${w.id} #${n} keeps its actionId`);
        if (w.kind === 'invoke') assert.deepEqual(record.input, { src: w.id, n });
      }
      if (w.value) for (let n = 1; n <= w.acked; n++) assert.equal(mine[n - 1].input, w.value(n));
    }
  }

  before(async () => {
    data = await tempDataDir();
    // The CLI opens the data folder itself, so tokens are made while no hub runs on it.
    tokens.agent = await cliToken(data.dir, 'agent', 'agent-1');
    tokens.actuatorAgent = await cliToken(data.dir, 'agent', 'agent-2');
    tokens.operator = await cliToken(data.dir, 'operator', 'operator-1');
  });

  after(async () => {
    for (const client of opened) await client.close().catch(() => undefined);
    if (hub && hub.child.exitCode === null && hub.child.signalCode === null) {
      hub.child.kill('SIGKILL');
      await hub.exited;
    }
    await data.remove();
  });

  const preAcked: string[] = [];
  const preUnacked: string[] = [];
  let phase1: Writer[] = [];

  it('keeps every acknowledged report and queued request across kill -9, and delivers each owed request exactly once', async () => {
    await start();
    assert.ok(hub!.firstAdminToken, 'the first start prints an admin token');
    tokens.admin = hub!.firstAdminToken!;
    assert.equal((await call('PUT', `/things/${enc(SENSOR)}`, tokens.agent, sensorTd())).status, 201);
    assert.equal((await call('PUT', `/things/${enc(ACTUATOR)}`, tokens.actuatorAgent, actuatorTd())).status, 201);

    // Before the load: six requests; the agent takes them all but acknowledges only the first three.
    const pre: string[] = [];
    for (let n = 1; n <= 6; n++) {
      const invoked = await call('POST', `/things/${enc(ACTUATOR)}/actions/move`, tokens.operator, { src: 'pre', n });
      assert.equal(invoked.status, 201, invoked.text);
      pre.push((invoked.body as RequestRecord).actionId);
    }
    const early = await ws(tokens.actuatorAgent);
    assert.equal((await early.request({ operation: 'subscriberequests' })).status, 204);
    for (let i = 0; i < 6; i++) assert.equal((await early.nextAgentRequest()).actionId, pre[i]);
    for (const actionId of pre.slice(0, 3)) {
      const ack = await early.request({ operation: 'updateactionstatus', thingId: ACTUATOR, actionId, input: { status: 'running' } });
      assert.equal(ack.status, 200, JSON.stringify(ack.error));
      preAcked.push(actionId);
    }
    preUnacked.push(...pre.slice(3));
    await early.close();

    // The load, with the actuator's agent offline; SIGKILL once enough was acknowledged.
    const clients = await connectAll(hub!, tokens);
    phase1 = writers(clients, tokens, 1);
    const load = await runLoad(hub!, phase1, ACKS_BEFORE_KILL, 'SIGKILL');
    await closeAll(clients);
    assert.deepEqual(load.anomalies, [], 'nothing was refused during the load');
    assert.equal(load.exit.signal, 'SIGKILL');
    const refusals = [...clients.agentMqtt.received, ...clients.operatorMqtt.received].filter((m) => m.topic.endsWith('/errors'));
    assert.deepEqual(
      refusals.map((m) => m.payload.toString()),
      [],
      'no MQTT publish was refused',
    );

    // Restart on the same folder: everything acknowledged is there.
    await start();
    assert.equal(hub!.firstAdminToken, undefined, 'a restart creates no new admin token');
    await assertReports(phase1);
    const records = await actuatorRecords();
    assertQueued(phase1, records);
    const byId = new Map(records.map((r) => [r.actionId, r]));
    for (const actionId of preAcked) assert.equal(byId.get(actionId)?.status, 'running');
    for (const actionId of preUnacked) assert.equal(byId.get(actionId)?.status, 'delivered');

    // The agent connects: everything it has not acknowledged comes, each once, oldest first.
    const owed = records.filter((r) => r.status === 'pending' || r.status === 'delivered').sort((a, b) => a.seq - b.seq);
    assert.ok(owed.length >= 3 + phase1.filter((w) => w.owns).reduce((sum, w) => sum + w.acked, 0));
    const agent = await ws(tokens.actuatorAgent);
    assert.equal((await agent.request({ operation: 'subscriberequests' })).status, 204);
    const delivered: AgentRequestMessage[] = [];
    for (let i = 0; i < owed.length; i++) {
      const request = await agent.nextAgentRequest();
      delivered.push(request);
      const ack = await agent.request({ operation: 'updateactionstatus', thingId: ACTUATOR, actionId: request.actionId, input: { status: 'running' } });
      assert.equal(ack.status, 200, `ack of ${request.actionId}: ${JSON.stringify(ack.error)}`);
    }
    assert.deepEqual(
      delivered.map((r) => r.actionId),
      owed.map((r) => r.actionId),
      'the owed requests, in order',
    );
    for (const [i, request] of delivered.entries()) assert.deepEqual(request.input, owed[i].input, `request ${i} carries its input`);
    assert.deepEqual(delivered.map((r) => r.actionId).slice(0, 3), preUnacked, 'delivered-but-unacknowledged requests come again, first');
    assert.ok(!delivered.some((r) => preAcked.includes(r.actionId)), 'acknowledged requests never come again');
    await assert.rejects(agent.nextAgentRequest(300), /no matching agent request/, 'no request is delivered twice');

    // Once more, on WebSocket and on MQTT: nothing acknowledged comes back.
    await agent.close();
    const again = await ws(tokens.actuatorAgent);
    const againMqtt = await connectMqtt(hub!.urls.mqtt!, { username: 'agent-2', password: tokens.actuatorAgent });
    try {
      assert.equal((await again.request({ operation: 'subscriberequests' })).status, 204);
      assert.deepEqual(await againMqtt.subscribe(`agents/agent-2/requests`), [1]);
      await quiet(500);
      await assert.rejects(again.nextAgentRequest(1), /no matching agent request/);
      assert.equal(againMqtt.received.filter((m) => m.topic === 'agents/agent-2/requests').length, 0);
    } finally {
      await again.close();
      await againMqtt.close();
    }
    assert.ok(
      (await actuatorRecords()).every((r) => r.status === 'running'),
      'every request is acknowledged now',
    );
  });

  it('on SIGTERM mid-load exits 0 promptly, keeps everything acknowledged, and the data folder opens again', async () => {
    assert.ok(hub, 'runs after the crash test');
    const clients = await connectAll(hub, tokens);
    const phase2 = writers(clients, tokens, 2);
    const load = await runLoad(hub, phase2, ACKS_BEFORE_TERM, 'SIGTERM');
    await closeAll(clients);
    assert.deepEqual(load.anomalies, [], 'nothing was refused before the signal');
    assert.deepEqual(load.exit, { code: 0, signal: null }, `clean exit; stderr: ${hub.stderr()}`);
    assert.ok(load.exitMs < 10_000, `exited ${load.exitMs} ms after SIGTERM`);
    assert.doesNotMatch(hub.stderr(), /shutdown failed|binding failed to stop/);

    // The folder opens again (a stale lock would fail this start) and holds both phases' data.
    await start();
    await assertReports(phase2);
    const records = await actuatorRecords();
    assertQueued([...phase1, ...phase2], records);
    hub.child.kill('SIGTERM');
    assert.deepEqual(await hub.exited, { code: 0, signal: null });
  });
});
