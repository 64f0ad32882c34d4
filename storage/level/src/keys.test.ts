import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeKey, encodeKey } from './keys.js';

describe('CESU-8 key encoding', () => {
  const samples = [
    '',
    'a',
    '\u0000',
    '\u007f',
    '\u0080',
    '\u07ff',
    '\u0800',
    '\uD7FF',
    '\uD83D',
    '\uDE00',
    '\u{1F600}',
    '\uE000',
    '\uFFFD',
    '\uFFFF',
    'é中\u{1F600}x',
    '\uDE00\uD83D',
  ];

  it('round-trips every kind of code unit, lone surrogates included', () => {
    for (const text of samples) assert.equal(decodeKey(encodeKey(text)), text, JSON.stringify(text));
    const long = 'ab\u{1F600}'.repeat(5000);
    assert.equal(decodeKey(encodeKey(long)), long);
  });

  it('orders bytes exactly as JS orders the strings (UTF-16 code units)', () => {
    for (const x of samples) {
      for (const y of samples) {
        const bytes = Math.sign(Buffer.compare(encodeKey(x), encodeKey(y)));
        const text = x < y ? -1 : x > y ? 1 : 0;
        assert.equal(bytes, text, `${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
      }
    }
  });

  it('prepends a prefix, appends a suffix byte, and decodes from an offset', () => {
    const key = encodeKey('k\u00e9', Buffer.from('p'), 0x00);
    assert.deepEqual([...key], [0x70, 0x6b, 0xc3, 0xa9, 0x00]);
    assert.equal(decodeKey(encodeKey('k\u00e9', Buffer.from('p\u0000')), 2), 'k\u00e9');
    assert.ok(!encodeKey(samples.join('')).includes(0xff));
  });
});
