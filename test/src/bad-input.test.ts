// Bad input over every binding of a whole hub (HTTP, SSE, WebSocket, embedded MQTT): malformed
// JSON, invalid and oversized TDs, oversized payloads, unknown Things/affordances, wrongly typed
// values, unusable Thing IDs and names, MQTT topics outside the scheme. Each refusal must carry a
// clear problem (problem+json, an error response envelope, an MQTT error message or refused
// SUBACK), store nothing (directory, state and request queue read back unchanged), and leave the
// hub serving the next good request on the same connection.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd, openSse, type JsonResponse } from '@twinhub/binding-http/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import { connectMqtt, quiet, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import {
  DEFAULT_LIMITS,
  type Client,
  type HubLimits,
  type HubRequest,
  type Problem,
  type ProblemDetailItem,
  type ResponseMessage,
  type ThingDescription,
} from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const LIMITS: HubLimits = { ...DEFAULT_LIMITS, maxTdBytes: 16 * 1024, maxPayloadBytes: 2 * 1024 };
const THING = 'urn:dev:ops:bad-input-lamp';
const NOPE = 'urn:dev:ops:no-such-thing';
const ADMIN: Client = { id: 'admin-1', role: 'admin' };
const enc = encodeURIComponent;
const thingPath = (id: string, suffix = '') => `/things/${enc(id)}${suffix}`;
const bigString = (bytes: number) => 'x'.repeat(bytes);

/** IDs the hub refuses, and what the refusal must say. ('/' and '+' are allowed: see the last suite.) */
const BAD_IDS: [string, RegExp][] = [
  ['urn:dev:bad#1', /'#'/],
  ['urn:dev:bad/../1', /'\.\.'/],
  ['urn:dev:bad\u00001', /control characters/],
  ['urn:dev:bad\u0007bell', /control characters/],
  ['urn:dev:bad\nline', /control characters/],
  ['urn:dev:bad\u007fdel', /control characters/],
  ['urn:dev:bad space', /whitespace/],
  ['urn:dev:bad\u2028sep', /whitespace/],
  ['no-scheme-lamp', /scheme/],
];

/** Affordance names the hub refuses in a TD (they could not be a URL segment or topic level). */
const BAD_NAMES: [string, RegExp][] = [
  ['a/b', /'\/'/],
  ['a#b', /'#'/],
  ['a+b', /'\+'/],
  ['a\u0001b', /control characters/],
  ['a b', /whitespace/],
];

/** What every refusal is reduced to, whatever the binding. */
interface Refusal {
  status: number;
  detail: string;
  errors?: ProblemDetailItem[];
}

function fromHttp(response: JsonResponse): Refusal {
  assert.equal(response.headers.get('content-type'), 'application/problem+json', `${response.status} ${response.text}`);
  const problem = response.body as Problem;
  assert.equal(problem.status, response.status);
  assert.equal(typeof problem.title, 'string');
  assert.doesNotMatch(response.text, /\n\s+at /, 'no stack trace');
  return { status: response.status, detail: problem.detail, ...(problem.errors ? { errors: problem.errors } : {}) };
}

function fromEnvelope(response: ResponseMessage): Refusal {
  assert.equal(response.type, 'response');
  assert.ok(response.error, `an error response, got ${JSON.stringify(response)}`);
  assert.equal(response.error.status, response.status);
  assert.equal(typeof response.error.title, 'string');
  return { status: response.status, detail: response.error.detail, ...(response.error.errors ? { errors: response.error.errors } : {}) };
}

function invalidTd(id: string): ThingDescription {
  // any: the test breaks the TD on purpose, reaching into nested members.
  // biome-ignore lint/suspicious/noExplicitAny: the test breaks the TD in arbitrary places
  const td = lampTd(id) as Record<string, any>;
  delete td.title;
  td.properties.brightness.type = 'float';
  return td;
}

function oversizedTd(id: string): ThingDescription {
  return { ...lampTd(id), description: bigString(LIMITS.maxTdBytes) };
}

function tdWithProperty(id: string, name: string): ThingDescription {
  const td = lampTd(id);
  return { ...td, properties: { ...(td.properties as object), [name]: { type: 'integer', forms: [{ href: 'x' }] } } };
}

