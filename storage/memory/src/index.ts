// In-memory BucketStore for tests and ephemeral hubs: nothing survives the process.
// Keys are kept sorted in small blocks (a two-level sorted list), so inserts stay cheap at
// 100k+ keys where one big array's splice would move every later key on each insert.
import {
  checkBucketName,
  keyBounds,
  StoreError,
  type Bucket,
  type BucketOperation,
  type BucketStore,
  type KeyBound,
  type KeyRange,
  type StoreOperation,
} from '@twinhub/bucket';

/** Blocks split when they grow past this many keys. */
const MAX_BLOCK = 1024;

/** A sorted set of strings stored as consecutive sorted blocks (never empty ones). */
class SortedKeys {
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

interface BucketData {
  values: Map<string, string>;
  order: SortedKeys;
}

function newBucketData(): BucketData {
  return { values: new Map(), order: new SortedKeys() };
}

function checkOperation(op: BucketOperation): void {
  if (typeof op.key !== 'string') throw new StoreError('batch operation key must be a string');
  if (op.type === 'put') {
    if (typeof op.value !== 'string') throw new StoreError(`batch put of ${JSON.stringify(op.key)}: value must be a string`);
  } else if (op.type !== 'del') {
    throw new StoreError(`unknown batch operation type ${JSON.stringify((op as { type: unknown }).type)}`);
  }
}

/** A BucketStore held in memory. Iterations copy their range when they start (a snapshot). */
export class MemoryStore implements BucketStore {
  private readonly data = new Map<string, BucketData>();
  private readonly views = new Map<string, Bucket>();
  private closed = false;

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

  async batch(operations: readonly StoreOperation[]): Promise<void> {
    this.checkOpen();
    // Validate everything before the first write, so a bad operation applies nothing.
    for (const op of operations) {
      checkBucketName(op.bucket);
      checkOperation(op);
    }
    for (const op of operations) this.apply(this.bucketData(op.bucket), op);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.data.clear();
    this.views.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('the store is closed');
  }

  private bucketData(name: string): BucketData {
    let data = this.data.get(name);
    if (data === undefined) {
      data = newBucketData();
      this.data.set(name, data);
    }
    return data;
  }

  private apply(data: BucketData, op: BucketOperation): void {
    if (op.type === 'put') {
      if (!data.values.has(op.key)) data.order.insert(op.key);
      data.values.set(op.key, op.value);
    } else if (data.values.delete(op.key)) {
      data.order.remove(op.key);
    }
  }

  /** Copies the range now, so later writes neither disturb nor show up in the walk. */
  private snapshot(name: string, range: KeyRange | undefined): string[] {
    const data = this.data.get(name);
    if (data === undefined) return [];
    const { lower, upper } = keyBounds(range);
    const limit = range?.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    return data.order.slice(lower, upper, range?.reverse === true, limit);
  }

  private createView(name: string): Bucket {
    // Methods are async so that a closed store or a bad argument rejects instead of throwing.
    const store = this;
    return {
      name,
      async get(key) {
        store.checkOpen();
        return store.data.get(name)?.values.get(key);
      },
      async getMany(keys) {
        store.checkOpen();
        const values = store.data.get(name)?.values;
        return keys.map((key) => values?.get(key));
      },
      async put(key, value) {
        store.checkOpen();
        const op: BucketOperation = { type: 'put', key, value };
        checkOperation(op);
        store.apply(store.bucketData(name), op);
      },
      async delete(key) {
        store.checkOpen();
        const op: BucketOperation = { type: 'del', key };
        checkOperation(op);
        store.apply(store.bucketData(name), op);
      },
      async batch(operations) {
        store.checkOpen();
        for (const op of operations) checkOperation(op);
        const data = store.bucketData(name);
        for (const op of operations) store.apply(data, op);
      },
      async *entries(range) {
        store.checkOpen();
        const keys = store.snapshot(name, range);
        const values = store.data.get(name)?.values;
        // Values are read now too: the snapshot covers both.
        const entries = keys.map((key): [string, string] => [key, values!.get(key)!]);
        yield* entries;
      },
      async *keys(range) {
        store.checkOpen();
        yield* store.snapshot(name, range);
      },
    };
  }
}
