// Property-based tests of TD handling: random mutations of a valid TD either validate or are
// refused with a 400 listing at least one problem (never another exception), Thing IDs follow the
// hub's rules whatever the input, whatever validates can be served as a twin TD, and
// applyMergePatch behaves as RFC 7396 says on random JSON.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HubError } from '../model/errors.js';
import type { AffordanceKind, TwinTdContributor } from '../model/hub-api.js';
import type { ProblemDetailItem, ThingDescription } from '../model/types.js';
import { applyMergePatch } from './merge-patch.js';
import { affordanceNameProblem, checkThingId } from './names.js';
import { lampTd } from './test-fixtures.js';
import { buildTwinTd } from './twin-td.js';
import { validateThingDescription } from './validate.js';

const LIMIT = 256 * 1024;
const RUNS = { numRuns: 200 };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Member names that trip up naive code: prototype names, pointer/URI/topic specials, the empty name. */
const trickyKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'a/b', '~1', '#', '+', '..', '', ' ', 'id', 'title', 'type', 'forms', 'href', 'op');
const smallKey = fc.oneof(fc.constantFrom('a', 'b', 'c'), trickyKey, fc.string({ maxLength: 4 }));

/** JSON values with plain prototypes (a JSON round trip) and keys that often collide. */
const json: fc.Arbitrary<Json> = fc
  .letrec<{ value: Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -5, max: 5 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 4 }),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(smallKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    ),
  }))
  .value.map((value) => JSON.parse(JSON.stringify(value)) as Json);

const isObject = (value: unknown): value is Record<string, Json> => value !== null && typeof value === 'object' && !Array.isArray(value);

function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

// --- TD mutations -------------------------------------------------------------------------

type Path = (string | number)[];

function allPaths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...prefix, key], ...allPaths(child, [...prefix, key])]);
}

function at(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], root);
}

interface Mutation {
  pick: number;
  kind: 'delete' | 'replace' | 'add' | 'pattern' | 'id';
  value: Json;
  key: string;
  text: string;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  kind: fc.constantFrom('delete', 'replace', 'replace', 'add', 'add', 'pattern', 'id'),
  value: json,
  key: smallKey,
  text: fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('(', '[a-', '\\', '*', 'a{2,1}', '^[a-z]+$', 'urn:x#y', 'urn:a/../b', 'urn:a/b+c', 'urn:\u0000', 'urn:a b', 'no-scheme'),
  ),
});

function apply(td: Record<string, unknown>, m: Mutation): void {
  if (m.kind === 'pattern') {
    // A DataSchema pattern the hub must compile before it can validate values with it.
    const properties = isObject(td.properties) ? td.properties : undefined;
    const first = properties ? Object.values(properties).find(isObject) : undefined;
    if (first) first.pattern = m.text;
    return;
  }
  if (m.kind === 'id') {
    td.id = m.text;
    return;
  }
  const paths = allPaths(td);
  if (paths.length === 0) {
    define(td, m.key, m.value);
    return;
  }
  const path = paths[m.pick % paths.length];
  const parent = at(td, path.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const last = path[path.length - 1];
  const node = at(td, path);
  switch (m.kind) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last as string];
      return;
    case 'replace':
      (parent as Record<string | number, unknown>)[last] = m.value;
      return;
    case 'add':
      if (Array.isArray(node)) node.push(m.value);
      else if (isObject(node)) define(node, m.key, m.value);
      else (parent as Record<string | number, unknown>)[last] = m.value;
      return;
  }
}

const mutatedTd = fc.array(mutation, { minLength: 1, maxLength: 3 }).map((mutations) => {
  const td = lampTd() as Record<string, unknown>;
  for (const m of mutations) apply(td, m);
  return td;
});

/** Validates; returns the problems of a refusal (undefined if valid). Fails on anything but a 400/413 HubError. */
function outcome(input: unknown, maxBytes = LIMIT): { status: number; errors: ProblemDetailItem[] } | undefined {
  try {
    validateThingDescription(input, maxBytes);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof HubError, `validateThingDescription threw ${String(error)}`);
    assert.ok(error.status === 400 || error.status === 413, `status ${error.status}`);
    assert.ok(error.problem.detail.length > 0);
    const errors = error.problem.errors ?? [];
    if (error.status === 400) {
      assert.ok(errors.length >= 1, `a 400 lists at least one problem: ${error.problem.detail}`);
      for (const item of errors) {
        assert.ok(item.pointer === '' || item.pointer.startsWith('/'), `a JSON pointer: ${JSON.stringify(item.pointer)}`);
        assert.ok(typeof item.message === 'string' && item.message.length > 0);
      }
    }
    return { status: error.status, errors };
  }
}

