import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBucketName, keyBounds, StoreError, type KeyRange } from './index.js';

/** The plain reading of a range (prefix and bounds; limit and reverse ignored): the oracle keyBounds is checked against. */
function keyInRange(key: string, range: KeyRange = {}): boolean {
  if (range.prefix !== undefined && !key.startsWith(range.prefix)) return false;
  if (range.gt !== undefined && !(key > range.gt)) return false;
  if (range.gte !== undefined && !(key >= range.gte)) return false;
  if (range.lt !== undefined && !(key < range.lt)) return false;
  if (range.lte !== undefined && !(key <= range.lte)) return false;
  return true;
}

describe('keyInRange', () => {
  it('accepts every key when the range is empty or missing', () => {
    assert.equal(keyInRange('anything'), true);
    assert.equal(keyInRange('', {}), true);
  });

  it('checks the prefix and each bound, ignoring limit and reverse', () => {
    assert.equal(keyInRange('a/1', { prefix: 'a/' }), true);
    assert.equal(keyInRange('a', { prefix: 'a/' }), false);
    assert.equal(keyInRange('b', { gt: 'b' }), false);
    assert.equal(keyInRange('b', { gte: 'b' }), true);
    assert.equal(keyInRange('b', { lt: 'b' }), false);
    assert.equal(keyInRange('b', { lte: 'b' }), true);
    assert.equal(keyInRange('b', { gt: 'a', lt: 'c', limit: 0, reverse: true }), true);
    assert.equal(keyInRange('ab', { prefix: 'a', lt: 'aa' }), false);
  });

  it('compares by UTF-16 code units', () => {
    assert.equal(keyInRange('\uFFFD', { gt: '\u{1F600}' }), true);
    assert.equal(keyInRange('\u{1F600}', { lt: '\uFFFD' }), true);
  });
});

describe('keyBounds', () => {
  const keys = ['', 'a', 'a\u0001', 'ab', 'a\uFFFF', 'a\uFFFFb', 'b', 'b\uFFFF', '\uFFFF', '\uFFFF\uFFFF', '\u{1F600}'];
  const inBounds = (key: string, range: KeyRange): boolean => {
    const { lower, upper } = keyBounds(range);
    if (lower && !(lower.inclusive ? key >= lower.key : key > lower.key)) return false;
    if (upper && !(upper.inclusive ? key <= upper.key : key < upper.key)) return false;
    return true;
  };

  it('selects exactly the keys keyInRange accepts', () => {
    const probes = [undefined, '', 'a', 'a\uFFFF', 'b', '\uFFFF'];
    for (const prefix of probes) {
      for (const gt of probes) {
        for (const lte of probes) {
          for (const range of [
            { prefix, gt, lte },
            { prefix, gte: gt, lt: lte },
          ] as KeyRange[]) {
            for (const key of keys) assert.equal(inBounds(key, range), keyInRange(key, range), `${JSON.stringify(key)} ${JSON.stringify(range)}`);
          }
        }
      }
    }
  });

  it('turns a prefix into >= prefix and < its successor, with no upper bound after U+FFFF only', () => {
    assert.deepEqual(keyBounds({ prefix: 'ab' }), { lower: { key: 'ab', inclusive: true }, upper: { key: 'ac', inclusive: false } });
    assert.deepEqual(keyBounds({ prefix: 'a\uFFFF' }).upper, { key: 'b', inclusive: false });
    assert.equal(keyBounds({ prefix: '\uFFFF\uFFFF' }).upper, undefined);
    assert.deepEqual(keyBounds({}), { lower: undefined, upper: undefined });
  });

  it('prefers the exclusive bound when both name the same key', () => {
    assert.deepEqual(keyBounds({ gt: 'k', gte: 'k', lt: 'm', lte: 'm' }), { lower: { key: 'k', inclusive: false }, upper: { key: 'm', inclusive: false } });
  });
});

describe('checkBucketName', () => {
  it('refuses empty names and names with ! or NUL', () => {
    for (const bad of ['', 'a!', 'a\0']) assert.throws(() => checkBucketName(bad), StoreError);
    assert.doesNotThrow(() => checkBucketName('twins/state'));
  });
});
