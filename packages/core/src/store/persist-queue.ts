// Group commit for the core's writes. Callers hand over objects to store; everything handed over
// while a batch is being written goes into the next batch, written atomically as one store batch.
// A caller's promise resolves only once its write is durable, so nothing is acknowledged early,
// yet a burst of updates costs one storage round-trip instead of one each.

import type { BucketStore, ExpectedRevision, StoreOperation } from '@twinhub/bucket';
import type { Logger } from 'pino';
import { HubError } from '../model/errors.js';
import { NO_OBSERVER, type HubObserver } from '../model/observer.js';

/** Whether a store error means out of space (a StoreError 'full', or the OS's ENOSPC). */
export function isStoreFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'full' || code === 'ENOSPC';
}

/**
 * What a client is told when the store refused a write: 507 when it is out of space (or over a
 * budget), 503 otherwise (RFC 4918 §11.5, RFC 9110 §15.6.4). Nothing of the write was applied.
 */
export function storageProblem(error: unknown): HubError {
  if (isStoreFull(error)) {
    return new HubError(
      507,
      'Insufficient Storage',
      'the hub could not store this change: its storage is full; nothing was changed, retry once space was freed',
    );
  }
  if ((error as { code?: unknown } | undefined)?.code === 'unconfirmed') {
    // The store may have made it (a NATS ack that never came): "nothing was changed" would be untrue.
    return new HubError(
      503,
      'Service Unavailable',
      'the hub could not confirm that this change was stored (its storage did not answer in time); it may still have been made: read the current state before retrying',
    );
  }
  return new HubError(503, 'Service Unavailable', 'the hub could not store this change: its storage refused the write; nothing was changed, retry later');
}

/** A pending write: `value` undefined deletes the key. Values are serialized at flush time, so repeated updates of one object in a burst are written once. */
export interface PendingWrite {
  bucket: string;
  key: string;
  value: object | undefined;
  /** Never merged with another write of the key in the same batch (WriteOptions.distinct, for this entry). */
  distinct?: boolean;
}

export interface WriteOptions {
  /**
   * Each entry is its own operation in the batch, never merged with another write of the same key:
   * it gets its own revision, and other instances hear it as its own change (two events of one
   * name in a burst are two changes, not the last one).
   */
  distinct?: boolean;
  /**
   * Stored only if these keys still have these revisions (BatchOptions.expect): a compare-and-set
   * over the entries, refused with a 409 HubError when another writer (another instance) came
   * first. Such a write is its own batch, in call order with the others.
   */
  expect?: readonly ExpectedRevision[];
}

interface Waiter {
  /** The pending-map slots of the caller's entries, in its order. */
  slots: string[];
  resolve: (revisions: number[]) => void;
  reject: (error: Error) => void;
}

/** Writes that go to the store as one batch: any number merged, or one conditional write alone. */
interface Group {
  writes: Map<string, PendingWrite>;
  waiters: Waiter[];
  expect?: readonly ExpectedRevision[];
}

export class PersistQueue {
  private groups: Group[] = [];
  /** Distinguishes distinct writes of one key in the pending map. */
  private distinctCount = 0;
  private flushing: Promise<void> | undefined;
  /** The error of the last batch the store refused, until a later batch succeeds (readiness). */
  private lastFailure: unknown;

  constructor(
    private readonly store: BucketStore,
    private readonly log: Logger,
    private readonly observer: Pick<HubObserver, 'persistBatch'> = NO_OBSERVER,
  ) {}

  /**
   * Stores (or with `undefined`, deletes) each entry; resolves when all are durable with the
   * revision each entry's key got (a coalesced entry: the revision of the write that carried the
   * key's last value), rejects with a 507/503 HubError otherwise (409 when `expect` failed).
   */
  write(entries: ReadonlyArray<PendingWrite>, options: WriteOptions = {}): Promise<number[]> {
    if (entries.length === 0) return Promise.resolve([]);
    let group = this.groups.at(-1);
    if (options.expect !== undefined || group === undefined || group.expect !== undefined) {
      group = { writes: new Map(), waiters: [], ...(options.expect !== undefined ? { expect: options.expect } : {}) };
      this.groups.push(group);
    }
    const slots: string[] = [];
    for (const entry of entries) {
      const slot = options.distinct || entry.distinct ? `${entry.bucket}\0${entry.key}\0${++this.distinctCount}` : `${entry.bucket}\0${entry.key}`;
      // A key written again (not distinct) moves to the end: the batch keeps call order per key.
      group.writes.delete(slot);
      group.writes.set(slot, entry);
      slots.push(slot);
    }
    const done = new Promise<number[]>((resolve, reject) => group.waiters.push({ slots, resolve, reject }));
    if (!this.flushing) this.flushing = this.flushLoop();
    return done;
  }

  /** The store's current revision of a key (0: absent), to make a conditional write against. */
  async revisionOf(bucket: string, key: string): Promise<number> {
    return (await this.store.bucket(bucket).getEntry(key))?.revision ?? 0;
  }

  /** Whether the store refused the last batch (no batch since succeeded), and with what error. */
  get failure(): { error: unknown } | undefined {
    return this.lastFailure === undefined ? undefined : { error: this.lastFailure };
  }

  /** Resolves once everything handed over so far is durable (or failed). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
  }

  private async flushLoop(): Promise<void> {
    // Yield once so writes issued in the same tick join this batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.groups.length > 0) {
      const groups = this.groups;
      this.groups = [];
      for (const group of groups) await this.flush(group);
    }
    this.flushing = undefined;
  }

  private async flush({ writes, waiters, expect }: Group): Promise<void> {
    const operations: StoreOperation[] = [];
    for (const { bucket, key, value } of writes.values()) {
      operations.push(value === undefined ? { bucket, type: 'del', key } : { bucket, type: 'put', key, value: JSON.stringify(value) });
    }
    const started = performance.now();
    try {
      const revisions = await this.store.batch(operations, expect ? { expect } : undefined);
      this.observer.persistBatch({ records: operations.length, ms: performance.now() - started, ok: true });
      this.lastFailure = undefined;
      const revisionOf = new Map<string, number>();
      let index = 0;
      for (const slot of writes.keys()) revisionOf.set(slot, revisions[index++] ?? 0);
      for (const waiter of waiters) waiter.resolve(waiter.slots.map((slot) => revisionOf.get(slot) ?? 0));
    } catch (error) {
      if (isConflict(error)) {
        // Not a store failure: another writer came first. Only this write's caller hears of it.
        this.log.debug({ err: error }, 'a conditional write lost to another writer');
        for (const waiter of waiters) waiter.reject(conflictProblem());
        return;
      }
      this.observer.persistBatch({ records: operations.length, ms: performance.now() - started, ok: false });
      this.log.error({ err: error, records: operations.length }, 'store refused a batch; its requests are answered with an error and nothing of it is applied');
      this.lastFailure = error ?? new Error('the store refused a batch');
      const problem = storageProblem(error);
      for (const waiter of waiters) waiter.reject(problem);
    }
  }
}

const isConflict = (error: unknown): boolean => (error as { code?: unknown } | undefined)?.code === 'conflict';

/** What a client is told when its conditional write lost (RFC 9110 §15.5.10). */
function conflictProblem(): HubError {
  return new HubError(409, 'Conflict', 'another hub instance changed this record at the same moment; nothing was changed: re-read it and retry');
}
