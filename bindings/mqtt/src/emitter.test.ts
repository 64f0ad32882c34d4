// The embedded broker's emitter drains a backlog without recursing once per queued message: a
// backlog whose deliveries end synchronously overflowed the stack with plain mqemitter (the hub
// died under overload). Order and completeness are what the broker relies on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBrokerEmitter } from './emitter.js';

describe('createBrokerEmitter', () => {
  it('drains a backlog of 20,000 messages whose deliveries end synchronously, every one, in order', async () => {
    const emitter = createBrokerEmitter(100);
    const held: Array<() => void> = [];
    const delivered: number[] = [];
    let holding = true;
    emitter.on('things/+/x', (message, done) => {
      delivered.push(message.n as number);
      if (holding) held.push(done);
      else done();
    });
    const total = 20_000; // plain mqemitter overflowed the stack at about 1,300 (Node 20 default stack)
    for (let n = 0; n < total; n++) emitter.emit({ topic: `things/${n % 100}/x`, n });
    assert.equal(held.length, 100, 'the first 100 are in delivery, the rest queued');
    holding = false;
    // Releasing the held deliveries drains the queue: synchronously up to the depth bound, then in slices.
    for (const done of held.splice(0)) done();
    // A message emitted while the backlog drains goes behind it.
    emitter.emit({ topic: 'things/late/x', n: total });
    const deadline = Date.now() + 10_000;
    while (delivered.length < total + 1 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(delivered.length, total + 1);
    assert.ok(
      delivered.every((n, i) => n === i),
      'delivered in emit order',
    );
  });

  it('delivers at once when nothing is queued', () => {
    const emitter = createBrokerEmitter();
    const got: unknown[] = [];
    emitter.on('a/b', (message, done) => {
      got.push(message.payload);
      done();
    });
    emitter.emit({ topic: 'a/b', payload: 1 });
    assert.deepEqual(got, [1]);
  });
});