describe('validateThingDescription (property-based)', () => {
  it('a mutated TD either validates or gets a 400 with at least one error pointer; never an exception', () => {
    const seen = { valid: 0, refused: 0 };
    fc.assert(
      fc.property(mutatedTd, (td) => {
        const before = structuredClone(td);
        const result = outcome(td);
        seen[result === undefined ? 'valid' : 'refused']++;
        assert.deepEqual(td, before, 'validation does not change the TD');
        // The same TD as JSON text gets the same verdict (and the same problems).
        assert.deepEqual(outcome(JSON.stringify(td)), result);
        if (result === undefined) {
          // Whatever validates also satisfies the hub's ID and name rules.
          if ('id' in td) assert.equal(checkThingId(td.id), td.id);
          for (const kind of ['properties', 'actions', 'events']) {
            if (isObject(td[kind])) for (const name of Object.keys(td[kind])) assert.equal(affordanceNameProblem(name), undefined, name);
          }
        }
      }),
      { numRuns: 150 },
    );
    // The mutations exercise both verdicts, not just one.
    assert.ok(seen.valid > 5 && seen.refused > 5, JSON.stringify(seen));
  });

  it('any JSON value or text as a TD validates or is refused with a 400/413, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(json, fc.jsonValue({ maxDepth: 3 })), (value) => void outcome(value)),
      RUNS,
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json()), (text) => void outcome(text)),
      RUNS,
    );
  });

  it('a TD over the byte limit gets a 413, at or under it is judged on its content', () => {
    const text = JSON.stringify(lampTd());
    const size = Buffer.byteLength(text);
    fc.assert(
      fc.property(fc.integer({ min: -2, max: 2 }), (delta) => {
        const result = outcome(text, size + delta);
        if (delta < 0) assert.equal(result?.status, 413);
        else assert.equal(result, undefined);
      }),
    );
  });
});

// --- From validation to the twin TD ----------------------------------------------------------

/**
 * Contributors shaped like the real bindings': HTTP puts the percent-encoded Thing ID and name in
 * hrefs (encodeURIComponent), MQTT in topic levels, WebSocket one endpoint for all.
 */
const BINDING_SHAPED: TwinTdContributor[] = [
  {
    name: 'http',
    securityDefinitions: () => ({ bearer_sc: { scheme: 'bearer', in: 'header', name: 'Authorization' } }),
    thingForms: (thingId) => [{ href: `http://127.0.0.1:8080/things/${encodeURIComponent(thingId)}/properties`, op: ['readallproperties'] }],
    affordanceForms: (kind: AffordanceKind, thingId, name) => [
      { href: `http://127.0.0.1:8080/things/${encodeURIComponent(thingId)}/${kind}/${encodeURIComponent(name)}` },
    ],
  },
  {
    name: 'ws',
    thingForms: () => [{ href: 'ws://127.0.0.1:8080/ws', subprotocol: 'twinhub' }],
    affordanceForms: () => [{ href: 'ws://127.0.0.1:8080/ws', subprotocol: 'twinhub' }],
  },
  {
    name: 'mqtt',
    securityDefinitions: () => ({ mqtt_basic_sc: { scheme: 'basic' } }),
    affordanceForms: (kind, thingId, name) => [{ href: `mqtt://127.0.0.1:1883/things/${encodeURIComponent(thingId)}/${kind}/${encodeURIComponent(name)}` }],
  },
];

/** Text that trips up encoders and serializers: lone surrogates, bidi controls, prototype names. */
const nastyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('a\ud800', '\udc00', '\ud83d\ude00', 'a\u202eb', '\u200b', '\ufeff', '__proto__', 'constructor', 'prototype', 'toString', '%', '%ZZ'),
);

interface Disturbance {
  kind: 'rename' | 'id' | 'deep' | 'uriVariable';
  pick: number;
  text: string;
  levels: number;
}

const disturbance: fc.Arbitrary<Disturbance> = fc.record({
  kind: fc.constantFrom('rename', 'id', 'deep', 'uriVariable'),
  pick: fc.nat(),
  text: nastyText,
  levels: fc.constantFrom(10, 60, 64, 65, 3000),
});

