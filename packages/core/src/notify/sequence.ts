// Durable notification sequence numbers. Ids survive a restart, so a resume cursor from before it
// (an SSE Last-Event-ID) is recognised as older than the new, empty replay window and answered
// with an explicit reset — never with silence, and never confused with a newer event.

import type { BucketStore } from '@twinhub/bucket';
import type { Logger } from 'pino';
import type { PersistQueue } from '../store/persist-queue.js';

const BUCKET = 'notify';
const KEY = 'sequence';

/** Where notification ids come from: this hub's own durable sequence, or (cluster) store revisions. */
export interface NotificationNumbering {
  /** The id of a new notification; `revision`: the store revision of the change it announces, if known. */
  next(revision?: number): number;
  /** The id of the newest notification (after load: the point replay starts from). */
  readonly current: number;
  load(store: BucketStore): Promise<void>;
}

/**
 * Cluster mode: a notification's id is the store revision of the record whose change it announces,
 * the same on every instance (each hears every change, its own or through the change feed), so a
 * consumer resumes on any instance with the id it last got. Instances hear local and remote changes
 * in slightly different orders, so ids may arrive out of order by a few; they never repeat.
 */
export class RevisionNumbering implements NotificationNumbering {
  private last = 0;

  /** @param joined the revision from which this instance hears every change (its first heartbeat, written after load). */
  constructor(private readonly joined: () => number) {}

  async load(): Promise<void> {
    this.last = Math.max(this.last, this.joined());
  }

  get current(): number {
    return this.last;
  }

  next(revision?: number): number {
    // Every announced change has a record; one without (a defect) reuses the newest id rather than invent one.
    const id = revision ?? this.last;
    if (id > this.last) this.last = id;
    return id;
  }
}

/**
 * Hands out ids from a block reserved in the store (one small write per `block` notifications,
 * not one per notification). A restart continues after the reserved block, so an id is never
 * used twice even after kill -9; the next block is reserved when half of the current one is used.
 */
export class NotificationSequence implements NotificationNumbering {
  private last = 0;
  private reserved = 0;
  private reserving: Promise<void> | undefined;

  constructor(
    private readonly persist: PersistQueue,
    private readonly log: Logger,
    private readonly block = 100_000,
  ) {}

  /** Continues after the last reserved block and reserves the next one before the hub serves. */
  async load(store: BucketStore): Promise<void> {
    const json = await store.bucket(BUCKET).get(KEY);
    this.last = this.reserved = json === undefined ? 0 : (JSON.parse(json) as { reserved: number }).reserved;
    await this.reserve();
  }

  /** The id of the newest notification. */
  get current(): number {
    return this.last;
  }

  next(): number {
    this.last += 1;
    if (this.reserved - this.last < this.block / 2) void this.reserve();
    return this.last;
  }

  private reserve(): Promise<void> {
    this.reserving ??= (async () => {
      const reserved = this.last + this.block;
      try {
        await this.persist.write([{ bucket: BUCKET, key: KEY, value: { reserved } }]);
        this.reserved = reserved;
      } catch (error) {
        this.log.error({ err: error }, 'could not reserve notification ids; retrying with the next notification');
      } finally {
        this.reserving = undefined;
      }
    })();
    return this.reserving;
  }
}
