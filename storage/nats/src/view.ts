// The in-memory ordered view of the commit log that serves every read: each bucket's records in a
// map plus memory's sorted key structure, advanced one whole commit at a time (so a snapshot taken
// between two commits sees all of a batch or none of it).
import { keyBounds, type KeyRange, type Revisioned, type StoreChange, type StoreOperation } from '@twinhub/bucket';
import { SortedKeys } from '@twinhub/storage-memory';
import { revisionOf } from './commit.js';

interface BucketRecords {
  values: Map<string, Revisioned>;
  order: SortedKeys;
}

export class RecordView {
  private readonly buckets = new Map<string, BucketRecords>();
  /** The stream sequence of the last commit applied (0: none). */
  applied = 0;

  /** Applies the commit at `sequence` (the next one in log order) and returns its changes. */
  apply(sequence: number, operations: readonly StoreOperation[]): StoreChange[] {
    const changes: StoreChange[] = [];
    operations.forEach((op, index) => {
      const revision = revisionOf(sequence, index);
      let data = this.buckets.get(op.bucket);
      if (data === undefined) {
        data = { values: new Map(), order: new SortedKeys() };
        this.buckets.set(op.bucket, data);
      }
      if (op.type === 'put') {
        if (!data.values.has(op.key)) data.order.insert(op.key);
        data.values.set(op.key, { value: op.value, revision });
      } else if (data.values.delete(op.key)) {
        data.order.remove(op.key);
      }
      changes.push({ bucket: op.bucket, key: op.key, value: op.type === 'put' ? op.value : undefined, revision });
    });
    this.applied = sequence;
    return changes;
  }

  entry(bucket: string, key: string): Revisioned | undefined {
    return this.buckets.get(bucket)?.values.get(key);
  }

  /** The range's entries copied now: later commits neither disturb nor show up in the walk. */
  snapshot(bucket: string, range: KeyRange | undefined): [string, string][] {
    const data = this.buckets.get(bucket);
    if (data === undefined) return [];
    const { lower, upper } = keyBounds(range);
    const limit = range?.limit === undefined || range.limit < 0 ? Number.POSITIVE_INFINITY : range.limit;
    return data.order.slice(lower, upper, range?.reverse === true, limit).map((key) => [key, (data.values.get(key) as Revisioned).value]);
  }
}
