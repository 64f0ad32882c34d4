// The authorization matrix, pinned: every role (admin, the owning agent, another agent, operator,
// viewer, anonymous) x every core operation x every binding that exposes it (HTTP routes and SSE
// streams, WebSocket envelopes, MQTT envelopes on clients/{id}/requests, and the MQTT topics for
// read/observe/write/invoke/report/requests). The expected table is written out below, not derived
// from the core's PERMISSIONS: a change to who may do what must change this file too.
// Then: agents never see tags nor another agent's requests, and no wildcard subscription or
// all-Things stream leaks another agent's values, requests or responses.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd, openSse, type SseConnection } from '@twinhub/binding-http/testing';
import { connectWs, refusedUpgrade, type WsTestClient } from '@twinhub/binding-ws/testing';
import { connectMqtt, connectRefusal, eventually, quiet, type MqttTestClient } from '@twinhub/binding-mqtt/testing';
import {
  ALL_OPERATIONS,
  type RequestRecord,
  type Client,
  type HubRequest,
  type Operation,
  type ResponseMessage,
  type ThingDescription,
  type TwinState,
} from '@twinhub/core';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

type Role = 'admin' | 'agent' | 'other' | 'operator' | 'viewer';
const ROLES: readonly Role[] = ['admin', 'agent', 'other', 'operator', 'viewer'];

/**
 * Who may run each operation on a Thing owned by `agent` (agent-1). `other` is agent-2, an agent
 * that does not own it. Y = allowed, - = 403. Operations without a Thing (listTDs, directory and
 * request subscriptions) are about the caller's own view, so `other` may run them too.
 */
const MATRIX = `
  operation               admin agent other operator viewer
  readproperty              Y     Y     -      Y       Y
  readallproperties         Y     Y     -      Y       Y
  readmultipleproperties    Y     Y     -      Y       Y
  writeproperty             Y     -     -      Y       -
  observeproperty           Y     Y     -      Y       Y
  unobserveproperty         Y     Y     -      Y       Y
  observeallproperties      Y     Y     -      Y       Y
  unobserveallproperties    Y     Y     -      Y       Y
  invokeaction              Y     -     -      Y       -
  queryaction               Y     Y     -      Y       Y
  queryallactions           Y     Y     -      Y       Y
  cancelaction              Y     -     -      Y       -
  subscribeevent            Y     Y     -      Y       Y
  unsubscribeevent          Y     Y     -      Y       Y
  subscribeallevents        Y     Y     -      Y       Y
  unsubscribeallevents      Y     Y     -      Y       Y
  readstate                 Y     Y     -      Y       Y
  retrieveTD                Y     Y     -      Y       Y
  listTDs                   Y     Y     Y      Y       Y
  readtwin                  Y     Y     -      Y       Y
  updatetags                Y     -     -      Y       -
  subscribedirectory        Y     Y     Y      Y       Y
  unsubscribedirectory      Y     Y     Y      Y       Y
  updateTD                  Y     Y     -      -       -
  patchTD                   Y     Y     -      -       -
  deleteTD                  Y     Y     -      -       -
  updateproperty            Y     Y     -      -       -
  publishevent              Y     Y     -      -       -
  updateactionstatus        Y     Y     -      -       -
  subscriberequests         -     Y     Y      -       -
  unsubscriberequests       -     Y     Y      -       -
  readdesired               Y     Y     -      -       -
  listagents                Y     Y     Y      Y       Y
  readagent                 Y     Y     -      Y       Y
  createclient              Y     -     -      -       -
  listclients               Y     -     -      -       -
  deleteclient              Y     -     -      -       -
  createtoken               Y     -     -      -       -
  listtokens                Y     -     -      -       -
  revoketoken               Y     -     -      -       -
  createjob                 Y     -     -      Y       -
  readjob                   Y     -     -      Y       Y
  listjobs                  Y     -     -      Y       Y
  canceljob                 Y     -     -      Y       -
  readpropertyhistory       Y     Y     -      Y       Y
  readeventhistory          Y     Y     -      Y       Y
  readhistorypolicy         Y     -     -      -       -
  updatehistorypolicy       Y     -     -      -       -
`;

