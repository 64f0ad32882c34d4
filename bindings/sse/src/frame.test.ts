import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatComment, formatFrame } from './frame.js';

test('a frame has id, event and data lines and ends with a blank line', () => {
  assert.equal(formatFrame({ id: 7, event: 'observeproperty', data: '{"a":1}' }), 'id: 7\nevent: observeproperty\ndata: {"a":1}\n\n');
  assert.equal(formatFrame({ data: '42' }), 'data: 42\n\n');
});

test('multi-line data becomes several data lines; line breaks cannot inject fields', () => {
  assert.equal(formatFrame({ data: 'a\nb\r\nc' }), 'data: a\ndata: b\ndata: c\n\n');
  assert.equal(formatFrame({ id: '1\nevent: x', event: 'e\r\ndata: y', data: '' }), 'id: 1 event: x\nevent: e  data: y\ndata: \n\n');
  assert.equal(formatComment('ping\nid: 3'), ': ping id: 3\n\n');
});
