// BucketStore over LevelDB (classic-level): the default, embedded, on-disk backend.
//
// Layout: one LevelDB key space; a bucket's key is `enc(bucket) 0x00 enc(key)` where enc is
// CESU-8 (UTF-8 applied to each UTF-16 code unit, surrogates included). CESU-8 bytes sort exactly
// like UTF-16 code units, which is the order the contract promises (plain UTF-8 would put U+1F600
// after U+FFFD), and it keeps lone surrogates intact. Bucket names contain no NUL, so
// `enc(bucket) 0x00` is a prefix no other bucket's keys share. Values are stored as UTF-8.
//
// Durability: with `sync: false` (default) a write resolves once LevelDB has appended it to its
// log in the OS page cache, so it survives the process being killed (kill -9) but not a power
// loss or kernel crash. `sync: true` also fsyncs the log before resolving, which survives power
// loss at a large cost in write latency.
import { ClassicLevel } from 'classic-level';
import {
  checkBucketName,
  keyBounds,
  StoreError,
  type Bucket,
  type BucketOperation,
  type BucketStore,
  type KeyRange,
  type StoreOperation,
} from '@twinhub/bucket';
import { decodeKey, encodeKey } from './keys.js';

export interface LevelStoreOptions {
  /** fsync every write (survives power loss; slower). Default false (survives kill -9). */
  sync?: boolean;
}

type Db = ClassicLevel<Buffer, string>;
type DbOperation = { type: 'put'; key: Buffer; value: string } | { type: 'del'; key: Buffer };

/** Entries fetched from LevelDB per round trip while iterating. */
const ITERATOR_CHUNK = 256;

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Turns a classic-level error into a StoreError that says what went wrong. */
function wrap(error: unknown, doing: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = errorCode(error);
  if (code === 'LEVEL_DATABASE_NOT_OPEN' || code === 'LEVEL_ITERATOR_NOT_OPEN') {
    return new StoreError('the store is closed', { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(`storage failed while ${doing}: ${message}`, { cause: error });
}

/** Opens (creating if needed) the LevelDB data folder `dir` as a BucketStore. */
export async function openLevelStore(dir: string, options: LevelStoreOptions = {}): Promise<BucketStore> {
  const db: Db = new ClassicLevel<Buffer, string>(dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (errorCode(cause) === 'LEVEL_LOCKED') {
      throw new StoreError(
        `the data folder ${dir} is in use by another twinhub (its LevelDB lock is held); stop that hub or choose another data folder`,
        { cause: error },
      );
    }
    const detail = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
    throw new StoreError(`cannot open the data folder ${dir}: ${detail}`, { cause: error });
  }
  return new LevelStore(db, options.sync === true);
}

class LevelStore implements BucketStore {
  private readonly views = new Map<string, Bucket>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly sync: boolean,
  ) {}

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
    const ops = operations.map((op) => {
      checkBucketName(op.bucket);
      return toDbOperation(bucketPrefix(op.bucket), op);
    });
    await this.write(ops);
  }

  close(): Promise<void> {
    this.closing ??= this.db.close().catch((error: unknown) => {
      throw wrap(error, 'closing');
    });
    return this.closing;
  }

  checkOpen(): void {
    if (this.closing !== undefined) throw new StoreError('the store is closed');
  }

  async write(ops: DbOperation[]): Promise<void> {
    if (ops.length === 0) return;
    try {
      await this.db.batch(ops, { sync: this.sync });
    } catch (error) {
      throw wrap(error, 'writing');
    }
  }

  async get(key: Buffer): Promise<string | undefined> {
    try {
      return await this.db.get(key);
    } catch (error) {
      throw wrap(error, 'reading');
    }
  }

  async getMany(keys: Buffer[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    try {
      return await this.db.getMany(keys);
    } catch (error) {
      throw wrap(error, 'reading');
    }
  }

  /** Walks `[key, value]` (or keys only) of one bucket; LevelDB iterators read a snapshot. */
  async *walk(prefix: Buffer, range: KeyRange | undefined, withValues: boolean): AsyncGenerator<[Buffer, string | undefined]> {
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
    const options = { ...bounds, reverse: range?.reverse === true, limit: limit === Infinity ? -1 : limit };
    const iterator = withValues ? this.db.iterator(options) : this.db.keys(options);
    try {
      for (;;) {
        let chunk: unknown[];
        try {
          chunk = await iterator.nextv(ITERATOR_CHUNK);
        } catch (error) {
          throw wrap(error, 'iterating');
        }
        if (chunk.length === 0) return;
        if (withValues) yield* chunk as [Buffer, string][];
        else for (const key of chunk as Buffer[]) yield [key, undefined];
      }
    } finally {
      await iterator.close().catch(() => undefined); // already closed with the store: nothing to release
    }
  }
}

/** `enc(bucket) 0x00`: the start of every key of that bucket. */
function bucketPrefix(name: string): Buffer {
  return encodeKey(name, undefined, 0x00);
}

function toDbOperation(prefix: Buffer, op: BucketOperation): DbOperation {
  if (typeof op.key !== 'string') throw new StoreError('batch operation key must be a string');
  if (op.type === 'put') {
    if (typeof op.value !== 'string') throw new StoreError(`batch put of ${JSON.stringify(op.key)}: value must be a string`);
    return { type: 'put', key: encodeKey(op.key, prefix), value: op.value };
  }
  if (op.type === 'del') return { type: 'del', key: encodeKey(op.key, prefix) };
  throw new StoreError(`unknown batch operation type ${JSON.stringify((op as { type: unknown }).type)}`);
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
    this.store.checkOpen();
    return this.store.get(encodeKey(key, this.prefix));
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    this.store.checkOpen();
    return this.store.getMany(keys.map((key) => encodeKey(key, this.prefix)));
  }

  async put(key: string, value: string): Promise<void> {
    this.store.checkOpen();
    await this.store.write([toDbOperation(this.prefix, { type: 'put', key, value })]);
  }

  async delete(key: string): Promise<void> {
    this.store.checkOpen();
    await this.store.write([toDbOperation(this.prefix, { type: 'del', key })]);
  }

  async batch(operations: readonly BucketOperation[]): Promise<void> {
    this.store.checkOpen();
    await this.store.write(operations.map((op) => toDbOperation(this.prefix, op)));
  }

  async *entries(range?: KeyRange): AsyncIterable<[string, string]> {
    const start = this.prefix.length;
    for await (const [key, value] of this.store.walk(this.prefix, range, true)) {
      yield [decodeKey(key, start), value as string];
    }
  }

  async *keys(range?: KeyRange): AsyncIterable<string> {
    const start = this.prefix.length;
    for await (const [key] of this.store.walk(this.prefix, range, false)) yield decodeKey(key, start);
  }
}
