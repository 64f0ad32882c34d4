// The behaviour every BucketStore backend must show, as one node:test suite. A backend's test
// file calls `bucketStoreContract('memory', () => ...)`; the core relies on exactly these rules.
// Revisions, compare-and-set and (for backends that can open a second writer) the change feed
// are pinned here too.
//
// Iteration semantics pinned here: an iteration reads a snapshot taken when it starts (at its
// first `next()`); writes made after that are never seen by it, and never break it.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { StoreError, type Bucket, type BucketOperation, type BucketStore, type KeyRange, type StoreChange, type StoreErrorCode } from './index.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const hasCode =
  (code: StoreErrorCode) =>
  (error: unknown): boolean =>
    error instanceof StoreError && error.code === code;

/**
 * A bucket plus the single-key writes the cases below are phrased in, all made through
 * `BucketStore.batch` (the seam's only plain write path).
 */
interface TestBucket extends Bucket {
  put(key: string, value: string): Promise<readonly number[]>;
  delete(key: string): Promise<readonly number[]>;
  batch(operations: readonly BucketOperation[]): Promise<readonly number[]>;
  keys(range?: KeyRange): AsyncIterable<string>;
}

function testBucket(store: BucketStore, name: string): TestBucket {
  const bucket = store.bucket(name);
  return {
    name: bucket.name,
    get: (key) => bucket.get(key),
    getEntry: (key) => bucket.getEntry(key),
    compareAndSet: (key, value, expected) => bucket.compareAndSet(key, value, expected),
    entries: (range) => bucket.entries(range),
    put: (key, value) => store.batch([{ bucket: name, type: 'put', key, value }]),
    delete: (key) => store.batch([{ bucket: name, type: 'del', key }]),
    batch: (operations) => store.batch(operations.map((op) => ({ ...op, bucket: name }))),
    async *keys(range) {
      for await (const [key] of bucket.entries(range)) yield key;
    },
  };
}

/** Resolves once queued microtasks and a macrotask turn have run (change feeds deliver asynchronously). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

/** Keys that share prefixes, contain control characters, non-ASCII and astral characters. */
const TRICKY_KEYS = [
  '',
  'a',
  'a\u0001',
  'a/1',
  'a/2',
  'ab',
  'b',
  'b/1',
  'z',
  'zz',
  'é',
  'éa',
  '\u4e2d',
  '\uFFFD',
  '\u{1F600}',
  '\u{1F600}x',
  'y\uFFFF',
  'y\uFFFFz',
  'y\uFFFF\uFFFF',
  'yz',
];
/** Sorted by UTF-16 code units, the order the contract promises. */
const SORTED_KEYS = [...TRICKY_KEYS].sort();
const valueFor = (key: string): string => JSON.stringify({ key, n: key.length });

async function seed(bucket: TestBucket, keys: readonly string[] = TRICKY_KEYS): Promise<void> {
  // Inserted in a scrambled order so a backend that keeps insertion order fails.
  const scrambled = keys.map((key, i) => ({ key, rank: (i * 7919) % keys.length })).sort((x, y) => x.rank - y.rank);
  for (const { key } of scrambled) await bucket.put(key, valueFor(key));
}

/** What `entries(range)` must yield for the seeded keys, computed from the plain rules. */
function expected(range: KeyRange, keys: readonly string[] = SORTED_KEYS): string[] {
  let out = keys.filter(
    (key) =>
      (range.prefix === undefined || key.startsWith(range.prefix)) &&
      (range.gt === undefined || key > range.gt) &&
      (range.gte === undefined || key >= range.gte) &&
      (range.lt === undefined || key < range.lt) &&
      (range.lte === undefined || key <= range.lte),
  );
  if (range.reverse) out = out.reverse();
  if (range.limit !== undefined) out = out.slice(0, range.limit);
  return out;
}

/**
 * Registers the contract suite for one backend.
 * @param open a fresh, empty store for each test.
 * @param reopen given a store the suite has already closed, a new store over the same data;
 *   when present the durability tests run.
 * @param peer a second writer over the same data as `store` (another hub instance); when present
 *   the change-feed and cross-writer compare-and-set tests run, otherwise `watch` must stay silent.
 */
