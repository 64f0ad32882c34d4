import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AffordanceKind, Form, TwinTdContributor } from '../model/hub-api.js';
import type { Twin } from '../model/types.js';
import { buildTwinTd, DISCOVERY_CONTEXT, restrictForms, withDefaultSecurity } from './twin-td.js';
import { validateThingDescription } from './validate.js';
import { lampTd } from './test-fixtures.js';

const HUB = 'http://127.0.0.1:8080';

function lampTwin(): Twin {
  return {
    thingId: 'urn:dev:ops:32473-WoTLamp-1234',
    td: lampTd(),
    agentId: 'agent-1',
    created: '2025-03-01T10:00:00.000Z',
    modified: '2025-03-02T11:30:00.000Z',
    version: 7,
    tags: { room: 'kitchen' },
  };
}

/** A binding like the HTTP one: bearer auth, one form per operation the affordance allows. */
const httpContributor: TwinTdContributor = {
  name: 'http',
  securityDefinitions: () => ({ bearer_sc: { scheme: 'bearer', in: 'header' } }),
  thingForms: (thingId) => [{ href: `${HUB}/things/${encodeURIComponent(thingId)}/properties`, op: ['readallproperties'] }],
  affordanceForms: (kind: AffordanceKind, thingId: string, name: string, affordance: Record<string, unknown>): Form[] => {
    const href = `${HUB}/things/${encodeURIComponent(thingId)}/${kind}/${encodeURIComponent(name)}`;
    if (kind === 'property') return [{ href, op: affordance.readOnly ? ['readproperty'] : ['readproperty', 'writeproperty'] }];
    if (kind === 'action') return [{ href, op: 'invokeaction' }];
    return [{ href, op: 'subscribeevent', subprotocol: 'sse' }];
  },
};

/** A binding that only serves events and adds its own scheme. */
const sseContributor: TwinTdContributor = {
  name: 'sse',
  securityDefinitions: () => ({
    bearer_sc: { scheme: 'bearer', in: 'query', name: 'ignored-duplicate' },
    sse_sc: { scheme: 'bearer', in: 'query', name: 'token' },
  }),
  affordanceForms: (kind, thingId, name) =>
    kind === 'event' ? [{ href: `${HUB}/sse/${encodeURIComponent(thingId)}/${name}`, op: 'subscribeevent', security: 'sse_sc' }] : [],
};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

const formsOf = (td: Record<string, unknown>, kind: string, name: string) =>
  (td[kind] as Record<string, Record<string, unknown>>)[name].forms as Form[] | undefined;

