import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateAgainstSchema } from './data-schema.js';
import { lampTd } from './test-fixtures.js';

type Schema = Record<string, unknown>;
const affordances = (kind: 'properties' | 'actions' | 'events') => lampTd()[kind] as Record<string, Schema>;

describe('validateAgainstSchema', () => {
  it('accepts anything when there is no schema', () => {
    assert.deepEqual(validateAgainstSchema(undefined, { anything: [1, 'x'] }, '/input'), []);
  });

  it('uses a property affordance itself as the schema, ignoring forms, observable and readOnly', () => {
    const status = affordances('properties').status;
    assert.deepEqual(validateAgainstSchema(status, 'on', ''), []);
    assert.deepEqual(validateAgainstSchema(status, 'dim', ''), [{ pointer: '', message: 'must be equal to one of the allowed values: "on", "off"' }]);
    assert.deepEqual(validateAgainstSchema(status, 3, '/value'), [{ pointer: '/value', message: 'must be equal to one of the allowed values: "on", "off"' }]);
  });

  it('checks integer bounds', () => {
    const brightness = affordances('properties').brightness;
    assert.deepEqual(validateAgainstSchema(brightness, 100, ''), []);
    assert.deepEqual(validateAgainstSchema(brightness, 101, ''), [{ pointer: '', message: 'must be <= 100' }]);
    assert.deepEqual(validateAgainstSchema(brightness, -1, ''), [{ pointer: '', message: 'must be >= 0' }]);
    assert.deepEqual(validateAgainstSchema(brightness, 5.5, ''), [{ pointer: '', message: 'must be of type integer' }]);
    assert.deepEqual(validateAgainstSchema(brightness, '50', ''), [{ pointer: '', message: 'must be of type integer' }]);
  });

  it('checks action input: nested properties, required members, every problem at once', () => {
    const input = affordances('actions').fade.input as Schema;
    assert.deepEqual(validateAgainstSchema(input, { level: 40, duration: 2.5 }, '/input'), []);
    const problems = validateAgainstSchema(input, { duration: -1 }, '/input');
    assert.deepEqual(
      new Set(problems.map((p) => `${p.pointer}: ${p.message}`)),
      new Set(["/input/level: required property 'level' is missing", '/input/duration: must be >= 0']),
    );
    assert.deepEqual(validateAgainstSchema(input, 'fast', '/input'), [{ pointer: '/input', message: 'must be of type object' }]);
  });

  it('checks action output and event data', () => {
    const output = affordances('actions').fade.output as Schema;
    assert.deepEqual(validateAgainstSchema(output, { reached: 40 }, '/output'), []);
    assert.deepEqual(validateAgainstSchema(output, { reached: 'yes' }, '/output'), [{ pointer: '/output/reached', message: 'must be of type integer' }]);
    const data = affordances('events').overheating.data as Schema;
    assert.deepEqual(validateAgainstSchema(data, { celsius: 81.5 }, '/data'), []);
    assert.deepEqual(validateAgainstSchema(data, {}, '/data'), [{ pointer: '/data/celsius', message: "required property 'celsius' is missing" }]);
  });

  it('checks arrays: items, maxItems, string lengths inside', () => {
    const config = affordances('properties').config;
    assert.deepEqual(validateAgainstSchema(config, { name: 'desk', tags: ['a', 'b'] }, ''), []);
    const problems = validateAgainstSchema(config, { name: '', tags: ['a', 2, 'c', 'd', 'e'] }, '');
    assert.deepEqual(
      new Set(problems.map((p) => `${p.pointer}: ${p.message}`)),
      new Set(['/name: must NOT have fewer than 1 characters', '/tags: must NOT have more than 4 items', '/tags/1: must be of type string']),
    );
  });

  it('treats readOnly and writeOnly as annotations, also on nested members', () => {
    const schema = { type: 'object', readOnly: true, properties: { secret: { type: 'string', writeOnly: true }, id: { type: 'integer', readOnly: true } } };
    assert.deepEqual(validateAgainstSchema(schema, { secret: 's', id: 1 }, ''), []);
  });

  it('supports type "null" and const', () => {
    assert.deepEqual(validateAgainstSchema({ type: 'null' }, null, ''), []);
    assert.deepEqual(validateAgainstSchema({ type: 'null' }, 0, ''), [{ pointer: '', message: 'must be of type null' }]);
    assert.deepEqual(validateAgainstSchema({ const: 'fixed' }, 'fixed', ''), []);
    assert.deepEqual(validateAgainstSchema({ const: 'fixed' }, 'other', '/v'), [{ pointer: '/v', message: 'must be equal to "fixed"' }]);
  });

  it('supports oneOf, reporting one message for the alternatives', () => {
    const schema = {
      oneOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', enum: ['auto'] },
      ],
    };
    assert.deepEqual(validateAgainstSchema(schema, 5, ''), []);
    assert.deepEqual(validateAgainstSchema(schema, 'auto', ''), []);
    assert.deepEqual(validateAgainstSchema(schema, 'manual', ''), [{ pointer: '', message: 'must be equal to "auto", or be of type integer' }]);
    assert.deepEqual(validateAgainstSchema(schema, -1, ''), [{ pointer: '', message: 'must be equal to "auto", or must be >= 0' }]);
  });

  it('reports the deeper problem of the oneOf branch that fits the shape', () => {
    const schema = { oneOf: [{ type: 'object', properties: { r: { type: 'integer', maximum: 255 } } }, { type: 'string' }] };
    assert.deepEqual(validateAgainstSchema(schema, { r: 300 }, '/input'), [{ pointer: '/input/r', message: 'must be <= 255' }]);
  });

  it('checks multipleOf, exclusive bounds, maxLength, pattern and formats', () => {
    assert.deepEqual(validateAgainstSchema({ type: 'number', multipleOf: 0.5 }, 1.25, ''), [{ pointer: '', message: 'must be multiple of 0.5' }]);
    assert.deepEqual(validateAgainstSchema({ type: 'number', exclusiveMaximum: 1 }, 1, ''), [{ pointer: '', message: 'must be < 1' }]);
    assert.deepEqual(validateAgainstSchema({ type: 'string', maxLength: 2 }, 'abc', ''), [{ pointer: '', message: 'must NOT have more than 2 characters' }]);
    assert.deepEqual(validateAgainstSchema({ type: 'string', pattern: '^[a-f0-9]+$' }, 'xyz', ''), [
      { pointer: '', message: 'must match pattern "^[a-f0-9]+$"' },
    ]);
    assert.deepEqual(validateAgainstSchema({ type: 'string', format: 'date-time' }, '2025-03-12T10:00:00Z', ''), []);
    assert.deepEqual(validateAgainstSchema({ type: 'string', format: 'date-time' }, 'noon', ''), [
      { pointer: '', message: 'must be a valid "date-time" string' },
    ]);
    assert.deepEqual(validateAgainstSchema({ type: 'string', format: 'wot-colour' }, 'teal', ''), [], 'unknown formats are annotations');
  });

  it('ignores keywords that are not WoT data-schema keywords', () => {
    const action = { ...affordances('actions').fade, additionalProperties: false, $ref: '#/nowhere', allOf: [{ type: 'string' }] };
    assert.deepEqual(validateAgainstSchema(action, { anything: 1 }, ''), [], 'the action affordance itself has no data keywords');
  });

  it('escapes member names in pointers', () => {
    const schema = { type: 'object', properties: { 'a/b': { type: 'string' } } };
    assert.deepEqual(validateAgainstSchema(schema, { 'a/b': 1 }, '/input'), [{ pointer: '/input/a~1b', message: 'must be of type string' }]);
  });

  it('reports an unusable schema as a problem instead of throwing', () => {
    const problems = validateAgainstSchema({ type: 'string', pattern: '([a-' }, 'x', '/value');
    assert.equal(problems.length, 1);
    assert.equal(problems[0].pointer, '/value');
    assert.match(problems[0].message, /schema for it is unusable/);
  });

  it('reuses the compiled validator for the same schema object and does not mix up others', () => {
    const a = { type: 'integer' };
    const b = { type: 'string' };
    for (let i = 0; i < 1000; i++) {
      assert.equal(validateAgainstSchema(a, i, '').length, 0);
      assert.equal(validateAgainstSchema(b, i, '').length, 1);
    }
    // The validator is cached by object identity: changing the object afterwards is not seen,
    // which proves it is not recompiled (stored TDs are never mutated in place).
    (a as { type: string }).type = 'string';
    assert.equal(validateAgainstSchema(a, 1, '').length, 0);
    assert.equal(validateAgainstSchema({ ...a }, 1, '').length, 1, 'a new object is compiled afresh');
  });
  it('gives equal schemas from different TDs the same verdicts, and never mixes up schemas that differ in a keyword', () => {
    const make = (maximum: number, title: string): Schema => ({
      type: 'object',
      title,
      properties: { level: { type: 'integer', maximum }, unit: { type: 'string' } },
      forms: [{ href: title }],
    });
    const [a, b, tighter] = [make(10, 'a'), make(10, 'b'), make(5, 'c')];
    for (const schema of [a, b]) assert.deepEqual(validateAgainstSchema(schema, { level: 7 }, ''), []);
    assert.deepEqual(validateAgainstSchema(tighter, { level: 7 }, ''), [{ pointer: '/level', message: 'must be <= 5' }]);
    assert.deepEqual(validateAgainstSchema(b, { level: 11 }, ''), [{ pointer: '/level', message: 'must be <= 10' }]);
    assert.deepEqual(validateAgainstSchema(a, { level: 7 }, ''), [], 'a later failure of an equal schema leaves no errors behind');
  });
});

describe('validateAgainstSchema: patterns run on RE2 (linear time)', () => {
  it('matches RE2 semantics: a lookahead cannot run, a pattern with nested quantifiers can', () => {
    assert.match(validateAgainstSchema({ type: 'string', pattern: '^(?=a)a$' }, 'a', '')[0]?.message ?? '', /unusable/);
    assert.deepEqual(validateAgainstSchema({ type: 'string', pattern: '^(a+)+$' }, 'aaaa', ''), []);
    assert.deepEqual(validateAgainstSchema({ type: 'string', pattern: '^(a+)+$' }, 'aaab', ''), [{ pointer: '', message: 'must match pattern "^(a+)+$"' }]);
  });

  it('translates ECMA-262 \\u escapes and keeps an escaped backslash literal', () => {
    assert.deepEqual(validateAgainstSchema({ type: 'string', pattern: '^\\u00e9\\uD83D\\uDE00$' }, 'é😀', ''), []);
    assert.deepEqual(validateAgainstSchema({ type: 'string', pattern: '^\\\\u0041$' }, '\\u0041', ''), []);
    assert.equal(validateAgainstSchema({ type: 'string', pattern: '^\\\\u0041$' }, 'A', '').length, 1);
  });
});
