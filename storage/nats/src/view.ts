// The in-memory ordered view of the commit log that serves every read: each bucket's records in a
// map plus memory's sorted key structure, advanced one whole commit at a time (so a snapshot taken
// between two commits sees all of a batch or none of it). Compaction copies it out as records and
// builds one back from them (see snapshot.ts).
import { keyBounds, type KeyRange, type Revisioned, type StoreChange, type StoreOperation } from '@twinhub/bucket';
import { SortedKeys } from '@twinhub/storage-memory';
import { OPS_PER_COMMIT, revisionOf } from './commit.js';

interface BucketRecords {
  values: Map<string, Revisioned>;
  order: SortedKeys;
}

/** One record of a snapshot: where it is, its value and the revision the commit log gave it. */
export type SnapshotRecord = [bucket: string, key: string, value: string, revision: number];

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

  /** Every record, each bucket in key order (so `fromRecords` appends), copied now. */
  records(): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    const { lower, upper } = keyBounds(undefined);
    for (const [bucket, data] of this.buckets) {
      for (const key of data.order.slice(lower, upper, false, Number.POSITIVE_INFINITY)) {
        const { value, revision } = data.values.get(key) as Revisioned;
        out.push([bucket, key, value, revision]);
      }
    }
    return out;
  }

  /** A view holding `records` as they stood after the commit at `sequence`. */
  static fromRecords(sequence: number, records: Iterable<SnapshotRecord>): RecordView {
    const view = new RecordView();
    for (const [bucket, key, value, revision] of records) {
      let data = view.buckets.get(bucket);
      if (data === undefined) {
        data = { values: new Map(), order: new SortedKeys() };
        view.buckets.set(bucket, data);
      }
      if (!data.values.has(key)) data.order.insert(key);
      data.values.set(key, { value, revision });
    }
    view.applied = sequence;
    return view;
  }

  /**
   * What changed from this view to `next` (a later one), as the change feed reports it: every
   * record new or rewritten in `next` with its revision, in revision order, then every record gone
   * from it as a delete. The commits in between are not known, so a delete gets the last revision of
   * `next`'s last commit (higher than any it replaced, lower than any later commit's).
   */
  changesTo(next: RecordView): StoreChange[] {
    const written: StoreChange[] = [];
    const deleted: StoreChange[] = [];
    for (const [bucket, data] of next.buckets) {
      const before = this.buckets.get(bucket)?.values;
      for (const [key, { value, revision }] of data.values) {
        if (before?.get(key)?.revision !== revision) written.push({ bucket, key, value, revision });
      }
    }
    for (const [bucket, data] of this.buckets) {
      const after = next.buckets.get(bucket)?.values;
      for (const key of data.values.keys()) {
        if (after?.has(key) !== true) deleted.push({ bucket, key, value: undefined, revision: revisionOf(next.applied, OPS_PER_COMMIT - 1) });
      }
    }
    written.sort((a, b) => a.revision - b.revision);
    return [...written, ...deleted];
  }
}