describe('bad input on every binding: clear errors, nothing stored, the hub keeps serving', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let wsAgent: WsTestClient;
  let wsOperator: WsTestClient;
  let mqttAgent: MqttTestClient;
  let mqttOperator: MqttTestClient;
  const extraMqtt: MqttTestClient[] = [];

  const http = (method: string, route: string, token: string, options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}) =>
    jsonRequest(running.urls.http, method, route, { token, ...options });
  const mqttClient = async (id: string, token: string) => {
    const client = await connectMqtt(running.urls.mqtt!, { username: id, password: token });
    extraMqtt.push(client);
    return client;
  };

  /** Directory, twin metadata (without the owner's live presence), TD, state and request queue of every Thing, read as admin. */
  async function snapshot(): Promise<unknown> {
    const hub = running.hub;
    const read = async (request: HubRequest) => {
      const result = await hub.handle(request, { client: ADMIN });
      assert.ok(result.ok, `${request.operation} failed: ${JSON.stringify(result)}`);
      return result.output;
    };
    const tds = (await read({ operation: 'listTDs', query: { limit: 1000 } })) as ThingDescription[];
    const things: Record<string, unknown> = {};
    for (const id of tds.map((td) => td.id as string).sort()) {
      things[id] = {
        // Presence is live, not stored: a refused request from the agent still updates its lastSeen.
        twin: { ...((await read({ operation: 'readtwin', thingId: id })) as object), presence: undefined },
        td: await read({ operation: 'retrieveTD', thingId: id }),
        state: await read({ operation: 'readstate', thingId: id }),
        actions: await read({ operation: 'queryallactions', thingId: id }),
      };
    }
    return things;
  }

  /** A good request on the same binding (and connection) succeeds. */
  const stillServes = {
    http: async () => {
      const read = await http('GET', thingPath(THING, '/properties/brightness'), tokens.viewer);
      assert.equal(read.status, 200, read.text);
      assert.equal(read.body, 10);
    },
    sse: async () => {
      const stream = await openSse(running.urls.http, thingPath(THING, '/properties/brightness/observe'), { token: tokens.viewer });
      stream.close();
      assert.equal(stream.status, 200, stream.body);
    },
    ws: async (client: WsTestClient) => {
      const read = await client.request({ operation: 'readproperty', thingId: THING, name: 'brightness' });
      assert.equal(read.status, 200, JSON.stringify(read));
      assert.equal(read.output, 10);
    },
    mqtt: async (client: MqttTestClient) => {
      const read = await client.request({ operation: 'readproperty', thingId: THING, name: 'brightness' });
      assert.equal(read.status, 200, JSON.stringify(read));
      assert.equal(read.output, 10);
    },
  };

  /** Runs one bad request: checks the refusal, that nothing changed, and that `serves` still works. */
  async function refused(run: () => Promise<Refusal>, status: number, detail: RegExp, serves: () => Promise<void>): Promise<Refusal> {
    const before = await snapshot();
    const got = await run();
    assert.equal(got.status, status, `expected ${status}, got ${got.status}: ${got.detail}`);
    assert.match(got.detail, detail);
    assert.deepEqual(await snapshot(), before, `nothing is stored after: ${got.detail}`);
    await serves();
    return got;
  }

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { limits: LIMITS });
    tokens = await createTokens(running);
    const created = await http('PUT', thingPath(THING), tokens.agent, { body: lampTd(THING) });
    assert.equal(created.status, 201, created.text);
    assert.equal((await http('PUT', `/agent${thingPath(THING, '/properties/brightness')}`, tokens.agent, { body: 10 })).status, 204);
    wsAgent = await connectWs(running.urls.ws, { token: tokens.agent });
    wsOperator = await connectWs(running.urls.ws, { token: tokens.operator });
    mqttAgent = await connectMqtt(running.urls.mqtt!, { username: 'agent-1', password: tokens.agent });
    mqttOperator = await connectMqtt(running.urls.mqtt!, { username: 'operator-1', password: tokens.operator });
  });

  after(async () => {
    await Promise.all([wsAgent?.close(), wsOperator?.close()]);
    await Promise.all([mqttAgent, mqttOperator, ...extraMqtt].map((c) => c?.close(true).catch(() => undefined)));
    await running?.close();
    await data?.remove();
  });

  describe('HTTP', () => {
    const problem =
      (method: string, route: string, token: () => string, options: Parameters<typeof http>[3] = {}) =>
      async () =>
        fromHttp(await http(method, route, token(), options));

    it('malformed JSON bodies: 400 saying the body is not JSON', async () => {
      const cases: [string, string, () => string, string, Record<string, string>?][] = [
        ['PUT', thingPath('urn:dev:ops:new-1'), () => tokens.agent, '{"title": "x",'],
        ['POST', '/things', () => tokens.agent, '{"title": '],
        ['PATCH', thingPath(THING), () => tokens.agent, '{"title":', { 'Content-Type': 'application/merge-patch+json' }],
        ['PUT', thingPath(THING, '/properties/brightness'), () => tokens.operator, 'bright'],
        ['POST', thingPath(THING, '/actions/fade'), () => tokens.operator, '{level: 3}'],
        ['PUT', thingPath(THING, '/tags'), () => tokens.operator, "{'a': 'b'}"],
        ['PUT', `/agent${thingPath(THING, '/properties/brightness')}`, () => tokens.agent, '{'],
        ['POST', `/agent${thingPath(THING, '/properties')}`, () => tokens.agent, '{"brightness": 5,}'],
        ['POST', `/agent${thingPath(THING, '/events/overheated')}`, () => tokens.agent, 'hot'],
        ['POST', '/agent/requests/00000000-0000-4000-8000-000000000000', () => tokens.agent, '{"status": completed}'],
      ];
      for (const [method, route, token, raw, headers] of cases) {
        await refused(problem(method, route, token, { raw, ...(headers ? { headers } : {}) }), 400, /not valid JSON/, stillServes.http);
      }
    });

    it('invalid TDs (create, replace, merge patch): 400 listing every problem with a pointer', async () => {
      const created = await refused(
        problem('PUT', thingPath('urn:dev:ops:new-2'), () => tokens.agent, { body: invalidTd('urn:dev:ops:new-2') }),
        400,
        /Thing Description is invalid/,
        stillServes.http,
      );
      assert.deepEqual(created.errors?.map((e) => e.pointer).sort(), ['/properties/brightness/type', '/title']);
      const anonymous = await refused(
        problem('POST', '/things', () => tokens.agent, { body: { ...invalidTd('x'), id: undefined } }),
        400,
        /Thing Description is invalid/,
        stillServes.http,
      );
      assert.ok(anonymous.errors?.some((e) => e.pointer === '/title'));
      const replaced = await refused(
        problem('PUT', thingPath(THING), () => tokens.agent, { body: invalidTd(THING) }),
        400,
        /Thing Description is invalid/,
        stillServes.http,
      );
      assert.ok(replaced.errors?.some((e) => e.pointer === '/properties/brightness/type'));
      const patchHeaders = { 'Content-Type': 'application/merge-patch+json' };
      const untitled = await refused(
        problem('PATCH', thingPath(THING), () => tokens.agent, { body: { title: null }, headers: patchHeaders }),
        400,
        /title/,
        stillServes.http,
      );
      assert.deepEqual(
        untitled.errors?.map((e) => e.pointer),
        ['/title'],
      );
      await refused(
        problem('PATCH', thingPath(THING), () => tokens.agent, { body: { properties: { brightness: { type: 'float' } } }, headers: patchHeaders }),
        400,
        /brightness\/type/,
        stillServes.http,
      );
      await refused(
        problem('PUT', thingPath('urn:dev:ops:new-3'), () => tokens.agent, { body: ['not', 'a', 'TD'] }),
        400,
        /JSON object/,
        stillServes.http,
      );
      await refused(
        problem('PUT', thingPath('urn:dev:ops:new-4'), () => tokens.agent, { body: { ...lampTd('urn:dev:ops:other') } }),
        400,
        /differs/,
        stillServes.http,
      );
    });

    it('a TD over maxTdBytes: 413 (new and replacing)', async () => {
      await refused(
        problem('PUT', thingPath('urn:dev:ops:huge'), () => tokens.agent, { body: oversizedTd('urn:dev:ops:huge') }),
        413,
        /limit/,
        stillServes.http,
      );
      await refused(
        problem('PUT', thingPath(THING), () => tokens.agent, { body: oversizedTd(THING) }),
        413,
        /limit/,
        stillServes.http,
      );
      await refused(
        problem('PATCH', thingPath(THING), () => tokens.agent, {
          body: { description: bigString(LIMITS.maxTdBytes) },
          headers: { 'Content-Type': 'application/merge-patch+json' },
        }),
        413,
        /limit/,
        stillServes.http,
      );
    });

    it('a payload over maxPayloadBytes: 413 (write, invoke, report, event, tags)', async () => {
      const big = bigString(LIMITS.maxPayloadBytes + 1);
      await refused(
        problem('PUT', thingPath(THING, '/properties/brightness'), () => tokens.operator, { body: big }),
        413,
        /limit/,
        stillServes.http,
      );
      await refused(
        problem('POST', thingPath(THING, '/actions/fade'), () => tokens.operator, { body: { level: 1, note: big } }),
        413,
        /limit/,
        stillServes.http,
      );
      await refused(
        problem('PUT', `/agent${thingPath(THING, '/properties/blob')}`, () => tokens.agent, { body: big }),
        413,
        /limit/,
        stillServes.http,
      );
      await refused(
        problem('POST', `/agent${thingPath(THING, '/events/overheated')}`, () => tokens.agent, { body: big }),
        413,
        /limit/,
        stillServes.http,
      );
      await refused(
        problem('PUT', thingPath(THING, '/tags'), () => tokens.operator, { body: { note: big } }),
        413,
        /limit/,
        stillServes.http,
      );
    });

    it('unknown Thing, property, action, request: 404 naming what is missing (and what exists)', async () => {
      const cases: [string, string, () => string, unknown, RegExp][] = [
        ['GET', thingPath(NOPE), () => tokens.viewer, undefined, /no Thing with id 'urn:dev:ops:no-such-thing'/],
        ['GET', thingPath(NOPE, '/properties/brightness'), () => tokens.viewer, undefined, /no Thing with id/],
        ['PUT', thingPath(NOPE, '/properties/brightness'), () => tokens.operator, 5, /no Thing with id/],
        ['POST', thingPath(NOPE, '/actions/fade'), () => tokens.operator, { level: 1 }, /no Thing with id/],
        ['DELETE', thingPath(NOPE), () => tokens.agent, undefined, /no Thing with id/],
        ['GET', thingPath(THING, '/properties/nope'), () => tokens.viewer, undefined, /no property 'nope'; it has: brightness, status, blob/],
        ['PUT', thingPath(THING, '/properties/nope'), () => tokens.operator, 5, /no property 'nope'/],
        ['POST', thingPath(THING, '/actions/nope'), () => tokens.operator, {}, /no action 'nope'; it has: fade/],
        ['GET', thingPath(THING, '/actions/fade/00000000-0000-4000-8000-000000000000'), () => tokens.operator, undefined, /no request/],
        ['DELETE', thingPath(THING, '/actions/fade/00000000-0000-4000-8000-000000000000'), () => tokens.operator, undefined, /no request/],
        ['PUT', `/agent${thingPath(THING, '/properties/nope')}`, () => tokens.agent, 5, /no property 'nope'/],
        ['POST', `/agent${thingPath(THING, '/properties')}`, () => tokens.agent, { brightness: 5, nope: 1 }, /no property 'nope'/],
        ['POST', `/agent${thingPath(THING, '/events/nope')}`, () => tokens.agent, 1, /no event 'nope'; it has: overheated/],
        ['POST', '/agent/requests/00000000-0000-4000-8000-000000000000', () => tokens.agent, { status: 'completed' }, /no request/],
        ['GET', '/no/such/route', () => tokens.viewer, undefined, /no route/],
      ];
      for (const [method, route, token, body, detail] of cases) {
        await refused(problem(method, route, token, body === undefined ? {} : { body }), 404, detail, stillServes.http);
      }
    });

    it('values of the wrong type: 400 with the schema problem; a report is applied whole or not at all', async () => {
      const cases: [string, string, () => string, unknown, RegExp][] = [
        ['PUT', thingPath(THING, '/properties/brightness'), () => tokens.operator, 'bright', /must be of type integer/],
        ['PUT', thingPath(THING, '/properties/brightness'), () => tokens.operator, 101, /must be <= 100/],
        ['PUT', thingPath(THING, '/properties/status'), () => tokens.operator, 'on', /read-only/],
        ['POST', thingPath(THING, '/actions/fade'), () => tokens.operator, { level: 'x' }, /level must be of type integer/],
        ['POST', thingPath(THING, '/actions/fade'), () => tokens.operator, {}, /required property 'level'/],
        ['PUT', `/agent${thingPath(THING, '/properties/brightness')}`, () => tokens.agent, 'dim', /must be of type integer/],
        ['POST', `/agent${thingPath(THING, '/properties')}`, () => tokens.agent, { brightness: 50, status: 7 }, /status.*must be of type string/],
        ['POST', `/agent${thingPath(THING, '/properties')}`, () => tokens.agent, [50], /JSON object/],
        ['POST', `/agent${thingPath(THING, '/events/overheated')}`, () => tokens.agent, 'hot', /must be of type number/],
        ['PUT', thingPath(THING, '/tags'), () => tokens.operator, { room: 1 }, /tag 'room' is invalid/],
        ['GET', `/things?limit=lots`, () => tokens.viewer, undefined, /non-negative integer/],
        ['GET', `/things?tag=nocolon`, () => tokens.viewer, undefined, /key:value/],
      ];
      for (const [method, route, token, body, detail] of cases) {
        await refused(problem(method, route, token, body === undefined ? {} : { body }), 400, detail, stillServes.http);
      }
    });

    it("Thing IDs with '#', '..', whitespace or control characters, or no scheme: 400 on registration and on use", async () => {
      for (const [id, reason] of BAD_IDS) {
        const registered = await refused(
          problem('PUT', thingPath(id), () => tokens.agent, { body: lampTd(id) }),
          400,
          reason,
          stillServes.http,
        );
        assert.ok(
          registered.errors?.some((e) => e.pointer === '/id'),
          JSON.stringify(registered),
        );
        await refused(
          problem('GET', thingPath(id), () => tokens.viewer),
          400,
          reason,
          stillServes.http,
        );
        await refused(
          problem('PUT', thingPath(id, '/properties/brightness'), () => tokens.operator, { body: 5 }),
          400,
          reason,
          stillServes.http,
        );
        await refused(
          problem('PUT', `/agent${thingPath(id, '/properties/brightness')}`, () => tokens.agent, { body: 5 }),
          400,
          reason,
          stillServes.http,
        );
      }
      // Malformed percent-encoding cannot even name a Thing.
      await refused(
        problem('GET', '/things/urn%3Adev%ZZ', () => tokens.viewer),
        400,
        /percent-encoding/,
        stillServes.http,
      );
    });

    it("affordance names with '/', '#', '+', whitespace or control characters: 400 on registration", async () => {
      for (const [name, reason] of BAD_NAMES) {
        const id = 'urn:dev:ops:bad-name';
        const result = await refused(
          problem('PUT', thingPath(id), () => tokens.agent, { body: tdWithProperty(id, name) }),
          400,
          reason,
          stillServes.http,
        );
        assert.ok(
          result.errors?.some((e) => e.pointer.startsWith('/properties/')),
          JSON.stringify(result.errors),
        );
      }
    });
  });

  describe('SSE', () => {
    const stream =
      (route: string, options: { token?: string; lastEventId?: string } = {}) =>
      async () => {
        const connection = await openSse(running.urls.http, route, {
          token: options.token ?? tokens.viewer,
          ...(options.lastEventId ? { lastEventId: options.lastEventId } : {}),
        });
        connection.close();
        assert.equal(connection.headers['content-type'], 'application/problem+json');
        const problem = JSON.parse(connection.body) as Problem;
        assert.equal(problem.status, connection.status);
        return { status: connection.status, detail: problem.detail };
      };

    it('streams of unknown Things, properties and events: 404 problem instead of a stream', async () => {
      await refused(stream(thingPath(NOPE, '/properties/brightness/observe')), 404, /no Thing with id/, stillServes.sse);
      await refused(stream(thingPath(NOPE, '/events')), 404, /no Thing with id/, stillServes.sse);
      await refused(stream(thingPath(THING, '/properties/nope/observe')), 404, /no property 'nope'/, stillServes.sse);
      await refused(stream(thingPath(THING, '/events/nope')), 404, /no event 'nope'/, stillServes.sse);
      await refused(stream('/events/thing_exploded'), 404, /no directory event/, stillServes.sse);
    });

    it('streams of unusable Thing IDs: 400', async () => {
      for (const [id, reason] of BAD_IDS) {
        await refused(stream(thingPath(id, '/properties/brightness/observe')), 400, reason, stillServes.sse);
      }
    });

    it('a garbage Last-Event-ID is ignored: the stream still opens', async () => {
      const connection = await openSse(running.urls.http, thingPath(THING, '/properties/brightness/observe'), {
        token: tokens.viewer,
        lastEventId: 'not-a-number',
      });
      connection.close();
      assert.equal(connection.status, 200);
    });
  });

  describe('WebSocket', () => {
    /** Sends raw text (or bytes) and reads the response it gets. */
    const raw = (client: () => WsTestClient, data: string | Buffer) => async () => {
      client().sendRaw(data);
      const response = await client().nextResponse();
      assert.equal(response.operation, 'unknown');
      return fromEnvelope(response);
    };
    const envelope = (client: () => WsTestClient, request: HubRequest) => async () => fromEnvelope(await client().request(request));
    const operator = () => wsOperator;
    const agent = () => wsAgent;
    const servesOperator = () => stillServes.ws(wsOperator);
    const servesAgent = () => stillServes.ws(wsAgent);

    it('malformed envelopes: 400 with operation "unknown", the socket stays open', async () => {
      const cases: [string | Buffer, RegExp][] = [
        ['{"operation": "readproperty",', /not valid JSON/],
        ['readproperty', /not valid JSON/],
        ['', /not valid JSON/],
        ['[1, 2]', /must be a JSON object/],
        ['null', /must be a JSON object/],
        ['{"type": "response", "operation": "readproperty"}', /"type" must be "request"/],
        ['{"operation": "fly"}', /not a known operation/],
        ['{"operation": "readproperty", "thingid": "x"}', /unknown field\(s\) in request: thingid/],
        ['{"operation": "readproperty", "thingId": 42}', /"thingId" must be a non-empty string/],
        ['{"operation": "readproperty", "name": ""}', /"name" must be a non-empty string/],
        ['{"operation": "readmultipleproperties", "names": "brightness"}', /"names" must be an array/],
        ['{"operation": "writeproperty", "ttl": -1}', /"ttl" must be a non-negative number/],
        ['{"operation": "listTDs", "query": [1]}', /"query" must be an object/],
        [Buffer.from('{"operation":"listTDs"}'), /binary frames are not supported/],
      ];
      for (const [data, detail] of cases) await refused(raw(operator, data), 400, detail, servesOperator);
      // A JSON object's correlationId is echoed even when the envelope is refused.
      wsOperator.sendRaw('{"operation": "fly", "correlationId": "k-1"}');
      const echoed = await wsOperator.nextResponse();
      assert.equal(echoed.correlationId, 'k-1');
      assert.equal(echoed.status, 400);
    });

    it('invalid TDs: 400 with every problem listed; TDs and envelopes over the limits: 413', async () => {
      const created = await refused(
        envelope(agent, { operation: 'updateTD', input: invalidTd('urn:dev:ops:new-ws') }),
        400,
        /Thing Description is invalid/,
        servesAgent,
      );
      assert.deepEqual(created.errors?.map((e) => e.pointer).sort(), ['/properties/brightness/type', '/title']);
      await refused(envelope(agent, { operation: 'updateTD', input: invalidTd(THING) }), 400, /Thing Description is invalid/, servesAgent);
      await refused(envelope(agent, { operation: 'updateTD', input: 42 }), 400, /must be a JSON object/, servesAgent);
      await refused(envelope(agent, { operation: 'updateTD', input: '{"title": ' }), 400, /must be a JSON object/, servesAgent);
      await refused(envelope(agent, { operation: 'updateTD', input: lampTd('urn:dev:ops:a'), thingId: 'urn:dev:ops:b' }), 400, /differs/, servesAgent);
      await refused(envelope(agent, { operation: 'patchTD', thingId: THING, input: { title: null } }), 400, /title/, servesAgent);
      await refused(envelope(agent, { operation: 'patchTD', thingId: THING, input: [1] }), 400, /merge patch/, servesAgent);
      await refused(envelope(agent, { operation: 'updateTD', input: oversizedTd('urn:dev:ops:huge-ws') }), 413, /at most 16384/, servesAgent);
      await refused(
        envelope(agent, { operation: 'patchTD', thingId: THING, input: { description: bigString(LIMITS.maxTdBytes) } }),
        413,
        /at most 16384/,
        servesAgent,
      );
      // Beyond the envelope limit (max(TD, payload) + 4 KiB) the message is not even parsed.
      const tooBig = JSON.stringify({
        operation: 'updateTD',
        input: { ...lampTd('urn:dev:ops:huge-ws'), description: bigString(LIMITS.maxTdBytes + 8 * 1024) },
      });
      await refused(raw(agent, tooBig), 413, /limit/, servesAgent);
    });

    it('payloads over maxPayloadBytes: 413', async () => {
      const big = bigString(LIMITS.maxPayloadBytes + 1);
      await refused(envelope(operator, { operation: 'writeproperty', thingId: THING, name: 'brightness', input: big }), 413, /limit is 2048/, servesOperator);
      await refused(
        envelope(operator, { operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: 1, note: big } }),
        413,
        /limit is 2048/,
        servesOperator,
      );
      await refused(envelope(agent, { operation: 'updateproperty', thingId: THING, name: 'blob', input: big }), 413, /limit is 2048/, servesAgent);
      await refused(envelope(agent, { operation: 'updateproperty', thingId: THING, input: { blob: big } }), 413, /limit is 2048/, servesAgent);
      await refused(envelope(agent, { operation: 'publishevent', thingId: THING, name: 'overheated', input: big }), 413, /limit is 2048/, servesAgent);
    });

    it('unknown Thing, property, action, event, request: 404', async () => {
      const unknownAction = '00000000-0000-4000-8000-000000000000';
      const cases: [() => WsTestClient, HubRequest, RegExp][] = [
        [operator, { operation: 'readproperty', thingId: NOPE, name: 'brightness' }, /no Thing with id/],
        [operator, { operation: 'retrieveTD', thingId: NOPE }, /no Thing with id/],
        [operator, { operation: 'writeproperty', thingId: NOPE, name: 'brightness', input: 1 }, /no Thing with id/],
        [operator, { operation: 'readproperty', thingId: THING, name: 'nope' }, /no property 'nope'/],
        [operator, { operation: 'readmultipleproperties', thingId: THING, names: ['brightness', 'nope'] }, /no property 'nope'/],
        [operator, { operation: 'writeproperty', thingId: THING, name: 'nope', input: 1 }, /no property 'nope'/],
        [operator, { operation: 'invokeaction', thingId: THING, name: 'nope' }, /no action 'nope'/],
        [operator, { operation: 'observeproperty', thingId: THING, name: 'nope' }, /no property 'nope'/],
        [operator, { operation: 'subscribeevent', thingId: THING, name: 'nope' }, /no event 'nope'/],
        [operator, { operation: 'queryaction', thingId: THING, actionId: unknownAction }, /no request/],
        [operator, { operation: 'cancelaction', actionId: unknownAction }, /no request/],
        [agent, { operation: 'updateproperty', thingId: THING, name: 'nope', input: 1 }, /no property 'nope'/],
        [agent, { operation: 'publishevent', thingId: THING, name: 'nope', input: 1 }, /no event 'nope'/],
        [agent, { operation: 'deleteTD', thingId: NOPE }, /no Thing with id/],
        [agent, { operation: 'updateactionstatus', actionId: unknownAction, input: { status: 'completed' } }, /no request/],
      ];
      for (const [client, request, detail] of cases) await refused(envelope(client, request), 404, detail, client === agent ? servesAgent : servesOperator);
    });

    it('wrong types and missing fields: 400', async () => {
      const cases: [() => WsTestClient, HubRequest, RegExp][] = [
        [operator, { operation: 'writeproperty', thingId: THING, name: 'brightness', input: 'bright' }, /must be of type integer/],
        [operator, { operation: 'writeproperty', thingId: THING, name: 'brightness' }, /needs the new value/],
        [operator, { operation: 'writeproperty', thingId: THING, name: 'brightness', input: 5, ttl: 0 }, /ttl must be from 1/],
        [operator, { operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: 'x' } }, /must be of type integer/],
        [operator, { operation: 'readproperty', name: 'brightness' }, /needs a thingId/],
        [operator, { operation: 'readproperty', thingId: THING }, /needs the name of a property/],
        [operator, { operation: 'readmultipleproperties', thingId: THING, names: [] }, /non-empty list/],
        [operator, { operation: 'observeproperty', name: 'brightness' }, /needs a thingId and a name/],
        [operator, { operation: 'updatetags', thingId: THING, input: ['a'] }, /JSON object of string values/],
        [operator, { operation: 'listTDs', query: { limit: 0 } }, /limit/],
        [agent, { operation: 'updateproperty', thingId: THING, name: 'brightness', input: 'dim' }, /must be of type integer/],
        [agent, { operation: 'updateproperty', thingId: THING, input: { brightness: 50, status: 7 } }, /must be of type string/],
        [agent, { operation: 'updateproperty', thingId: THING, input: 'dim' }, /needs a property name and a value/],
        [agent, { operation: 'publishevent', thingId: THING, name: 'overheated', input: 'hot' }, /must be of type number/],
        [agent, { operation: 'updateactionstatus', input: { status: 'completed' } }, /needs an actionId/],
      ];
      for (const [client, request, detail] of cases) await refused(envelope(client, request), 400, detail, client === agent ? servesAgent : servesOperator);
    });

    it("Thing IDs with '#', '..', whitespace or control characters, or no scheme: 400 on registration and on use", async () => {
      for (const [id, reason] of BAD_IDS) {
        const registered = await refused(envelope(agent, { operation: 'updateTD', input: lampTd(id) }), 400, reason, servesAgent);
        assert.ok(registered.errors?.some((e) => e.pointer === '/id'));
        const { id: _id, ...anonymous } = lampTd(id);
        await refused(envelope(agent, { operation: 'updateTD', thingId: id, input: anonymous }), 400, reason, servesAgent);
        await refused(envelope(operator, { operation: 'readproperty', thingId: id, name: 'brightness' }), 400, reason, servesOperator);
        await refused(envelope(operator, { operation: 'observeproperty', thingId: id, name: 'brightness' }), 400, reason, servesOperator);
        await refused(envelope(agent, { operation: 'updateproperty', thingId: id, name: 'brightness', input: 1 }), 400, reason, servesAgent);
      }
      for (const [name, reason] of BAD_NAMES) {
        await refused(envelope(agent, { operation: 'updateTD', input: tdWithProperty('urn:dev:ops:bad-name-ws', name) }), 400, reason, servesAgent);
      }
    });
  });

  describe('MQTT (embedded broker)', () => {
    const THING_TOPIC = `things/${enc(THING)}`;
    /** Publishes raw bytes on a topic and reads the error the hub reports for that topic. */
    const topicPublish = (client: () => MqttTestClient, topic: string, payload: string | Buffer) => async () => {
      await client().publish(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload)); // resolves on PUBACK
      const error = await client()
        .nextError(topic)
        .catch((cause: Error) => assert.fail(`no error message about ${JSON.stringify(topic)}: ${cause.message}`));
      assert.equal(error.topic, topic);
      return fromEnvelope(error);
    };
    const envelope = (client: () => MqttTestClient, request: HubRequest) => async () => fromEnvelope(await client().request(request));
    const rawEnvelope = (client: () => MqttTestClient, id: string, payload: string) => async () => {
      await client().publish(`clients/${id}/requests`, Buffer.from(payload));
      const response = (await client().nextMessage(`clients/${id}/responses`)).json() as ResponseMessage;
      assert.equal(response.operation, 'unknown');
      return fromEnvelope(response);
    };
    const operator = () => mqttOperator;
    const agent = () => mqttAgent;
    const servesOperator = () => stillServes.mqtt(mqttOperator);
    const servesAgent = () => stillServes.mqtt(mqttAgent);

    it('malformed JSON on topics and envelopes: 400 on clients/{id}/errors or /responses, the connection stays', async () => {
      const cases: [() => MqttTestClient, string, string, RegExp][] = [
        [operator, `${THING_TOPIC}/properties/brightness/set`, 'bright', /not valid JSON.*strings must be quoted/],
        [operator, `${THING_TOPIC}/properties/brightness/set`, '', /payload is empty/],
        [operator, `${THING_TOPIC}/actions/fade`, '{level: 1}', /not valid JSON/],
        [agent, `${THING_TOPIC}/properties/brightness/reported`, '{', /not valid JSON/],
        [agent, `${THING_TOPIC}/events/overheated/reported`, 'hot', /not valid JSON/],
      ];
      for (const [client, topic, payload, detail] of cases)
        await refused(topicPublish(client, topic, payload), 400, detail, client === agent ? servesAgent : servesOperator);
      await refused(rawEnvelope(operator, 'operator-1', '{"operation":'), 400, /not valid JSON/, servesOperator);
      await refused(rawEnvelope(operator, 'operator-1', '{"operation": "fly"}'), 400, /not a known operation/, servesOperator);
      await refused(rawEnvelope(operator, 'operator-1', '[]'), 400, /JSON object/, servesOperator);
    });

    it('invalid TDs: 400; TDs and payloads over the limits: 413', async () => {
      const created = await refused(
        envelope(agent, { operation: 'updateTD', input: invalidTd('urn:dev:ops:new-mqtt') }),
        400,
        /Thing Description is invalid/,
        servesAgent,
      );
      assert.deepEqual(created.errors?.map((e) => e.pointer).sort(), ['/properties/brightness/type', '/title']);
      await refused(envelope(agent, { operation: 'patchTD', thingId: THING, input: { title: null } }), 400, /title/, servesAgent);
      await refused(envelope(agent, { operation: 'updateTD', input: oversizedTd('urn:dev:ops:huge-mqtt') }), 413, /at most 16384/, servesAgent);
      const big = bigString(LIMITS.maxPayloadBytes + 1);
      const bigJson = JSON.stringify(big);
      await refused(topicPublish(agent, `${THING_TOPIC}/properties/blob/reported`, bigJson), 413, /limit is 2048/, servesAgent);
      await refused(topicPublish(agent, `${THING_TOPIC}/events/overheated/reported`, bigJson), 413, /limit is 2048/, servesAgent);
      await refused(topicPublish(operator, `${THING_TOPIC}/properties/brightness/set`, bigJson), 413, /limit is 2048/, servesOperator);
      await refused(topicPublish(operator, `${THING_TOPIC}/actions/fade`, JSON.stringify({ level: 1, note: big })), 413, /limit is 2048/, servesOperator);
      await refused(envelope(agent, { operation: 'updateproperty', thingId: THING, name: 'blob', input: big }), 413, /limit is 2048/, servesAgent);
      await refused(
        rawEnvelope(agent, 'agent-1', JSON.stringify({ operation: 'updateTD', input: oversizedTd('urn:dev:ops:huger'), description: bigString(8 * 1024) })),
        413,
        /limit/,
        servesAgent,
      );
    });

    it('unknown Thing, property, action, event: 404 on clients/{id}/errors', async () => {
      const cases: [() => MqttTestClient, string, string, RegExp][] = [
        [operator, `things/${enc(NOPE)}/properties/brightness/set`, '5', /no Thing with id/],
        [operator, `things/${enc(NOPE)}/actions/fade`, '{"level": 1}', /no Thing with id/],
        [operator, `${THING_TOPIC}/properties/nope/set`, '5', /no property 'nope'/],
        [operator, `${THING_TOPIC}/actions/nope`, '', /no action 'nope'/],
        [agent, `${THING_TOPIC}/properties/nope/reported`, '5', /no property 'nope'/],
        [agent, `${THING_TOPIC}/events/nope/reported`, '5', /no event 'nope'/],
        [agent, `things/${enc(NOPE)}/properties/brightness/reported`, '5', /no Thing with id/],
      ];
      for (const [client, topic, payload, detail] of cases)
        await refused(topicPublish(client, topic, payload), 404, detail, client === agent ? servesAgent : servesOperator);
      await refused(envelope(operator, { operation: 'readproperty', thingId: THING, name: 'nope' }), 404, /no property 'nope'/, servesOperator);
    });

    it('values of the wrong type: 400 on clients/{id}/errors', async () => {
      const cases: [() => MqttTestClient, string, string, RegExp][] = [
        [operator, `${THING_TOPIC}/properties/brightness/set`, '"bright"', /must be of type integer/],
        [operator, `${THING_TOPIC}/properties/brightness/set`, '101', /must be <= 100/],
        [operator, `${THING_TOPIC}/properties/status/set`, '"on"', /read-only/],
        [operator, `${THING_TOPIC}/actions/fade`, '{"level": "x"}', /must be of type integer/],
        [agent, `${THING_TOPIC}/properties/brightness/reported`, '"dim"', /must be of type integer/],
        [agent, `${THING_TOPIC}/events/overheated/reported`, '"hot"', /must be of type number/],
      ];
      for (const [client, topic, payload, detail] of cases)
        await refused(topicPublish(client, topic, payload), 400, detail, client === agent ? servesAgent : servesOperator);
    });

    it("Thing IDs with '#', '..', whitespace or control characters, or no scheme: 400 (envelopes and encoded topics)", async () => {
      for (const [id, reason] of BAD_IDS) {
        await refused(envelope(agent, { operation: 'updateTD', input: lampTd(id) }), 400, reason, servesAgent);
        await refused(topicPublish(operator, `things/${enc(id)}/properties/brightness/set`, '5'), 400, reason, servesOperator);
        await refused(topicPublish(agent, `things/${enc(id)}/properties/brightness/reported`, '5'), 400, reason, servesAgent);
      }
      for (const [name, reason] of BAD_NAMES) {
        await refused(envelope(agent, { operation: 'updateTD', input: tdWithProperty('urn:dev:ops:bad-name-mqtt', name) }), 400, reason, servesAgent);
      }
    });

    it('publishes to topics outside the scheme or owned by the hub: 404/403 on clients/{id}/errors, retain ignored', async () => {
      const outside = [
        'foo/bar',
        'things',
        `${THING_TOPIC}`,
        `${THING_TOPIC}/properties`,
        `${THING_TOPIC}/properties/brightness/get`,
        `${THING_TOPIC}/properties/brightness/set/extra`,
        `${THING_TOPIC}/properties/brightness/`,
        `${THING_TOPIC}/switches/brightness/set`,
        'things//properties/brightness/set',
        `things/${THING}/properties/brightness/set`, // ':' not encoded: not the canonical spelling
        `things/${enc(THING).toLowerCase()}/properties/brightness/set`, // '%3a' instead of '%3A'
        `things/${enc(THING)}/properties/%62rightness/set`, // 'b' needlessly encoded
        'things/urn%3Adev%3Abad%ZZ/properties/brightness/set', // malformed encoding
        'clients/operator-1/requests/extra',
        'agents/operator-1',
        '$SYS/broker/uptime',
      ];
      for (const topic of outside) await refused(topicPublish(operator, topic, '5'), 404, /not part of the twinhub MQTT topic scheme/, servesOperator);
      const hubOnly = [
        `${THING_TOPIC}/properties/brightness`,
        `${THING_TOPIC}/events/overheated`,
        'agents/agent-1/requests',
        'clients/operator-1/responses',
        'clients/operator-1/notifications',
        'clients/operator-1/errors',
      ];
      for (const topic of hubOnly) await refused(topicPublish(operator, topic, '55'), 403, /published by the hub only/, servesOperator);
      // An envelope on someone else's request topic: refused on the publisher's own responses topic.
      const reader = await mqttClient('viewer-1', tokens.viewer);
      await refused(
        async () => {
          await mqttOperator.publish('clients/viewer-1/requests', { operation: 'listTDs', correlationId: 'not-yours' });
          const response = await mqttOperator.nextMessage(
            (m) => m.topic === 'clients/operator-1/responses' && (m.json() as ResponseMessage).correlationId === 'not-yours',
          );
          return fromEnvelope(response.json() as ResponseMessage);
        },
        403,
        /may only publish requests to clients\/operator-1\/requests/,
        servesOperator,
      );
      await quiet(100);
      assert.deepEqual(
        reader.received.map((m) => m.topic),
        [],
        'the viewer hears nothing of it',
      );
      // A retained publish on the value topic is refused and not retained: subscribers get the hub's value.
      await mqttOperator.mqtt.publishAsync(`${THING_TOPIC}/properties/brightness`, '99', { qos: 1, retain: true });
      await mqttOperator.nextError(`${THING_TOPIC}/properties/brightness`);
      await reader.subscribe(`${THING_TOPIC}/properties/brightness`);
      const retained = await reader.nextMessage(`${THING_TOPIC}/properties/brightness`);
      assert.equal(retained.retain, true);
      assert.equal(retained.json(), 10);
    });

    it("subscriptions outside the scheme or to someone else's topics: SUBACK 0x80 and an error message", async () => {
      const cases: [string, number][] = [
        ['foo/bar', 404],
        [`${THING_TOPIC}/properties`, 404],
        [`${THING_TOPIC}/properties/brightness/set`, 403],
        [`${THING_TOPIC}/actions/fade`, 403],
        ['clients/operator-1/requests', 403],
        ['clients/viewer-1/responses', 403],
        ['agents/agent-1/requests', 403],
        ['$SYS/#', 404],
        ['$SYS/broker/uptime', 404],
      ];
      for (const [filter, status] of cases) {
        await refused(
          async () => {
            assert.deepEqual(await mqttOperator.subscribe(filter), [128], filter);
            return fromEnvelope(await mqttOperator.nextError(filter));
          },
          status,
          /./,
          servesOperator,
        );
      }
    });

    it("wildcard-looking publishes ('+', '#' in the topic) are refused: the broker drops the connection unacknowledged", async () => {
      for (const topic of [`things/+/properties/brightness/set`, `${THING_TOPIC}/properties/#`, `things/urn%3Adev%3Aa+b/properties/brightness/set`]) {
        const before = await snapshot();
        const client = await mqttClient('operator-1', tokens.operator);
        const closed = new Promise<void>((resolve) => client.mqtt.once('close', () => resolve()));
        const acknowledged = client.publish(topic, 5).then(
          () => true,
          () => false,
        );
        await closed;
        assert.equal(await Promise.race([acknowledged, quiet(100).then(() => false)]), false, `no PUBACK for ${topic}`);
        assert.deepEqual(await snapshot(), before, `nothing stored for ${topic}`);
        await stillServes.mqtt(mqttOperator);
      }
    });
  });

  describe("IDs with '/' and '+' work and stay inside their route and topic", () => {
    // A Thing whose ID spells another Thing's property route: only its encoded form reaches it.
    const PLAIN = 'urn:dev:esc';
    const TRICKY = 'urn:dev:esc/properties/brightness+x';

    before(async () => {
      assert.equal((await http('PUT', thingPath(PLAIN), tokens.agent, { body: lampTd(PLAIN) })).status, 201);
      const created = await http('PUT', thingPath(TRICKY), tokens.agent, { body: lampTd(TRICKY) });
      assert.equal(created.status, 201, created.text);
      assert.equal(new URL(created.headers.get('location')!).pathname, `/things/${enc(TRICKY)}`);
      assert.equal((await http('PUT', `/agent${thingPath(PLAIN, '/properties/brightness')}`, tokens.agent, { body: 1 })).status, 204);
      assert.equal((await http('PUT', `/agent${thingPath(TRICKY, '/properties/brightness')}`, tokens.agent, { body: 2 })).status, 204);
    });

    it('HTTP: the encoded path reaches the Thing, the unencoded one does not', async () => {
      assert.equal((await http('GET', thingPath(TRICKY), tokens.viewer)).status, 200);
      assert.equal((await http('GET', thingPath(TRICKY, '/properties/brightness'), tokens.viewer)).body, 2);
      // Unencoded, the same characters name PLAIN's brightness property, never TRICKY.
      assert.equal((await http('GET', `/things/${PLAIN}/properties/brightness`, tokens.viewer)).body, 1);
      const escaped = await http('GET', `/things/${TRICKY}`, tokens.viewer);
      assert.equal(escaped.status, 404, escaped.text);
      // A write through the encoded path is queued for TRICKY only.
      const write = await http('PUT', thingPath(TRICKY, '/properties/brightness'), tokens.operator, { body: 3 });
      assert.equal(write.status, 202, write.text);
      assert.equal((write.body as { thingId: string }).thingId, TRICKY);
      assert.ok(write.headers.get('location')!.includes(`/things/${enc(TRICKY)}/properties/brightness/writes/`));
      const plainActions = await http('GET', thingPath(PLAIN, '/actions'), tokens.operator);
      assert.deepEqual(plainActions.body, []);
      // The twin TD's forms use the encoded form everywhere.
      const td = (await http('GET', thingPath(TRICKY), tokens.viewer)).body as { properties: Record<string, { forms: { href: string }[] }> };
      for (const form of td.properties.brightness.forms) {
        if (form.href.startsWith('http')) assert.ok(form.href.includes(`/things/${enc(TRICKY)}/`), form.href);
        if (form.href.startsWith('mqtt')) assert.ok(form.href.includes(`/things/${enc(TRICKY)}/`), form.href);
      }
    });

    it('WebSocket: the ID is a field, used as is', async () => {
      const read = await wsOperator.request({ operation: 'readproperty', thingId: TRICKY, name: 'brightness' });
      assert.equal(read.output, 2);
      assert.equal(read.thingId, TRICKY);
    });

    it('MQTT: one encoded level per ID; unencoded or wildcard-looking spellings never reach it', async () => {
      const viewer = await mqttClient('viewer-1', tokens.viewer);
      assert.deepEqual(await viewer.subscribe(`things/+/properties/brightness`), [1]);
      await quiet(100);
      const retained = Object.fromEntries(viewer.received.filter((m) => m.retain && m.topic.includes('esc')).map((m) => [m.topic, m.json()]));
      assert.deepEqual(retained, { [`things/${enc(PLAIN)}/properties/brightness`]: 1, [`things/${enc(TRICKY)}/properties/brightness`]: 2 });
      // '/' left unencoded adds levels: the topic is outside the scheme; nothing is queued anywhere.
      const slashes = `things/${TRICKY.split('/').map(enc).join('/')}/properties/brightness/set`;
      await refused(topicPublishOf(mqttOperator, slashes, '4'), 404, /not part of the twinhub MQTT topic scheme/, () => stillServes.mqtt(mqttOperator));
      // '+' left unencoded is a wildcard in a PUBLISH topic: the broker drops the connection, nothing is queued.
      const before = await snapshot();
      const dropped = await mqttClient('operator-1', tokens.operator);
      const closed = new Promise<void>((resolve) => dropped.mqtt.once('close', () => resolve()));
      void dropped.publish(`things/${enc(TRICKY).replace('%2B', '+')}/properties/brightness/set`, 4).catch(() => undefined);
      await closed;
      assert.deepEqual(await snapshot(), before);
      // Encoded: queued for TRICKY.
      const queued = ((await http('GET', thingPath(TRICKY, '/actions'), tokens.operator)).body as unknown[]).length;
      await mqttOperator.publish(`things/${enc(TRICKY)}/properties/brightness/set`, 4);
      const actions = (await http('GET', thingPath(TRICKY, '/actions'), tokens.operator)).body as { input: unknown; thingId: string }[];
      assert.equal(actions.length, queued + 1);
      assert.deepEqual([actions.at(-1)!.thingId, actions.at(-1)!.input], [TRICKY, 4]);
      assert.deepEqual((await http('GET', thingPath(PLAIN, '/actions'), tokens.operator)).body, []);
    });

    /** topicPublish, for a client outside the MQTT suite's closures. */
    function topicPublishOf(client: MqttTestClient, topic: string, payload: string) {
      return async () => {
        await client.publish(topic, Buffer.from(payload));
        return fromEnvelope(await client.nextError(topic));
      };
    }
  });
});
