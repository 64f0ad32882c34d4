// The behaviour every BucketStore backend must show, as one node:test suite. A backend's test
// file calls `bucketStoreContract('memory', () => ...)`; the core relies on exactly these rules.
//
// Iteration semantics pinned here: an iteration reads a snapshot taken when it starts (at its
// first `next()`); writes made after that are never seen by it, and never break it.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { StoreError, type Bucket, type BucketStore, type KeyRange } from './index.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const isStoreError = (error: unknown): boolean => error instanceof StoreError;

/** Keys that share prefixes, contain control characters, non-ASCII and astral characters. */
const TRICKY_KEYS = [
  '', 'a', 'a\u0001', 'a/1', 'a/2', 'ab', 'b', 'b/1', 'z', 'zz', 'é', 'éa', '\u4e2d', '\uFFFD',
  '\u{1F600}', '\u{1F600}x', 'y\uFFFF', 'y\uFFFFz', 'y\uFFFF\uFFFF', 'yz',
];
/** Sorted by UTF-16 code units, the order the contract promises. */
const SORTED_KEYS = [...TRICKY_KEYS].sort();
const valueOf = (key: string): string => JSON.stringify({ key, n: key.length });

async function seed(bucket: Bucket, keys: readonly string[] = TRICKY_KEYS): Promise<void> {
  // Inserted in a scrambled order so a backend that keeps insertion order fails.
  const scrambled = keys.map((key, i) => ({ key, rank: (i * 7919) % keys.length })).sort((x, y) => x.rank - y.rank);
  for (const { key } of scrambled) await bucket.put(key, valueOf(key));
}

/** What `entries(range)` must yield for the seeded keys, computed from the plain rules. */
function expected(range: KeyRange, keys: readonly string[] = SORTED_KEYS): string[] {
  let out = keys.filter((key) =>
    (range.prefix === undefined || key.startsWith(range.prefix)) &&
    (range.gt === undefined || key > range.gt) &&
    (range.gte === undefined || key >= range.gte) &&
    (range.lt === undefined || key < range.lt) &&
    (range.lte === undefined || key <= range.lte));
  if (range.reverse) out = out.reverse();
  if (range.limit !== undefined) out = out.slice(0, range.limit);
  return out;
}

/**
 * Registers the contract suite for one backend.
 * @param open a fresh, empty store for each test.
 * @param reopen given a store the suite has already closed, a new store over the same data;
 *   when present the durability tests run.
 */