/** Applies a disturbance to a lamp TD; `deep` nests a value `levels` deep at one of `spots`. */
function disturb(td: Record<string, unknown>, d: Disturbance, spots: Path[]): void {
  const kinds = ['properties', 'actions', 'events'] as const;
  const map = td[kinds[d.pick % 3]] as Record<string, unknown>;
  const names = Object.keys(map);
  const name = names[d.pick % names.length];
  switch (d.kind) {
    case 'rename':
      define(map, `${name.slice(0, d.pick % 3)}${d.text}`, map[name]);
      return;
    case 'id':
      td.id = `urn:x:${d.text}`;
      return;
    case 'uriVariable':
      (map[name] as Record<string, unknown>).uriVariables = JSON.parse(`{${JSON.stringify(d.text)}: {"type": "string"}}`);
      return;
    case 'deep': {
      // Built as JSON text: JSON.stringify itself overflows the stack on the deepest ones.
      const parent = (spots.length === 0 ? td : at(td, spots[d.pick % spots.length])) as Record<string, unknown>;
      define(parent, 'deep', JSON.parse(`${'{"a":'.repeat(d.levels)}1${'}'.repeat(d.levels)}`));
    }
  }
}

describe('from validation to the twin TD (property-based)', () => {
  it('for any TD the validator accepts, buildTwinTd with binding-shaped contributors and JSON.stringify succeed', () => {
    const seen = { valid: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(disturbance, { minLength: 1, maxLength: 3 }), fc.boolean(), (disturbances, asText) => {
        const td = lampTd() as Record<string, unknown>;
        // Spots for deep values, found before any is added (finding them is recursive).
        const spots = allPaths(td).filter((path) => isObject(at(td, path)));
        for (const d of disturbances) disturb(td, d, spots);
        // As JSON text too (the CLI and embedders may pass text), unless too deep to stringify.
        const input = asText && !disturbances.some((d) => d.kind === 'deep') ? JSON.stringify(td) : td;
        let accepted: ThingDescription;
        try {
          accepted = validateThingDescription(input, LIMIT);
        } catch (error) {
          assert.ok(error instanceof HubError && (error.status === 400 || error.status === 413), `validateThingDescription threw ${String(error)}`);
          seen.refused++;
          return;
        }
        seen.valid++;
        const thingId = typeof accepted.id === 'string' ? accepted.id : 'urn:uuid:0804d572-cce8-422a-bb7c-4412fcd56f06';
        const twin = {
          thingId,
          td: accepted,
          agentId: 'agent-1',
          created: '2025-01-01T00:00:00.000Z',
          modified: '2025-01-01T00:00:00.000Z',
          version: 1,
          tags: {},
        };
        const served = JSON.parse(JSON.stringify(buildTwinTd(twin, BINDING_SHAPED))) as Record<string, unknown>;
        assert.equal(served.id, thingId);
      }),
      { numRuns: 300 },
    );
    assert.ok(seen.valid > 20 && seen.refused > 20, JSON.stringify(seen));
  });
});

// --- Thing IDs ----------------------------------------------------------------------------

const SAFE_PIECES = ['a', 'Z', '9', '-', '.', ':', '/', '+', '%2F', '%', '?', '=', '~', 'é', '😀', '.a', 'a.'];
const UNSAFE_PIECES = ['#', '\u0000', '\u001f', ' ', '\t', '\n', '\u007f', '\u0085', '\u00a0', '\u2028', '\u3000'];

/** IDs built from pieces, so the verdict is known without re-implementing the rules' regexes. */
const pieceId = fc
  .record({
    scheme: fc.constantFrom('urn', 'http', 'x-y.z+w', 'uuid'),
    pieces: fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...SAFE_PIECES) },
        { weight: 1, arbitrary: fc.constantFrom(...UNSAFE_PIECES) },
        { weight: 1, arbitrary: fc.constantFrom('..', '/../', '/..') },
      ),
      { maxLength: 12 },
    ),
  })
  .map(({ scheme, pieces }) => ({ id: `${scheme}:${pieces.join('')}`, pieces }));

