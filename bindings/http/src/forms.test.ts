import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lampTd, startHttpHub, type HttpHubFixture } from './testing.js';

type Form = { href: string; op: string[]; 'htv:methodName': string; subprotocol?: string; security?: string[]; 'htv:headers'?: unknown };
type Td = {
  securityDefinitions: Record<string, unknown>;
  security: string[];
  forms: Form[];
  properties: Record<string, { forms: Form[] }>;
  actions: Record<string, { forms: Form[] }>;
  events: Record<string, { forms: Form[] }>;
};

const ID = 'urn:dev:ops:forms/lamp';
const enc = encodeURIComponent;

describe('HTTP forms in twin TDs', () => {
  let fx: HttpHubFixture;
  let td: Td;
  let base: string;
  before(async () => {
    fx = await startHttpHub({ binding: { syncActionMaxWaitSeconds: 7 } });
    await fx.request('PUT', `/things/${enc(ID)}`, { token: fx.tokens.agent, body: lampTd(ID) });
    td = (await fx.request('GET', `/things/${enc(ID)}`)).body as Td;
    base = `${fx.url}/things/${enc(ID)}`;
  });
  after(() => fx.close());

  const httpForms = (forms: Form[]) => forms.filter((f) => f.href.startsWith(fx.url));
  const find = (forms: Form[], op: string) => httpForms(forms).find((f) => f.op.includes(op));

  test('bearer security definition is the Thing default; no form overrides it (node-wot 0.8.16 cannot sign form-level schemes)', () => {
    assert.deepEqual(td.securityDefinitions.bearer_sc, { scheme: 'bearer', in: 'header', name: 'Authorization' });
    assert.deepEqual(td.security, ['bearer_sc']);
    const all = [
      td.forms,
      ...Object.values(td.properties).map((p) => p.forms),
      ...Object.values(td.actions).map((a) => a.forms),
      ...Object.values(td.events).map((e) => e.forms),
    ].flatMap(httpForms);
    assert.ok(all.length > 10);
    for (const form of all) assert.equal(form.security, undefined, form.href);
  });

  test('property forms: read, write unless readOnly, observe by long polling first, then SSE', () => {
    const brightness = td.properties.brightness.forms;
    assert.deepEqual(find(brightness, 'readproperty'), {
      ...find(brightness, 'readproperty')!,
      href: `${base}/properties/brightness`,
      'htv:methodName': 'GET',
    });
    assert.equal(find(brightness, 'writeproperty')?.['htv:methodName'], 'PUT');
    const observe = httpForms(brightness).filter((f) => f.op.includes('observeproperty'));
    assert.deepEqual(
      observe.map((f) => [f.href, f.subprotocol, f['htv:methodName'], f.op.includes('unobserveproperty')]),
      [
        // no method on the long-poll form: node-wot sends its HEAD handshake with htv:methodName when there is one
        [`${base}/properties/brightness/longpoll`, 'longpoll', undefined, true],
        [`${base}/properties/brightness/observe`, 'sse', 'GET', true],
      ],
    );
    assert.equal(find(td.properties.status.forms, 'writeproperty'), undefined);
  });

  test('action forms: POST with Prefer: wait=<max>; event forms: long polling, then SSE', () => {
    const invoke = find(td.actions.fade.forms, 'invokeaction')!;
    assert.equal(invoke.href, `${base}/actions/fade`);
    assert.equal(invoke['htv:methodName'], 'POST');
    assert.deepEqual(invoke['htv:headers'], [{ 'htv:fieldName': 'Prefer', 'htv:fieldValue': 'wait=7' }]);
    const subscribe = httpForms(td.events.overheated.forms).filter((f) => f.op.includes('subscribeevent') && f.op.includes('unsubscribeevent'));
    assert.deepEqual(
      subscribe.map((f) => [f.href, f.subprotocol]),
      [
        [`${base}/events/overheated/longpoll`, 'longpoll'],
        [`${base}/events/overheated`, 'sse'],
      ],
    );
  });

  test('Thing-level forms', () => {
    assert.equal(find(td.forms, 'readallproperties')?.href, `${base}/properties`);
    assert.equal(find(td.forms, 'observeallproperties')?.href, `${base}/properties/observe`);
    assert.equal(find(td.forms, 'queryallactions')?.href, `${base}/actions`);
    assert.equal(find(td.forms, 'subscribeallevents')?.href, `${base}/events`);
  });

  test('every form href resolves on this server', async () => {
    const read = find(td.properties.brightness.forms, 'readproperty')!;
    await fx.request('PUT', `/agent/things/${enc(ID)}/properties/brightness`, { token: fx.tokens.agent, body: 3 });
    const res = await fx.request('GET', read.href.slice(fx.url.length));
    assert.equal(res.text, '3');
  });

  test('publicUrl() overrides the listening address', async () => {
    const other = await startHttpHub({ binding: { publicUrl: () => 'https://hub.example.com/' } });
    try {
      await other.request('PUT', `/things/${enc(ID)}`, { token: other.tokens.agent, body: lampTd(ID) });
      const twin = (await other.request('GET', `/things/${enc(ID)}`)).body as Td;
      assert.ok(twin.properties.brightness.forms.some((f) => f.href === `https://hub.example.com/things/${enc(ID)}/properties/brightness`));
    } finally {
      await other.close();
    }
  });
});