export function bucketStoreContract(
  name: string,
  open: () => Promise<BucketStore>,
  reopen?: (previous: BucketStore) => Promise<BucketStore>,
): void {
  describe(`BucketStore contract: ${name}`, () => {
    let store: BucketStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('single keys', () => {
      it('get returns undefined for a missing key and the stored value after put', async () => {
        const bucket = store.bucket('things');
        assert.equal(bucket.name, 'things');
        assert.equal(await bucket.get('t1'), undefined);
        await bucket.put('t1', '{"title":"lamp"}');
        assert.equal(await bucket.get('t1'), '{"title":"lamp"}');
        await bucket.put('t1', 'v2');
        assert.equal(await bucket.get('t1'), 'v2');
      });

      it('delete removes a key and deleting a missing key is not an error', async () => {
        const bucket = store.bucket('things');
        await bucket.put('t1', 'x');
        await bucket.delete('t1');
        assert.equal(await bucket.get('t1'), undefined);
        await bucket.delete('never-there');
        assert.deepEqual(await collect(bucket.keys()), []);
      });

      it('stores the empty key, empty values, unicode and large values unchanged', async () => {
        const bucket = store.bucket('things');
        const big = 'ü\u{1F600}'.repeat(50_000);
        await bucket.put('', 'empty key');
        await bucket.put('empty', '');
        await bucket.put('\u{1F600}', big);
        assert.equal(await bucket.get(''), 'empty key');
        assert.equal(await bucket.get('empty'), '');
        assert.equal(await bucket.get('\u{1F600}'), big);
      });

      it('getMany returns values in the order asked, undefined for missing keys', async () => {
        const bucket = store.bucket('things');
        await bucket.put('a', '1');
        await bucket.put('c', '3');
        assert.deepEqual(await bucket.getMany(['c', 'b', 'a', 'c']), ['3', undefined, '1', '3']);
        assert.deepEqual(await bucket.getMany([]), []);
      });
    });

    describe('buckets', () => {
      it('keeps the same key apart in different buckets', async () => {
        const a = store.bucket('twins');
        const b = store.bucket('twins2');
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
        for (const n of names) await store.bucket(n).batch([{ type: 'put', key: 'k', value: n }, { type: 'put', key: '', value: n }]);
        for (const n of names) {
          assert.deepEqual(await collect(store.bucket(n).entries()), [['', n], ['k', n]]);
          assert.deepEqual(await collect(store.bucket(n).entries({ reverse: true })), [['k', n], ['', n]]);
        }
        assert.deepEqual(await collect(store.bucket('x:').entries()), []);
      });

      it('bucket() twice gives a view of the same data', async () => {
        await store.bucket('same').put('k', 'v');
        assert.equal(await store.bucket('same').get('k'), 'v');
      });

      it('rejects invalid bucket names with StoreError and accepts other characters', async () => {
        for (const bad of ['', 'a!b', '!', 'a\0b']) {
          assert.throws(() => store.bucket(bad), isStoreError, JSON.stringify(bad));
        }
        for (const good of ['twins/state', 'ü', 'a:b', 'with space', '\u{1F600}']) {
          await store.bucket(good).put('k', good);
          assert.equal(await store.bucket(good).get('k'), good);
        }
      });
    });

    describe('batches', () => {
      it('applies puts and deletes of a bucket batch together', async () => {
        const bucket = store.bucket('b');
        await bucket.put('old1', 'x');
        await bucket.put('old2', 'x');
        await bucket.batch([
          { type: 'del', key: 'old1' },
          { type: 'put', key: 'new1', value: '1' },
          { type: 'put', key: 'new2', value: '2' },
          { type: 'del', key: 'missing' },
        ]);
        assert.deepEqual(await collect(bucket.entries()), [['new1', '1'], ['new2', '2'], ['old2', 'x']]);
        await bucket.batch([]);
        assert.equal((await collect(bucket.keys())).length, 3);
      });

      it('applies the operations of a batch in order (the last one on a key wins)', async () => {
        const bucket = store.bucket('b');
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
        assert.deepEqual(await collect(bucket.entries()), [['b', '2'], ['c', 'second'], ['d', 'after']]);
      });

      it('applies a store batch across buckets as one unit', async () => {
        await store.bucket('twins').put('t1', 'old');
        await store.batch([
          { bucket: 'twins', type: 'put', key: 't1', value: 'new' },
          { bucket: 'twins', type: 'put', key: 't2', value: 'new' },
          { bucket: 'index', type: 'put', key: 'by-title/lamp/t1', value: '' },
          { bucket: 'log', type: 'put', key: '0001', value: 'created' },
          { bucket: 'twins', type: 'del', key: 'gone' },
        ]);
        assert.deepEqual(await store.bucket('twins').getMany(['t1', 't2']), ['new', 'new']);
        assert.equal(await store.bucket('index').get('by-title/lamp/t1'), '');
        assert.deepEqual(await collect(store.bucket('log').entries()), [['0001', 'created']]);
        await store.batch([]);
      });

      it('rejects a store batch naming an invalid bucket with StoreError and applies none of it', async () => {
        await assert.rejects(
          () => store.batch([
            { bucket: 'ok', type: 'put', key: 'k', value: 'v' },
            { bucket: 'bad!name', type: 'put', key: 'k', value: 'v' },
          ]),
          isStoreError,
        );
        assert.equal(await store.bucket('ok').get('k'), undefined);
      });

      it('a concurrent iteration sees all of a batch or none of it', async () => {
        const bucket = store.bucket('b');
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
        const bucket = store.bucket('it');
        await seed(bucket);
        const entries = await collect(bucket.entries());
        assert.deepEqual(entries.map(([k]) => k), SORTED_KEYS);
        for (const [k, v] of entries) assert.equal(v, valueOf(k));
        // U+FFFD sorts after U+1F600 by code units (0xFFFD > 0xD83D), before it by code points.
        assert.ok(SORTED_KEYS.indexOf('\uFFFD') > SORTED_KEYS.indexOf('\u{1F600}'));
        assert.deepEqual(await collect(bucket.keys()), SORTED_KEYS);
      });

      it('an empty bucket yields nothing', async () => {
        assert.deepEqual(await collect(store.bucket('empty').entries()), []);
        assert.deepEqual(await collect(store.bucket('empty').keys({ reverse: true })), []);
      });

      it('restricts to a prefix, including prefixes of other keys and U+FFFF edges', async () => {
        const bucket = store.bucket('it');
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
        const bucket = store.bucket('it');
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
        const bucket = store.bucket('it');
        await seed(bucket);
        const keysOf = async (range: KeyRange) => collect(bucket.keys(range));
        assert.deepEqual(await keysOf({ prefix: 'a', gt: 'a' }), ['a\u0001', 'a/1', 'a/2', 'ab']);
        assert.deepEqual(await keysOf({ prefix: 'a', lt: 'a/2' }), ['a', 'a\u0001', 'a/1']);
        assert.deepEqual(await keysOf({ prefix: 'a', gte: '0', lte: 'zzz' }), ['a', 'a\u0001', 'a/1', 'a/2', 'ab']);
        assert.deepEqual(await keysOf({ prefix: 'a', reverse: true, limit: 2 }), ['ab', 'a/2']);
        assert.deepEqual(await keysOf({ prefix: 'b', gt: 'c' }), []);
      });

      it('limits the number of entries, counting from the start of the walk', async () => {
        const bucket = store.bucket('it');
        await seed(bucket);
        assert.deepEqual(await collect(bucket.keys({ limit: 3 })), SORTED_KEYS.slice(0, 3));
        assert.deepEqual(await collect(bucket.keys({ limit: 0 })), []);
        assert.deepEqual(await collect(bucket.keys({ limit: 1000 })), SORTED_KEYS);
        assert.deepEqual(await collect(bucket.keys({ reverse: true, limit: 3 })), SORTED_KEYS.slice(-3).reverse());
      });

      it('walks backwards with reverse, within bounds', async () => {
        const bucket = store.bucket('it');
        await seed(bucket);
        const reversed = await collect(bucket.entries({ reverse: true }));
        assert.deepEqual(reversed.map(([k]) => k), [...SORTED_KEYS].reverse());
        for (const [k, v] of reversed) assert.equal(v, valueOf(k));
        assert.deepEqual(await collect(bucket.keys({ reverse: true, gte: 'a/1', lt: 'b' })), ['ab', 'a/2', 'a/1']);
      });

      it('matches the plain filtering rules for every combination of seeded bounds', async () => {
        const bucket = store.bucket('it');
        await seed(bucket);
        const probes = ['', 'a', 'a/', 'ab', 'b0', 'y\uFFFF', 'é', '\u{1F600}', '\uFFFD', '\uFFFF'];
        for (const lower of [undefined, ...probes]) {
          for (const upper of [undefined, ...probes]) {
            for (const [gtKey, ltKey] of [['gt', 'lt'], ['gte', 'lte']] as const) {
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
        const bucket = store.bucket('many');
        const keys = Array.from({ length: 3000 }, (_, i) => `evt/${String(i).padStart(6, '0')}`);
        for (let i = 0; i < keys.length; i += 500) {
          // Shuffled chunks: every batch lands all over the key space.
          const chunk = keys.filter((_, j) => (j * 7) % keys.length >= i && (j * 7) % keys.length < i + 500);
          await bucket.batch(chunk.map((key) => ({ type: 'put', key, value: key.slice(4) })));
        }
        const all = await collect(bucket.entries());
        assert.deepEqual(all.map(([k]) => k), keys);
        assert.ok(all.every(([k, v]) => k === `evt/${v}`));
        assert.deepEqual(await collect(bucket.keys({ reverse: true })), [...keys].reverse());
        assert.deepEqual(await collect(bucket.keys({ gte: 'evt/001000', limit: 700 })), keys.slice(1000, 1700));
        assert.deepEqual(await collect(bucket.keys({ lt: 'evt/002500', reverse: true, limit: 600 })), keys.slice(1900, 2500).reverse());
      });

      it('stopping a walk early releases it: the store keeps working and closes', async () => {
        const bucket = store.bucket('it');
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
        const bucket = store.bucket('snap');
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
        assert.deepEqual(rest, keys.slice(1).map((k) => [k, `v-${k}`]));
        // A walk started now sees the new state.
        assert.deepEqual(await collect(bucket.keys()), ['k0', 'k1', 'k2', 'k2a', 'k3', 'k9']);
      });

      it('writing and deleting inside a for-await loop neither crashes nor loops forever', async () => {
        const bucket = store.bucket('loop');
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
        const bucket = store.bucket('it');
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

    describe('close', () => {
      it('after close every operation rejects with StoreError, and close again resolves', async () => {
        const bucket = store.bucket('c');
        await bucket.put('k', 'v');
        await store.close();
        await assert.rejects(() => bucket.get('k'), isStoreError);
        await assert.rejects(() => bucket.getMany(['k']), isStoreError);
        await assert.rejects(() => bucket.put('k', 'v2'), isStoreError);
        await assert.rejects(() => bucket.delete('k'), isStoreError);
        await assert.rejects(() => bucket.batch([{ type: 'put', key: 'k', value: 'v' }]), isStoreError);
        await assert.rejects(() => store.batch([{ bucket: 'c', type: 'put', key: 'k', value: 'v' }]), isStoreError);
        const entries = bucket.entries();
        await assert.rejects(() => collect(entries), isStoreError);
        const keys = bucket.keys({ prefix: 'k' });
        await assert.rejects(() => collect(keys), isStoreError);
        assert.throws(() => store.bucket('c'), isStoreError);
        await store.close();
      });
    });

    if (reopen) {
      describe('durability', () => {
        it('data written before close is there after reopening, deletes included', async () => {
          const twins = store.bucket('twins');
          await twins.put('t1', 'one');
          await twins.put('t2', 'two');
          await twins.put('gone', 'x');
          await twins.delete('gone');
          await twins.batch([{ type: 'put', key: '\u{1F600}', value: 'é' }, { type: 'del', key: 't2' }]);
          await store.batch([
            { bucket: 'twins', type: 'put', key: 't3', value: 'three' },
            { bucket: 'log', type: 'put', key: '0001', value: 'entry' },
          ]);
          const previous = store;
          await previous.close();
          store = await reopen(previous);
          assert.deepEqual(await collect(store.bucket('twins').entries()), [['t1', 'one'], ['t3', 'three'], ['\u{1F600}', 'é']]);
          assert.equal(await store.bucket('log').get('0001'), 'entry');
          await store.bucket('twins').put('t4', 'four');
          assert.equal(await store.bucket('twins').get('t4'), 'four');
        });

        it('survives several close/reopen cycles with many keys', async () => {
          const keys = Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(4, '0')}`);
          await store.bucket('many').batch(keys.map((key) => ({ type: 'put', key, value: key })));
          for (let cycle = 0; cycle < 2; cycle++) {
            const previous = store;
            await previous.close();
            store = await reopen(previous);
            assert.deepEqual(await collect(store.bucket('many').keys()), keys);
          }
        });
      });
    }
  });
}
