import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub, HubApi, HubLimits, HubRequest, NotificationMessage, ResponseMessage, ThingDescription } from '@twinhub/core';
import { createHttpBinding } from '@twinhub/binding-http';
import { HoldingHub, startFixture, type RoleTokens } from '@twinhub/testkit';
import { attachWsBinding, type WsBinding } from './index.js';
import { MAX_IN_FLIGHT_REQUESTS } from './connection.js';
import { connectWs, eventually, refusedUpgrade, type WsTestClient } from './testing.js';

const THING_ID = 'urn:dev:ops:ws-lamp-1';

function lampTd(): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id: THING_ID,
    title: 'WS lamp',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      brightness: { type: 'integer', minimum: 0, maximum: 1000, observable: true, forms: [{ href: 'http://lamp.local/brightness' }] },
      status: { type: 'string', readOnly: true, forms: [{ href: 'http://lamp.local/status' }] },
      label: { type: 'string', observable: true, forms: [{ href: 'http://lamp.local/label' }] },
    },
    actions: {
      fade: {
        input: { type: 'object', properties: { level: { type: 'integer' } }, required: ['level'] },
        output: { type: 'object', properties: { reached: { type: 'integer' } } },
        forms: [{ href: 'http://lamp.local/fade' }],
      },
    },
    events: { overheating: { data: { type: 'number' }, forms: [{ href: 'http://lamp.local/overheating' }] } },
  };
}

interface Fixture {
  hub: Hub;
  binding: WsBinding;
  url: string;
  tokens: RoleTokens;
  close(): Promise<void>;
}

/** A hub with the HTTP binding (its server carries the WebSocket endpoint) and the WS binding. */
async function startHub(options: { limits?: Partial<HubLimits>; heartbeatIntervalMs?: number; wrap?: (hub: Hub) => HubApi } = {}): Promise<Fixture> {
  const fixture = await startFixture({
    bindings: (hub) => {
      const http = createHttpBinding({ hub });
      return [http, attachWsBinding({ hub, server: http.server, heartbeatIntervalMs: options.heartbeatIntervalMs })] as const;
    },
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.wrap ? { wrap: options.wrap } : {}),
  });
  const binding = fixture.bindings[1];
  return { hub: fixture.hub, binding, url: fixture.urls[binding.name], tokens: fixture.tokens, close: fixture.close };
}

async function registerLamp(fixture: Fixture): Promise<WsTestClient> {
  const agent = await connectWs(fixture.url, { token: fixture.tokens.agent });
  const registered = await agent.request({ operation: 'updateTD', input: lampTd() });
  assert.ok(registered.status === 201 || registered.status === 200, JSON.stringify(registered));
  return agent;
}

