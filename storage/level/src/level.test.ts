import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StoreError, type BucketStore } from '@twinhub/bucket';
import { bucketStoreContract } from '@twinhub/bucket/contract';
import { openLevelStore } from './index.js';

let root: string;
let counter = 0;
const folders = new Map<BucketStore, string>();

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinhub-level-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function openIn(dir: string): Promise<BucketStore> {
  const store = await openLevelStore(dir);
  folders.set(store, dir);
  return store;
}

bucketStoreContract(
  'level',
  () => openIn(join(root, `db-${++counter}`)),
  (previous) => openIn(folders.get(previous)!),
);

describe('openLevelStore', () => {
  it('refuses a data folder that is already open, saying it is in use', async () => {
    const dir = join(root, 'locked');
    const first = await openLevelStore(dir);
    try {
      await assert.rejects(openLevelStore(dir), (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.match(error.message, /in use by another twinhub/);
        assert.ok(error.message.includes(dir));
        return true;
      });
      // The first store is unaffected.
      await first.bucket('b').put('k', 'v');
      assert.equal(await first.bucket('b').get('k'), 'v');
    } finally {
      await first.close();
    }
    const again = await openLevelStore(dir);
    assert.equal(await again.bucket('b').get('k'), 'v');
    await again.close();
  });

  it('reports a folder it cannot create as a StoreError naming the folder', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'not a folder');
    const dir = join(file, 'db');
    await assert.rejects(openLevelStore(dir), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.ok(error.message.startsWith(`cannot open the data folder ${dir}`), error.message);
      return true;
    });
  });

  it('writes with sync: true and reads them back after reopening', async () => {
    const dir = join(root, 'synced');
    const store = await openLevelStore(dir, { sync: true });
    await store.batch([{ bucket: 'b', type: 'put', key: 'k', value: 'v' }]);
    await store.close();
    const reopened = await openLevelStore(dir);
    assert.equal(await reopened.bucket('b').get('k'), 'v');
    await reopened.close();
  });

  it('keeps keys with lone surrogates and NUL characters intact and in order', async () => {
    const store = await openLevelStore(join(root, 'odd-keys'));
    const bucket = store.bucket('b');
    const keys = ['\uD83D', '\uDE00', 'a\u0000b', 'a', '\u{1F600}', '\uFFFD'];
    for (const key of keys) await bucket.put(key, key.length.toString());
    const walked: string[] = [];
    for await (const key of bucket.keys()) walked.push(key);
    assert.deepEqual(walked, [...keys].sort());
    assert.deepEqual(await bucket.getMany(keys), keys.map((k) => k.length.toString()));
    await store.close();
  });
});
