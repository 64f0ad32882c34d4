// What each role's twin TD offers (issue #11 "Twin TDs per role"), and observation limited to
// observable properties on every binding: a viewer's TD has no write, invoke or cancel forms and
// its directory notifications carry the same view; an operator's has everything it may do; an
// agent's TD, like every TD, carries no tag data.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningHub } from '@twinhub/hub';
import { jsonRequest } from '@twinhub/binding-http/testing';
import { connectWs } from '@twinhub/binding-ws/testing';
import { connectMqtt } from '@twinhub/binding-mqtt/testing';
import { topics } from '@twinhub/binding-mqtt';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const ID = 'urn:dev:ops:views-heater';
const T = `/things/${encodeURIComponent(ID)}`;
const td = {
  '@context': 'https://www.w3.org/2022/wot/td/v1.1',
  id: ID,
  title: 'Heater',
  securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
  security: 'nosec_sc',
  properties: {
    target: { type: 'number', observable: true, forms: [{ href: 'target' }] },
    mode: { type: 'string', enum: ['eco', 'comfort'], forms: [{ href: 'mode' }] },
    temperature: { type: 'number', readOnly: true, observable: true, forms: [{ href: 'temperature' }] },
  },
  actions: { boost: { input: { type: 'integer' }, forms: [{ href: 'boost' }] } },
  events: { overheated: { data: { type: 'number' }, forms: [{ href: 'overheated' }] } },
};

type Form = { href: string; op: string | string[] };
type Td = Record<string, unknown> & { forms?: Form[] };
const WRITE_OPS = new Set(['writeproperty', 'writeallproperties', 'writemultipleproperties', 'invokeaction', 'cancelaction']);

/** Every op of every form in the TD, as `<where>:<op>` (where = thing, or section/name). */
function formOps(twin: Td): string[] {
  const ops = (forms: Form[] | undefined, where: string) =>
    (forms ?? []).flatMap((form) => (Array.isArray(form.op) ? form.op : [form.op]).map((op) => `${where}:${op}`));
  const all = ops(twin.forms, 'thing');
  for (const section of ['properties', 'actions', 'events']) {
    for (const [name, affordance] of Object.entries((twin[section] ?? {}) as Record<string, Td>)) all.push(...ops(affordance.forms, `${section}/${name}`));
  }
  return all.sort();
}

/** The TD with forms reduced to what a reader may use: what the viewer's TD must be, exactly. */
function readersView(full: Td): Td {
  const copy = structuredClone(full);
  const keep = (forms: Form[] | undefined) =>
    (forms ?? []).flatMap((form) => {
      const ops = (Array.isArray(form.op) ? form.op : [form.op]).filter((op) => !WRITE_OPS.has(op));
      if (ops.length === 0) return [];
      return [Array.isArray(form.op) && ops.length === form.op.length ? form : { ...form, op: Array.isArray(form.op) ? ops : ops[0] }];
    });
  copy.forms = keep(copy.forms);
  for (const section of ['properties', 'actions', 'events']) {
    const affordances = (copy[section] ?? {}) as Record<string, Td>;
    for (const [name, affordance] of Object.entries(affordances)) {
      const had = (affordance.forms ?? []).length;
      affordance.forms = keep(affordance.forms);
      if (had > 0 && affordance.forms.length === 0) delete affordances[name];
    }
  }
  return copy;
}

