import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isHubError } from '../model/errors.js';
import fc from 'fast-check';
import { applyMergePatch, createMergePatch } from './merge-patch.js';

// RFC 7396 Appendix A, every row: [target, patch, result].
const RFC_EXAMPLES: [unknown, unknown, unknown][] = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [
    ['a', 'b'],
    ['c', 'd'],
    ['c', 'd'],
  ],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

describe('applyMergePatch', () => {
  RFC_EXAMPLES.forEach(([target, patch, expected], i) => {
    it(`RFC 7396 appendix A example ${i + 1}: ${JSON.stringify(target)} + ${JSON.stringify(patch)}`, () => {
      assert.deepEqual(applyMergePatch(deepFreeze(target), deepFreeze(patch)), expected);
    });
  });

  it('applies the RFC section 3 example document patch', () => {
    const target = { title: 'Goodbye!', author: { givenName: 'John', familyName: 'Doe' }, tags: ['example', 'sample'], content: 'This will be unchanged' };
    const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
    assert.deepEqual(applyMergePatch(deepFreeze(target), deepFreeze(patch)), {
      title: 'Hello!',
      author: { givenName: 'John' },
      tags: ['example'],
      content: 'This will be unchanged',
      phoneNumber: '+01-123-456-7890',
    });
  });

  it('keeps member order and shares no objects with its inputs', () => {
    const target = { a: { deep: [1] }, b: 2, c: { x: 1 } };
    const patch = { b: 3, c: { y: [2] }, d: { e: 1 } };
    // `any`: the test walks into the result freely to mutate it.
    // biome-ignore lint/suspicious/noExplicitAny: the test walks an arbitrary patched document
    const result = applyMergePatch(target, patch) as Record<string, any>;
    assert.deepEqual(Object.keys(result), ['a', 'b', 'c', 'd']);
    result.a.deep.push(2);
    result.c.y.push(3);
    result.d.e = 9;
    assert.deepEqual(target, { a: { deep: [1] }, b: 2, c: { x: 1 } });
    assert.deepEqual(patch, { b: 3, c: { y: [2] }, d: { e: 1 } });
  });

  it('treats a "__proto__" member as data, not as the prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as unknown;
    const result = applyMergePatch({}, patch) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(result), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(result), ['__proto__', 'a']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(result, '__proto__')?.value, { polluted: true });
  });
});

describe('applyMergePatch: depth', () => {
  const nested = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  };

  it('refuses a patch nested deeper than 64 levels with a 400 naming the limit, before merging', () => {
    for (const levels of [65, 2500, 100_000]) {
      assert.throws(
        () => applyMergePatch({ title: 'x' }, { deep: nested(levels) }),
        (error: unknown) => isHubError(error) && error.status === 400 && /merge patch is nested too deeply.*64 levels/.test(error.problem.detail),
      );
    }
  });

  it('applies a patch within the limit', () => {
    assert.deepEqual(applyMergePatch({}, nested(64)), nested(64));
  });
});

describe('createMergePatch', () => {
  it('makes the patch that turns one document into the other (no nulls in values: RFC 7396 cannot carry them)', () => {
    const json = fc.jsonValue().filter((value) => !JSON.stringify(value).includes('null'));
    const document = fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 6 });
    fc.assert(
      fc.property(document, document, (from, to) => {
        // As JSON: the generator makes null-prototype objects, the patch plain ones.
        const asJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
        assert.deepEqual(asJson(applyMergePatch(from, createMergePatch(from, to))), asJson(to));
      }),
      { numRuns: 300 },
    );
  });

  it('is empty when nothing changed, and names only what changed', () => {
    const td = { id: 'x', title: 'a', properties: { p: { type: 'number' }, q: { type: 'string' } } };
    assert.deepEqual(createMergePatch(td, structuredClone(td)), {});
    assert.deepEqual(createMergePatch(td, { id: 'x', title: 'b', properties: { p: { type: 'number' } } }), { title: 'b', properties: { q: null } });
  });
});