/** Status of a successful run: the response envelope's (WS, MQTT) and the HTTP route's (none: no route). */
const SUCCESS: Record<Operation, { envelope: number; http?: number }> = {
  readproperty: { envelope: 200, http: 200 },
  readallproperties: { envelope: 200, http: 200 },
  readmultipleproperties: { envelope: 200, http: 200 },
  writeproperty: { envelope: 202, http: 202 },
  observeproperty: { envelope: 204, http: 200 }, // HTTP: an SSE stream
  unobserveproperty: { envelope: 204 }, // HTTP: close the stream
  observeallproperties: { envelope: 204, http: 200 },
  unobserveallproperties: { envelope: 204 },
  invokeaction: { envelope: 201, http: 201 },
  queryaction: { envelope: 200, http: 200 },
  queryallactions: { envelope: 200, http: 200 },
  cancelaction: { envelope: 200, http: 200 },
  subscribeevent: { envelope: 204, http: 200 },
  unsubscribeevent: { envelope: 204 },
  subscribeallevents: { envelope: 204, http: 200 },
  unsubscribeallevents: { envelope: 204 },
  readstate: { envelope: 200, http: 200 },
  retrieveTD: { envelope: 200, http: 200 },
  listTDs: { envelope: 200, http: 200 },
  readtwin: { envelope: 200, http: 200 },
  updatetags: { envelope: 200, http: 200 },
  subscribedirectory: { envelope: 204, http: 200 },
  unsubscribedirectory: { envelope: 204 },
  updateTD: { envelope: 200, http: 204 }, // replacing an existing TD
  patchTD: { envelope: 200, http: 204 },
  deleteTD: { envelope: 204, http: 204 },
  updateproperty: { envelope: 204, http: 204 },
  publishevent: { envelope: 204, http: 204 },
  updateactionstatus: { envelope: 200, http: 200 },
  subscriberequests: { envelope: 204, http: 200 },
  unsubscriberequests: { envelope: 204 },
  readdesired: { envelope: 200, http: 200 },
  listagents: { envelope: 200, http: 200 },
  readagent: { envelope: 200, http: 200 }, // agent-1's record
  createclient: { envelope: 201, http: 201 },
  listclients: { envelope: 200, http: 200 },
  deleteclient: { envelope: 204, http: 204 },
  createtoken: { envelope: 201, http: 201 },
  listtokens: { envelope: 200, http: 200 },
  revoketoken: { envelope: 200, http: 204 },
  // Fleet jobs (scheduled a month ahead, so the matrix queues no request).
  createjob: { envelope: 201, http: 201 },
  readjob: { envelope: 200, http: 200 },
  listjobs: { envelope: 200, http: 200 },
  canceljob: { envelope: 200, http: 200 },
  readpropertyhistory: { envelope: 200, http: 200 },
  readeventhistory: { envelope: 200, http: 200 },
  readhistorypolicy: { envelope: 200, http: 200 },
  updatehistorypolicy: { envelope: 200, http: 200 },
};

function parseMatrix(text: string): Record<string, Record<Role, boolean>> {
  const rows = text.trim().split('\n').slice(1);
  return Object.fromEntries(
    rows.map((row) => {
      const [operation, ...cells] = row.trim().split(/\s+/);
      assert.equal(cells.length, ROLES.length, row);
      return [operation, Object.fromEntries(ROLES.map((role, i) => [role, cells[i] === 'Y'])) as Record<Role, boolean>];
    }),
  );
}
const ALLOWED = parseMatrix(MATRIX);

const THING = 'urn:dev:authz:lamp'; // agent-1's
const DISPOSABLE = 'urn:dev:authz:disposable'; // agent-1's, for deleteTD
const OTHER = 'urn:dev:authz:other'; // agent-2's
const CLIENT_IDS: Record<Role, string> = { admin: 'admin-1', agent: 'agent-1', other: 'agent-2', operator: 'operator-1', viewer: 'viewer-1' };
const AS: Record<'admin' | 'agent' | 'other', Client> = {
  admin: { id: 'admin-1', role: 'admin' },
  agent: { id: 'agent-1', role: 'agent' },
  other: { id: 'agent-2', role: 'agent' },
};
const enc = encodeURIComponent;
const thingPath = (id: string, suffix = '') => `/things/${enc(id)}${suffix}`;

/** The table a run produced or expects: "role operation" -> status. */
type Outcomes = Record<string, number | string>;