describe('twin TDs per role', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const http = (method: string, path: string, token: string, body?: unknown) => jsonRequest(running.urls.http, method, path, { token, body });

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { memory: true });
    tokens = await createTokens(running);
    assert.equal((await http('PUT', T, tokens.agent, td)).status, 201);
    assert.equal((await http('PUT', `${T}/tags`, tokens.operator, { room: 'attic' })).status, 200);
    assert.equal((await http('POST', `/agent${T}/properties`, tokens.agent, { target: 20, mode: 'eco', temperature: 18 })).status, 204);
  });
  after(async () => {
    await running.close();
    await data.remove();
  });

  it("a viewer's twin TD is the operator's without write, invoke and cancel operations, and nothing else differs", async () => {
    const operator = (await http('GET', T, tokens.operator)).body as Td;
    const viewer = (await http('GET', T, tokens.viewer)).body as Td;
    const operatorOps = formOps(operator);
    for (const op of ['properties/target:writeproperty', 'properties/mode:writeproperty', 'actions/boost:invokeaction', 'actions/boost:cancelaction']) {
      assert.ok(operatorOps.includes(op), `the operator may ${op}`);
    }
    assert.deepEqual(
      formOps(viewer).filter((op) => WRITE_OPS.has(op.split(':')[1])),
      [],
      'no write, invoke or cancel operation for a viewer',
    );
    assert.ok(formOps(viewer).includes('actions/boost:queryaction'), 'a viewer still queries actions');
    assert.deepEqual(viewer, readersView(operator));
    // The listing serves the same views.
    const listed = (await http('GET', '/things', tokens.viewer)).body as Td[];
    assert.deepEqual(
      listed.find((t) => t.id === ID),
      viewer,
    );
  });

  it("an agent's TD, like every role's, has no tag data; the admin's equals the operator's", async () => {
    for (const token of [tokens.agent, tokens.viewer, tokens.operator, tokens.admin]) {
      const text = (await http('GET', T, token)).text;
      assert.ok(!text.includes('attic'), 'tags are twin metadata (GET …/twin for consumers), never TD content');
    }
    assert.deepEqual((await http('GET', T, tokens.admin)).body, (await http('GET', T, tokens.operator)).body);
    const agent = (await http('GET', T, tokens.agent)).body as Td;
    assert.deepEqual(
      formOps(agent).filter((op) => WRITE_OPS.has(op.split(':')[1])),
      [],
      'an agent acts on its device, not through the twin',
    );
  });

  it('directory notifications carry the view of the receiving role, and thing_updated the merge patch of that view', async () => {
    const viewer = await connectWs(running.urls.ws, { token: tokens.viewer });
    const operator = await connectWs(running.urls.ws, { token: tokens.operator });
    try {
      for (const ws of [viewer, operator]) assert.equal((await ws.request({ operation: 'subscribedirectory' })).status, 204);
      const changed = { ...td, title: 'Attic heater' };
      assert.equal((await http('PUT', T, tokens.agent, changed)).status, 204);
      const seenByViewer = await viewer.nextNotification({ operation: 'thing_updated', thingId: ID });
      const seenByOperator = await operator.nextNotification({ operation: 'thing_updated', thingId: ID });
      assert.equal(seenByViewer.seq, seenByOperator.seq, 'one notification, one sequence number');
      assert.deepEqual(seenByViewer.data, (await http('GET', T, tokens.viewer)).body);
      assert.deepEqual(seenByOperator.data, (await http('GET', T, tokens.operator)).body);
      const patch = (seenByViewer as { patch?: Record<string, unknown> }).patch;
      assert.equal(patch?.id, ID);
      assert.equal(patch?.title, 'Attic heater');
      assert.ok(!JSON.stringify(patch).includes('writeproperty'), "the patch is of the viewer's view");
    } finally {
      await viewer.close();
      await operator.close();
    }
  });
});

describe('observation is for observable properties only', () => {
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
    assert.equal((await report({ target: 20, mode: 'eco' })).status, 204);
  });
  after(async () => {
    await running.close();
    await data.remove();
  });

  it('HTTP (SSE and long polling) and WebSocket refuse observing a non-observable property with the same 400', async () => {
    for (const path of [`${T}/properties/mode/observe`, `${T}/properties/mode/longpoll`]) {
      const refused = await http('GET', path, tokens.viewer);
      assert.equal(refused.status, 400, `${path}: ${refused.text}`);
      assert.match(refused.text, /not observable/);
    }
    const ws = await connectWs(running.urls.ws, { token: tokens.viewer });
    try {
      const refused = await ws.request({ operation: 'observeproperty', thingId: ID, name: 'mode' });
      assert.equal(refused.status, 400);
      assert.match(JSON.stringify(refused), /not observable/);
      // observeallproperties tells of observable properties only (TD 1.1: "changes to any observable property").
      assert.equal((await ws.request({ operation: 'observeallproperties', thingId: ID })).status, 204);
      assert.equal((await report({ mode: 'comfort', target: 21 })).status, 204);
      const seen = await ws.nextNotification({ operation: 'observeproperty', thingId: ID });
      assert.equal(seen.name, 'target');
      await assert.rejects(ws.nextNotification({ name: 'mode' }, 300), /no matching notification/);
      assert.equal((await ws.request({ operation: 'readproperty', thingId: ID, name: 'mode' })).output, 'comfort', 'it is still read');
    } finally {
      await ws.close();
    }
  });

  it('MQTT refuses the value topic of a non-observable property and no form offers it', async () => {
    const viewer = await connectMqtt(running.urls.mqtt!, { username: 'viewer-1', password: tokens.viewer });
    try {
      assert.deepEqual(await viewer.subscribe(topics.propertyValue(ID, 'mode')), [128]);
      assert.match(JSON.stringify(await viewer.nextError(topics.propertyValue(ID, 'mode'))), /not observable/);
    } finally {
      await viewer.close();
    }
    const twin = (await http('GET', T, tokens.operator)).body as { properties: Record<string, { forms: Form[] }> };
    const mqttOps = (name: string) =>
      twin.properties[name].forms.filter((f) => f.href.startsWith('mqtt://')).flatMap((f) => (Array.isArray(f.op) ? f.op : [f.op]));
    assert.deepEqual(mqttOps('mode'), ['writeproperty']);
    assert.deepEqual(mqttOps('target'), ['readproperty', 'observeproperty', 'unobserveproperty', 'writeproperty']);
    const anyOps = twin.properties.mode.forms.flatMap((f) => (Array.isArray(f.op) ? f.op : [f.op]));
    assert.ok(!anyOps.includes('observeproperty'), 'no binding offers observing it');
  });
});
