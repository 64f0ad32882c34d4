// Twin state loaded on demand (issue #16, scale): a store marked as being in the per-property
// layout is not scanned at start; each Thing's records are read back, one per property and event
// of its TD, when first used, and only a budget of Things stays in memory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BucketStore, StoreOperation } from '@twinhub/bucket';
import { MemoryStore } from '@twinhub/storage-memory';
import type { ThingDescription } from '../model/types.js';
import { countingReads } from '../testing/index.js';
import { META_BUCKET, STATE_BUCKET, TwinStateStore } from './state.js';

const key = (thingId: string, kind: 'p' | 'e', name: string) => `${thingId}\u0001${kind}\u0001${name}`;
const td: ThingDescription = { title: 'T', properties: { a: {}, b: {} }, events: { e: {} } };
const ids = ['urn:t:1', 'urn:t:2', 'urn:t:3'];

/** A store holding two values and an event per Thing, and counting the synchronous reads of state records. */
async function filledStore(): Promise<{ store: BucketStore; reads: () => number; scans: () => number }> {
  const store = new MemoryStore();
  const operations: StoreOperation[] = ids.flatMap((thingId, n) => [
    { bucket: STATE_BUCKET, type: 'put', key: key(thingId, 'p', 'a'), value: JSON.stringify({ value: n, updated: 'T1', version: 1 }) },
    { bucket: STATE_BUCKET, type: 'put', key: key(thingId, 'p', 'b'), value: JSON.stringify({ value: `b${n}`, updated: 'T2', version: 2 }) },
    { bucket: STATE_BUCKET, type: 'put', key: key(thingId, 'e', 'e'), value: JSON.stringify({ data: n * 10, time: 'T3', version: 3 }) },
  ]);
  await store.batch(operations);
  const counted = countingReads(store, STATE_BUCKET);
  return { store: counted.store, reads: counted.syncReads, scans: counted.scans };
}

describe('TwinStateStore: state loaded on demand', () => {
  it('scans once (no layout mark yet), marks the store, then loads nothing at start and reads each Thing back when used', async () => {
    const { store, reads, scans } = await filledStore();
    const first = new TwinStateStore({ cacheThings: 2, tdOf: () => td });
    const writes = await first.load(store);
    assert.equal(scans(), 1, 'an unmarked store is scanned (v1 records would be migrated)');
    assert.deepEqual(
      writes.map((w) => [w.bucket, w.key]),
      [[META_BUCKET, 'state-layout']],
    );
    first.startOnDemand();
    assert.equal(first.cachedCount, 2, 'trimmed to the budget once checked');
    await store.batch(writes.map((w) => ({ bucket: w.bucket, type: 'put', key: w.key, value: JSON.stringify(w.value) })));

    const state = new TwinStateStore({ cacheThings: 2, tdOf: (thingId) => (ids.includes(thingId) ? td : undefined) });
    assert.deepEqual(await state.load(store), []);
    state.startOnDemand();
    assert.equal(scans(), 1, 'a marked store is not scanned');
    assert.equal(state.cachedCount, 0);

    assert.deepEqual(state.reported('urn:t:2', 'b'), { value: 'b1', updated: 'T2', version: 2 });
    assert.equal(reads(), 3, 'one read per property and event of the TD');
    assert.equal(state.version('urn:t:2'), 3, 'the version is the newest of its records');
    assert.equal(reads(), 3, 'kept in memory');
    const snapshot = state.snapshot('urn:t:3', new Map());
    assert.deepEqual(snapshot.properties, { a: { value: 2, updated: 'T1' }, b: { value: 'b2', updated: 'T2' } });
    assert.deepEqual(snapshot.events, { e: { data: 20, time: 'T3' } });
    state.reported('urn:t:1', 'a');
    assert.equal(state.cachedCount, 2, 'the least recently used Thing was dropped');
    assert.equal(state.reported('urn:t:none', 'a'), undefined, 'no TD, no reads');
    assert.equal(reads(), 9);

    // A record applied to a Thing not in memory: its other records are read back, not lost.
    state.apply(key('urn:t:2', 'p', 'a'), { value: 99, updated: 'T9', version: 9 });
    assert.deepEqual(state.snapshot('urn:t:2', new Map()).properties, { a: { value: 99, updated: 'T9' }, b: { value: 'b1', updated: 'T2' } });
    // Deleting a Thing's records covers those not in memory.
    state.reported('urn:t:3', 'a');
    assert.deepEqual(
      state.removeWrites('urn:t:1').map((w) => w.key),
      [key('urn:t:1', 'p', 'a'), key('urn:t:1', 'p', 'b'), key('urn:t:1', 'e', 'e')],
    );
    assert.deepEqual(
      state.reconcileWrites('urn:t:1', { title: 'T', properties: { a: {} } }).map((w) => w.key),
      [key('urn:t:1', 'p', 'b'), key('urn:t:1', 'e', 'e')],
      'a TD dropping affordances drops their records',
    );
  });

  it('keeps the whole state without a budget (and in cluster mode): every record loaded at start', async () => {
    const { store, reads, scans } = await filledStore();
    const state = new TwinStateStore({ tdOf: () => td });
    assert.deepEqual(await state.load(store), []);
    state.startOnDemand();
    assert.equal(scans(), 1);
    assert.equal(state.cachedCount, 3);
    assert.equal(state.reported('urn:t:1', 'b')?.value, 'b0');
    assert.equal(reads(), 0);
  });
});