describe('WebSocket binding', { timeout: 30_000 }, () => {
  let fixture: Fixture;
  const open: WsTestClient[] = [];
  const connect = async (token: string, tokenIn?: 'header' | 'protocol') => {
    const client = await connectWs(fixture.url, { token, tokenIn });
    open.push(client);
    return client;
  };

  before(async () => {
    fixture = await startHub();
  });

  after(async () => {
    await Promise.all(open.map((client) => client.close()));
    await fixture.close();
  });

  describe('upgrade', () => {
    it('refuses an upgrade without a token with 401 and a problem body, and opens no socket', async () => {
      const refused = await refusedUpgrade(fixture.url);
      assert.equal(refused.status, 401);
      assert.match(String(refused.headers['content-type']), /application\/problem\+json/);
      assert.match(String(refused.headers['www-authenticate']), /^Bearer/);
      const problem = refused.json() as { status: number; title: string; detail: string };
      assert.equal(problem.status, 401);
      assert.equal(problem.title, 'Unauthorized');
      assert.equal(fixture.binding.connections(), 0);
    });

    it('refuses an unknown token with 401, in the header or the subprotocol', async () => {
      for (const tokenIn of ['header', 'protocol'] as const) {
        const refused = await refusedUpgrade(fixture.url, { token: 'th_not-a-real-token', tokenIn });
        assert.equal(refused.status, 401, tokenIn);
        assert.match((refused.json() as { detail: string }).detail, /unknown or revoked/);
      }
    });

    it('answers an upgrade on another path with 404', async () => {
      const refused = await refusedUpgrade(fixture.url.replace(/\/ws$/, '/elsewhere'), { token: fixture.tokens.operator });
      assert.equal(refused.status, 404);
    });

    it('accepts the browser subprotocol pair and selects twinhub.v1, never echoing the token', async () => {
      const client = await connect(fixture.tokens.viewer, 'protocol');
      assert.equal(client.protocol, 'twinhub.v1');
      const response = await client.request({ operation: 'listTDs' });
      assert.equal(response.status, 200);
      assert.ok(Array.isArray(response.output));
    });
  });

  describe('agent and consumer', () => {
    let agent: WsTestClient;
    let operator: WsTestClient;

    before(async () => {
      agent = await registerLamp(fixture);
      operator = await connect(fixture.tokens.operator);
    });

    after(async () => {
      // Later tests need the agent offline.
      await agent.close();
    });

    it('serves twin TDs with WS forms pointing at the endpoint', async () => {
      const response = await operator.request({ operation: 'retrieveTD', thingId: THING_ID });
      assert.equal(response.status, 200);
      // biome-ignore lint/suspicious/noExplicitAny: TD JSON, checked field by field below
      const td = response.output as Record<string, any>;
      assert.deepEqual(td.securityDefinitions.bearer_sc, { scheme: 'bearer', in: 'header', name: 'Authorization' });
      const brightness = td.properties.brightness.forms as Record<string, unknown>[];
      const wsForm = brightness.find((form) => form.subprotocol === 'twinhub.v1');
      assert.ok(wsForm, JSON.stringify(brightness));
      assert.equal(wsForm.href, fixture.url);
      assert.match(String(wsForm.href), /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
      assert.deepEqual(wsForm.op, ['readproperty', 'writeproperty', 'observeproperty', 'unobserveproperty']);
      assert.deepEqual(td.properties.status.forms[0].op, ['readproperty']);
      assert.ok((td.forms as { op: string[] }[]).some((form) => form.op.includes('observeallproperties')));
    });

    it('delivers a reported property to an observer on another socket, and serves it on reads', async () => {
      const observed = await operator.request({ operation: 'observeproperty', thingId: THING_ID, name: 'brightness' });
      assert.equal(observed.status, 204, JSON.stringify(observed));
      const reported = await agent.request({ operation: 'updateproperty', thingId: THING_ID, name: 'brightness', input: 42 });
      assert.equal(reported.status, 204, JSON.stringify(reported));

      const notification = await operator.nextNotification({ operation: 'observeproperty', thingId: THING_ID, name: 'brightness' });
      assert.equal(notification.data, 42);
      assert.equal(typeof notification.seq, 'number');

      const read = await operator.request({ operation: 'readproperty', thingId: THING_ID, name: 'brightness' });
      assert.equal(read.status, 200);
      assert.equal(read.output, 42);
      const all = await operator.request({ operation: 'readallproperties', thingId: THING_ID });
      assert.deepEqual(all.output, { brightness: 42 });
    });

    it('echoes the correlationId of an invokeaction and pushes the request to the connected agent', async () => {
      const subscribed = await agent.request({ operation: 'subscriberequests' });
      assert.equal(subscribed.status, 204, JSON.stringify(subscribed));
      const invoked = await operator.request({ operation: 'invokeaction', thingId: THING_ID, name: 'fade', input: { level: 7 }, correlationId: 'fade-1' });
      assert.equal(invoked.correlationId, 'fade-1');
      assert.equal(invoked.status, 201, JSON.stringify(invoked));
      const actionId = (invoked.output as { actionId: string }).actionId;

      const pushed = await agent.nextAgentRequest();
      assert.deepEqual(
        { operation: pushed.operation, name: pushed.name, input: pushed.input, actionId: pushed.actionId },
        { operation: 'invokeaction', name: 'fade', input: { level: 7 }, actionId },
      );
      const done = await agent.request({
        operation: 'updateactionstatus',
        thingId: THING_ID,
        actionId,
        input: { status: 'completed', output: { reached: 7 } },
      });
      assert.equal(done.status, 200, JSON.stringify(done));
      const status = await operator.nextNotification((n) => n.operation === 'actionstatus' && (n.data as { status: string }).status === 'completed');
      assert.deepEqual((status.data as { output: unknown }).output, { reached: 7 });
    });

    it('keeps the order of responses on one socket when requests are pipelined', async () => {
      const values = Array.from({ length: 40 }, (_, i) => i + 1);
      const responses = await Promise.all(
        values.map((value) => agent.request({ operation: 'updateproperty', thingId: THING_ID, name: 'brightness', input: value })),
      );
      assert.ok(responses.every((response) => response.status === 204));
      const notifications: NotificationMessage[] = [];
      for (const _ of values) notifications.push(await operator.nextNotification({ operation: 'observeproperty', name: 'brightness' }));
      assert.deepEqual(
        notifications.map((n) => n.data),
        values,
      );
      const read = await operator.request({ operation: 'readproperty', thingId: THING_ID, name: 'brightness' });
      assert.equal(read.output, 40);
    });

    it("answers a viewer invokeaction with the core's 403 and keeps the socket usable", async () => {
      const viewer = await connect(fixture.tokens.viewer);
      const refused = await viewer.request({ operation: 'invokeaction', thingId: THING_ID, name: 'fade', input: { level: 1 }, correlationId: 'v-1' });
      assert.equal(refused.status, 403);
      assert.equal(refused.correlationId, 'v-1');
      assert.equal(refused.error?.status, 403);
      assert.match(refused.error?.detail ?? '', /viewer/);
      const read = await viewer.request({ operation: 'readproperty', thingId: THING_ID, name: 'brightness' });
      assert.equal(read.status, 200);
    });
  });

  describe('a write while the agent is offline', () => {
    it('is delivered when the agent connects and subscribes, and its completion reaches the writer', async () => {
      const agent = await registerLamp(fixture);
      await agent.close();
      await eventually(() => !fixture.hub.presence('agent-1').connected, 'agent offline');

      const operator = await connect(fixture.tokens.operator);
      const written = await operator.request({ operation: 'writeproperty', thingId: THING_ID, name: 'label', input: 'kitchen' });
      assert.equal(written.status, 202, JSON.stringify(written));
      const actionId = (written.output as { actionId: string; status: string }).actionId;
      assert.equal((written.output as { status: string }).status, 'pending');

      const back = await connectWs(fixture.url, { token: fixture.tokens.agent });
      assert.equal((await back.request({ operation: 'subscriberequests' })).status, 204);
      const pushed = await back.nextAgentRequest();
      assert.equal(pushed.operation, 'writeproperty');
      assert.equal(pushed.name, 'label');
      assert.equal(pushed.input, 'kitchen');
      assert.equal(pushed.actionId, actionId);

      const done = await back.request({ operation: 'updateactionstatus', thingId: THING_ID, actionId, input: { status: 'completed' } });
      assert.equal(done.status, 200, JSON.stringify(done));
      const status = await operator.nextNotification(
        (n) => n.operation === 'actionstatus' && (n.data as { actionId: string; status: string }).status === 'completed',
      );
      assert.equal((status.data as { actionId: string }).actionId, actionId);
      assert.equal(status.name, 'label');
      await back.close();
    });
  });

  describe('bad input', () => {
    let client: WsTestClient;
    before(async () => {
      client = await connect(fixture.tokens.operator);
    });

    it('answers malformed JSON with a 400 envelope and keeps the socket', async () => {
      client.sendRaw('{"type":"request","operation":');
      const response = await client.nextResponse();
      assert.equal(response.type, 'response');
      assert.equal(response.status, 400);
      assert.match(response.error?.detail ?? '', /not valid JSON/);
      assert.equal((await client.request({ operation: 'listTDs' })).status, 200);
    });

    it('answers an unknown operation with 400, echoing the correlationId', async () => {
      client.sendRaw(JSON.stringify({ type: 'request', operation: 'explode', correlationId: 'x-1' }));
      const response = await client.nextResponse();
      assert.equal(response.status, 400);
      assert.equal(response.correlationId, 'x-1');
      assert.match(response.error?.detail ?? '', /explode/);
    });

    it('answers a binary frame with 400', async () => {
      client.sendRaw(Buffer.from(JSON.stringify({ operation: 'listTDs' })), { binary: true });
      const response = await client.nextResponse();
      assert.equal(response.status, 400);
      assert.match(response.error?.detail ?? '', /binary/);
      assert.equal((await client.request({ operation: 'listTDs' })).status, 200);
    });

    it('answers an oversize message with 413 and keeps the socket', async () => {
      const limits = fixture.hub.limits;
      const big = 'x'.repeat(Math.max(limits.maxTdBytes, limits.maxPayloadBytes) + 8192);
      client.sendRaw(JSON.stringify({ operation: 'writeproperty', thingId: THING_ID, name: 'label', input: big }));
      const response = await client.nextResponse();
      assert.equal(response.status, 413);
      assert.equal((await client.request({ operation: 'listTDs' })).status, 200);
    });

    it("answers a payload over maxPayloadBytes inside an accepted envelope with the core's 413", async () => {
      const big = 'x'.repeat(fixture.hub.limits.maxPayloadBytes + 10);
      const response = await client.request({ operation: 'writeproperty', thingId: THING_ID, name: 'label', input: big });
      assert.equal(response.status, 413, JSON.stringify(response.error));
    });
  });

  describe('session lifecycle', () => {
    it("closes the socket with 1001 when the client's token is revoked", async () => {
      await fixture.hub.tokens.create({ id: 'temp-1', role: 'viewer' }).then(async ({ token }) => {
        const client = await connectWs(fixture.url, { token });
        assert.equal((await client.request({ operation: 'listTDs' })).status, 200);
        await fixture.hub.tokens.revoke({ clientId: 'temp-1' });
        const closed = await client.closed;
        assert.equal(closed.code, 1001);
        assert.match(closed.reason, /revoked/);
        assert.equal((await refusedUpgrade(fixture.url, { token })).status, 401);
      });
    });

    it("ends the agent's hub session when its socket closes", async () => {
      const agent = await connectWs(fixture.url, { token: fixture.tokens.agent });
      await agent.request({ operation: 'subscriberequests' });
      assert.equal(fixture.hub.presence('agent-1').connected, true);
      await agent.close();
      await eventually(() => !fixture.hub.presence('agent-1').connected, 'agent presence gone');
    });
  });
});

/** Every response envelope the socket receives, in arrival order. */
function responsesOf(client: WsTestClient): ResponseMessage[] {
  const responses: ResponseMessage[] = [];
  client.ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as ResponseMessage;
    if (message.type === 'response') responses.push(message);
  });
  return responses;
}

