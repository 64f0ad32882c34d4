// Security findings in Thing Description handling, end to end over HTTP, WebSocket and MQTT:
// ReDoS through TD `pattern`s, prototype pollution through affordance names, and refused TDs that
// used to be stored (too deep, unencodable names) and broke `GET /things` for everyone.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd, type JsonResponse } from '@twinhub/binding-http/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import { connectMqtt, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import type { ResponseMessage, ThingDescription } from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { cliToken, createTokens, spawnHub, startTestHub, tempDataDir, type ChildHub, type Tokens } from './support.js';

const enc = encodeURIComponent;
const thingPath = (id: string, suffix = '') => `/things/${enc(id)}${suffix}`;
/** Long enough for the patterns a backtracking engine explores in 2^n steps: hours for n = 40. */
const PATHOLOGICAL = `${'a'.repeat(39)}!`;
/** How long any answer may take before the hub counts as frozen (a liveness bound, not a speed target). */
const ANSWER_WITHIN_MS = 10_000;

/** A lamp whose property, action input and event data all carry `pattern`. */
function patternTd(id: string, pattern: string): ThingDescription {
  return {
    ...lampTd(id),
    properties: { code: { type: 'string', pattern, observable: true, forms: [{ href: 'code' }] } },
    actions: { run: { input: { type: 'object', properties: { code: { type: 'string', pattern } } }, forms: [{ href: 'run' }] } },
    events: { seen: { data: { type: 'string', pattern }, forms: [{ href: 'seen' }] } },
  };
}