describe('buildTwinTd', () => {
  it("replaces every form by the contributors' forms, in contributor order, and drops base", () => {
    const td = buildTwinTd(lampTwin(), [httpContributor, sseContributor]);
    assert.equal(td.base, undefined);
    assert.deepEqual(td.forms, [{ href: `${HUB}/things/urn%3Adev%3Aops%3A32473-WoTLamp-1234/properties`, op: ['readallproperties'] }]);
    assert.deepEqual(formsOf(td, 'properties', 'status'), [
      { href: `${HUB}/things/urn%3Adev%3Aops%3A32473-WoTLamp-1234/property/status`, op: ['readproperty'] },
    ]);
    assert.deepEqual(formsOf(td, 'properties', 'brightness')?.[0].op, ['readproperty', 'writeproperty']);
    assert.deepEqual(formsOf(td, 'actions', 'fade'), [{ href: `${HUB}/things/urn%3Adev%3Aops%3A32473-WoTLamp-1234/action/fade`, op: 'invokeaction' }]);
    assert.deepEqual(
      formsOf(td, 'events', 'overheating')?.map((f) => f.href),
      [`${HUB}/things/urn%3Adev%3Aops%3A32473-WoTLamp-1234/event/overheating`, `${HUB}/sse/urn%3Adev%3Aops%3A32473-WoTLamp-1234/overheating`],
    );
    const allHrefs = JSON.stringify(td).match(/"href":"[^"]*"/g) ?? [];
    assert.ok(
      allHrefs.every((h) => h.includes(HUB) || h.includes('manual.pdf')),
      `no device URL is left: ${allHrefs.join(' ')}`,
    );
  });

  it("merges the contributors' security definitions and uses the first one", () => {
    const td = buildTwinTd(lampTwin(), [httpContributor, sseContributor]);
    assert.deepEqual(td.securityDefinitions, {
      bearer_sc: { scheme: 'bearer', in: 'header' },
      sse_sc: { scheme: 'bearer', in: 'query', name: 'token' },
    });
    assert.deepEqual(td.security, ['bearer_sc']);
    assert.equal((td.securityDefinitions as Record<string, unknown>).basic_sc, undefined, "the device's own schemes are not the hub's");
  });

  it('falls back to nosec when no contributor defines a scheme', () => {
    const formsOnly: TwinTdContributor = { name: 'plain', affordanceForms: () => [{ href: `${HUB}/x` }] };
    const td = buildTwinTd(lampTwin(), [formsOnly]);
    assert.deepEqual(td.securityDefinitions, { nosec_sc: { scheme: 'nosec' } });
    assert.deepEqual(td.security, ['nosec_sc']);
  });

  it('keeps affordances, schemas, titles, @context and @type as registered', () => {
    const registered = lampTd();
    const td = buildTwinTd(lampTwin(), [httpContributor]);
    for (const key of ['@type', 'title', 'titles', 'description', 'id']) assert.deepEqual(td[key], registered[key], key);
    // [tdd-context-injection] The registered context, then the Discovery context of Enriched TDs.
    assert.deepEqual(td['@context'], [...(registered['@context'] as unknown[]), DISCOVERY_CONTEXT]);
    const strip = (map: unknown) =>
      Object.fromEntries(Object.entries(map as Record<string, Record<string, unknown>>).map(([n, a]) => [n, { ...a, forms: undefined }]));
    for (const kind of ['properties', 'actions', 'events']) assert.deepEqual(strip(td[kind]), strip(registered[kind]), kind);
  });

  it('sets id, created and modified from the twin, never its version or tags', () => {
    const twin = { ...lampTwin(), thingId: 'urn:hub:assigned-1', td: { ...lampTd(), id: undefined } };
    const td = buildTwinTd(twin, [httpContributor]);
    assert.equal(td.id, 'urn:hub:assigned-1');
    assert.equal(td.created, '2025-03-01T10:00:00.000Z');
    assert.equal(td.modified, '2025-03-02T11:30:00.000Z');
    assert.equal(td.version, undefined);
    assert.ok(!JSON.stringify(td).includes('kitchen'), 'tags never appear');
  });

  it('carries the registration information, with expiry for an expirable registration [tdd-registrationinfo-vocab-*]', () => {
    const td = buildTwinTd(lampTwin(), [httpContributor]);
    assert.deepEqual(td.registration, { created: '2025-03-01T10:00:00.000Z', modified: '2025-03-02T11:30:00.000Z' });
    const expiring = buildTwinTd(
      { ...lampTwin(), ttl: 60, expires: '2025-03-02T11:31:00.000Z', td: { ...lampTd(), registration: { ttl: 60, created: 'x' } } },
      [],
    );
    assert.deepEqual(expiring.registration, {
      created: '2025-03-01T10:00:00.000Z',
      modified: '2025-03-02T11:30:00.000Z',
      expires: '2025-03-02T11:31:00.000Z',
      ttl: 60,
    });
  });

  it("adds the contributors' prefixes to @context once, the first definition of a prefix winning", () => {
    const mqv = { ...httpContributor, name: 'mqtt', context: () => ({ mqv: 'http://www.example.org/mqtt-binding#' }) };
    const other = { ...sseContributor, context: () => ({ mqv: 'urn:other', htv: 'http://www.w3.org/2011/http#' }) };
    const td = buildTwinTd({ ...lampTwin(), td: { ...lampTd(), '@context': 'https://www.w3.org/2022/wot/td/v1.1' } }, [mqv, other]);
    assert.deepEqual(td['@context'], [
      'https://www.w3.org/2022/wot/td/v1.1',
      DISCOVERY_CONTEXT,
      { mqv: 'http://www.example.org/mqtt-binding#', htv: 'http://www.w3.org/2011/http#' },
    ]);
    assert.equal(validateThingDescription(td, 256 * 1024), td);
  });

  it('restricts forms to the operations a role may use, dropping forms and affordances left without any', () => {
    const td = buildTwinTd(
      {
        ...lampTwin(),
        td: { ...lampTd(), properties: { ...(lampTd().properties as object), secret: { type: 'string', writeOnly: true, forms: [{ href: 's' }] } } },
      },
      [httpContributor],
    );
    (formsOf(td, 'properties', 'secret') ?? [])[0].op = ['writeproperty'];
    const reader = restrictForms(td, (op) => op.startsWith('read') || op.startsWith('observe') || op.startsWith('subscribe'));
    assert.deepEqual(formsOf(reader, 'properties', 'brightness')?.[0].op, ['readproperty']);
    assert.equal((reader.actions as Record<string, unknown>).fade, undefined, 'an action with only an invokeaction form goes');
    assert.equal((reader.properties as Record<string, unknown>).secret, undefined, 'a write-only property goes');
    assert.deepEqual(reader.forms, td.forms);
    assert.equal(validateThingDescription(reader, 256 * 1024), reader);
    assert.deepEqual(formsOf(td, 'properties', 'brightness')?.[0].op, ['readproperty', 'writeproperty'], 'the full TD is not modified');
  });

  it('keeps everything for a role that may use every operation, and nothing with forms for one that may use none', () => {
    const td = buildTwinTd(lampTwin(), [httpContributor]);
    const before = structuredClone(td);
    assert.deepEqual(
      restrictForms(td, () => true),
      td,
    );
    const none = restrictForms(td, () => false);
    assert.equal(none.forms, undefined, 'the Thing-level forms go');
    for (const key of ['properties', 'actions', 'events'] as const) assert.deepEqual(none[key], {}, `no ${key} left`);
    assert.deepEqual(td, before, 'the full TD is not modified');
  });

  it('resolves relative link hrefs against the dropped base', () => {
    const td = buildTwinTd(lampTwin(), [httpContributor]);
    assert.deepEqual(td.links, [{ href: 'https://lamp.example.com/manual.pdf', rel: 'service-doc', type: 'application/pdf' }]);
  });

  it('validates against the TD 1.1 schema with one contributor', () => {
    const td = buildTwinTd(lampTwin(), [httpContributor]);
    assert.equal(validateThingDescription(td, 256 * 1024), td);
    const both = buildTwinTd(lampTwin(), [httpContributor, sseContributor]);
    assert.equal(validateThingDescription(both, 256 * 1024), both);
  });

  it('leaves affordances without forms when nobody contributes any', () => {
    const td = buildTwinTd(lampTwin(), []);
    assert.equal(td.forms, undefined);
    assert.equal(formsOf(td, 'properties', 'status'), undefined);
    assert.equal(formsOf(td, 'actions', 'toggle'), undefined);
    const sseOnly = buildTwinTd(lampTwin(), [sseContributor]);
    assert.equal(formsOf(sseOnly, 'properties', 'status'), undefined);
    assert.equal(formsOf(sseOnly, 'events', 'overheating')?.length, 1);
  });

  it('never modifies the twin and shares no objects with it', () => {
    const twin = deepFreeze(lampTwin());
    const saved = structuredClone(twin);
    const td = buildTwinTd(twin, [httpContributor, sseContributor]);
    (td.properties as Record<string, Record<string, unknown>>).status.type = 'number';
    ((td['@context'] as unknown[])[1] as Record<string, string>).saref = 'changed';
    assert.deepEqual(twin, saved);
  });

  it('hands contributors the registered affordance without its device forms', () => {
    const seen: [AffordanceKind, string, string, Record<string, unknown>][] = [];
    const spy: TwinTdContributor = {
      name: 'spy',
      affordanceForms: (kind, thingId, name, affordance) => {
        seen.push([kind, thingId, name, affordance]);
        return [];
      },
    };
    buildTwinTd(lampTwin(), [spy]);
    assert.deepEqual(
      seen.map(([kind, , name]) => `${kind}:${name}`),
      ['property:status', 'property:brightness', 'property:config', 'action:toggle', 'action:fade', 'event:overheating'],
    );
    assert.ok(seen.every(([, thingId, , affordance]) => thingId === 'urn:dev:ops:32473-WoTLamp-1234' && affordance.forms === undefined));
    assert.equal(seen[0][3].readOnly, true);
  });
});