describe('authorization matrix: every role x every operation x every binding', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const tokenOf = (role: Role) =>
    ({ admin: tokens.admin, agent: tokens.agent, other: tokens.otherAgent, operator: tokens.operator, viewer: tokens.viewer })[role];
  const ws = {} as Record<Role, WsTestClient>;
  const mqtt = {} as Record<Role, MqttTestClient>;
  const extra: { close(): unknown }[] = [];

  const run = async (client: Client, request: HubRequest) => {
    const result = await running.hub.handle(request, { client });
    assert.ok(result.ok, `setup ${request.operation} failed: ${JSON.stringify(result)}`);
    return result.output;
  };
  /** A request queued for agent-1's Thing (agent-1 is not receiving requests, so it stays pending). */
  const pendingAction = async () =>
    ((await run(AS.admin, { operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: 1 } })) as RequestRecord).actionId;

  /** Numbers the clients the admin operations create, so each run has its own. */
  let fresh = 0;

  /** A fleet job on agent-1's Things, scheduled a month ahead: it queues nothing while the matrix runs. */
  const jobSpec = () => ({
    operation: 'invokeaction',
    name: 'fade',
    input: { level: 1 },
    query: { agent: 'agent-1' },
    startAt: new Date(Date.now() + 30 * 24 * 3600_000).toISOString(),
  });
  const scheduledJob = async () => ((await run(AS.admin, { operation: 'createjob', input: jobSpec() })) as { jobId: string }).jobId;
  let readableJob: string | undefined;

  /** The request for `operation`, after whatever setup it needs (fresh pending actions, a Thing to delete). */
  async function requestFor(operation: Operation): Promise<HubRequest> {
    switch (operation) {
      case 'readproperty':
      case 'observeproperty':
      case 'unobserveproperty':
        return { operation, thingId: THING, name: 'brightness' };
      case 'readmultipleproperties':
        return { operation, thingId: THING, names: ['brightness'] };
      case 'subscribeevent':
      case 'unsubscribeevent':
        return { operation, thingId: THING, name: 'overheated' };
      case 'queryaction':
      case 'cancelaction':
        return { operation, thingId: THING, name: 'fade', actionId: await pendingAction() };
      case 'writeproperty':
        return { operation, thingId: THING, name: 'brightness', input: 5 };
      case 'invokeaction':
        return { operation, thingId: THING, name: 'fade', input: { level: 1 } };
      case 'updatetags':
        return { operation, thingId: THING, input: { room: 'lab' } };
      case 'updateTD':
        return { operation, thingId: THING, input: lampTd(THING) };
      case 'patchTD':
        return { operation, thingId: THING, input: { description: 'patched' } };
      case 'deleteTD':
        await run(AS.agent, { operation: 'updateTD', input: lampTd(DISPOSABLE) });
        return { operation, thingId: DISPOSABLE };
      case 'updateproperty':
        return { operation, thingId: THING, name: 'brightness', input: 10 };
      case 'publishevent':
        return { operation, thingId: THING, name: 'overheated', input: 1 };
      case 'updateactionstatus':
        // No thingId: the core must find the owner through the request record itself.
        return { operation, actionId: await pendingAction(), input: { status: 'running' } };
      case 'readagent':
        return { operation, agentId: CLIENT_IDS.agent };
      case 'readpropertyhistory':
        return { operation, thingId: THING, name: 'brightness' };
      case 'readeventhistory':
        return { operation, thingId: THING, name: 'overheated' };
      case 'updatehistorypolicy':
        return { operation, thingId: THING, input: { maxSamples: 1000 } };
      case 'listTDs':
      case 'listagents':
      case 'subscribedirectory':
      case 'unsubscribedirectory':
      case 'subscriberequests':
      case 'unsubscriberequests':
      case 'listclients':
      case 'listtokens':
        return { operation };
      case 'createclient':
        return { operation, input: { id: `authz-client-${++fresh}`, role: 'viewer' } };
      case 'deleteclient':
        await run(AS.admin, { operation: 'createclient', input: { id: `authz-client-${++fresh}`, role: 'viewer' } });
        return { operation, input: { id: `authz-client-${fresh}` } };
      case 'createtoken':
        return { operation, input: { clientId: `authz-client-${++fresh}`, role: 'viewer' } };
      case 'revoketoken': {
        const created = (await run(AS.admin, { operation: 'createtoken', input: { clientId: `authz-client-${++fresh}`, role: 'viewer' } })) as {
          tokenId: string;
        };
        return { operation, input: { tokenId: created.tokenId } };
      }
      case 'createjob':
        return { operation, input: jobSpec() };
      case 'readjob':
        readableJob ??= await scheduledJob();
        return { operation, input: { jobId: readableJob } };
      case 'listjobs':
        return { operation };
      case 'canceljob':
        return { operation, input: { jobId: await scheduledJob() } };
      default:
        return { operation, thingId: THING };
    }
  }

  interface HttpCall {
    method: string;
    path: string;
    body?: unknown;
    headers?: Record<string, string>;
    sse?: boolean;
  }

  /** The fields of an admin operation's input. */
  const admin = (request: HubRequest) => request.input as Record<string, string | undefined>;

  function httpCallFor(request: HubRequest): HttpCall | undefined {
    const thing = thingPath(request.thingId ?? THING);
    switch (request.operation) {
      case 'readproperty':
        return { method: 'GET', path: `${thing}/properties/brightness` };
      case 'readallproperties':
        return { method: 'GET', path: `${thing}/properties` };
      case 'readmultipleproperties':
        return { method: 'GET', path: `${thing}/properties?name=brightness` };
      case 'readstate':
        return { method: 'GET', path: `${thing}/state` };
      case 'observeproperty':
        return { method: 'GET', path: `${thing}/properties/brightness/observe`, sse: true };
      case 'observeallproperties':
        return { method: 'GET', path: `${thing}/properties/observe`, sse: true };
      case 'subscribeevent':
        return { method: 'GET', path: `${thing}/events/overheated`, sse: true };
      case 'subscribeallevents':
        return { method: 'GET', path: `${thing}/events`, sse: true };
      case 'queryaction':
        return { method: 'GET', path: `${thing}/actions/fade/${request.actionId}` };
      case 'queryallactions':
        return { method: 'GET', path: `${thing}/actions` };
      case 'writeproperty':
        return { method: 'PUT', path: `${thing}/properties/brightness`, body: request.input };
      case 'invokeaction':
        return { method: 'POST', path: `${thing}/actions/fade`, body: request.input };
      case 'cancelaction':
        return { method: 'DELETE', path: `${thing}/actions/fade/${request.actionId}` };
      case 'retrieveTD':
        return { method: 'GET', path: thing };
      case 'listTDs':
        return { method: 'GET', path: '/things' };
      case 'subscribedirectory':
        return { method: 'GET', path: '/events', sse: true };
      case 'readtwin':
        return { method: 'GET', path: `${thing}/twin` };
      case 'updatetags':
        return { method: 'PUT', path: `${thing}/tags`, body: request.input };
      case 'updateTD':
        return { method: 'PUT', path: thing, body: request.input };
      case 'patchTD':
        return { method: 'PATCH', path: thing, body: request.input, headers: { 'Content-Type': 'application/merge-patch+json' } };
      case 'deleteTD':
        return { method: 'DELETE', path: thing };
      case 'updateproperty':
        return { method: 'PUT', path: `/agent${thing}/properties/brightness`, body: request.input };
      case 'publishevent':
        return { method: 'POST', path: `/agent${thing}/events/overheated`, body: request.input };
      case 'updateactionstatus':
        return { method: 'POST', path: `/agent/requests/${request.actionId}`, body: request.input };
      case 'subscriberequests':
        return { method: 'GET', path: '/agent/requests', sse: true };
      case 'readdesired':
        return { method: 'GET', path: `/agent${thing}/desired` };
      case 'listagents':
        return { method: 'GET', path: '/agents' };
      case 'readagent':
        return { method: 'GET', path: `/agents/${enc(request.agentId!)}` };
      case 'createclient':
        return { method: 'POST', path: '/admin/clients', body: request.input };
      case 'listclients':
        return { method: 'GET', path: '/admin/clients' };
      case 'deleteclient':
        return { method: 'DELETE', path: `/admin/clients/${enc(admin(request).id!)}` };
      case 'createtoken':
        return { method: 'POST', path: `/admin/clients/${enc(admin(request).clientId!)}/tokens`, body: { role: admin(request).role } };
      case 'listtokens':
        return { method: 'GET', path: '/admin/tokens' };
      case 'revoketoken':
        return { method: 'DELETE', path: `/admin/tokens/${enc(admin(request).tokenId!)}` };
      case 'createjob':
        return { method: 'POST', path: '/jobs', body: request.input };
      case 'readjob':
        return { method: 'GET', path: `/jobs/${enc(admin(request).jobId!)}` };
      case 'listjobs':
        return { method: 'GET', path: '/jobs' };
      case 'canceljob':
        return { method: 'POST', path: `/jobs/${enc(admin(request).jobId!)}/cancel` };
      case 'readpropertyhistory':
        return { method: 'GET', path: `${thing}/properties/brightness/history` };
      case 'readeventhistory':
        return { method: 'GET', path: `${thing}/events/overheated/history` };
      case 'readhistorypolicy':
        return { method: 'GET', path: `${thing}/history-policy` };
      case 'updatehistorypolicy':
        return { method: 'PUT', path: `${thing}/history-policy`, body: request.input };
      default:
        return undefined; // unsubscribe*: an HTTP client closes the stream
    }
  }

  /** Runs an HTTP call; returns its status (problem bodies are checked on the way). */
  async function httpStatus(call: HttpCall, token: string | null): Promise<number> {
    if (call.sse) {
      const stream: SseConnection = await openSse(running.urls.http, call.path, { token });
      stream.close();
      if (stream.status !== 200) assert.equal(JSON.parse(stream.body).status, stream.status);
      return stream.status;
    }
    const response = await jsonRequest(running.urls.http, call.method, call.path, {
      token,
      ...(call.body !== undefined ? { body: call.body } : {}),
      ...(call.headers ? { headers: call.headers } : {}),
    });
    if (response.status >= 400) {
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.equal((response.body as { status: number }).status, response.status);
    }
    return response.status;
  }

  /** Checks a denial says why: the role, or the Thing's owner. */
  function checkDenial(status: number, detail: string | undefined, label: string): void {
    if (status === 403) assert.match(detail ?? '', /may not|belongs to another agent|may only/, label);
  }

  const expected = (binding: 'envelope' | 'http', roles: readonly Role[], operations: readonly Operation[]): Outcomes => {
    const table: Outcomes = {};
    for (const role of roles) for (const operation of operations) table[`${role} ${operation}`] = ALLOWED[operation][role] ? SUCCESS[operation][binding]! : 403;
    return table;
  };

  /** After a run that started request delivery, stop it so later setups stay pending. */
  async function afterRun(role: Role, operation: Operation, send: (request: HubRequest) => Promise<unknown>): Promise<void> {
    if (operation === 'subscriberequests' && ALLOWED.subscriberequests[role]) await send({ operation: 'unsubscriberequests' });
    await eventually(() => assert.equal(running.hub.presence('agent-1').connected, false));
  }

  before(async () => {
    data = await tempDataDir();
    // Hundreds of refused tokens from one address: the slowdown is hardening-http.test's subject, not this one's.
    running = await startTestHub(data.dir, { authFailureMaxDelayMs: 0 });
    tokens = await createTokens(running);
    await run(AS.agent, { operation: 'updateTD', input: lampTd(THING) });
    await run(AS.agent, { operation: 'updateproperty', thingId: THING, name: 'brightness', input: 10 });
    await run(AS.other, { operation: 'updateTD', input: lampTd(OTHER) });
    await run(AS.other, { operation: 'updateproperty', thingId: OTHER, name: 'brightness', input: 7 });
    for (const role of ROLES) {
      ws[role] = await connectWs(running.urls.ws, { token: tokenOf(role) });
      mqtt[role] = await connectMqtt(running.urls.mqtt!, { username: CLIENT_IDS[role], password: tokenOf(role) });
    }
  });

  after(async () => {
    for (const client of [...Object.values(ws), ...extra]) await client.close();
    for (const client of Object.values(mqtt)) await client.close(true).catch(() => undefined);
    await running?.close();
    await data?.remove();
  });

  it('the pinned matrix covers exactly the core operations', () => {
    assert.deepEqual(Object.keys(ALLOWED).sort(), [...ALL_OPERATIONS].sort());
    assert.deepEqual(Object.keys(SUCCESS).sort(), [...ALL_OPERATIONS].sort());
  });

  it('HTTP routes and SSE streams: every role x every operation with a route', async () => {
    const operations = ALL_OPERATIONS.filter((operation) => SUCCESS[operation].http !== undefined);
    assert.equal(operations.length, 42);
    const actual: Outcomes = {};
    for (const role of ROLES) {
      for (const operation of operations) {
        const call = httpCallFor(await requestFor(operation))!;
        const status = await httpStatus(call, tokenOf(role));
        actual[`${role} ${operation}`] = status;
        // SSE streams end their session on close, which also ends request delivery.
        await eventually(() => assert.equal(running.hub.presence('agent-1').connected, false));
      }
    }
    assert.deepEqual(actual, expected('http', ROLES, operations));
  });

  it('HTTP routes and SSE streams: anonymous (no token, unknown token) get 401 everywhere', async () => {
    const actual: Outcomes = {};
    const want: Outcomes = {};
    for (const operation of ALL_OPERATIONS) {
      const call = httpCallFor(await requestFor(operation));
      if (!call) continue;
      for (const [label, token] of [
        ['no token', null],
        ['unknown token', 'th_not-a-real-token'],
      ] as const) {
        actual[`${label} ${operation}`] = await httpStatus(call, token);
        want[`${label} ${operation}`] = 401;
      }
    }
    assert.equal(Object.keys(want).length, 84);
    assert.deepEqual(actual, want);
  });

  it('WebSocket envelopes: every role x every operation', async () => {
    const actual: Outcomes = {};
    for (const role of ROLES) {
      for (const operation of ALL_OPERATIONS) {
        const response = await ws[role].request(await requestFor(operation));
        actual[`${role} ${operation}`] = response.status;
        checkDenial(response.status, response.error?.detail, `${role} ${operation}`);
        await afterRun(role, operation, (request) => ws[role].request(request));
      }
    }
    assert.deepEqual(actual, expected('envelope', ROLES, ALL_OPERATIONS));
  });

  it('WebSocket: anonymous upgrades are refused with 401', async () => {
    assert.equal((await refusedUpgrade(running.urls.ws, {})).status, 401);
    assert.equal((await refusedUpgrade(running.urls.ws, { token: 'th_not-a-real-token' })).status, 401);
    assert.equal((await refusedUpgrade(running.urls.ws, { token: 'th_not-a-real-token', tokenIn: 'protocol' })).status, 401);
  });

  it('MQTT envelopes on clients/{id}/requests: every role x every operation', async () => {
    const actual: Outcomes = {};
    for (const role of ROLES) {
      for (const operation of ALL_OPERATIONS) {
        const response: ResponseMessage = await mqtt[role].request(await requestFor(operation));
        actual[`${role} ${operation}`] = response.status;
        checkDenial(response.status, response.error?.detail, `${role} ${operation}`);
        await afterRun(role, operation, (request) => mqtt[role].request(request));
      }
    }
    assert.deepEqual(actual, expected('envelope', ROLES, ALL_OPERATIONS));
  });

  it('MQTT: anonymous connections are refused (CONNACK 4: bad username or password)', async () => {
    const url = running.urls.mqtt!;
    assert.equal(await connectRefusal(url, {}), 4);
    assert.equal(await connectRefusal(url, { username: 'viewer-1', password: 'th_not-a-real-token' }), 4);
    assert.equal(await connectRefusal(url, { username: 'operator-1', password: tokens.viewer }), 4, "another client's token");
  });

  it('MQTT topics: read/observe (subscribe), write/invoke (publish), report/publish event, receive requests', async () => {
    const TOPIC = `things/${enc(THING)}`;
    const state = async () => (await run(AS.admin, { operation: 'readstate', thingId: THING })) as TwinState;
    const queued = async () => ((await run(AS.admin, { operation: 'queryallactions', thingId: THING })) as RequestRecord[]).length;
    let report = 20;
    /** Each topic operation: what it does, and whether it took effect (for publishes). */
    const topicOperations: Record<string, (client: MqttTestClient, role: Role) => Promise<number>> = {
      // Subscribing to the value topic is observeproperty; its retained message is readproperty.
      observeproperty: async (client) => {
        const topic = `${TOPIC}/properties/brightness`;
        const [granted] = await client.subscribe(topic);
        if (granted === 128) return (await client.nextError(topic)).status;
        assert.equal(typeof (await client.nextMessage(topic)).json(), 'number', 'the retained value arrives');
        await client.unsubscribe(topic);
        return 200;
      },
      subscribeevent: async (client) => {
        const topic = `${TOPIC}/events/overheated`;
        const [granted] = await client.subscribe(topic);
        if (granted === 128) return (await client.nextError(topic)).status;
        await client.unsubscribe(topic);
        return 200;
      },
      writeproperty: async (client) => {
        const topic = `${TOPIC}/properties/brightness/set`;
        const before = await queued();
        await client.publish(topic, 5);
        if ((await queued()) === before + 1) return 202;
        return (await client.nextError(topic)).status;
      },
      invokeaction: async (client) => {
        const topic = `${TOPIC}/actions/fade`;
        const before = await queued();
        await client.publish(topic, { level: 1 });
        if ((await queued()) === before + 1) return 201;
        return (await client.nextError(topic)).status;
      },
      updateproperty: async (client) => {
        const topic = `${TOPIC}/properties/brightness/reported`;
        const value = ++report;
        await client.publish(topic, value);
        if ((await state()).properties.brightness.value === value) return 204;
        return (await client.nextError(topic)).status;
      },
      publishevent: async (client) => {
        const topic = `${TOPIC}/events/overheated/reported`;
        const value = ++report;
        await client.publish(topic, value);
        if ((await state()).events.overheated?.data === value) return 204;
        return (await client.nextError(topic)).status;
      },
      // Every client may only ask for its own requests topic; only agents may receive requests at all.
      subscriberequests: async (client, role) => {
        const topic = `agents/${CLIENT_IDS[role]}/requests`;
        const [granted] = await client.subscribe(topic);
        if (granted === 128) return (await client.nextError(topic)).status;
        await client.unsubscribe(topic);
        return 204;
      },
    };
    const success: Record<string, number> = {
      observeproperty: 200,
      subscribeevent: 200,
      writeproperty: 202,
      invokeaction: 201,
      updateproperty: 204,
      publishevent: 204,
      subscriberequests: 204,
    };
    const actual: Outcomes = {};
    const want: Outcomes = {};
    for (const role of ROLES) {
      for (const [operation, runTopic] of Object.entries(topicOperations)) {
        actual[`${role} ${operation}`] = await runTopic(mqtt[role], role);
        want[`${role} ${operation}`] = ALLOWED[operation][role] ? success[operation] : 403;
        await eventually(() => assert.equal(running.hub.presence('agent-1').connected, false));
      }
    }
    assert.deepEqual(actual, want);
    // Someone else's requests topic is refused to everyone, agents included.
    for (const role of ROLES) {
      const topic = `agents/${role === 'agent' ? 'agent-2' : 'agent-1'}/requests`;
      assert.deepEqual(await mqtt[role].subscribe(topic), [128], `${role} ${topic}`);
      assert.equal((await mqtt[role].nextError(topic)).status, 403);
    }
  });

  describe('isolation', () => {
    it('agents never see tags: no tag queries, no tags in their twin document, no tag values in TDs', async () => {
      const secret = 'tag-secret-4711';
      await run(AS.admin, { operation: 'updatetags', thingId: THING, input: { secret } });
      // Consumers do see them.
      const byTag = await jsonRequest(running.urls.http, 'GET', `/things?tag=secret:${secret}`, { token: tokens.viewer });
      assert.deepEqual(
        (byTag.body as ThingDescription[]).map((td) => td.id),
        [THING],
      );
      for (const role of ['agent', 'other'] as const) {
        const http = await jsonRequest(running.urls.http, 'GET', `/things?tag=secret:${secret}`, { token: tokenOf(role) });
        assert.equal(http.status, 403, http.text);
        assert.match((http.body as { detail: string }).detail, /agents cannot query by tags/);
        for (const client of [ws[role], mqtt[role]]) {
          const listed = await client.request({ operation: 'listTDs', query: { tags: { secret } } });
          assert.equal(listed.status, 403);
          // Its own twin document leaves tags out; another agent's Thing is refused.
          const own = await client.request({ operation: 'readtwin', thingId: role === 'agent' ? THING : OTHER });
          assert.equal(own.status, 200, JSON.stringify(own));
          assert.equal((own.output as { tags?: unknown }).tags, undefined);
          assert.ok(!JSON.stringify(own).includes(secret));
          assert.equal((await client.request({ operation: 'readtwin', thingId: role === 'agent' ? OTHER : THING })).status, 403);
        }
      }
      // The owner's own TD, listing and directory notifications carry no tags.
      const watcher = await connectWs(running.urls.ws, { token: tokens.agent });
      extra.push(watcher);
      assert.equal((await watcher.request({ operation: 'subscribedirectory' })).status, 204);
      await run(AS.agent, { operation: 'patchTD', thingId: THING, input: { description: 'touched' } });
      const updated = await watcher.nextNotification({ operation: 'thing_updated', thingId: THING });
      const seen = [
        updated,
        await watcher.request({ operation: 'retrieveTD', thingId: THING }),
        await watcher.request({ operation: 'listTDs' }),
        await mqtt.agent.request({ operation: 'retrieveTD', thingId: THING }),
        (await jsonRequest(running.urls.http, 'GET', '/things', { token: tokens.agent })).body,
        (await jsonRequest(running.urls.http, 'GET', thingPath(THING), { token: tokens.agent })).body,
      ];
      for (const item of seen) assert.ok(!JSON.stringify(item).includes(secret), `tags leaked to an agent: ${JSON.stringify(item).slice(0, 200)}`);
    });

    it("an agent never sees another agent's requests: 403 on query/update, nothing on its request streams", async () => {
      // agent-2 listens for requests on every binding.
      const wsOther = await connectWs(running.urls.ws, { token: tokens.otherAgent });
      extra.push(wsOther);
      assert.equal((await wsOther.request({ operation: 'subscriberequests' })).status, 204);
      const sseOther = await openSse(running.urls.http, '/agent/requests', { token: tokens.otherAgent });
      extra.push({ close: () => sseOther.close() });
      const mqttOther = await connectMqtt(running.urls.mqtt!, { username: 'agent-2', password: tokens.otherAgent });
      extra.push({ close: () => mqttOther.close(true) });
      await mqttOther.subscribe('agents/agent-2/requests');
      await mqttOther.subscribe(['agents/+/requests', 'agents/#']);

      const actionId = await pendingAction();
      const thingActions = `${thingPath(THING)}/actions`;
      for (const [method, path, body] of [
        ['GET', `${thingActions}/fade/${actionId}`, undefined],
        ['GET', thingActions, undefined],
        ['DELETE', `${thingActions}/fade/${actionId}`, undefined],
        ['POST', `/agent/requests/${actionId}`, { status: 'completed' }],
      ] as const) {
        const response = await jsonRequest(running.urls.http, method, path, { token: tokens.otherAgent, ...(body ? { body } : {}) });
        assert.equal(response.status, 403, `${method} ${path}: ${response.text}`);
      }
      for (const client of [wsOther, mqttOther]) {
        assert.equal((await client.request({ operation: 'queryaction', actionId })).status, 403, 'queryaction by actionId alone');
        assert.equal((await client.request({ operation: 'queryaction', thingId: THING, actionId })).status, 403);
        assert.equal((await client.request({ operation: 'updateactionstatus', actionId, input: { status: 'completed' } })).status, 403);
      }
      await quiet(200);
      assert.deepEqual(
        sseOther.events.filter((e) => e.event === 'request'),
        [],
      );
      await assert.rejects(wsOther.nextAgentRequest(50));
      assert.deepEqual(
        mqttOther.received.filter((m) => m.topic.startsWith('agents/')),
        [],
      );
      // The owner does get it (the request was live all along).
      const owner = await connectWs(running.urls.ws, { token: tokens.agent });
      extra.push(owner);
      assert.equal((await owner.request({ operation: 'subscriberequests' })).status, 204);
      const delivered: string[] = [];
      for (;;) {
        const request = await owner.nextAgentRequest(1000).catch(() => undefined);
        if (!request) break;
        delivered.push(request.actionId);
      }
      assert.ok(delivered.includes(actionId), 'the owning agent receives the request');
      assert.equal(((await run(AS.admin, { operation: 'queryaction', actionId })) as RequestRecord).status, 'delivered');
      await owner.close();
    });

    it("MQTT wildcard subscriptions never leak another agent's values, requests or responses", async () => {
      const filters = [
        '#',
        'things/#',
        'things/+/properties/+',
        'things/+/events/+',
        'agents/+/requests',
        'clients/+/responses',
        'clients/+/notifications',
        'clients/+/errors',
        '+/+/+',
        '+/+/+/+',
      ];
      const spies: Record<'other' | 'viewer', MqttTestClient> = {
        other: await connectMqtt(running.urls.mqtt!, { username: 'agent-2', password: tokens.otherAgent, subscribeOwnTopics: false }),
        viewer: await connectMqtt(running.urls.mqtt!, { username: 'viewer-1', password: tokens.viewer, subscribeOwnTopics: false }),
      };
      for (const spy of Object.values(spies)) {
        extra.push({ close: () => spy.close(true) });
        assert.deepEqual(
          await spy.subscribe(filters),
          filters.map(() => 1),
          'wildcards are granted, filtered per message',
        );
      }
      // Traffic: agent-1 receives and answers a request, reports; the operator gets a response,
      // an error and action notifications; agent-2 reports on its own Thing (the control).
      const owner = await connectMqtt(running.urls.mqtt!, { username: 'agent-1', password: tokens.agent });
      extra.push({ close: () => owner.close(true) });
      const operator = await connectMqtt(running.urls.mqtt!, { username: 'operator-1', password: tokens.operator });
      extra.push({ close: () => operator.close(true) });
      await owner.subscribe('agents/agent-1/requests');
      assert.equal(
        (await operator.request({ operation: 'invokeaction', thingId: THING, name: 'fade', input: { level: 42 }, correlationId: 'op-invoke' })).status,
        201,
      );
      let request = await owner.nextAgentRequest();
      while (!(request.input as { level?: number } | undefined)?.level || (request.input as { level: number }).level !== 42)
        request = await owner.nextAgentRequest();
      assert.equal(
        (await owner.request({ operation: 'updateactionstatus', actionId: request.actionId, input: { status: 'completed', output: { reached: 42 } } })).status,
        200,
      );
      await operator.nextNotification((n) => n.operation === 'actionstatus' && (n.data as RequestRecord).status === 'completed');
      await owner.publish(`things/${enc(THING)}/properties/brightness/reported`, 77);
      await owner.publish(`things/${enc(THING)}/events/overheated/reported`, 99);
      await operator.publish('not/a/twinhub/topic', 1);
      await operator.nextError('not/a/twinhub/topic');
      await mqtt.other.publish(`things/${enc(OTHER)}/properties/brightness/reported`, 8);
      await eventually(() => assert.ok(spies.other.received.some((m) => m.topic === `things/${enc(OTHER)}/properties/brightness` && m.json() === 8)));
      await eventually(() => assert.ok(spies.viewer.received.some((m) => m.topic === `things/${enc(THING)}/properties/brightness` && m.json() === 77)));
      await quiet(200);

      // agent-2: its own Thing's topics only (retained values included), nothing of agent-1 or the operator.
      const otherTopics = [...new Set(spies.other.received.map((m) => m.topic))];
      for (const topic of otherTopics) assert.ok(topic.startsWith(`things/${enc(OTHER)}/`), `agent-2 received ${topic}`);
      assert.ok(!spies.other.received.some((m) => m.payload.toString().includes(THING)), "no payload mentions agent-1's Thing");
      // The viewer: Thing values and events (it may read them), but no one's requests, responses, notifications or errors.
      const viewerTopics = [...new Set(spies.viewer.received.map((m) => m.topic))];
      for (const topic of viewerTopics) assert.match(topic, /^things\/[^/]+\/(properties|events)\/[^/]+$/, `viewer received ${topic}`);
      assert.ok(viewerTopics.includes(`things/${enc(THING)}/events/overheated`), 'the viewer gets events (control)');
    });

    it("all-Things observations over WS and SSE never carry another agent's values or events", async () => {
      const wsOther = await connectWs(running.urls.ws, { token: tokens.otherAgent });
      extra.push(wsOther);
      for (const operation of ['observeallproperties', 'subscribeallevents', 'subscribedirectory'] as const) {
        assert.equal((await wsOther.request({ operation })).status, 204, operation);
      }
      const stream = await openSse(running.urls.http, '/stream', { token: tokens.otherAgent });
      extra.push({ close: () => stream.close() });
      const directory = await openSse(running.urls.http, '/events', { token: tokens.otherAgent });
      extra.push({ close: () => directory.close() });
      assert.deepEqual([stream.status, directory.status], [200, 200]);

      await run(AS.agent, { operation: 'updateproperty', thingId: THING, name: 'brightness', input: 66 });
      await run(AS.agent, { operation: 'publishevent', thingId: THING, name: 'overheated', input: 1.5 });
      await run(AS.agent, { operation: 'patchTD', thingId: THING, input: { description: 'again' } });
      await run(AS.agent, { operation: 'updateTD', input: lampTd(DISPOSABLE) });
      await run(AS.agent, { operation: 'deleteTD', thingId: DISPOSABLE });
      // The control: agent-2's own value arrives on both.
      await run(AS.other, { operation: 'updateproperty', thingId: OTHER, name: 'brightness', input: 9 });
      await wsOther.nextNotification({ operation: 'observeproperty', thingId: OTHER });
      await eventually(() => assert.ok(stream.events.some((e) => e.data.includes(OTHER))));
      await quiet(200);
      const notifications: unknown[] = [];
      for (;;) {
        const notification = await wsOther.nextNotification(undefined, 50).catch(() => undefined);
        if (!notification) break;
        notifications.push(notification);
      }
      for (const item of [...notifications, ...stream.events, ...directory.events]) {
        assert.ok(
          !JSON.stringify(item).includes('urn:dev:authz:lamp') && !JSON.stringify(item).includes(DISPOSABLE),
          `leaked: ${JSON.stringify(item).slice(0, 200)}`,
        );
      }
    });
  });
});
