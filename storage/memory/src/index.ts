// In-memory BucketStore for tests and ephemeral hubs: nothing survives the process.
// `peer()` opens a second writer over the same data, so the change feed and compare-and-set races
// of cluster mode can be tested without a cluster. Keys are kept sorted in small blocks (a
// two-level sorted list), so inserts stay cheap at 100k+ keys where one big array's splice would
// move every later key on each insert.
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
  type Bucket,
  type BucketStore,
  type KeyBound,
  type KeyRange,
  type StoreChange,
  type StoreOperation,
} from '@twinhub/bucket';

/** Blocks split when they grow past this many keys. */
const MAX_BLOCK = 1024;

/**
 * A sorted set of strings stored as consecutive sorted blocks (never empty ones). Exported for
 * other in-memory views (the NATS store's) so there is one sorted structure in the repo.
 */
export class SortedKeys {
  private blocks: string[][] = [];

  /** Position of the first key >= `key` (or > `key` when `after`); may be the end. */
  private seek(key: string, after: boolean): { block: number; index: number } {
    const blocks = this.blocks;
    const before = (k: string): boolean => (after ? k <= key : k < key);
    // First block whose last key is not before `key`.
    let lo = 0;
    let hi = blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const b = blocks[mid];
      if (before(b[b.length - 1])) lo = mid + 1;
      else hi = mid;
    }
    if (lo === blocks.length) return { block: lo, index: 0 };
    const b = blocks[lo];
    let i = 0;
    let j = b.length;
    while (i < j) {
      const mid = (i + j) >>> 1;
      if (before(b[mid])) i = mid + 1;
      else j = mid;
    }
    return { block: lo, index: i };
  }

  insert(key: string): void {
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      return;
    }
    let { block, index } = this.seek(key, false);
    if (block === this.blocks.length) {
      block--; // past every key: append to the last block
      index = this.blocks[block].length;
    }
    const b = this.blocks[block];
    if (b[index] === key) return;
    if (index === b.length) b.push(key);
    else b.splice(index, 0, key);
    if (b.length > MAX_BLOCK) this.blocks.splice(block + 1, 0, b.splice(b.length >>> 1));
  }

  remove(key: string): void {
    const { block, index } = this.seek(key, false);
    const b = this.blocks[block];
    if (b === undefined || b[index] !== key) return;
    b.splice(index, 1);
    if (b.length === 0) this.blocks.splice(block, 1);
  }

  /** Keys within the bounds, in order (or reverse), at most `limit` of them, as a new array. */
  slice(lower: KeyBound | undefined, upper: KeyBound | undefined, reverse: boolean, limit: number): string[] {
    const out: string[] = [];
    if (limit <= 0) return out;
    const blocks = this.blocks;
    if (!reverse) {
      let { block, index } = lower ? this.seek(lower.key, !lower.inclusive) : { block: 0, index: 0 };
      for (; block < blocks.length; block++, index = 0) {
        const b = blocks[block];
        for (; index < b.length; index++) {
          const k = b[index];
          if (upper && (upper.inclusive ? k > upper.key : k >= upper.key)) return out;
          out.push(k);
          if (out.length >= limit) return out;
        }
      }
      return out;
    }
    // Reverse: start just before the first key past the upper bound.
    let { block, index } = upper ? this.seek(upper.key, upper.inclusive) : { block: blocks.length, index: 0 };
    index--;
    for (;;) {
      if (index < 0) {
        block--;
        if (block < 0) return out;
        index = blocks[block].length - 1;
      }
      const k = blocks[block][index];
      if (lower && (lower.inclusive ? k < lower.key : k <= lower.key)) return out;
      out.push(k);
      if (out.length >= limit) return out;
      index--;
    }
  }
}

interface Entry {
  value: string;
  revision: number;
}

interface BucketData {
  values: Map<string, Entry>;
  order: SortedKeys;
}

type Listener = (changes: readonly StoreChange[]) => void;

/** What a store and its peers share: the records, the store-wide revision counter, the open writers. */
class SharedData {
  readonly buckets = new Map<string, BucketData>();
  revision = 0;
  readonly writers = new Set<MemoryStore>();

  bucket(name: string): BucketData {
    let data = this.buckets.get(name);
    if (data === undefined) {
      data = { values: new Map(), order: new SortedKeys() };
      this.buckets.set(name, data);
    }
    return data;
  }
}

/**
 * A BucketStore held in memory. Iterations copy their range when they start (a snapshot).
 * Every call commits synchronously inside its promise, so a compare-and-set is atomic against
 * any other call on this store or its peers.
 */
