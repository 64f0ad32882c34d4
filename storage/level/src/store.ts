// The LevelDB BucketStore itself: records with revisions, writes serialized in call order (so
// compare-and-set is atomic and the commit counter only grows), snapshot range walks.
// Opening, the integrity checks and repair live in index.ts.
import type { ClassicLevel } from 'classic-level';
import {
  checkBucketName,
  checkCompareAndSet,
  type BatchOptions,
  checkExpectations,
  checkOperation,
  expectationConflict,
  closedError,
  conflictError,
  keyBounds,
  StoreError,
  type Bucket,
  type BucketStore,
  type KeyRange,
  type Revisioned,
  type StoreChange,
  type StoreOperation,
} from '@twinhub/bucket';
import { toStoreError } from './errors.js';
import { writeSidecar } from './integrity.js';
import { decodeKey, encodeKey } from './keys.js';
import { COUNTER_KEY, decodeValue, encodeCounter, encodeValue, FIRST_BUCKET_KEY, type Counter } from './records.js';

export type Db = ClassicLevel<Buffer, Buffer>;
type DbOperation = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** Entries fetched from LevelDB per round trip while iterating. */
const ITERATOR_CHUNK = 256;

export class LevelStore implements BucketStore {
  private readonly views = new Map<string, Bucket>();
  private closing: Promise<void> | undefined;
  /** The tail of the write chain: each write starts once the previous one settled. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly dir: string,
    private readonly sync: boolean,
    private counter: Counter,
  ) {}

  get commits(): number {
    return this.counter.commits;
  }

  bucket(name: string): Bucket {
    this.checkOpen();
    checkBucketName(name);
    let view = this.views.get(name);
    if (view === undefined) {
      view = new LevelBucket(this, name);
      this.views.set(name, view);
    }
    return view;
  }

  async batch(operations: readonly StoreOperation[], options: BatchOptions = {}): Promise<readonly number[]> {
    this.checkOpen();
    for (const op of operations) checkOperation(op);
    const expect = options.expect ?? [];
    checkExpectations(expect);
    if (operations.length === 0 && expect.length === 0) return [];
    return this.exclusive(async () => {
      // Checked inside the write queue: no other write of this process comes in between.
      for (const expected of expect) {
        const actual = (await this.read(encodeKey(expected.key, bucketPrefix(expected.bucket))))?.revision ?? 0;
        if (actual !== expected.revision) throw expectationConflict(expected, actual);
      }
      return operations.length === 0 ? [] : this.commit(operations);
    });
  }

  /** One process owns a LevelDB folder, so no other writer exists to report. */
  watch(_listener: (changes: readonly StoreChange[]) => void): () => void {
    this.checkOpen();
    return () => undefined;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.writes;
    try {
      // One synced write flushes LevelDB's log, so everything before a clean stop is on disk
      // even without --fsync; only then may the sidecar claim it.
      await this.db.put(COUNTER_KEY, encodeCounter(this.counter), { sync: true });
    } catch (error) {
      await this.db.close().catch(() => undefined); // the failed sync is the error to report
      throw toStoreError(error, 'closing', this.dir);
    }
    try {
      await this.db.close();
      await writeSidecar(this.dir, { ...this.counter, cleanClose: true });
    } catch (error) {
      throw toStoreError(error, 'closing', this.dir);
    }
  }

  checkOpen(): void {
    if (this.closing !== undefined) throw closedError();
  }

  /** Runs `task` after every write issued before it, alone. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.writes.then(task);
    this.writes = run.catch(() => undefined); // a failed write must not block the next one
    return run;
  }

  /** Writes validated operations plus the counter as one LevelDB batch; returns each operation's revision. Call inside `exclusive`. */
  async commit(operations: readonly StoreOperation[]): Promise<number[]> {
    const next: Counter = { revision: this.counter.revision, commits: this.counter.commits + 1 };
    const revisions: number[] = [];
    const ops: DbOperation[] = operations.map((op) => {
      const key = encodeKey(op.key, bucketPrefix(op.bucket));
      revisions.push(++next.revision);
      return op.type === 'put' ? { type: 'put', key, value: encodeValue(op.value, next.revision) } : { type: 'del', key };
    });
    ops.push({ type: 'put', key: COUNTER_KEY, value: encodeCounter(next) });
    try {
      await this.write(ops);
    } catch (error) {
      throw toStoreError(error, 'writing', this.dir);
    }
    this.counter = next; // only once written: a failed batch must not make the sidecar claim it
    return revisions;
  }

  /**
   * Writes one batch. abstract-level's public `batch()` copies every operation and runs it through
   * the encodings, hooks, sublevel prefixes and 'write' events of the generic API, none of which
   * this store uses (it owns its db: no sublevels, hooks or listeners; keys and values are
   * already buffers). That cost 11.5 µs of CPU per operation against 6.3 µs for classic-level's
   * `_batch`, the backend method `batch()` ends in (abstract-level's documented implementation
   * API), and a reported value is two or three operations (bench/RESULTS.md, fix 9). So an open db
   * gets the operations directly; anything else (closing, or a classic-level without `_batch`)
   * goes through `batch()`, which checks and explains.
   */
  private write(ops: DbOperation[]): Promise<void> {
    const backend = this.db as unknown as { _batch?: (ops: DbOperation[], options: { sync: boolean }) => Promise<void> };
    if (this.db.status === 'open' && typeof backend._batch === 'function') return backend._batch(ops, { sync: this.sync });
    return this.db.batch(ops, { sync: this.sync });
  }

