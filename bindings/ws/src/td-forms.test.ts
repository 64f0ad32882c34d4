import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listeningWsUrl, wsTwinTdContributor } from './td-forms.js';

describe('wsTwinTdContributor', () => {
  let href = 'ws://127.0.0.1:1234/ws';
  const contributor = wsTwinTdContributor(() => href);
  const ops = (kind: 'property' | 'action' | 'event', affordance: Record<string, unknown>) =>
    (contributor.affordanceForms?.(kind, 'urn:t', 'x', affordance) ?? []).flatMap((form) => form.op as string[]);

  it("is named ws and declares the bearer scheme under the HTTP binding's name", () => {
    assert.equal(contributor.name, 'ws');
    assert.deepEqual(contributor.securityDefinitions?.(), { bearer_sc: { scheme: 'bearer', in: 'header', name: 'Authorization' } });
  });

  it('gives property forms the ops the affordance allows', () => {
    assert.deepEqual(ops('property', {}), ['readproperty', 'writeproperty']);
    assert.deepEqual(ops('property', { readOnly: true, observable: true }), ['readproperty', 'observeproperty', 'unobserveproperty']);
    assert.deepEqual(ops('property', { writeOnly: true }), ['writeproperty']);
  });

  it('gives action and event forms their ops', () => {
    assert.deepEqual(ops('action', {}), ['invokeaction', 'queryaction', 'cancelaction']);
    assert.deepEqual(ops('event', {}), ['subscribeevent', 'unsubscribeevent']);
  });

  it('points every form at the endpoint with the twinhub subprotocol, reading the URL late', () => {
    const [form] = contributor.affordanceForms?.('action', 'urn:t', 'x', {}) ?? [];
    assert.deepEqual({ ...form, op: undefined }, { href, subprotocol: 'twinhub.v1', contentType: 'application/json', op: undefined });
    href = 'wss://hub.example/ws';
    const [thingForm] = contributor.thingForms?.('urn:t') ?? [];
    assert.equal(thingForm.href, 'wss://hub.example/ws');
    assert.ok((thingForm.op as string[]).includes('observeallproperties'));
    assert.ok((thingForm.op as string[]).includes('subscribeallevents'));
  });

  it('announces the Web Thing Protocol with one Thing-level form, not on every affordance', () => {
    const thingForms = contributor.thingForms?.('urn:t') ?? [];
    assert.deepEqual(
      thingForms.map((form) => form.subprotocol),
      ['twinhub.v1', 'webthingprotocol'],
    );
    const wtp = thingForms[1];
    assert.equal(wtp.href, href);
    assert.deepEqual(wtp.op, thingForms[0].op);
    for (const kind of ['property', 'action', 'event'] as const) {
      const forms = contributor.affordanceForms?.(kind, 'urn:t', 'x', {}) ?? [];
      assert.deepEqual(
        forms.map((form) => form.subprotocol),
        ['twinhub.v1'],
        kind,
      );
    }
  });
});

describe('listeningWsUrl', () => {
  it('names the listening address, loopback for an unspecified one', () => {
    assert.equal(listeningWsUrl('/ws', { address: '127.0.0.1', port: 9 }, false), 'ws://127.0.0.1:9/ws');
    assert.equal(listeningWsUrl('/ws', { address: '::1', port: 9 }, true), 'wss://[::1]:9/ws');
    assert.equal(listeningWsUrl('/ws', { address: '0.0.0.0', port: 9 }, false), 'ws://127.0.0.1:9/ws');
    assert.equal(listeningWsUrl('/ws', { address: '::', port: 9 }, false), 'ws://[::1]:9/ws');
  });
});
