// Twins loaded on demand (issue #16, scale): the directory keeps its indexes for every twin but
// only a budget of parsed twins, reads the others back from the store when used, and never drops a
// twin whose change is not stored yet.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Bucket, BucketStore } from '@twinhub/bucket';
import { MemoryStore } from '@twinhub/storage-memory';
import type { Client, Twin } from '../model/types.js';
import type { QueryOptions } from '../query/engine.js';
import { countingReads } from '../testing/index.js';
import { TWINS_BUCKET, TwinDirectory } from './directory.js';

const agent: Client = { id: 'agent-1', role: 'agent' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };
const NOW = '2026-01-01T00:00:00.000Z';

function twinOf(n: number, extra: Partial<Twin> = {}): Twin {
  const thingId = `urn:t:${String(n).padStart(3, '0')}`;
  return {
    thingId,
    td: { '@context': 'https://www.w3.org/2022/wot/td/v1.1', id: thingId, title: `Thing ${n % 3}`, '@type': `Type${n % 2}`, description: 'x'.repeat(200) },
    agentId: agent.id,
    created: NOW,
    modified: NOW,
    version: 1,
    tags: { floor: String(n % 4) },
    ...extra,
  };
}

const recordBytes = JSON.stringify(twinOf(0)).length;

const OPTIONS: QueryOptions = {
  scanLimit: 10_000,
  maxPageBytes: 1 << 30,
  sources: {
    reported: () => undefined,
    openWrites: () => [],
    presence: () => ({ connected: false }),
    twinTd: (twin) => twin.td,
  },
};

async function stored(store: BucketStore, twins: Twin[]): Promise<void> {
  await store.batch(twins.map((twin) => ({ bucket: TWINS_BUCKET, type: 'put' as const, key: twin.thingId, value: JSON.stringify(twin) })));
}

describe('TwinDirectory: twins loaded on demand', () => {
  it('keeps only the budget parsed, reads the rest back from the store, and indexes every twin', async () => {
    const { store, syncReads: reads } = countingReads(new MemoryStore(), TWINS_BUCKET);
    const twins = Array.from({ length: 30 }, (_, n) => twinOf(n));
    await stored(store, twins);
    const directory = new TwinDirectory({ cacheBytes: 5 * recordBytes });
    const visited: string[] = [];
    await directory.load(store, (twin) => visited.push(twin.thingId));
    assert.equal(visited.length, 30, 'every twin is handed over once at load');
    assert.equal(directory.size, 30);
    assert.equal(directory.cachedCount, 5, 'only the budget stays parsed');
    assert.equal(reads(), 0);

    for (const twin of twins) assert.deepEqual(directory.get(twin.thingId), twin);
    assert.equal(reads(), 25, 'the 25 twins not kept were read back, one read each');
    assert.ok(directory.cachedCount <= 5, `${directory.cachedCount} parsed`);
    // The most recently used stay: reading the last five again needs no store read.
    for (const twin of twins.slice(25)) directory.get(twin.thingId);
    assert.equal(reads(), 25);
    assert.equal(directory.get('urn:t:none'), undefined);
    assert.equal(reads(), 25, 'an unknown Thing ID never reaches the store');
    assert.throws(() => directory.require('urn:t:none'), /no Thing with id 'urn:t:none'/);

    // Listings plan on the indexes and read their page's twins back.
    const byType = directory.list(viewer, { type: 'Type1', limit: 100 }, OPTIONS);
    assert.equal(byType.total, 15);
    assert.deepEqual(
      byType.twins.map((t) => t.thingId),
      twins.filter((_, n) => n % 2 === 1).map((t) => t.thingId),
    );
    assert.equal(directory.list(viewer, { tags: { floor: '2' }, limit: 100 }, OPTIONS).total, 7);
    // Titles (not in Thing ID order) are sorted once at load: a prefix is a range of them.
    assert.equal(directory.indexes.withTitlePrefix('Thing 1').size, 10);
    assert.equal(directory.indexes.withTitlePrefix('Thing').size, 30);
    directory.put(twinOf(99, { td: { ...twinOf(99).td, title: 'Thing 10' } }));
    assert.equal(directory.indexes.withTitlePrefix('Thing 1').size, 11);
    assert.equal(directory.indexes.withTitlePrefix('Thing 2').size, 10);
    directory.put(twinOf(98, { td: { ...twinOf(98).td, title: 'Thing 10' } }));
    assert.deepEqual([...directory.indexes.withTitle('Thing 10')].sort(), ['urn:t:098', 'urn:t:099']);
    directory.remove(twinOf(99).thingId);
    assert.deepEqual([...directory.indexes.withTitle('Thing 10')], ['urn:t:098']);
    directory.remove(twinOf(98).thingId);
    assert.equal(directory.indexes.withTitle('Thing 10').size, 0);
    assert.equal(directory.indexes.withTitlePrefix('Thing 1').size, 10);
  });

  it('never drops a pinned twin (a change not stored yet) and unindexes the replaced one correctly', async () => {
    const store = new MemoryStore();
    const twins = Array.from({ length: 10 }, (_, n) => twinOf(n));
    await stored(store, twins);
    const directory = new TwinDirectory({ cacheBytes: 0 });
    await directory.load(store);
    assert.equal(directory.cachedCount, 0);

    // A tag change applied to the view while the store still holds the old record.
    const old = directory.require('urn:t:004');
    const release = directory.pin(old.thingId);
    const updated: Twin = { ...old, tags: { floor: 'roof' }, version: 2, modified: '2026-01-02T00:00:00.000Z' };
    directory.put(updated);
    for (const twin of twins) directory.get(twin.thingId);
    assert.equal(directory.get(old.thingId), updated, 'still the applied object, not the stored record');
    assert.equal(directory.list(viewer, { tags: { floor: 'roof' }, limit: 10 }, OPTIONS).total, 1);
    assert.equal(directory.list(viewer, { tags: { floor: '0' }, limit: 10 }, OPTIONS).total, 2, 'the old tag left the index (floor 0: 0 and 8)');

    await stored(store, [updated]);
    release();
    assert.equal(directory.cachedCount, 0, 'once released it may go');
    assert.deepEqual(directory.get(old.thingId), updated, 'and comes back as stored');

    // Replacing and removing a dropped twin reads the previous one back to unindex it.
    directory.put(twinOf(6, { td: { ...twinOf(6).td, '@type': 'Other' }, version: 2 }));
    assert.equal(directory.list(viewer, { type: 'Other', limit: 10 }, OPTIONS).total, 1);
    assert.equal(directory.list(viewer, { type: 'Type0', limit: 10 }, OPTIONS).total, 4);
    assert.equal(directory.remove('urn:t:002')?.thingId, 'urn:t:002');
    assert.equal(directory.has('urn:t:002'), false);
    assert.equal(directory.size, 9);
    assert.equal(directory.list(viewer, { type: 'Type0', limit: 10 }, OPTIONS).total, 3);
    assert.equal(directory.countOwnedBy(agent.id), 9);
  });

  it('keeps every twin parsed on a store without synchronous reads', async () => {
    const store = new MemoryStore();
    await stored(store, [twinOf(1), twinOf(2)]);
    const bucket = store.bucket.bind(store);
    store.bucket = (name: string) => Object.assign(Object.create(bucket(name)) as Bucket, { getSync: undefined });
    const directory = new TwinDirectory({ cacheBytes: 0 });
    await directory.load(store);
    assert.equal(directory.cachedCount, 2);
    assert.deepEqual(directory.get('urn:t:001'), twinOf(1));
  });
});
