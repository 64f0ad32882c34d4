// BucketStore over LevelDB (classic-level): the default, embedded, on-disk backend, with the
// integrity checks that refuse a damaged data folder (integrity.ts) and `repairLevelStore`.
//
// Layout: one LevelDB key space; a bucket's key is `enc(bucket) 0x00 enc(key)` where enc is
// CESU-8 (UTF-8 applied to each UTF-16 code unit, surrogates included). CESU-8 bytes sort exactly
// like UTF-16 code units, which is the order the contract promises (plain UTF-8 would put U+1F600
// after U+FFFD), and it keeps lone surrogates intact. Bucket names contain no NUL, so
// `enc(bucket) 0x00` is a prefix no other bucket's keys share. Values carry their revision
// (records.ts); every batch also rewrites the store's counter record (one small key).
//
// Writes run one at a time, in call order: that makes compare-and-set atomic against batches and
// keeps the stored counter monotonic. The core group-commits, so this costs it no round trips.
//
// Durability: with `sync: false` (default) a write resolves once LevelDB has appended it to its
// log in the OS page cache, so it survives the process being killed (kill -9) but not a power
// loss or kernel crash. `sync: true` also fsyncs the log before resolving, which survives power
// loss at a large cost in write latency. A clean close always syncs.
import { access } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import {
  checkBucketName,
  checkCompareAndSet,
  checkOperation,
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
import { isLockHeld, toStoreError } from './errors.js';
import { checkAgainstSidecar, inspectFolder, readSidecar, writeSidecar, SIDECAR_FILE, type Sidecar } from './integrity.js';
import { decodeKey, encodeKey } from './keys.js';
import {
  COUNTER_KEY,
  decodeCounter,
  decodeMarker,
  decodeValue,
  encodeCounter,
  encodeMarker,
  encodeValue,
  FIRST_BUCKET_KEY,
  LEGACY_REVISION,
  MARKER_KEY,
  type Counter,
} from './records.js';

/** Where the store reports what it found when opening (a pino logger fits). */
export interface StoreLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface LevelStoreOptions {
  /** fsync every write (survives power loss; slower). Default false (survives kill -9). */
  sync?: boolean;
  log?: StoreLog;
}

type Db = ClassicLevel<Buffer, Buffer>;
type DbOperation = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** Entries fetched from LevelDB per round trip while iterating. */
const ITERATOR_CHUNK = 256;

const silent: StoreLog = { info: () => undefined, warn: () => undefined };

/**
 * Opens the LevelDB data folder `dir` as a BucketStore, creating it only when the folder is
 * absent or holds no store. Rejects with a StoreError: 'corrupt' when the folder is damaged or
 * acknowledged writes are missing (the message names `twinhub repair`), 'unavailable' when it is
 * in use or unreadable.
 */
export async function openLevelStore(dir: string, options: LevelStoreOptions = {}): Promise<BucketStore> {
  return openStore(dir, options);
}

/** `repaired`: the folder was just repaired, so what it held before is not compared (the loss is accepted). */
async function openStore(dir: string, options: LevelStoreOptions, repaired = false): Promise<LevelStore> {
  const log = options.log ?? silent;
  let folder;
  try {
    folder = await inspectFolder(dir);
  } catch (error) {
    throw toStoreError(error, 'opening', dir);
  }
  const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: folder.fresh });
  try {
    await db.open();
  } catch (error) {
    throw toStoreError(error, 'opening', dir);
  }
  try {
    const counter = await verify(db, dir, repaired ? 'repaired' : folder.sidecar, log);
    await writeSidecar(dir, { ...counter, cleanClose: false });
    return new LevelStore(db, dir, options.sync === true, counter);
  } catch (error) {
    await db.close().catch(() => undefined); // the open failure is what the caller needs to see
    throw toStoreError(error, 'opening', dir);
  }
}

