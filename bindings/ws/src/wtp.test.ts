import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ThingDescription } from '@twinhub/core';
import { createHttpBinding } from '@twinhub/binding-http';
import { startFixture, type RoleTokens } from '@twinhub/testkit';
import { attachWsBinding } from './index.js';
import { connectWs, refusedUpgrade, type WsTestClient } from './testing.js';
import { connectWtp, type WtpReceived, type WtpTestClient } from './testing-wtp.js';

const THING_ID = 'urn:dev:ops:wtp-lamp-1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ERRORS = 'https://w3c.github.io/web-thing-protocol/errors#';

function lampTd(): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id: THING_ID,
    title: 'WTP lamp',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      brightness: { type: 'integer', minimum: 0, maximum: 100, observable: true, forms: [{ href: 'http://lamp.local/brightness' }] },
      label: { type: 'string', observable: true, forms: [{ href: 'http://lamp.local/label' }] },
    },
    actions: {
      fade: {
        input: { type: 'object', properties: { level: { type: 'integer' } }, required: ['level'] },
        output: { type: 'object', properties: { reached: { type: 'integer' } } },
        forms: [{ href: 'http://lamp.local/fade' }],
      },
      toggle: { synchronous: true, output: { type: 'boolean' }, forms: [{ href: 'http://lamp.local/toggle' }] },
    },
    events: { overheating: { data: { type: 'number' }, forms: [{ href: 'http://lamp.local/overheating' }] } },
  };
}