describe('withDefaultSecurity', () => {
  const mqttContributor: TwinTdContributor = {
    name: 'mqtt',
    securityDefinitions: () => ({ mqtt_basic_sc: { scheme: 'basic', in: 'auto' } }),
    affordanceForms: (kind, thingId, name) => [
      { href: `mqtt://127.0.0.1:1883/things/${encodeURIComponent(thingId)}/${kind}/${name}`, security: ['mqtt_basic_sc'] },
    ],
  };
  const served = () => buildTwinTd(lampTwin(), [httpContributor, mqttContributor]);

  it('makes the scheme the Thing-level default while every form keeps its meaning', () => {
    const td = served();
    const rewritten = withDefaultSecurity(td, 'mqtt_basic_sc');
    assert.deepEqual(rewritten.security, ['mqtt_basic_sc']);
    const forms = (rewritten.properties as Record<string, { forms: Form[] }>).brightness.forms;
    assert.deepEqual(
      forms.filter((f) => f.href.startsWith('mqtt:')).map((f) => f.security),
      [undefined],
      'MQTT forms now inherit the default',
    );
    assert.deepEqual(
      forms.filter((f) => f.href.startsWith('http:')).map((f) => f.security),
      [['bearer_sc']],
      'HTTP forms name the old default',
    );
    assert.deepEqual(
      (rewritten.forms as Form[]).map((f) => f.security),
      [['bearer_sc']],
    );
    assert.deepEqual(td.security, ['bearer_sc'], 'the input is not modified');
    assert.doesNotThrow(() => validateThingDescription(rewritten, 1 << 20));
  });

  it('refuses a scheme the Thing does not define, naming the ones it does', () => {
    assert.throws(() => withDefaultSecurity(served(), 'psk_sc'), /'psk_sc' is not defined by this Thing; it defines: bearer_sc, mqtt_basic_sc/);
  });
});