export function bucketStoreContract(
  name: string,
  open: () => Promise<BucketStore>,
  reopen?: (previous: BucketStore) => Promise<BucketStore>,
  peer?: (store: BucketStore) => BucketStore,
): void {
  describe(`BucketStore contract: ${name}`, () => {
    let store: BucketStore;
    const use = (name: string): TestBucket => testBucket(store, name);
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('single keys', () => {
      it('get returns undefined for a missing key and the stored value after put', async () => {
        const bucket = use('things');
        assert.equal(bucket.name, 'things');
        assert.equal(await bucket.get('t1'), undefined);
        await bucket.put('t1', '{"title":"lamp"}');
        assert.equal(await bucket.get('t1'), '{"title":"lamp"}');
        await bucket.put('t1', 'v2');
        assert.equal(await bucket.get('t1'), 'v2');
      });

      it('delete removes a key and deleting a missing key is not an error', async () => {
        const bucket = use('things');
        await bucket.put('t1', 'x');
        await bucket.delete('t1');
        assert.equal(await bucket.get('t1'), undefined);
        await bucket.delete('never-there');
        assert.deepEqual(await collect(bucket.keys()), []);
      });

      it('stores the empty key, empty values, unicode and large values unchanged', async () => {
        const bucket = use('things');
        const big = 'ü\u{1F600}'.repeat(50_000);
        await bucket.put('', 'empty key');
        await bucket.put('empty', '');
        await bucket.put('\u{1F600}', big);
        assert.equal(await bucket.get(''), 'empty key');
        assert.equal(await bucket.get('empty'), '');
        assert.equal(await bucket.get('\u{1F600}'), big);
      });

      it('getEntry returns undefined for a missing key, else the value with a positive revision', async () => {
        const bucket = use('things');
        assert.equal(await bucket.getEntry('a'), undefined);
        await bucket.put('a', '1');
        const entry = await bucket.getEntry('a');
        assert.equal(entry?.value, '1');
        assert.ok(Number.isSafeInteger(entry?.revision) && entry!.revision > 0, `revision ${entry?.revision}`);
        await bucket.delete('a');
        assert.equal(await bucket.getEntry('a'), undefined);
      });
    });

    describe('synchronous reads (getSync, where the backend offers it)', () => {
      it('reads the committed value of a key, undefined when absent, per bucket', async (t) => {
        const raw = store.bucket('things');
        if (raw.getSync === undefined) {
          t.diagnostic('this backend has no synchronous reads');
          return;
        }
        const bucket = use('things');
        assert.equal(raw.getSync('t1'), undefined);
        await bucket.put('t1', '{"title":"lamp"}');
        await use('other').put('t1', 'elsewhere');
        assert.equal(raw.getSync('t1'), '{"title":"lamp"}');
        const big = 'ü\u{1F600}'.repeat(50_000);
        await store.batch([
          { bucket: 'things', type: 'put', key: '\u{1F600}', value: big },
          { bucket: 'things', type: 'del', key: 't1' },
        ]);
        assert.equal(raw.getSync('\u{1F600}'), big);
        assert.equal(raw.getSync('t1'), undefined);
        assert.equal(store.bucket('other').getSync?.('t1'), 'elsewhere');
        await store.close();
        assert.throws(() => raw.getSync?.('t1'), hasCode('closed'));
      });
    });

    describe('buckets', () => {
      it('keeps the same key apart in different buckets', async () => {
        const a = use('twins');
        const b = use('twins2');
        await a.put('k', 'in a');
        await b.put('k', 'in b');
        assert.equal(await a.get('k'), 'in a');
        assert.equal(await b.get('k'), 'in b');
        await a.delete('k');
        assert.equal(await a.get('k'), undefined);
        assert.equal(await b.get('k'), 'in b');
      });

      it('never leaks iteration across buckets whose names share a prefix', async () => {
        const names = ['x', 'x:y', 'xy', 'x/y', 'w', 'y'];
        for (const n of names)
          await use(n).batch([
            { type: 'put', key: 'k', value: n },
            { type: 'put', key: '', value: n },
          ]);
        for (const n of names) {
          assert.deepEqual(await collect(use(n).entries()), [
            ['', n],
            ['k', n],
          ]);
          assert.deepEqual(await collect(use(n).entries({ reverse: true })), [
            ['k', n],
            ['', n],
          ]);
        }
        assert.deepEqual(await collect(use('x:').entries()), []);
      });

      it('bucket() twice gives a view of the same data', async () => {
        await use('same').put('k', 'v');
        assert.equal(await use('same').get('k'), 'v');
      });

      it('rejects invalid bucket names with StoreError and accepts other characters', async () => {
        for (const bad of ['', 'a!b', '!', 'a\0b']) {
          assert.throws(() => store.bucket(bad), hasCode('invalid'), JSON.stringify(bad));
        }
        for (const good of ['twins/state', 'ü', 'a:b', 'with space', '\u{1F600}']) {
          await use(good).put('k', good);
          assert.equal(await use(good).get('k'), good);
        }
      });
    });

    describe('batches', () => {
      it('applies puts and deletes of a bucket batch together', async () => {
        const bucket = use('b');
        await bucket.put('old1', 'x');
        await bucket.put('old2', 'x');
        await bucket.batch([
          { type: 'del', key: 'old1' },
          { type: 'put', key: 'new1', value: '1' },
          { type: 'put', key: 'new2', value: '2' },
          { type: 'del', key: 'missing' },
        ]);
        assert.deepEqual(await collect(bucket.entries()), [
          ['new1', '1'],
          ['new2', '2'],
          ['old2', 'x'],
        ]);
        await bucket.batch([]);
        assert.equal((await collect(bucket.keys())).length, 3);
      });

      it('applies the operations of a batch in order (the last one on a key wins)', async () => {
        const bucket = use('b');
        await bucket.put('d', 'before');
        await bucket.batch([
          { type: 'put', key: 'a', value: '1' },
          { type: 'del', key: 'a' },
          { type: 'del', key: 'b' },
          { type: 'put', key: 'b', value: '2' },
          { type: 'put', key: 'c', value: 'first' },
          { type: 'put', key: 'c', value: 'second' },
          { type: 'del', key: 'd' },
          { type: 'put', key: 'd', value: 'after' },
        ]);
        assert.deepEqual(await collect(bucket.entries()), [
          ['b', '2'],
          ['c', 'second'],
          ['d', 'after'],
        ]);
      });

      it('applies a store batch across buckets as one unit', async () => {
        await use('twins').put('t1', 'old');
        await store.batch([
          { bucket: 'twins', type: 'put', key: 't1', value: 'new' },
          { bucket: 'twins', type: 'put', key: 't2', value: 'new' },
          { bucket: 'index', type: 'put', key: 'by-title/lamp/t1', value: '' },
          { bucket: 'log', type: 'put', key: '0001', value: 'created' },
          { bucket: 'twins', type: 'del', key: 'gone' },
        ]);
        assert.equal(await use('twins').get('t1'), 'new');
        assert.equal(await use('twins').get('t2'), 'new');
        assert.equal(await use('index').get('by-title/lamp/t1'), '');
        assert.deepEqual(await collect(use('log').entries()), [['0001', 'created']]);
        await store.batch([]);
      });

      it('rejects a store batch naming an invalid bucket with StoreError and applies none of it', async () => {
        await assert.rejects(
          () =>
            store.batch([
              { bucket: 'ok', type: 'put', key: 'k', value: 'v' },
              { bucket: 'bad!name', type: 'put', key: 'k', value: 'v' },
            ]),
          hasCode('invalid'),
        );
        assert.equal(await use('ok').get('k'), undefined);
      });

      it('a concurrent iteration sees all of a batch or none of it', async () => {
        const bucket = use('b');
        const keys = Array.from({ length: 200 }, (_, i) => `k${String(i).padStart(3, '0')}`);
        await bucket.batch(keys.map((key) => ({ type: 'put', key, value: 'old' })));
        const readers: Promise<[string, string][]>[] = [];
        const write = store.batch(keys.map((key) => ({ bucket: 'b', type: 'put', key, value: 'new' })));
        for (let i = 0; i < 20; i++) {
          readers.push(collect(bucket.entries()));
          await Promise.resolve();
        }
        await write;
        readers.push(collect(bucket.entries()));
        const views = await Promise.all(readers);
        for (const view of views) {
          assert.equal(view.length, keys.length);
          const values = new Set(view.map(([, v]) => v));
          assert.equal(values.size, 1, 'an iteration saw part of a batch');
        }
        assert.deepEqual(new Set(views.at(-1)!.map(([, v]) => v)), new Set(['new']));
      });
    });

    describe('ordered iteration', () => {
      it('walks all keys in UTF-16 code unit order, whatever the insertion order', async () => {
        const bucket = use('it');
        await seed(bucket);
        const entries = await collect(bucket.entries());
        assert.deepEqual(
          entries.map(([k]) => k),
          SORTED_KEYS,
        );
        for (const [k, v] of entries) assert.equal(v, valueFor(k));
        // U+FFFD sorts after U+1F600 by code units (0xFFFD > 0xD83D), before it by code points.
        assert.ok(SORTED_KEYS.indexOf('\uFFFD') > SORTED_KEYS.indexOf('\u{1F600}'));
        assert.deepEqual(await collect(bucket.keys()), SORTED_KEYS);
      });

      it('an empty bucket yields nothing', async () => {
        assert.deepEqual(await collect(use('empty').entries()), []);
        assert.deepEqual(await collect(use('empty').keys({ reverse: true })), []);
      });

      it('restricts to a prefix, including prefixes of other keys and U+FFFF edges', async () => {
        const bucket = use('it');
        await seed(bucket);
        const keysOf = async (range: KeyRange) => collect(bucket.keys(range));
        assert.deepEqual(await keysOf({ prefix: 'a' }), ['a', 'a\u0001', 'a/1', 'a/2', 'ab']);
        assert.deepEqual(await keysOf({ prefix: 'a/' }), ['a/1', 'a/2']);
        assert.deepEqual(await keysOf({ prefix: 'y\uFFFF' }), ['y\uFFFF', 'y\uFFFFz', 'y\uFFFF\uFFFF']);
        assert.deepEqual(await keysOf({ prefix: '\u{1F600}' }), ['\u{1F600}', '\u{1F600}x']);
        assert.deepEqual(await keysOf({ prefix: 'é' }), ['é', 'éa']);
        assert.deepEqual(await keysOf({ prefix: 'nope' }), []);
        assert.deepEqual(await keysOf({ prefix: '' }), SORTED_KEYS);
      });

      it('honours gt, gte, lt and lte bounds', async () => {
        const bucket = use('it');
        await seed(bucket);
        const keysOf = async (range: KeyRange) => collect(bucket.keys(range));
        assert.deepEqual(await keysOf({ gt: 'a', lt: 'ab' }), ['a\u0001', 'a/1', 'a/2']);
        assert.deepEqual(await keysOf({ gte: 'a', lte: 'ab' }), ['a', 'a\u0001', 'a/1', 'a/2', 'ab']);
        assert.deepEqual(await keysOf({ gt: 'zz' }), ['é', 'éa', '\u4e2d', '\u{1F600}', '\u{1F600}x', '\uFFFD']);
        assert.deepEqual(await keysOf({ lt: 'a' }), ['']);
        assert.deepEqual(await keysOf({ gte: 'b', lt: 'b' }), []);
        assert.deepEqual(await keysOf({ gt: 'z', lt: 'a' }), []);
        // Bounds that are not keys themselves.
        assert.deepEqual(await keysOf({ gt: 'a0', lte: 'b0' }), ['ab', 'b', 'b/1']);
      });

      it('combines a prefix with bounds, limit and reverse', async () => {
        const bucket = use('it');
        await seed(bucket);
        const keysOf = async (range: KeyRange) => collect(bucket.keys(range));
        assert.deepEqual(await keysOf({ prefix: 'a', gt: 'a' }), ['a\u0001', 'a/1', 'a/2', 'ab']);
        assert.deepEqual(await keysOf({ prefix: 'a', lt: 'a/2' }), ['a', 'a\u0001', 'a/1']);
        assert.deepEqual(await keysOf({ prefix: 'a', gte: '0', lte: 'zzz' }), ['a', 'a\u0001', 'a/1', 'a/2', 'ab']);
        assert.deepEqual(await keysOf({ prefix: 'a', reverse: true, limit: 2 }), ['ab', 'a/2']);
        assert.deepEqual(await keysOf({ prefix: 'b', gt: 'c' }), []);
      });

      it('limits the number of entries, counting from the start of the walk', async () => {
        const bucket = use('it');
        await seed(bucket);
        assert.deepEqual(await collect(bucket.keys({ limit: 3 })), SORTED_KEYS.slice(0, 3));
        assert.deepEqual(await collect(bucket.keys({ limit: 0 })), []);
        assert.deepEqual(await collect(bucket.keys({ limit: 1000 })), SORTED_KEYS);
        assert.deepEqual(await collect(bucket.keys({ reverse: true, limit: 3 })), SORTED_KEYS.slice(-3).reverse());
      });

      it('walks backwards with reverse, within bounds', async () => {
        const bucket = use('it');
        await seed(bucket);
        const reversed = await collect(bucket.entries({ reverse: true }));
        assert.deepEqual(
          reversed.map(([k]) => k),
          [...SORTED_KEYS].reverse(),
        );
        for (const [k, v] of reversed) assert.equal(v, valueFor(k));
        assert.deepEqual(await collect(bucket.keys({ reverse: true, gte: 'a/1', lt: 'b' })), ['ab', 'a/2', 'a/1']);
      });

      it('matches the plain filtering rules for every combination of seeded bounds', async () => {
        const bucket = use('it');
        await seed(bucket);
        const probes = ['', 'a', 'a/', 'ab', 'b0', 'y\uFFFF', 'é', '\u{1F600}', '\uFFFD', '\uFFFF'];
        for (const lower of [undefined, ...probes]) {
          for (const upper of [undefined, ...probes]) {
            for (const [gtKey, ltKey] of [
              ['gt', 'lt'],
              ['gte', 'lte'],
            ] as const) {
              for (const reverse of [false, true]) {
                const range: KeyRange = { [gtKey]: lower, [ltKey]: upper, reverse, limit: 4 };
                assert.deepEqual(await collect(bucket.keys(range)), expected(range), JSON.stringify(range));
              }
            }
          }
        }
        for (const prefix of probes) {
          for (const reverse of [false, true]) {
            const range: KeyRange = { prefix, reverse };
            assert.deepEqual(await collect(bucket.keys(range)), expected(range), JSON.stringify(range));
          }
        }
      });

      it('walks thousands of keys in order, forwards, backwards and within a window', async () => {
        const bucket = use('many');
        const keys = Array.from({ length: 3000 }, (_, i) => `evt/${String(i).padStart(6, '0')}`);
        for (let i = 0; i < keys.length; i += 500) {
          // Shuffled chunks: every batch lands all over the key space.
          const chunk = keys.filter((_, j) => (j * 7) % keys.length >= i && (j * 7) % keys.length < i + 500);
          await bucket.batch(chunk.map((key) => ({ type: 'put', key, value: key.slice(4) })));
        }
        const all = await collect(bucket.entries());
        assert.deepEqual(
          all.map(([k]) => k),
          keys,
        );
        assert.ok(all.every(([k, v]) => k === `evt/${v}`));
        assert.deepEqual(await collect(bucket.keys({ reverse: true })), [...keys].reverse());
        assert.deepEqual(await collect(bucket.keys({ gte: 'evt/001000', limit: 700 })), keys.slice(1000, 1700));
        assert.deepEqual(await collect(bucket.keys({ lt: 'evt/002500', reverse: true, limit: 600 })), keys.slice(1900, 2500).reverse());
      });

      it('stopping a walk early releases it: the store keeps working and closes', async () => {
        const bucket = use('it');
        await seed(bucket);
        for await (const key of bucket.keys()) {
          assert.equal(key, '');
          break;
        }
        const half = bucket.entries()[Symbol.asyncIterator]();
        await half.next();
        await half.return?.();
        await bucket.put('after', 'x');
        assert.equal(await bucket.get('after'), 'x');
      });
    });

    describe('iteration while writing', () => {
      it('sees the snapshot taken at its first next(), not writes made afterwards', async () => {
        const bucket = use('snap');
        const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
        for (const key of keys) await bucket.put(key, `v-${key}`);
        const iterator = bucket.entries()[Symbol.asyncIterator]();
        const first = await iterator.next();
        assert.deepEqual(first.value, ['k0', 'v-k0']);
        await bucket.put('k3', 'changed');
        await bucket.delete('k4');
        await bucket.put('k2a', 'inserted');
        await bucket.put('k9', 'appended');
        await store.batch([{ bucket: 'snap', type: 'del', key: 'k5' }]);
        const rest: [string, string][] = [];
        for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value);
        assert.deepEqual(
          rest,
          keys.slice(1).map((k) => [k, `v-${k}`]),
        );
        // A walk started now sees the new state.
        assert.deepEqual(await collect(bucket.keys()), ['k0', 'k1', 'k2', 'k2a', 'k3', 'k9']);
      });

      it('writing and deleting inside a for-await loop neither crashes nor loops forever', async () => {
        const bucket = use('loop');
        for (let i = 0; i < 50; i++) await bucket.put(`k${String(i).padStart(2, '0')}`, 'x');
        let seen = 0;
        for await (const [key] of bucket.entries()) {
          seen++;
          await bucket.delete(key);
          await bucket.put(`${key}-next`, 'y'); // lands right after the cursor
          await bucket.put(`z${key}`, 'z'); // lands at the end
        }
        assert.equal(seen, 50);
        assert.equal((await collect(bucket.keys({ prefix: 'z' }))).length, 50);
        assert.equal((await collect(bucket.keys())).length, 100);
      });

      it('interleaved walks over the same bucket are independent', async () => {
        const bucket = use('it');
        await seed(bucket);
        const forward = bucket.keys()[Symbol.asyncIterator]();
        const backward = bucket.keys({ reverse: true })[Symbol.asyncIterator]();
        const f: string[] = [];
        const b: string[] = [];
        for (;;) {
          const [x, y] = await Promise.all([forward.next(), backward.next()]);
          if (x.done && y.done) break;
          if (!x.done) f.push(x.value);
          if (!y.done) b.push(y.value);
        }
        assert.deepEqual(f, SORTED_KEYS);
        assert.deepEqual(b, [...SORTED_KEYS].reverse());
      });
    });

    describe('revisions and compare-and-set', () => {
      it('every write gets a higher revision than any write before it, in any bucket', async () => {
        const seen: number[] = [];
        const a = use('a');
        const b = use('b');
        for (const [bucket, key] of [
          [a, 'k'],
          [b, 'k'],
          [a, 'k'],
          [a, 'other'],
          [b, 'k'],
        ] as const) {
          await bucket.put(key, `${seen.length}`);
          seen.push((await bucket.getEntry(key))!.revision);
        }
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `revisions ${seen.join(', ')}`);
        // Rewriting the same value is a write too.
        const before = (await a.getEntry('k'))!.revision;
        await a.put('k', (await a.get('k'))!);
        assert.ok((await a.getEntry('k'))!.revision > before);
      });

      it('a batch gives every key it writes a new revision and leaves the others alone', async () => {
        const bucket = use('b');
        const written = await bucket.batch([
          { type: 'put', key: 'x', value: '1' },
          { type: 'put', key: 'y', value: '1' },
          { type: 'put', key: 'z', value: '1' },
        ]);
        const x = (await bucket.getEntry('x'))!.revision;
        const y = (await bucket.getEntry('y'))!.revision;
        const z = (await bucket.getEntry('z'))!.revision;
        assert.deepEqual(written, [x, y, z], 'batch resolves with the revision of each operation, in order');
        assert.ok(x < y && y < z);
        assert.deepEqual(await store.batch([]), [], 'an empty batch writes nothing');
        await store.batch([
          { bucket: 'b', type: 'put', key: 'x', value: '2' },
          { bucket: 'b', type: 'del', key: 'y' },
          { bucket: 'other', type: 'put', key: 'x', value: '2' },
        ]);
        const newX = (await bucket.getEntry('x'))!;
        assert.equal(newX.value, '2');
        assert.ok(newX.revision > Math.max(x, y, z));
        assert.equal(await bucket.getEntry('y'), undefined);
        assert.deepEqual(await bucket.getEntry('z'), { value: '1', revision: z });
        assert.ok((await use('other').getEntry('x'))!.revision > Math.max(x, y, z));
      });

      it('a conditional batch applies only while every expected revision holds, else nothing of it', async () => {
        const twins = use('twins');
        const [created] = await store.batch([{ bucket: 'twins', type: 'put', key: 't1', value: 'v1' }], {
          expect: [{ bucket: 'twins', key: 't1', revision: 0 }],
        });
        assert.deepEqual(await twins.getEntry('t1'), { value: 'v1', revision: created });
        // Several keys in several buckets, one of them expected absent.
        const [updated, state] = await store.batch(
          [
            { bucket: 'twins', type: 'put', key: 't1', value: 'v2' },
            { bucket: 'state', type: 'put', key: 't1', value: 's' },
          ],
          {
            expect: [
              { bucket: 'twins', key: 't1', revision: created },
              { bucket: 'state', key: 't1', revision: 0 },
            ],
          },
        );
        assert.ok(updated > created && state > updated);
        // A stale expectation: a conflict that says what to do, and nothing of the batch applied.
        await assert.rejects(
          () =>
            store.batch(
              [
                { bucket: 'twins', type: 'put', key: 't1', value: 'lost' },
                { bucket: 'other', type: 'put', key: 'x', value: 'lost' },
              ],
              { expect: [{ bucket: 'twins', key: 't1', revision: created }] },
            ),
          (error: unknown) => hasCode('conflict')(error) && /another write came first; re-read and retry/.test((error as Error).message),
        );
        await assert.rejects(
          () => store.batch([{ bucket: 'twins', type: 'put', key: 't1', value: 'lost' }], { expect: [{ bucket: 'twins', key: 't1', revision: 0 }] }),
          hasCode('conflict'),
        );
        assert.equal(await twins.get('t1'), 'v2');
        assert.equal(await use('other').get('x'), undefined);
        // An expectation on a deleted key: absent again.
        await store.batch([{ bucket: 'twins', type: 'del', key: 't1' }], { expect: [{ bucket: 'twins', key: 't1', revision: updated }] });
        assert.equal(await twins.get('t1'), undefined);
        await store.batch([{ bucket: 'twins', type: 'put', key: 't1', value: 'v3' }], { expect: [{ bucket: 'twins', key: 't1', revision: 0 }] });
        assert.equal(await twins.get('t1'), 'v3');
      });

      it('of conditional batches racing on one expectation exactly one applies', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) =>
            store.batch([{ bucket: 'race', type: 'put', key: 'thing', value: `writer-${i}` }], { expect: [{ bucket: 'race', key: 'thing', revision: 0 }] }),
          ),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(hasCode('conflict')(r.reason), String(r.reason));
      });

      it('creates with expected revision 0 only while the key is absent', async () => {
        const bucket = use('cas');
        const revision = await bucket.compareAndSet('k', 'first', 0);
        assert.ok(revision > 0);
        assert.deepEqual(await bucket.getEntry('k'), { value: 'first', revision });
        await assert.rejects(() => bucket.compareAndSet('k', 'second', 0), hasCode('conflict'));
        assert.equal(await bucket.get('k'), 'first');
      });

      it('updates with the current revision and refuses a stale one with a conflict that says what to do', async () => {
        const bucket = use('cas');
        await bucket.put('k', 'v1');
        const r1 = (await bucket.getEntry('k'))!.revision;
        const r2 = await bucket.compareAndSet('k', 'v2', r1);
        assert.ok(r2 > r1);
        assert.deepEqual(await bucket.getEntry('k'), { value: 'v2', revision: r2 });
        await assert.rejects(
          () => bucket.compareAndSet('k', 'stale', r1),
          (error: unknown) => {
            assert.ok(error instanceof StoreError && error.code === 'conflict');
            assert.match(error.message, /retry/);
            return true;
          },
        );
        await assert.rejects(() => bucket.compareAndSet('missing', 'x', r2), hasCode('conflict'));
        assert.equal(await bucket.get('missing'), undefined);
        // A plain write in between makes the revision read before it stale.
        await bucket.put('k', 'v3');
        await assert.rejects(() => bucket.compareAndSet('k', 'v4', r2), hasCode('conflict'));
        assert.equal(await bucket.get('k'), 'v3');
      });

      it('deletes with the current revision (resolving 0) and refuses a stale delete', async () => {
        const bucket = use('cas');
        const r1 = await bucket.compareAndSet('k', 'v', 0);
        await assert.rejects(() => bucket.compareAndSet('k', undefined, r1 + 1000), hasCode('conflict'));
        assert.equal(await bucket.get('k'), 'v');
        assert.equal(await bucket.compareAndSet('k', undefined, r1), 0);
        assert.equal(await bucket.getEntry('k'), undefined);
        await assert.rejects(() => bucket.compareAndSet('k', undefined, r1), hasCode('conflict'));
        assert.equal(await bucket.compareAndSet('never', undefined, 0), 0, 'deleting an absent key expecting absence succeeds');
        // Re-created after a delete: a fresh, higher revision.
        assert.ok((await bucket.compareAndSet('k', 'again', 0)) > r1);
      });

      it('of concurrent compare-and-sets on one revision exactly one wins', async () => {
        const bucket = use('cas');
        const base = await bucket.compareAndSet('k', 'base', 0);
        const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => bucket.compareAndSet('k', `writer-${i}`, base)));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, revision: r.value }] : []));
        assert.equal(won.length, 1, 'exactly one winner');
        for (const r of results) if (r.status === 'rejected') assert.ok(hasCode('conflict')(r.reason), String(r.reason));
        assert.deepEqual(await bucket.getEntry('k'), { value: `writer-${won[0].i}`, revision: won[0].revision });
        const creates = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => bucket.compareAndSet('fresh', `${i}`, 0)));
        assert.equal(creates.filter((r) => r.status === 'fulfilled').length, 1);
      });

      it('a compare-and-set racing a batch on the same key never overwrites the batch unseen', async () => {
        const bucket = use('cas');
        const base = await bucket.compareAndSet('k', 'base', 0);
        const [cas, batch] = await Promise.allSettled([
          bucket.compareAndSet('k', 'cas', base),
          store.batch([{ bucket: 'cas', type: 'put', key: 'k', value: 'batch' }]),
        ]);
        assert.equal(batch.status, 'fulfilled');
        const final = (await bucket.getEntry('k'))!;
        if (cas.status === 'fulfilled') {
          // The CAS committed first, then the batch overwrote it.
          assert.equal(final.value, 'batch');
          assert.ok(final.revision > cas.value);
        } else {
          assert.ok(hasCode('conflict')(cas.reason));
          assert.equal(final.value, 'batch');
        }
      });

      it('refuses a negative or fractional expected revision as invalid', async () => {
        const bucket = use('cas');
        await assert.rejects(() => bucket.compareAndSet('k', 'v', -1), hasCode('invalid'));
        await assert.rejects(() => bucket.compareAndSet('k', 'v', 1.5), hasCode('invalid'));
        assert.equal(await bucket.get('k'), undefined);
      });
    });

    if (peer) {
      describe('change feed (a second writer over the same data)', () => {
        it("reports the other writer's commits, one call per batch in commit order, never its own", async () => {
          const other = peer(store);
          try {
            const heard: (readonly StoreChange[])[] = [];
            const ownHeard: (readonly StoreChange[])[] = [];
            store.watch((changes) => heard.push(changes));
            other.watch((changes) => ownHeard.push(changes));
            const firstRevisions = await other.batch([
              { bucket: 'twins', type: 'put', key: 't1', value: 'a' },
              { bucket: 'state', type: 'put', key: 't1', value: 's' },
            ]);
            const [deleted] = await other.batch([{ bucket: 'twins', type: 'del', key: 't1' }]);
            const created = await other.bucket('twins').compareAndSet('t2', 'b', 0);
            await settle();
            assert.equal(heard.length, 3, 'one call per committed batch');
            const [first, second, third] = heard;
            assert.deepEqual(
              first.map(({ bucket, key, value }) => ({ bucket, key, value })),
              [
                { bucket: 'twins', key: 't1', value: 'a' },
                { bucket: 'state', key: 't1', value: 's' },
              ],
            );
            assert.deepEqual(
              second.map(({ key, value }) => ({ key, value })),
              [{ key: 't1', value: undefined }],
            );
            assert.deepEqual(third, [{ bucket: 'twins', key: 't2', value: 'b', revision: created }]);
            const revisions = heard.flat().map((change) => change.revision);
            for (let i = 1; i < revisions.length; i++) assert.ok(revisions[i] > revisions[i - 1], `revisions ${revisions.join(', ')}`);
            assert.equal(first[1].revision, (await store.bucket('state').getEntry('t1'))!.revision, 'the revision the reader then sees');
            assert.deepEqual(
              [...first, ...second].map((change) => change.revision),
              [...firstRevisions, deleted],
              'the feed reports the revisions the writer got (a delete has one too)',
            );
            assert.equal(ownHeard.length, 0, 'a writer never hears itself');
            // Both see the same data.
            assert.equal(await store.bucket('twins').get('t2'), 'b');
            await store.batch([{ bucket: 'twins', type: 'put', key: 't3', value: 'from store' }]);
            await settle();
            assert.equal(ownHeard.length, 1);
            assert.equal(ownHeard[0][0].value, 'from store');
            assert.equal(heard.length, 3);
          } finally {
            await other.close();
          }
        });

        it('compare-and-set conflicts between the two writers: only one of them wins', async () => {
          const other = peer(store);
          try {
            const base = await store.bucket('leases').compareAndSet('agent-1', 'instance-a', 0);
            const results = await Promise.allSettled([
              store.bucket('leases').compareAndSet('agent-1', 'a-renews', base),
              other.bucket('leases').compareAndSet('agent-1', 'b-takes-over', base),
            ]);
            assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
            await assert.rejects(() => other.bucket('leases').compareAndSet('agent-1', 'late', base), hasCode('conflict'));
            await assert.rejects(
              () =>
                other
                  .bucket('leases')
                  .compareAndSet('fresh', 'x', 0)
                  .then(() => store.bucket('leases').compareAndSet('fresh', 'y', 0)),
              hasCode('conflict'),
            );
          } finally {
            await other.close();
          }
        });

        it('conditional batches of two writers on one expectation: only one of them applies', async () => {
          const other = peer(store);
          try {
            const results = await Promise.allSettled([
              store.batch([{ bucket: 'twins', type: 'put', key: 'contested', value: 'agent-a' }], {
                expect: [{ bucket: 'twins', key: 'contested', revision: 0 }],
              }),
              other.batch([{ bucket: 'twins', type: 'put', key: 'contested', value: 'agent-b' }], {
                expect: [{ bucket: 'twins', key: 'contested', revision: 0 }],
              }),
            ]);
            assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
            const winner = results[0].status === 'fulfilled' ? 'agent-a' : 'agent-b';
            assert.equal(await store.bucket('twins').get('contested'), winner);
            assert.equal(await other.bucket('twins').get('contested'), winner);
          } finally {
            await other.close();
          }
        });

        it('unsubscribing stops the calls, and a closed writer hears nothing more', async () => {
          const other = peer(store);
          let calls = 0;
          const stop = store.watch(() => calls++);
          await other.batch([{ bucket: 'b', type: 'put', key: 'k', value: '1' }]);
          await settle();
          assert.equal(calls, 1);
          stop();
          await other.batch([{ bucket: 'b', type: 'put', key: 'k', value: '2' }]);
          await settle();
          assert.equal(calls, 1);
          let otherCalls = 0;
          other.watch(() => otherCalls++);
          await other.close();
          await store.batch([{ bucket: 'b', type: 'put', key: 'k', value: '3' }]);
          await settle();
          assert.equal(otherCalls, 0);
          assert.equal(await store.bucket('b').get('k'), '3', 'closing one writer leaves the other working');
        });
      });
    } else {
      describe('change feed (single writer)', () => {
        it('watch stays silent: a single-process store has no other writers', async () => {
          let calls = 0;
          const stop = store.watch(() => calls++);
          await store.batch([{ bucket: 'b', type: 'put', key: 'k', value: '1' }]);
          await store.bucket('b').compareAndSet('k2', 'v', 0);
          await settle();
          assert.equal(calls, 0);
          assert.equal(typeof stop, 'function');
          stop();
        });
      });
    }

    describe('close', () => {
      it('after close every operation rejects with StoreError, and close again resolves', async () => {
        const bucket = use('c');
        await bucket.put('k', 'v');
        await store.close();
        await assert.rejects(() => bucket.get('k'), hasCode('closed'));
        await assert.rejects(() => bucket.getEntry('k'), hasCode('closed'));
        await assert.rejects(() => bucket.compareAndSet('k', 'v', 0), hasCode('closed'));
        await assert.rejects(() => bucket.put('k', 'v2'), hasCode('closed'));
        await assert.rejects(() => bucket.delete('k'), hasCode('closed'));
        await assert.rejects(() => bucket.batch([{ type: 'put', key: 'k', value: 'v' }]), hasCode('closed'));
        await assert.rejects(() => store.batch([{ bucket: 'c', type: 'put', key: 'k', value: 'v' }]), hasCode('closed'));
        const entries = bucket.entries();
        await assert.rejects(() => collect(entries), hasCode('closed'));
        const keys = bucket.keys({ prefix: 'k' });
        await assert.rejects(() => collect(keys), hasCode('closed'));
        assert.throws(() => store.bucket('c'), hasCode('closed'));
        assert.throws(() => store.watch(() => undefined), hasCode('closed'));
        await store.close();
      });
    });

    if (reopen) {
      describe('durability', () => {
        it('data written before close is there after reopening, deletes included', async () => {
          const twins = use('twins');
          await twins.put('t1', 'one');
          await twins.put('t2', 'two');
          await twins.put('gone', 'x');
          await twins.delete('gone');
          await twins.batch([
            { type: 'put', key: '\u{1F600}', value: 'é' },
            { type: 'del', key: 't2' },
          ]);
          await store.batch([
            { bucket: 'twins', type: 'put', key: 't3', value: 'three' },
            { bucket: 'log', type: 'put', key: '0001', value: 'entry' },
          ]);
          const t1Revision = (await twins.getEntry('t1'))!.revision;
          const newest = (await use('log').getEntry('0001'))!.revision;
          const previous = store;
          await previous.close();
          store = await reopen(previous);
          assert.deepEqual(await collect(use('twins').entries()), [
            ['t1', 'one'],
            ['t3', 'three'],
            ['\u{1F600}', 'é'],
          ]);
          assert.equal((await use('twins').getEntry('t1'))?.revision, t1Revision, 'revisions survive');
          assert.equal(await use('log').get('0001'), 'entry');
          await use('twins').put('t4', 'four');
          assert.equal(await use('twins').get('t4'), 'four');
          assert.ok((await use('twins').getEntry('t4'))!.revision > newest, 'the counter continues after a reopen');
        });

        it('survives several close/reopen cycles with many keys', async () => {
          const keys = Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(4, '0')}`);
          await use('many').batch(keys.map((key) => ({ type: 'put', key, value: key })));
          for (let cycle = 0; cycle < 2; cycle++) {
            const previous = store;
            await previous.close();
            store = await reopen(previous);
            assert.deepEqual(await collect(use('many').keys()), keys);
          }
        });
      });
    }
  });
}
