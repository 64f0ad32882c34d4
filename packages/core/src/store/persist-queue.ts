// Group commit for the core's writes. Callers hand over objects to store; everything handed over
// while a batch is being written goes into the next batch, written atomically as one store batch.
// A caller's promise resolves only once its write is durable, so nothing is acknowledged early,
// yet a burst of updates costs one storage round-trip instead of one each.

import type { BucketStore, StoreOperation } from '@twinhub/bucket';
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
}

interface Waiter {
  /** The pending-map slots of the caller's entries, in its order. */
  slots: string[];
  resolve: (revisions: number[]) => void;
  reject: (error: Error) => void;
}

export class PersistQueue {
  private pending = new Map<string, PendingWrite>();
  private waiters: Waiter[] = [];
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
   * key's last value), rejects with a 507/503 HubError otherwise.
   */
  write(entries: ReadonlyArray<PendingWrite>, options: WriteOptions = {}): Promise<number[]> {
    if (entries.length === 0) return Promise.resolve([]);
    const slots: string[] = [];
    for (const entry of entries) {
      const slot = options.distinct || entry.distinct ? `${entry.bucket}\0${entry.key}\0${++this.distinctCount}` : `${entry.bucket}\0${entry.key}`;
      // A key written again (not distinct) moves to the end: the batch keeps call order per key.
      this.pending.delete(slot);
      this.pending.set(slot, entry);
      slots.push(slot);
    }
    const done = new Promise<number[]>((resolve, reject) => this.waiters.push({ slots, resolve, reject }));
    if (!this.flushing) this.flushing = this.flushLoop();
    return done;
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
    while (this.pending.size > 0) {
      const batch = this.pending;
      const waiters = this.waiters;
      this.pending = new Map();
      this.waiters = [];
      const operations: StoreOperation[] = [];
      for (const { bucket, key, value } of batch.values()) {
        operations.push(value === undefined ? { bucket, type: 'del', key } : { bucket, type: 'put', key, value: JSON.stringify(value) });
      }
      const started = performance.now();
      try {
        const revisions = await this.store.batch(operations);
        this.observer.persistBatch({ records: operations.length, ms: performance.now() - started, ok: true });
        this.lastFailure = undefined;
        const revisionOf = new Map<string, number>();
        let index = 0;
        for (const slot of batch.keys()) revisionOf.set(slot, revisions[index++] ?? 0);
        for (const waiter of waiters) waiter.resolve(waiter.slots.map((slot) => revisionOf.get(slot) ?? 0));
      } catch (error) {
        this.observer.persistBatch({ records: operations.length, ms: performance.now() - started, ok: false });
        this.log.error(
          { err: error, records: operations.length },
          'store refused a batch; its requests are answered with an error and nothing of it is applied',
        );
        this.lastFailure = error ?? new Error('the store refused a batch');
        const problem = storageProblem(error);
        for (const waiter of waiters) waiter.reject(problem);
      }
    }
    this.flushing = undefined;
  }
}