/** JSON text of a lamp TD with an `extra` member nested `levels` deep (text: too deep for JSON.stringify). */
function deepTdText(id: string, levels: number): string {
  return `${JSON.stringify(lampTd(id)).slice(0, -1)},"extra":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
}

const refusal = (response: ResponseMessage) => ({ status: response.status, detail: response.error?.detail ?? '' });

describe('ReDoS: TD patterns run in linear time (hub in a child process, so a frozen hub fails the test)', () => {
  const THING = 'urn:dev:ops:redos';
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let hub: ChildHub;
  let agent: string;
  let operator: string;
  let ws: WsTestClient[] = [];
  let mqtt: MqttTestClient[] = [];

  /** An HTTP request that gives up after ANSWER_WITHIN_MS instead of waiting for a frozen hub. */
  async function http(method: string, route: string, token: string | undefined, body?: unknown): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(new URL(route, hub.urls.http), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    return { status: response.status, text: await response.text() };
  }

  before(async () => {
    data = await tempDataDir();
    agent = await cliToken(data.dir, 'agent', 'agent-1');
    operator = await cliToken(data.dir, 'operator', 'operator-1');
    hub = await spawnHub(data.dir);
  });

  after(async () => {
    await Promise.all([...ws.map((c) => c.close().catch(() => undefined)), ...mqtt.map((c) => c.close(true).catch(() => undefined))]);
    hub?.child.kill('SIGKILL');
    await hub?.exited;
    await data?.remove();
  });

  it('a TD with ^(a+)+$ is accepted; the 40-character value gets a quick 400 on HTTP, WS and MQTT while /health answers', async () => {
    const created = await http('PUT', thingPath(THING), agent, patternTd(THING, '^(a+)+$'));
    assert.equal(created.status, 201, created.text);
    ws = [await connectWs(hub.urls.ws, { token: agent }), await connectWs(hub.urls.ws, { token: operator })];
    mqtt = [
      await connectMqtt(hub.urls.mqtt!, { username: 'agent-1', password: agent }),
      await connectMqtt(hub.urls.mqtt!, { username: 'operator-1', password: operator }),
    ];
    const [wsAgent, wsOperator] = ws;
    const [mqttAgent, mqttOperator] = mqtt;
    const topic = `things/${enc(THING)}`;
    const mqttPublish = async (client: MqttTestClient, to: string, value: unknown) => {
      await client.publish(to, value);
      return refusal(await client.nextError(to, ANSWER_WITHIN_MS));
    };
    const viaHttp = async (method: string, route: string, token: string, body: unknown) => {
      const answer = await http(method, route, token, body);
      return { status: answer.status, detail: (JSON.parse(answer.text) as { detail: string }).detail };
    };

    // All at once: a hub stuck in one of them could answer none of the others.
    const answers = await Promise.all([
      viaHttp('PUT', `/agent${thingPath(THING, '/properties/code')}`, agent, PATHOLOGICAL),
      viaHttp('POST', `/agent${thingPath(THING, '/events/seen')}`, agent, PATHOLOGICAL),
      viaHttp('PUT', thingPath(THING, '/properties/code'), operator, PATHOLOGICAL),
      viaHttp('POST', thingPath(THING, '/actions/run'), operator, { code: PATHOLOGICAL }),
      wsAgent.request({ operation: 'updateproperty', thingId: THING, name: 'code', input: PATHOLOGICAL }, ANSWER_WITHIN_MS).then(refusal),
      wsAgent.request({ operation: 'publishevent', thingId: THING, name: 'seen', input: PATHOLOGICAL }, ANSWER_WITHIN_MS).then(refusal),
      wsOperator.request({ operation: 'writeproperty', thingId: THING, name: 'code', input: PATHOLOGICAL }, ANSWER_WITHIN_MS).then(refusal),
      wsOperator.request({ operation: 'invokeaction', thingId: THING, name: 'run', input: { code: PATHOLOGICAL } }, ANSWER_WITHIN_MS).then(refusal),
      mqttPublish(mqttAgent, `${topic}/properties/code/reported`, PATHOLOGICAL),
      mqttPublish(mqttAgent, `${topic}/events/seen/reported`, PATHOLOGICAL),
      mqttPublish(mqttOperator, `${topic}/properties/code/set`, PATHOLOGICAL),
      mqttPublish(mqttOperator, `${topic}/actions/run`, { code: PATHOLOGICAL }),
      mqttAgent.request({ operation: 'updateproperty', thingId: THING, name: 'code', input: PATHOLOGICAL }, ANSWER_WITHIN_MS).then(refusal),
      http('GET', '/health', undefined).then(({ status }) => ({ status, detail: 'health' })),
    ]);
    const health = answers.pop();
    assert.equal(health?.status, 200);
    for (const answer of answers) {
      assert.equal(answer.status, 400, answer.detail);
      assert.match(answer.detail, /must match pattern "\^\(a\+\)\+\$"/);
    }
    // A value the pattern accepts still goes through.
    assert.equal((await http('PUT', `/agent${thingPath(THING, '/properties/code')}`, agent, 'a'.repeat(40))).status, 204);
  });

  it('a pattern RE2 cannot run (lookahead, backreference) is refused at registration with a 400 naming its pointer', async () => {
    const id = 'urn:dev:ops:redos-lookahead';
    for (const pattern of ['^(?=a)a+$', '^(a)\\1$']) {
      const answer = await http('PUT', thingPath(id), agent, patternTd(id, pattern));
      assert.equal(answer.status, 400, answer.text);
      const problem = JSON.parse(answer.text) as { errors: { pointer: string; message: string }[] };
      assert.deepEqual(problem.errors.map((e) => e.pointer).sort(), [
        '/actions/run/input/properties/code/pattern',
        '/events/seen/data/pattern',
        '/properties/code/pattern',
      ]);
      assert.match(problem.errors[0].message, /RE2/);
    }
    assert.equal((await http('GET', thingPath(id), operator)).status, 404, 'nothing stored');
  });
});

describe('TD refusals over every binding: nothing stored, GET /things keeps working (also after a restart)', () => {
  const OTHER = 'urn:dev:ops:other-lamp';
  const MINE = 'urn:dev:ops:my-lamp';
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let wsAgent: WsTestClient;
  let mqttAgent: MqttTestClient;

  const http = (
    method: string,
    route: string,
    token: string,
    options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<JsonResponse> => jsonRequest(running.urls.http, method, route, { token, ...options });
  /** The TDs every client sees; must answer 200. */
  async function listed(): Promise<string[]> {
    const list = await http('GET', '/things', tokens.admin);
    assert.equal(list.status, 200, list.text);
    return (list.body as ThingDescription[]).map((td) => td.id as string).sort();
  }
  async function connect(): Promise<void> {
    wsAgent = await connectWs(running.urls.ws, { token: tokens.agent });
    mqttAgent = await connectMqtt(running.urls.mqtt!, { username: 'agent-1', password: tokens.agent });
  }
  async function disconnect(): Promise<void> {
    await wsAgent?.close();
    await mqttAgent?.close(true).catch(() => undefined);
  }

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
    // Another agent's Thing, whose properties were never reported.
    assert.equal((await http('PUT', thingPath(OTHER), tokens.otherAgent, { body: lampTd(OTHER) })).status, 201);
    assert.equal((await http('PUT', thingPath(MINE), tokens.agent, { body: lampTd(MINE) })).status, 201);
    await connect();
  });

  after(async () => {
    await disconnect();
    await running?.close();
    await data?.remove();
  });

  /** A lamp TD with one more property, and one more action, event and uriVariable, all named `name`. */
  function tdNaming(id: string, name: string): ThingDescription {
    const td = lampTd(id);
    const named = (value: unknown) => JSON.parse(`{${JSON.stringify(name)}: ${JSON.stringify(value)}}`) as Record<string, unknown>;
    return {
      ...td,
      properties: { ...(td.properties as object), ...named({ type: 'integer', forms: [{ href: 'x' }] }) },
      actions: { ...(td.actions as object), ...named({ forms: [{ href: 'y' }] }) },
      events: { ...(td.events as object), ...named({ forms: [{ href: 'z' }] }) },
    };
  }

  /**
   * Registers `td` as agent-1 over HTTP (PUT `route`, by default its /things/{id}), WS and MQTT;
   * each must be refused with `status` and `detail`.
   */
  async function refusedEverywhere(td: ThingDescription, status: number, detail: RegExp, route = thingPath(td.id as string)): Promise<void> {
    const before = await listed();
    const answers = [
      await http('PUT', route, tokens.agent, { body: td }).then((r) => ({ status: r.status, detail: (r.body as { detail: string }).detail })),
      refusal(await wsAgent.request({ operation: 'updateTD', input: td })),
      refusal(await mqttAgent.request({ operation: 'updateTD', input: td })),
    ];
    for (const answer of answers) {
      assert.equal(answer.status, status, answer.detail);
      assert.match(answer.detail, detail);
    }
    assert.deepEqual(await listed(), before, 'nothing stored');
  }

  for (const name of ['__proto__', 'constructor', 'prototype']) {
    it(`an affordance named ${name}: 400 on HTTP, WS and MQTT, nothing stored`, async () => {
      await refusedEverywhere(tdNaming('urn:dev:ops:proto', name), 400, /is reserved/);
      const withUriVariable = lampTd('urn:dev:ops:proto');
      (withUriVariable.properties as Record<string, Record<string, unknown>>).brightness.uriVariables = JSON.parse(`{"${name}": {"type": "string"}}`);
      await refusedEverywhere(withUriVariable, 400, /uriVariables.*is reserved/);
    });
  }

  it("reporting 1337 via __proto__ cannot make another agent's unreported property read 1337", async () => {
    const replaced = await http('PUT', thingPath(MINE), tokens.agent, { body: tdNaming(MINE, '__proto__') });
    assert.equal(replaced.status, 400, replaced.text);
    const route = `/agent${thingPath(MINE, '/properties/__proto__')}`;
    assert.equal((await http('PUT', route, tokens.agent, { body: 1337 })).status, 404);
    assert.equal((await wsAgent.request({ operation: 'updateproperty', thingId: MINE, name: '__proto__', input: 1337 })).status, 404);
    assert.equal((await wsAgent.request({ operation: 'updateproperty', thingId: MINE, input: JSON.parse('{"__proto__": 1337}') })).status, 404);
    const to = `things/${enc(MINE)}/properties/__proto__/reported`;
    await mqttAgent.publish(to, 1337);
    assert.equal((await mqttAgent.nextError(to)).status, 404);
    const read = await http('GET', thingPath(OTHER, '/properties/brightness'), tokens.viewer);
    assert.equal(read.status, 404, `never reported, so 404, not ${read.status} ${read.text}`);
  });

  for (const [label, name, detail] of [
    ['a lone surrogate', 'bright\ud800', /lone UTF-16 surrogate/],
    ['a right-to-left override', 'bright\u202Eness', /invisible formatting/],
    ['a zero-width space', 'bright\u200Bness', /invisible formatting/],
  ] as const) {
    it(`an affordance named with ${label}: 400 on HTTP, WS and MQTT, nothing stored`, async () => {
      await refusedEverywhere(tdNaming('urn:dev:ops:named', name), 400, detail);
    });
  }

  it('a Thing ID with a lone surrogate: 400, nothing stored', async () => {
    // Over HTTP the ID cannot even be spelled: %ED%B0%80 (U+DC00 as WTF-8) is not UTF-8.
    await refusedEverywhere(lampTd('urn:dev:ops:x\udc00'), 400, /lone UTF-16 surrogate|percent-encoding/, '/things/urn%3Adev%3Aops%3Ax%ED%B0%80');
  });

  it('a TD nested 3,000 levels (HTTP PUT and POST, WS updateTD) or a merge patch adding 2,500 (HTTP PATCH): 400 naming the limit', async () => {
    const before = await listed();
    const deep = 'urn:dev:ops:deep';
    const answers = [
      await http('PUT', thingPath(deep), tokens.agent, { raw: deepTdText(deep, 3000) }),
      await http('POST', '/things', tokens.agent, { raw: deepTdText(deep, 3000).replace(`"id":"${deep}",`, '') }),
      await http('PATCH', thingPath(MINE), tokens.agent, {
        raw: `{"extra":${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}}`,
        headers: { 'Content-Type': 'application/merge-patch+json' },
      }),
    ].map((r) => ({ status: r.status, detail: (r.body as { detail: string }).detail }));
    wsAgent.sendRaw(`{"type":"request","operation":"updateTD","correlationId":"deep","input":${deepTdText(deep, 3000)}}`);
    answers.push(refusal(await wsAgent.nextResponse()));
    for (const answer of answers) {
      assert.equal(answer.status, 400, answer.detail);
      assert.match(answer.detail, /nested too deeply.*64 levels/);
    }
    assert.deepEqual(await listed(), before, 'nothing stored');
    assert.equal((await http('GET', thingPath(MINE), tokens.viewer)).status, 200);
  });

  it('after a restart on the same data folder, GET /things still answers 200 with the same Things', async () => {
    const before = await listed();
    await disconnect();
    await running.close();
    running = await startTestHub(data.dir);
    await connect();
    assert.deepEqual(await listed(), before);
    assert.deepEqual(before, [MINE, OTHER].sort());
  });
});