describe('WebSocket binding pipelining', { timeout: 30_000 }, () => {
  it('starts the next requests while an earlier one waits, and answers in request order', async () => {
    const holding = new HoldingHub();
    const fixture = await startHub({ wrap: (hub) => holding.wrap(hub) });
    try {
      const agent = await registerLamp(fixture);
      const responses = responsesOf(agent);
      holding.calls = [];
      holding.holding = true;
      const send = (request: HubRequest) => agent.sendRaw(JSON.stringify({ type: 'request', ...request }));
      send({ operation: 'updateproperty', thingId: THING_ID, name: 'brightness', input: 1, correlationId: 'c1' });
      send({ operation: 'readproperty', thingId: THING_ID, name: 'brightness', correlationId: 'c2' });
      send({ operation: 'updateproperty', thingId: THING_ID, name: 'brightness', input: 'not a number', correlationId: 'c3' });
      send({ operation: 'updateproperty', thingId: THING_ID, name: 'brightness', input: 4, correlationId: 'c4' });
      // All four reach the hub although the first one's answer is held back.
      await eventually(() => holding.calls.length === 4, 'four requests handled at once');
      assert.deepEqual(
        holding.calls.map((call) => call.correlationId),
        ['c1', 'c2', 'c3', 'c4'],
      );
      assert.equal(holding.inFlight, 4);
      holding.release();
      await eventually(() => responses.length === 4, 'four responses');
      assert.deepEqual(
        responses.map((r) => [r.correlationId, r.status]),
        [
          ['c1', 204],
          ['c2', 200],
          ['c3', 400],
          ['c4', 204],
        ],
      );
      // c2 was handled after c1 was applied, though before c1 was durable.
      assert.equal(responses[1].output, 1);
      const read = await agent.request({ operation: 'readproperty', thingId: THING_ID, name: 'brightness' });
      assert.equal(read.output, 4);
      await agent.close();
    } finally {
      await fixture.close();
    }
  });

  it(`keeps at most ${MAX_IN_FLIGHT_REQUESTS} requests of one socket in flight and answers the rest in order`, async () => {
    const holding = new HoldingHub();
    const fixture = await startHub({ wrap: (hub) => holding.wrap(hub) });
    try {
      const agent = await registerLamp(fixture);
      const responses = responsesOf(agent);
      holding.calls = [];
      holding.maxInFlight = 0;
      holding.holding = true;
      const count = MAX_IN_FLIGHT_REQUESTS + 20;
      for (let i = 1; i <= count; i++) {
        agent.sendRaw(
          JSON.stringify({ type: 'request', operation: 'updateproperty', thingId: THING_ID, name: 'brightness', input: i, correlationId: `c${i}` }),
        );
      }
      await eventually(() => holding.calls.length === MAX_IN_FLIGHT_REQUESTS, 'the in-flight bound reached');
      await new Promise((resolve) => setTimeout(resolve, 50)); // give the socket time to deliver the rest
      assert.equal(holding.calls.length, MAX_IN_FLIGHT_REQUESTS, 'requests over the bound wait unstarted');
      holding.release();
      await eventually(() => responses.length === count, 'every request answered');
      assert.deepEqual(
        responses.map((r) => r.correlationId),
        Array.from({ length: count }, (_, i) => `c${i + 1}`),
      );
      assert.ok(responses.every((r) => r.status === 204));
      assert.ok(holding.maxInFlight <= MAX_IN_FLIGHT_REQUESTS, `max in flight ${holding.maxInFlight}`);
      const read = await agent.request({ operation: 'readproperty', thingId: THING_ID, name: 'brightness' });
      assert.equal(read.output, count);
      await agent.close();
    } finally {
      await fixture.close();
    }
  });
});