describe('checkThingId (property-based)', () => {
  it('returns the ID or throws a 400 HubError with an /id pointer, for any value', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.string({ unit: 'binary' }),
          pieceId.map((p) => p.id),
        ),
        (value) => {
          try {
            assert.equal(checkThingId(value), value);
          } catch (error) {
            assert.ok(error instanceof HubError, `checkThingId threw ${String(error)}`);
            assert.equal(error.status, 400);
            assert.equal(error.problem.errors?.[0]?.pointer, '/id');
            assert.match(error.problem.detail, /^Invalid Thing ID: it /);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("accepts '/' and '+' (and anything else URI-like), refuses '#', '..' segments, whitespace and control characters", () => {
    fc.assert(
      fc.property(pieceId, ({ id, pieces }) => {
        const unsafe = pieces.some((piece) => UNSAFE_PIECES.includes(piece));
        const dotDot = id.split('/').includes('..');
        let accepted: boolean;
        try {
          checkThingId(id);
          accepted = true;
        } catch {
          accepted = false;
        }
        assert.equal(accepted, !unsafe && !dotDot, JSON.stringify(id));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses IDs without a URI scheme', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }).filter((s) => !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(s)),
        (id) => {
          assert.throws(
            () => checkThingId(id),
            (error: unknown) => error instanceof HubError && error.status === 400,
          );
        },
      ),
    );
  });
});

// --- JSON merge patch -----------------------------------------------------------------------

/** RFC 7396 §2, the pseudocode, literally (on a copy of the target). */
function referenceMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const result: Record<string, Json> = isObject(target) ? structuredClone(target) : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete result[name];
    else define(result, name, referenceMergePatch(Object.hasOwn(result, name) ? result[name] : undefined, value));
  }
  return result;
}

/** A merge patch that turns `from` into `to` (`to` must hold no null object members). */
function diff(from: Json, to: Json): Json {
  if (!isObject(from) || !isObject(to)) return to;
  const patch: Record<string, Json> = {};
  for (const key of Object.keys(from)) if (!Object.hasOwn(to, key)) define(patch, key, null);
  for (const [key, value] of Object.entries(to)) {
    if (Object.hasOwn(from, key) && JSON.stringify(from[key]) === JSON.stringify(value)) continue;
    define(patch, key, diff(Object.hasOwn(from, key) ? from[key] : {}, value));
  }
  return patch;
}

function withoutNullMembers(value: Json): Json {
  if (Array.isArray(value)) return value;
  if (!isObject(value)) return value;
  const out: Record<string, Json> = {};
  for (const [key, member] of Object.entries(value)) if (member !== null) define(out, key, withoutNullMembers(member));
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

function objectsIn(value: unknown, into = new Set<object>()): Set<object> {
  if (value !== null && typeof value === 'object') {
    into.add(value);
    for (const member of Object.values(value)) objectsIn(member, into);
  }
  return into;
}

describe('applyMergePatch (property-based, RFC 7396)', () => {
  it('matches the RFC 7396 pseudocode on random JSON', () => {
    fc.assert(
      fc.property(json, json, (target, patch) => assert.deepEqual(applyMergePatch(target, patch), referenceMergePatch(target, patch))),
      { numRuns: 500 },
    );
  });

  it('is idempotent: applying the same patch twice equals applying it once', () => {
    fc.assert(
      fc.property(json, json, (target, patch) => {
        const once = applyMergePatch(target, patch);
        assert.deepEqual(applyMergePatch(once, patch), once);
      }),
      { numRuns: 500 },
    );
  });

  it('is pure: inputs stay unchanged (frozen) and the result shares no object with them', () => {
    fc.assert(
      fc.property(json, json, (target, patch) => {
        const result = applyMergePatch(deepFreeze(target), deepFreeze(patch));
        const inputs = new Set([...objectsIn(target), ...objectsIn(patch)]);
        for (const object of objectsIn(result)) assert.ok(!inputs.has(object), 'the result shares an object with an input');
      }),
      RUNS,
    );
  });

  it('a non-object patch replaces the target; null members remove, others set', () => {
    fc.assert(
      fc.property(json, json, (target, patch) => {
        const result = applyMergePatch(target, patch);
        if (!isObject(patch)) return assert.deepEqual(result, patch);
        assert.ok(isObject(result));
        for (const [key, value] of Object.entries(patch)) {
          if (value === null) assert.ok(!Object.hasOwn(result, key), `null removes ${JSON.stringify(key)}`);
          else if (!isObject(value)) assert.deepEqual(result[key], value);
          else assert.ok(isObject(result[key]));
        }
        if (isObject(target)) {
          for (const key of Object.keys(target)) if (!Object.hasOwn(patch, key)) assert.deepEqual(result[key], target[key], `untouched ${JSON.stringify(key)}`);
        }
      }),
      RUNS,
    );
  });

  it('the diff of two documents, applied as a merge patch, turns one into the other', () => {
    fc.assert(
      fc.property(json, json.map(withoutNullMembers), (from, to) => {
        assert.deepEqual(applyMergePatch(from, diff(from, to)), to);
      }),
      { numRuns: 500 },
    );
  });
});
