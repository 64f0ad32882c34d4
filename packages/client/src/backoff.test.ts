// Reconnect delays and the offline buffer: the bounds the agent relies on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from './backoff.js';
import { OfflineBuffer } from './offline-buffer.js';

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and is jittered over [0, ceiling)', () => {
    const ceilings = [0, 1, 2, 3, 10, 100].map((attempt) => backoffDelay(attempt, { initialMs: 100, maxMs: 1000 }, () => 0.999999));
    assert.deepEqual(ceilings, [99, 199, 399, 799, 999, 999]);
    assert.equal(
      backoffDelay(5, { initialMs: 100, maxMs: 1000 }, () => 0),
      0,
    );
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(3)));
    assert.ok(spread.size > 10, 'random jitter, not one fixed delay');
  });
});

describe('OfflineBuffer', () => {
  it('drops the oldest entry when full and counts every drop', () => {
    const dropped: Array<[number, number]> = [];
    const buffer = new OfflineBuffer<number>(2, (item, count) => dropped.push([item, count]));
    for (const value of [1, 2, 3, 4]) buffer.push(value);
    assert.deepEqual(dropped, [
      [1, 1],
      [2, 2],
    ]);
    assert.equal(buffer.dropped, 2);
    assert.deepEqual(buffer.drain(), [3, 4]);
    assert.throws(() => new OfflineBuffer(0, () => undefined), RangeError);
  });
});