describe('WebSocket binding limits', { timeout: 30_000 }, () => {
  it('drops a client that stops reading and closes its hub session', async () => {
    const fixture = await startHub({ limits: { maxSendBufferBytes: 64 * 1024, maxSessionsPerClient: 1 } });
    try {
      const agent = await registerLamp(fixture);
      const slow = await connectWs(fixture.url, { token: fixture.tokens.operator });
      assert.equal((await slow.request({ operation: 'observeproperty', thingId: THING_ID, name: 'label' })).status, 204);
      assert.equal(fixture.binding.connections(), 2);
      slow.ws.pause(); // stop reading: the kernel buffers fill, then the server's send buffer

      const value = 'v'.repeat(16 * 1024);
      for (let batch = 0; batch < 200 && fixture.binding.connections() > 1; batch++) {
        const responses = await Promise.all(
          Array.from({ length: 20 }, () => agent.request({ operation: 'updateproperty', thingId: THING_ID, name: 'label', input: value })),
        );
        assert.ok(responses.every((response) => response.status === 204));
      }
      await eventually(() => fixture.binding.connections() === 1, 'the slow client dropped');

      // maxSessionsPerClient is 1: the operator can connect again only if its old session is gone.
      const again = await connectWs(fixture.url, { token: fixture.tokens.operator });
      assert.equal((await again.request({ operation: 'observeproperty', thingId: THING_ID, name: 'label' })).status, 204);
      await agent.request({ operation: 'updateproperty', thingId: THING_ID, name: 'label', input: 'after' });
      assert.equal((await again.nextNotification({ name: 'label' })).data, 'after');
      slow.ws.terminate();
      await Promise.all([again.close(), agent.close()]);
    } finally {
      await fixture.close();
    }
  });

  it('keeps a reading client whose burst of pushed requests exceeds the send buffer limit', async () => {
    const fixture = await startHub({ limits: { maxSendBufferBytes: 64 * 1024 } });
    try {
      await registerLamp(fixture).then((agent) => agent.close());
      const operator = await connectWs(fixture.url, { token: fixture.tokens.operator });
      const count = 250; // about 1 KiB each: all pushed in one go at subscriberequests, ~4x the limit
      const invoked = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          operator.request({ operation: 'invokeaction', thingId: THING_ID, name: 'fade', input: { level: i, note: 'n'.repeat(1000) } }),
        ),
      );
      assert.ok(invoked.every((response) => response.status === 201));
      const agent = await connectWs(fixture.url, { token: fixture.tokens.agent });
      assert.equal((await agent.request({ operation: 'subscriberequests' })).status, 204);
      const levels: number[] = [];
      for (let i = 0; i < count; i++) levels.push(((await agent.nextAgentRequest()).input as { level: number }).level);
      assert.deepEqual(
        levels,
        Array.from({ length: count }, (_, i) => i),
      );
      assert.equal(agent.ws.readyState, agent.ws.OPEN);
      await Promise.all([agent.close(), operator.close()]);
    } finally {
      await fixture.close();
    }
  });

  it("refuses a second session over maxSessionsPerClient with the core's 429", async () => {
    const fixture = await startHub({ limits: { maxSessionsPerClient: 1 } });
    try {
      const first = await connectWs(fixture.url, { token: fixture.tokens.viewer });
      const refused = await refusedUpgrade(fixture.url, { token: fixture.tokens.viewer });
      assert.equal(refused.status, 429);
      await first.close();
    } finally {
      await fixture.close();
    }
  });

  it('refuses connections over maxConnections with 503', async () => {
    const fixture = await startHub({ limits: { maxConnections: 1 } });
    try {
      const first = await connectWs(fixture.url, { token: fixture.tokens.viewer });
      const refused = await refusedUpgrade(fixture.url, { token: fixture.tokens.operator });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '5');
      await first.close();
      await eventually(() => fixture.binding.connections() === 0, 'first socket gone');
      const second = await connectWs(fixture.url, { token: fixture.tokens.operator });
      await second.close();
    } finally {
      await fixture.close();
    }
  });

  it('terminates a peer that does not answer pings, and keeps one that does', async () => {
    const fixture = await startHub({ heartbeatIntervalMs: 50 });
    try {
      await registerLamp(fixture).then((agent) => agent.close());
      const dead = await connectWs(fixture.url, { token: fixture.tokens.agent, autoPong: false });
      await dead.request({ operation: 'subscriberequests' });
      const alive = await connectWs(fixture.url, { token: fixture.tokens.operator });
      assert.equal(fixture.hub.presence('agent-1').connected, true);

      const closed = await dead.closed;
      assert.equal(closed.code, 1006); // terminated: no close frame
      await eventually(() => !fixture.hub.presence('agent-1').connected, 'dead agent session closed');
      await new Promise((resolve) => setTimeout(resolve, 200)); // several more heartbeats
      assert.equal(alive.ws.readyState, alive.ws.OPEN);
      assert.equal((await alive.request({ operation: 'listTDs' })).status, 200);
      assert.equal(fixture.binding.connections(), 1);
      await alive.close();
    } finally {
      await fixture.close();
    }
  });

  it('closes every socket with 1001 and refuses upgrades after close()', async () => {
    const fixture = await startHub();
    try {
      const client = await connectWs(fixture.url, { token: fixture.tokens.viewer });
      await fixture.binding.close();
      assert.equal((await client.closed).code, 1001);
      assert.equal(fixture.binding.connections(), 0);
      await assert.rejects(connectWs(fixture.url, { token: fixture.tokens.viewer }));
    } finally {
      await fixture.close();
    }
  });
});
