import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketStoreContract } from '@twinhub/bucket/contract';
import type { KeyRange } from '@twinhub/bucket';
import { MemoryStore } from './index.js';

bucketStoreContract(
  'memory',
  async () => new MemoryStore(),
  undefined,
  (store) => (store as MemoryStore).peer(),
);

describe('MemoryStore at scale', () => {
  // Speed at this size is measured by the benchmarks, not asserted here.
  it('keeps 100k randomly inserted keys sorted across block splits, range walks and deletes', async () => {
    const store = new MemoryStore();
    const bucket = store.bucket('big');
    const write = (keys: string[], type: 'put' | 'del') =>
      store.batch(keys.map((key) => (type === 'put' ? { bucket: 'big', type, key, value: key } : { bucket: 'big', type, key })));
    async function* keysOf(range?: KeyRange): AsyncGenerator<string> {
      for await (const [key] of bucket.entries(range)) yield key;
    }
    const keys = Array.from({ length: 100_000 }, (_, i) => `key/${((i * 48_271) % 100_003).toString(36).padStart(4, '0')}/${i}`);
    const sorted = [...keys].sort();
    // Batches of 100: the test runner makes every await costly, and the point is the insert path.
    for (let i = 0; i < keys.length; i += 100) {
      await write(keys.slice(i, i + 100), 'put');
    }
    for (let i = 0; i < 1000; i++) {
      const at = (i * 97) % sorted.length;
      const from = sorted[at];
      const page: string[] = [];
      for await (const key of keysOf({ gte: from, limit: 20 })) page.push(key);
      assert.deepEqual(page, sorted.slice(at, at + 20));
    }
    const all: string[] = [];
    for await (const key of keysOf()) all.push(key);
    assert.equal(all.join('\n'), sorted.join('\n')); // join: deepEqual is slow on 100k items
    await write(keys.slice(0, 50_000), 'del');
    const rest: string[] = [];
    for await (const key of keysOf()) rest.push(key);
    assert.equal(rest.join('\n'), [...keys.slice(50_000)].sort().join('\n'));
    await store.close();
  });
});