describe('Web Thing Protocol subprotocol', { timeout: 30_000 }, () => {
  let url: string;
  let tokens: RoleTokens;
  let closeFixture: () => Promise<void>;
  let agent: WsTestClient;
  let operator: WtpTestClient;
  const open: { close(): Promise<unknown> }[] = [];
  const wtp = async (token: string, options: { tokenIn?: 'header' | 'protocol'; protocols?: string[] } = {}) => {
    const client = await connectWtp(url, { token, ...options });
    open.push(client);
    return client;
  };
  /** The agent (over twinhub.v1) reports a value. */
  const report = async (name: string, value: unknown) => {
    const reported = await agent.request({ operation: 'updateproperty', thingId: THING_ID, name, input: value });
    assert.equal(reported.status, 204, JSON.stringify(reported));
  };

  before(async () => {
    const fixture = await startFixture({
      bindings: (hub) => {
        const http = createHttpBinding({ hub });
        return [http, attachWsBinding({ hub, server: http.server })] as const;
      },
    });
    url = fixture.urls.ws;
    tokens = fixture.tokens;
    closeFixture = fixture.close;
    agent = await connectWs(url, { token: tokens.agent });
    open.push(agent);
    const registered = await agent.request({ operation: 'updateTD', input: lampTd() });
    assert.ok(registered.status === 201 || registered.status === 200, JSON.stringify(registered));
    assert.equal((await agent.request({ operation: 'subscriberequests' })).status, 204);
    operator = await wtp(tokens.operator);
  });

  after(async () => {
    await Promise.all(open.map((client) => client.close()));
    await closeFixture();
  });

  describe('negotiation', () => {
    it('selects webthingprotocol for a header-authenticated upgrade offering it', () => {
      assert.equal(operator.protocol, 'webthingprotocol');
    });

    it('selects webthingprotocol with the browser bearer pair, never echoing the token', async () => {
      const client = await wtp(tokens.viewer, { tokenIn: 'protocol' });
      assert.equal(client.protocol, 'webthingprotocol');
      const read = await client.request({ operation: 'readallproperties', thingID: THING_ID });
      assert.equal(read.messageType, 'response');
      assert.equal(read.error, undefined, JSON.stringify(read));
    });

    it("follows the client's order of preference between twinhub.v1 and webthingprotocol", async () => {
      const first = await wtp(tokens.viewer, { protocols: ['webthingprotocol', 'twinhub.v1'] });
      assert.equal(first.protocol, 'webthingprotocol');
      const second = await connectWs(url, { token: tokens.viewer, ws: { headers: {} } });
      open.push(second);
      assert.equal(second.protocol, '', 'no subprotocol offered: none selected, the twinhub envelope is spoken');
      const twinhubFirst = await wtp(tokens.viewer, { protocols: ['twinhub.v1', 'webthingprotocol'] });
      assert.equal(twinhubFirst.protocol, 'twinhub.v1');
    });

    it('refuses a bearer protocol offered with neither subprotocol', async () => {
      const refused = await refusedUpgrade(url, { ws: { headers: { 'sec-websocket-protocol': `mqtt, bearer.${tokens.viewer}` } } });
      assert.equal(refused.status, 400);
      assert.match((refused.json() as { detail: string }).detail, /webthingprotocol/);
    });

    it('announces the endpoint in the twin TD with one Thing-level webthingprotocol form', async () => {
      const td = (await agent.request({ operation: 'retrieveTD', thingId: THING_ID })).output as { forms: Record<string, unknown>[] };
      const forms = td.forms.filter((form) => form.subprotocol === 'webthingprotocol');
      assert.equal(forms.length, 1, JSON.stringify(td.forms));
      assert.equal(forms[0].href, url);
      assert.ok((forms[0].op as string[]).includes('observeallproperties'));
    });
  });

  describe('properties', () => {
    it('reads a reported value with its timestamp, echoing correlationID and naming the Thing', async () => {
      await report('brightness', 10);
      const read = await operator.request({ operation: 'readproperty', thingID: THING_ID, name: 'brightness', correlationID: 'read-1' });
      assert.deepEqual(
        { ...read, messageID: undefined, timestamp: undefined },
        {
          thingID: THING_ID,
          messageID: undefined,
          messageType: 'response',
          operation: 'readproperty',
          name: 'brightness',
          value: 10,
          timestamp: undefined,
          correlationID: 'read-1',
        },
      );
      assert.match(read.messageID, UUID);
      assert.ok(!Number.isNaN(Date.parse(String(read.timestamp))));
    });

    it('queues a write for the agent (answered without a value), which the agent carries out over twinhub.v1', async () => {
      const written = await operator.request({ operation: 'writeproperty', thingID: THING_ID, name: 'brightness', value: 42 });
      assert.equal(written.error, undefined, JSON.stringify(written));
      assert.equal(written.name, 'brightness');
      assert.ok(!('value' in written), 'a queued write is not confirmed: no value [wtp-writeproperty-response]');
      const pushed = await agent.nextAgentRequest();
      assert.deepEqual([pushed.operation, pushed.name, pushed.input], ['writeproperty', 'brightness', 42]);
      await report('brightness', 42);
      const done = await agent.request({ operation: 'updateactionstatus', thingId: THING_ID, actionId: pushed.actionId, input: { status: 'completed' } });
      assert.equal(done.status, 200);
      const read = await operator.request({ operation: 'readproperty', thingID: THING_ID, name: 'brightness' });
      assert.equal(read.value, 42);
    });

    it('reads all and several properties as values keyed by name', async () => {
      await report('label', 'desk');
      const all = await operator.request({ operation: 'readallproperties', thingID: THING_ID });
      assert.deepEqual(all.values, { brightness: 42, label: 'desk' });
      const some = await operator.request({ operation: 'readmultipleproperties', thingID: THING_ID, names: ['label'] });
      assert.deepEqual(some.values, { label: 'desk' });
    });

    it('sends property notifications under the subscription that asked for them (last subscription wins)', async () => {
      const observed = await operator.request({ operation: 'observeproperty', thingID: THING_ID, name: 'brightness', correlationID: 'obs-1' });
      assert.deepEqual([observed.operation, observed.name, observed.error], ['observeproperty', 'brightness', undefined]);
      await report('brightness', 55);
      const single = await operator.nextNotification();
      assert.deepEqual(
        { ...single, messageID: undefined, timestamp: undefined },
        {
          thingID: THING_ID,
          messageID: undefined,
          messageType: 'notification',
          operation: 'observeproperty',
          name: 'brightness',
          value: 55,
          timestamp: undefined,
          correlationID: 'obs-1',
        },
      );
      assert.match(single.messageID, UUID);

      // observeallproperties replaces the single subscription [wtp-observeallproperties-request].
      const all = await operator.request({ operation: 'observeallproperties', thingID: THING_ID, correlationID: 'all-1' });
      assert.equal(all.error, undefined, JSON.stringify(all));
      await report('brightness', 56);
      await report('label', 'hall');
      const [b, l] = [await operator.nextNotification(), await operator.nextNotification()];
      assert.deepEqual([b.operation, b.name, b.value, b.correlationID], ['observeallproperties', 'brightness', 56, 'all-1']);
      assert.deepEqual([l.operation, l.name, l.value, l.correlationID], ['observeallproperties', 'label', 'hall', 'all-1']);

      // A later single subscription replaces it for its property only; one notification per change.
      await operator.request({ operation: 'observeproperty', thingID: THING_ID, name: 'brightness', correlationID: 'obs-2' });
      await report('brightness', 57);
      const replaced = await operator.nextNotification();
      assert.deepEqual([replaced.operation, replaced.value, replaced.correlationID], ['observeproperty', 57, 'obs-2']);

      // unobserveproperty ends brightness even though observeallproperties still covers the Thing.
      const unobserved = await operator.request({ operation: 'unobserveproperty', thingID: THING_ID, name: 'brightness' });
      assert.equal(unobserved.error, undefined, JSON.stringify(unobserved));
      await report('brightness', 58);
      await report('label', 'porch');
      const next = await operator.nextNotification();
      assert.deepEqual([next.name, next.value, next.correlationID], ['label', 'porch', 'all-1']);

      const none = await operator.request({ operation: 'unobserveallproperties', thingID: THING_ID });
      assert.equal(none.error, undefined, JSON.stringify(none));
      const count = operator.notifications.length;
      await report('brightness', 59);
      await report('label', 'attic');
      // A notification would have reached this socket before the answer to a later request.
      await operator.request({ operation: 'readproperty', thingID: THING_ID, name: 'label' });
      assert.equal(operator.notifications.length, count, JSON.stringify(operator.notifications.slice(count)));
    });
  });

  describe('events', () => {
    it('sends event notifications with data until unsubscribed', async () => {
      const subscribed = await operator.request({ operation: 'subscribeevent', thingID: THING_ID, name: 'overheating', correlationID: 'ev-1' });
      assert.deepEqual([subscribed.operation, subscribed.name, subscribed.error], ['subscribeevent', 'overheating', undefined]);
      assert.equal((await agent.request({ operation: 'publishevent', thingId: THING_ID, name: 'overheating', input: 81.5 })).status, 204);
      const event = await operator.nextNotification();
      assert.deepEqual(
        [event.messageType, event.operation, event.name, event.data, event.correlationID],
        ['notification', 'subscribeevent', 'overheating', 81.5, 'ev-1'],
      );
      assert.ok(typeof event.timestamp === 'string');

      await operator.request({ operation: 'unsubscribeevent', thingID: THING_ID, name: 'overheating' });
      const count = operator.notifications.length;
      await agent.request({ operation: 'publishevent', thingId: THING_ID, name: 'overheating', input: 90 });
      await operator.request({ operation: 'readproperty', thingID: THING_ID, name: 'label' });
      assert.equal(operator.notifications.length, count);
    });
  });

  describe('actions', () => {
    it('answers an invocation with its ActionStatus, then queryaction and queryallactions follow it to its output', async () => {
      const invoked = await operator.request({ operation: 'invokeaction', thingID: THING_ID, name: 'fade', input: { level: 3 }, correlationID: 'fade-1' });
      assert.equal(invoked.correlationID, 'fade-1');
      const status = invoked.status as { actionID: string; state: string; timeRequested: string };
      assert.equal(status.state, 'pending', JSON.stringify(invoked));
      assert.match(status.actionID, UUID);
      assert.equal(invoked.timestamp, status.timeRequested);

      const pushed = await agent.nextAgentRequest();
      assert.deepEqual([pushed.operation, pushed.input, pushed.actionId], ['invokeaction', { level: 3 }, status.actionID]);
      await agent.request({ operation: 'updateactionstatus', thingId: THING_ID, actionId: pushed.actionId, input: { status: 'running' } });
      const running = await operator.request({ operation: 'queryaction', thingID: THING_ID, actionID: status.actionID });
      assert.deepEqual([running.name, (running.status as { state: string }).state], ['fade', 'running']);

      const output = { reached: 3 };
      await agent.request({ operation: 'updateactionstatus', thingId: THING_ID, actionId: pushed.actionId, input: { status: 'completed', output } });
      const completed = await operator.request({ operation: 'queryaction', thingID: THING_ID, actionID: status.actionID });
      const done = completed.status as { state: string; output: unknown; timeEnded: string };
      assert.deepEqual([done.state, done.output], ['completed', output]);
      assert.ok(typeof done.timeEnded === 'string');

      const listed = await operator.request({ operation: 'queryallactions', thingID: THING_ID });
      const fades = (listed.statuses as Record<string, { actionID: string; state: string }[]>).fade;
      assert.deepEqual(fades[0], { ...done, actionID: status.actionID, timeRequested: status.timeRequested });
      // No action status notifications: the draft defines none.
      assert.ok(!operator.notifications.some((n) => n.operation === 'actionstatus' || n.operation === 'invokeaction'));
    });

    it('answers a synchronous action (synchronous: true) with its output once the agent completed it', async () => {
      const answer = operator.request({ operation: 'invokeaction', thingID: THING_ID, name: 'toggle', correlationID: 'toggle-1' });
      const pushed = await agent.nextAgentRequest();
      assert.equal(pushed.name, 'toggle');
      await agent.request({ operation: 'updateactionstatus', thingId: THING_ID, actionId: pushed.actionId, input: { status: 'completed', output: true } });
      const response = await answer;
      assert.deepEqual(
        [response.messageType, response.operation, response.name, response.output, response.correlationID, response.status],
        ['response', 'invokeaction', 'toggle', true, 'toggle-1', undefined],
      );
    });

    it('answers a failed synchronous action with an error response', async () => {
      const answer = operator.request({ operation: 'invokeaction', thingID: THING_ID, name: 'toggle', correlationID: 'toggle-2' });
      const pushed = await agent.nextAgentRequest();
      await agent.request({
        operation: 'updateactionstatus',
        thingId: THING_ID,
        actionId: pushed.actionId,
        input: { status: 'failed', error: { title: 'Stuck', detail: 'the switch is stuck' } },
      });
      const response = await answer;
      assert.deepEqual(response.error, { status: 502, title: 'Stuck', detail: 'the switch is stuck' });
    });

    it('cancels a pending action; its status is gone afterwards', async () => {
      assert.equal((await agent.request({ operation: 'unsubscriberequests' })).status, 204);
      const invoked = await operator.request({ operation: 'invokeaction', thingID: THING_ID, name: 'fade', input: { level: 9 } });
      const actionID = (invoked.status as { actionID: string }).actionID;
      const cancelled = await operator.request({ operation: 'cancelaction', thingID: THING_ID, actionID, correlationID: 'cancel-1' });
      assert.deepEqual([cancelled.operation, cancelled.actionID, cancelled.correlationID, cancelled.error], ['cancelaction', actionID, 'cancel-1', undefined]);
      const queried = await operator.request({ operation: 'queryaction', thingID: THING_ID, actionID });
      assert.equal((queried.error as { status: number }).status, 404);
      const listed = await operator.request({ operation: 'queryallactions', thingID: THING_ID });
      assert.ok(!(listed.statuses as Record<string, { actionID: string }[]>).fade.some((s) => s.actionID === actionID));
      assert.equal((await agent.request({ operation: 'subscriberequests' })).status, 204);
    });
  });

  describe('errors', () => {
    const expectError = (response: WtpReceived, status: number, detail?: RegExp) => {
      assert.equal(response.messageType, 'response');
      const error = response.error as { status: number; type?: string; title: string; detail: string };
      assert.ok(error, JSON.stringify(response));
      assert.equal(error.status, status, JSON.stringify(response));
      if ([400, 403, 404].includes(status)) assert.equal(error.type, `${ERRORS}${status}`);
      if (detail) assert.match(error.detail, detail);
      assert.ok(typeof response.timestamp === 'string');
    };

    it('answers an unknown Thing with a 404 error response naming the request', async () => {
      const response = await operator.request({ operation: 'readproperty', thingID: 'urn:dev:ops:nothing', name: 'x', correlationID: 'nf-1' });
      expectError(response, 404);
      assert.deepEqual([response.thingID, response.operation, response.name, response.correlationID], ['urn:dev:ops:nothing', 'readproperty', 'x', 'nf-1']);
    });

    it("answers a viewer's write with 403", async () => {
      const viewer = await wtp(tokens.viewer);
      const response = await viewer.request({ operation: 'writeproperty', thingID: THING_ID, name: 'label', value: 'x', correlationID: 'v-1' });
      expectError(response, 403, /viewer/);
      assert.equal(response.correlationID, 'v-1');
    });

    it('answers malformed JSON and a binary frame with 400, and keeps the socket', async () => {
      operator.sendRaw('{"messageType":"request",');
      expectError(await operator.nextResponse(), 400, /not valid JSON/);
      operator.sendRaw(Buffer.from('{}'), { binary: true });
      expectError(await operator.nextResponse(), 400, /binary/);
      const read = await operator.request({ operation: 'readproperty', thingID: THING_ID, name: 'label' });
      assert.equal(read.value, 'attic');
    });

    it('answers unknown, twinhub-only and unsupported operations, echoing correlationID and operation', async () => {
      const unknown = await operator.request({ operation: 'fly', thingID: THING_ID, correlationID: 'op-1' });
      expectError(unknown, 400, /not an operation of the Web Thing Protocol/);
      assert.deepEqual([unknown.operation, unknown.correlationID], ['fly', 'op-1']);
      expectError(await operator.request({ operation: 'updateTD', thingID: THING_ID }), 400, /twinhub\.v1/);
      const batch = await operator.request({ operation: 'writemultipleproperties', thingID: THING_ID, values: { label: 'x' } });
      expectError(batch, 501, /writeproperty/);
    });

    it('answers messages missing mandatory members with 400', async () => {
      expectError(await operator.request({ operation: 'readproperty', name: 'label' }), 400, /thingID/);
      expectError(await operator.request({ operation: 'readproperty', thingID: THING_ID }), 400, /"name"/);
      expectError(await operator.request({ operation: 'writeproperty', thingID: THING_ID, name: 'label' }), 400, /"value"/);
      expectError(await operator.request({ operation: 'readproperty', thingID: THING_ID, name: 'label', messageType: 'response' }), 400, /messageType/);
      expectError(await operator.request({ operation: 'queryaction', thingID: THING_ID }), 400, /actionID/);
    });
  });
});