/** Checks the marker and counter against the sidecar; writes both when the folder is new (or adopted). */
async function verify(db: Db, dir: string, sidecar: Sidecar | 'repaired' | undefined, log: StoreLog): Promise<Counter> {
  const [markerBytes, counterBytes] = await db.getMany([MARKER_KEY, COUNTER_KEY]);
  const marker = markerBytes === undefined ? undefined : decodeMarker(markerBytes);
  const stored = counterBytes === undefined ? undefined : decodeCounter(counterBytes);
  if (marker !== undefined && stored === undefined) {
    throw new StoreError(`refusing to open the data folder ${dir}: its commit counter record is missing or damaged`, { code: 'corrupt' });
  }
  if (sidecar === 'repaired') {
    log.warn({ dir, commits: stored?.commits ?? 0 }, 'opened a repaired data folder: the integrity checks start afresh from what it holds now');
  } else if (sidecar) {
    checkAgainstSidecar(dir, sidecar, marker === undefined ? undefined : stored!.commits);
    if (!sidecar.cleanClose) {
      log.warn({ dir, commits: stored!.commits }, 'the hub did not stop cleanly last time: LevelDB replayed its log; what the OS had written is kept (use --fsync to survive power loss)');
    }
  } else if (marker !== undefined) {
    log.warn({ dir, file: SIDECAR_FILE }, 'the integrity file is missing, so this start cannot check for lost writes; it is written again now');
  }
  if (marker !== undefined) {
    log.info({ dir, commits: stored!.commits, revision: stored!.revision, created: marker.created }, 'opened the data folder');
    return stored!;
  }
  // No marker and no sidecar: a new folder, one written before these checks existed, or a repaired one.
  const first = await db.keys({ gte: FIRST_BUCKET_KEY, limit: 1 }).all();
  const counter: Counter = stored ?? { revision: first.length > 0 ? LEGACY_REVISION : 0, commits: 0 };
  await db.batch(
    [
      { type: 'put', key: MARKER_KEY, value: encodeMarker({ format: 1, created: new Date().toISOString() }) },
      { type: 'put', key: COUNTER_KEY, value: encodeCounter(counter) },
    ],
    { sync: true },
  );
  if (first.length > 0) log.info({ dir, commits: counter.commits }, 'adopted a data folder without integrity records (written by an older twinhub, or repaired): checks start now');
  else log.info({ dir }, 'created a new data folder');
  return counter;
}

/** What `repairLevelStore` found. */
export interface RepairReport {
  /** Records per bucket after the repair. */
  buckets: Record<string, number>;
  /** Committed batches the folder reads after the repair. */
  commits: number;
  /** Committed batches the integrity file said it held before; undefined when there was none. */
  expectedCommits?: number;
}

/**
 * Repairs a stopped hub's data folder: LevelDB's own repair (it salvages every readable record
 * from logs and tables and rebuilds the manifest), then opens it with fresh integrity records, so
 * the hub starts again. Whatever was lost stays lost.
 */
export async function repairLevelStore(dir: string, options: LevelStoreOptions = {}): Promise<RepairReport> {
  try {
    await access(dir);
  } catch {
    throw new StoreError(`there is no data folder at ${dir} to repair`);
  }
  // Read apart from the folder checks (the folder is damaged, yet the count says what was lost);
  // a missing or unreadable sidecar only means the loss cannot be counted.
  const expectedCommits = (await readSidecar(dir).catch(() => undefined))?.commits;
  // LevelDB's repair takes no lock: opening first refuses a folder a running hub holds.
  const probe: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  try {
    await probe.open();
    await probe.close();
  } catch (error) {
    if (isLockHeld(error)) throw toStoreError(error, 'opening', dir);
  }
  try {
    await ClassicLevel.repair(dir);
  } catch (error) {
    throw toStoreError(error, 'repairing', dir);
  }
  const store = await openStore(dir, options, true);
  try {
    return { buckets: await store.census(), commits: store.commits, ...(expectedCommits === undefined ? {} : { expectedCommits }) };
  } finally {
    await store.close();
  }
}

class LevelStore implements BucketStore {
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

  async batch(operations: readonly StoreOperation[]): Promise<void> {
    this.checkOpen();
    for (const op of operations) checkOperation(op);
    if (operations.length === 0) return;
    await this.exclusive(() => this.commit(operations));
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
      await this.db.batch(ops, { sync: this.sync });
    } catch (error) {
      throw toStoreError(error, 'writing', this.dir);
    }
    this.counter = next; // only once written: a failed batch must not make the sidecar claim it
    return revisions;
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
    try {
      for (;;) {
        let chunk: [Buffer, Buffer][];
        try {
          chunk = await iterator.nextv(ITERATOR_CHUNK);
        } catch (error) {
          throw toStoreError(error, 'iterating', this.dir);
        }
        if (chunk.length === 0) return;
        yield* chunk;
      }
    } finally {
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

  async compareAndSet(key: string, value: string | undefined, expectedRevision: number): Promise<number> {
    this.store.checkOpen();
    checkCompareAndSet(key, value, expectedRevision);
    return this.store.exclusive(async () => {
      const actual = (await this.store.read(encodeKey(key, this.prefix)))?.revision ?? 0;
      if (actual !== expectedRevision) throw conflictError(this.name, key, expectedRevision, actual);
      if (value === undefined && actual === 0) return 0; // deleting an absent key changes nothing
      const [revision] = await this.store.commit([value === undefined ? { bucket: this.name, type: 'del', key } : { bucket: this.name, type: 'put', key, value }]);
      return value === undefined ? 0 : revision;
    });
  }

  async *entries(range?: KeyRange): AsyncIterable<[string, string]> {
    const start = this.prefix.length;
    for await (const [key, value] of this.store.walk(this.prefix, range)) yield [decodeKey(key, start), decodeValue(value).value];
  }
}