export class MemoryStore implements BucketStore {
  private shared = new SharedData();
  private readonly views = new Map<string, Bucket>();
  private readonly listeners = new Set<Listener>();
  private closed = false;

  constructor() {
    this.shared.writers.add(this);
  }

  /** Another writer over the same data (as a second hub instance would be): each hears the other's commits. */
  peer(): MemoryStore {
    this.checkOpen();
    const other = new MemoryStore();
    other.shared.writers.delete(other);
    other.shared = this.shared;
    this.shared.writers.add(other);
    return other;
  }

  bucket(name: string): Bucket {
    this.checkOpen();
    checkBucketName(name);
    let view = this.views.get(name);
    if (view === undefined) {
      view = this.createView(name);
      this.views.set(name, view);
    }
    return view;
  }

  async batch(operations: readonly StoreOperation[], options: BatchOptions = {}): Promise<readonly number[]> {
    this.checkOpen();
    // Validate everything before the first write, so a bad operation applies nothing.
    for (const op of operations) checkOperation(op);
    const expect = options.expect ?? [];
    checkExpectations(expect);
    for (const expected of expect) {
      const actual = this.shared.buckets.get(expected.bucket)?.values.get(expected.key)?.revision ?? 0;
      if (actual !== expected.revision) throw expectationConflict(expected, actual);
    }
    return this.commit(operations).map((change) => change.revision);
  }

  watch(listener: Listener): () => void {
    this.checkOpen();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.shared.writers.delete(this);
    this.views.clear();
    this.listeners.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }

  /** Applies validated operations in order, each with the next revision, and tells the peers. */
  private commit(operations: readonly StoreOperation[]): StoreChange[] {
    if (operations.length === 0) return [];
    const changes: StoreChange[] = [];
    for (const op of operations) {
      const data = this.shared.bucket(op.bucket);
      const revision = ++this.shared.revision;
      if (op.type === 'put') {
        if (!data.values.has(op.key)) data.order.insert(op.key);
        data.values.set(op.key, { value: op.value, revision });
      } else if (data.values.delete(op.key)) {
        data.order.remove(op.key);
      }
      changes.push({ bucket: op.bucket, key: op.key, value: op.type === 'put' ? op.value : undefined, revision });
    }
    for (const writer of this.shared.writers) if (writer !== this) writer.hear(changes);
    return changes;
  }

  /** A peer committed `changes`: report them after the committing call, as a remote feed would. */
  private hear(changes: readonly StoreChange[]): void {
    const listeners = [...this.listeners];
    // Microtasks run in the order queued, so batches arrive in commit order.
    if (listeners.length > 0) {
      queueMicrotask(() => {
        for (const listener of listeners) listener(changes);
      });
    }
  }

  /** Copies the range now, so later writes neither disturb nor show up in the walk. */
  private snapshot(name: string, range: KeyRange | undefined): [string, string][] {
    const data = this.shared.buckets.get(name);
    if (data === undefined) return [];
    const { lower, upper } = keyBounds(range);
    const limit = range?.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    // Values are read now too: the snapshot covers both.
    return data.order.slice(lower, upper, range?.reverse === true, limit).map((key) => [key, data.values.get(key)!.value]);
  }

  private createView(name: string): Bucket {
    // Methods are async so that a closed store or a bad argument rejects instead of throwing.
    const store = this;
    const entry = (key: string): Entry | undefined => store.shared.buckets.get(name)?.values.get(key);
    return {
      name,
      async get(key) {
        store.checkOpen();
        return entry(key)?.value;
      },
      getSync(key) {
        store.checkOpen();
        return entry(key)?.value;
      },
      async getEntry(key) {
        store.checkOpen();
        const found = entry(key);
        return found === undefined ? undefined : { value: found.value, revision: found.revision };
      },
      async compareAndSet(key, value, expectedRevision) {
        store.checkOpen();
        checkCompareAndSet(key, value, expectedRevision);
        const actual = entry(key)?.revision ?? 0;
        if (actual !== expectedRevision) throw conflictError(name, key, expectedRevision, actual);
        if (value === undefined && actual === 0) return 0; // deleting an absent key changes nothing
        const [change] = store.commit([value === undefined ? { bucket: name, type: 'del', key } : { bucket: name, type: 'put', key, value }]);
        return value === undefined ? 0 : change.revision;
      },
      async *entries(range) {
        store.checkOpen();
        yield* store.snapshot(name, range);
      },
    };
  }
}