  /** Reads one record (callers check the store is open: a queued compare-and-set reads during close). */
  async read(key: Buffer): Promise<Revisioned | undefined> {
    let bytes: Buffer | undefined;
    try {
      bytes = await this.db.get(key);
    } catch (error) {
      throw toStoreError(error, 'reading', this.dir);
    }
    return bytes === undefined ? undefined : decodeValue(bytes);
  }

  /** Reads one record without waiting (classic-level's getSync: a lookup in LevelDB's memtable, cache or files). */
  readSync(key: Buffer): Revisioned | undefined {
    this.checkOpen();
    let bytes: Buffer | undefined;
    try {
      bytes = this.db.getSync(key);
    } catch (error) {
      throw toStoreError(error, 'reading', this.dir);
    }
    return bytes === undefined ? undefined : decodeValue(bytes);
  }

  /** Walks `[key, value]` of one bucket; LevelDB iterators read a snapshot. */
  async *walk(prefix: Buffer, range: KeyRange | undefined): AsyncGenerator<[Buffer, Buffer]> {
    this.checkOpen();
    const limit = range?.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    if (limit === 0) return;
    const { lower, upper } = keyBounds(range);
    const bounds: { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } = {};
    if (lower === undefined) bounds.gte = prefix;
    else if (lower.inclusive) bounds.gte = encodeKey(lower.key, prefix);
    else bounds.gt = encodeKey(lower.key, prefix);
    // CESU-8 never produces 0xff, so `prefix 0xff` is above every key of the bucket.
    if (upper === undefined) bounds.lt = Buffer.concat([prefix, Buffer.from([0xff])]);
    else if (upper.inclusive) bounds.lte = encodeKey(upper.key, prefix);
    else bounds.lt = encodeKey(upper.key, prefix);
    const iterator = this.db.iterator({ ...bounds, reverse: range?.reverse === true, limit: limit === Infinity ? -1 : limit });
    // One chunk read ahead: LevelDB reads the next chunk (in libuv's pool) while the caller works
    // through this one, instead of the caller waiting idle for every chunk.
    let ahead: Promise<[Buffer, Buffer][]> | undefined = iterator.nextv(ITERATOR_CHUNK);
    try {
      for (;;) {
        let chunk: [Buffer, Buffer][];
        try {
          chunk = await ahead;
        } catch (error) {
          ahead = undefined;
          throw toStoreError(error, 'iterating', this.dir);
        }
        if (chunk.length === 0) {
          ahead = undefined;
          return;
        }
        ahead = iterator.nextv(ITERATOR_CHUNK);
        yield* chunk;
      }
    } finally {
      // A caller that stopped early leaves a read in flight: it settles before the iterator closes.
      await ahead?.catch(() => undefined);
      await iterator.close().catch(() => undefined); // already closed with the store: nothing to release
    }
  }

  /** Records per bucket (for `twinhub repair`): one pass over every key. */
  async census(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for await (const key of this.db.keys({ gte: FIRST_BUCKET_KEY })) {
      const name = decodeKey(key.subarray(0, key.indexOf(0x00)));
      counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  }
}

/** `enc(bucket) 0x00`: the start of every key of that bucket. */
function bucketPrefix(name: string): Buffer {
  return encodeKey(name, undefined, 0x00);
}

class LevelBucket implements Bucket {
  private readonly prefix: Buffer;

  constructor(
    private readonly store: LevelStore,
    readonly name: string,
  ) {
    this.prefix = bucketPrefix(name);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.getEntry(key))?.value;
  }

  async getEntry(key: string): Promise<Revisioned | undefined> {
    this.store.checkOpen();
    if (typeof key !== 'string') throw new StoreError('key must be a string');
    return this.store.read(encodeKey(key, this.prefix));
  }

  getSync(key: string): string | undefined {
    if (typeof key !== 'string') throw new StoreError('key must be a string');
    return this.store.readSync(encodeKey(key, this.prefix))?.value;
  }

  async compareAndSet(key: string, value: string | undefined, expectedRevision: number): Promise<number> {
    this.store.checkOpen();
    checkCompareAndSet(key, value, expectedRevision);
    return this.store.exclusive(async () => {
      const actual = (await this.store.read(encodeKey(key, this.prefix)))?.revision ?? 0;
      if (actual !== expectedRevision) throw conflictError(this.name, key, expectedRevision, actual);
      if (value === undefined && actual === 0) return 0; // deleting an absent key changes nothing
      const [revision] = await this.store.commit([
        value === undefined ? { bucket: this.name, type: 'del', key } : { bucket: this.name, type: 'put', key, value },
      ]);
      return value === undefined ? 0 : revision;
    });
  }

  async *entries(range?: KeyRange): AsyncIterable<[string, string]> {
    const start = this.prefix.length;
    for await (const [key, value] of this.store.walk(this.prefix, range)) yield [decodeKey(key, start), decodeValue(value).value];
  }
}
