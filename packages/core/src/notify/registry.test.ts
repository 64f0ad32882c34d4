import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutboundMessage } from '../model/envelope.js';
import type { Client } from '../model/types.js';
import { NotificationRegistry, type LiveSession } from './registry.js';

const viewer: Client = { id: 'viewer-1', role: 'viewer' };

/** An in-memory id source (the durable one is tested through the hub). */
function counter() {
  let last = 0;
  return {
    next: () => ++last,
    get current() {
      return last;
    },
  };
}

function registry(replayCount: number, replayBytes: number) {
  return new NotificationRegistry({ replayCount, replayBytes, maxSubscriptionsPerSession: 10, visible: () => true, sequence: counter() });
}

function report(notify: NotificationRegistry, data: unknown) {
  return notify.publish({ operation: 'observeproperty', thingId: 'urn:t:1', name: 'level', data, timestamp: '2026-01-01T00:00:00Z' }).seq;
}

describe('NotificationRegistry replay buffer', () => {
  it('keeps the newest notifications in order after wrapping around many times', () => {
    const notify = registry(4, 1_000_000);
    for (let i = 1; i <= 23; i++) report(notify, i);
    assert.deepEqual(
      notify.since(19, viewer)?.map((m) => m.data),
      [20, 21, 22, 23],
    );
    assert.deepEqual(
      notify.since(21, viewer)?.map((m) => m.data),
      [22, 23],
    );
    assert.equal(notify.since(18, viewer), undefined, 'notification 19 was evicted');
    assert.deepEqual(notify.since(23, viewer), []);
  });

  it('evicts by bytes across the wrap, and drops a notification larger than the whole budget', () => {
    const notify = registry(4, 20); // 1001..1009 are 4 bytes of JSON each: four fit
    for (let i = 1; i <= 9; i++) report(notify, 1000 + i);
    assert.deepEqual(
      notify.since(5, viewer)?.map((m) => m.data),
      [1006, 1007, 1008, 1009],
    );
    const big = report(notify, 'x'.repeat(10)); // 12 bytes: 8 bytes are left for older ones
    assert.deepEqual(
      notify.since(big - 3, viewer)?.map((m) => m.data),
      [1008, 1009, 'x'.repeat(10)],
    );
    assert.equal(notify.since(big - 4, viewer), undefined);
    const huge = report(notify, 'y'.repeat(30));
    assert.equal(notify.since(huge - 1, viewer), undefined, 'nothing older survives a notification over the budget');
    assert.deepEqual(notify.since(huge, viewer), []);
    report(notify, 1);
    assert.deepEqual(
      notify.since(huge, viewer)?.map((m) => m.data),
      [1],
    );
  });

  it('replays only what a session subscribed to', () => {
    const notify = registry(3, 1_000_000);
    const sent: OutboundMessage[] = [];
    const session: LiveSession = {
      id: 's',
      client: viewer,
      binding: 'test',
      subscriptions: new Set(),
      send: (m) => sent.push(m),
      close: () => {},
      ready: () => true,
      sentRequests: new Set(),
      backlogged: false,
    };
    notify.subscribe(session, { kind: 'property', thingId: 'urn:t:1', name: 'other' });
    for (let i = 1; i <= 5; i++) report(notify, i);
    assert.deepEqual(notify.since(2, session), []);
    assert.deepEqual(sent, []);
  });
});
