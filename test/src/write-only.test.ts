// A writeOnly property (TD 1.1 §5.3.2.4) is never readable through the twin, on any binding
// (issue #11's first defect): no read, no observation, no notification, no retained MQTT value,
// no read/observe form; only its owning agent reads it back, and operators still write it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningHub } from '@twinhub/hub';
import { jsonRequest } from '@twinhub/binding-http/testing';
import { connectWs } from '@twinhub/binding-ws/testing';
import { connectMqtt, quiet } from '@twinhub/binding-mqtt/testing';
import { topics } from '@twinhub/binding-mqtt';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const ID = 'urn:dev:ops:door-lock';
const T = `/things/${encodeURIComponent(ID)}`;
const td = {
  '@context': 'https://www.w3.org/2022/wot/td/v1.1',
  id: ID,
  title: 'Door lock',
  securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
  security: 'nosec_sc',
  properties: {
    pin: { type: 'string', writeOnly: true, observable: true, forms: [{ href: 'pin' }] },
    locked: { type: 'boolean', observable: true, forms: [{ href: 'locked' }] },
  },
};

describe('writeOnly properties', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const http = (method: string, path: string, token: string, body?: unknown) => jsonRequest(running.urls.http, method, path, { token, body });
  const report = (values: Record<string, unknown>) => http('POST', `/agent${T}/properties`, tokens.agent, values);

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { memory: true });
    tokens = await createTokens(running);
    assert.equal((await http('PUT', T, tokens.agent, td)).status, 201);
    assert.equal((await report({ pin: '1234', locked: true })).status, 204);
  });
  after(async () => {
    await running.close();
    await data.remove();
  });

  it('HTTP: a viewer or operator cannot read it, alone, in readall or in the state; its agent can; operators write it', async () => {
    for (const token of [tokens.viewer, tokens.operator, tokens.admin]) {
      const read = await http('GET', `${T}/properties/pin`, token);
      assert.equal(read.status, 403, read.text);
      assert.match(read.text, /write-only/);
      assert.deepEqual((await http('GET', `${T}/properties`, token)).body, { locked: true });
      const state = (await http('GET', `${T}/state`, token)).body as { properties: Record<string, unknown> };
      assert.deepEqual(Object.keys(state.properties), ['locked']);
    }
    assert.equal((await http('GET', `${T}/properties/pin`, tokens.agent)).body, '1234', 'the owning agent reads its own value');
    assert.equal((await http('PUT', `${T}/properties/pin`, tokens.operator, '9999')).status, 202, 'writing it is the point');
    const observe = await http('GET', `${T}/properties/pin/observe`, tokens.viewer);
    assert.equal(observe.status, 403);
  });

  it("the value written to it is not shown in the write's request record to other consumers", async () => {
    const written = await http('PUT', `${T}/properties/pin`, tokens.operator, '4242');
    assert.equal(written.status, 202);
    const actionId = (written.body as { actionId: string }).actionId;
    const records = async (token: string) =>
      ((await http('GET', `${T}/actions`, token)).body as { actionId: string; input?: unknown }[]).find((r) => r.actionId === actionId);
    assert.equal((await records(tokens.operator))?.input, '4242', 'its writer sees it');
    assert.equal((await records(tokens.agent))?.input, '4242', 'the agent, whose device takes it, sees it');
    for (const token of [tokens.viewer, tokens.admin]) {
      const seen = await records(token);
      assert.ok(seen, 'the request itself is visible');
      assert.equal(seen.input, undefined, 'but not the secret');
      assert.equal(((await http('GET', `${T}/properties/pin/writes/${actionId}`, token)).body as { input?: unknown }).input, undefined);
    }
  });

  it('WebSocket: readproperty and observeproperty are refused; observeallproperties never carries it', async () => {
    const viewer = await connectWs(running.urls.ws, { token: tokens.viewer });
    try {
      assert.equal((await viewer.request({ operation: 'readproperty', thingId: ID, name: 'pin' })).status, 403);
      assert.equal((await viewer.request({ operation: 'observeproperty', thingId: ID, name: 'pin' })).status, 403);
      assert.equal((await viewer.request({ operation: 'observeallproperties', thingId: ID })).status, 204);
      assert.equal((await report({ pin: '5678', locked: false })).status, 204);
      const seen = await viewer.nextNotification({ operation: 'observeproperty', thingId: ID });
      assert.equal(seen.name, 'locked');
      await assert.rejects(viewer.nextNotification({ name: 'pin' }, 300), /no matching notification/);
    } finally {
      await viewer.close();
    }
  });

  it('MQTT: its value topic never carries a value, retained or live', async () => {
    const viewer = await connectMqtt(running.urls.mqtt!, { username: 'viewer-1', password: tokens.viewer });
    try {
      await viewer.subscribe([topics.propertyValue(ID, 'pin'), topics.propertyValue(ID, 'locked')]);
      await viewer.nextMessage(topics.propertyValue(ID, 'locked'));
      assert.equal((await report({ pin: '0000' })).status, 204);
      await quiet(300);
      assert.deepEqual(
        viewer.received.filter((m) => m.topic === topics.propertyValue(ID, 'pin')),
        [],
      );
    } finally {
      await viewer.close();
    }
  });

  it('no twin TD form offers reading or observing it; a viewer, who may not write it either, does not see it at all', async () => {
    const viewerTd = (await http('GET', T, tokens.viewer)).body as { properties: Record<string, unknown> };
    assert.deepEqual(Object.keys(viewerTd.properties), ['locked']);
    const twin = (await http('GET', T, tokens.operator)).body as { properties: { pin: { forms: Array<{ op: string | string[] }> } } };
    const ops = twin.properties.pin.forms.flatMap((form) => (Array.isArray(form.op) ? form.op : [form.op]));
    assert.ok(ops.includes('writeproperty'));
    assert.deepEqual(
      ops.filter((op) => op !== 'writeproperty'),
      [],
      `only writeproperty forms: ${ops.join(', ')}`,
    );
  });
});
