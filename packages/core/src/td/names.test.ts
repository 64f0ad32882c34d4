import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isHubError } from '../model/errors.js';
import { checkAffordanceName, checkThingId } from './names.js';

function rejection(fn: () => unknown): { status: number; detail: string; pointer?: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(isHubError(error));
    return { status: error.status, detail: error.problem.detail, pointer: error.problem.errors?.[0]?.pointer };
  }
  assert.fail('expected a rejection');
}

describe('checkThingId', () => {
  for (const id of [
    'urn:dev:ops:32473-WoTLamp-1234',
    'urn:uuid:0804d572-cce8-422a-bb7c-4412fcd56f06',
    'https://example.com/things/lamp+1',
    `x:${'a'.repeat(510)}`,
    'a.b-c+d:..x',
  ]) {
    it(`accepts ${id.slice(0, 48)}`, () => assert.equal(checkThingId(id), id));
  }
  for (const [id, reason] of [
    ['lamp-1', /URI with a scheme/],
    ['1urn:x', /URI with a scheme/],
    [':x', /URI with a scheme/],
    ['urn:a b', /whitespace/],
    ['urn:a\tb', /whitespace/],
    ['urn:a\u007fb', /control/],
    ['urn:a\u0085b', /control/],
    ['urn:a\u00a0b', /whitespace/],
    ['urn:a#b', /'#'/],
    ['https://h/x/..', /'\.\.'/],
    ['https://h/../x', /'\.\.'/],
    ['', /empty/],
    [`x:${'a'.repeat(511)}`, /at most 512/],
    [null, /string/],
  ] as const) {
    it(`rejects ${JSON.stringify(id)?.slice(0, 40)} with 400`, () => {
      const { status, detail, pointer } = rejection(() => checkThingId(id));
      assert.equal(status, 400);
      assert.match(detail, reason);
      assert.match(detail, /^Invalid Thing ID/);
      assert.equal(pointer, '/id');
    });
  }
});

describe('checkAffordanceName', () => {
  for (const name of ['brightness', 'on-off_2', 'température', 'a.b:c', 'n'.repeat(128)]) {
    it(`accepts ${name.slice(0, 20)}`, () => assert.equal(checkAffordanceName(name), name));
  }
  for (const [name, reason] of [
    ['a/b', /'\/'/],
    ['a#b', /'#'/],
    ['a+b', /'\+'/],
    ['a b', /whitespace/],
    ['a\nb', /whitespace/],
    ['', /empty/],
    ['n'.repeat(129), /at most 128/],
    [7, /string/],
  ] as const) {
    it(`rejects ${JSON.stringify(name).slice(0, 20)} with 400`, () => {
      const { status, detail, pointer } = rejection(() => checkAffordanceName(name));
      assert.equal(status, 400);
      assert.match(detail, reason);
      assert.equal(pointer, '/name');
    });
  }
});

describe('names: prototype names and confusable or unencodable characters', () => {
  for (const [text, reason] of [
    ['a\ud800', /lone UTF-16 surrogate/],
    ['\udfffa', /lone UTF-16 surrogate/],
    ['a\u202Eb', /invisible formatting/],
    ['a\u202Ab', /invisible formatting/],
    ['a\u2067b', /invisible formatting/],
    ['a\u200Bb', /invisible formatting/],
    ['a\u200Fb', /invisible formatting/],
    ['a\u2060b', /invisible formatting/],
    ['a\u061Cb', /invisible formatting/],
    ['a\u{E0041}b', /invisible formatting/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} in a name and in a Thing ID, with the same reason`, () => {
      assert.match(rejection(() => checkAffordanceName(text)).detail, reason);
      assert.match(rejection(() => checkThingId(`urn:x:${text}`)).detail, reason);
    });
  }

  for (const name of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses the name ${name} as reserved`, () => assert.match(rejection(() => checkAffordanceName(name)).detail, /is reserved/));
  }

  it('accepts names with astral characters (valid surrogate pairs) and names merely containing "proto"', () => {
    for (const name of ['lamp😀', '𝔸', 'proto', '__proto', 'constructors']) assert.equal(checkAffordanceName(name), name);
    assert.equal(checkThingId('urn:x:lamp😀'), 'urn:x:lamp😀');
  });
});
