// Cluster membership (issue #15): what several hub instances on one shared store (NATS JetStream)
// must agree on beyond the records themselves.
// - Instances write a heartbeat record; one that missed three is gone.
// - Presence records say which instance holds each agent's newest receiving session: only that
//   instance delivers the agent's queued requests, so a request is delivered once even when the
//   agent is (or seems) connected to two instances; when it dies, another instance the agent
//   reaches takes over.
// - One lease, taken and renewed by compare-and-set, names the instance that runs the cluster-wide
//   sweeps (request expiry and retention, registration purge, jobs, history retention): at most one
//   runs them, the others converge through the change feed.
// A hub alone on its store (LevelDB) uses SoloMembership: it always leads and always delivers.

import { randomUUID } from 'node:crypto';
import type { BucketStore, StoreChange } from '@twinhub/bucket';
import type { Logger } from 'pino';

export const INSTANCES_BUCKET = 'instances';
export const PRESENCE_BUCKET = 'presence';
export const LEASES_BUCKET = 'leases';
const MAINTENANCE_LEASE = 'maintenance';
/** An instance (or a lease) silent for this many heartbeat intervals is gone. */
const MISSED_HEARTBEATS = 3;

export interface ClusterOptions {
  /** This instance's id, unique among those sharing the store (default: a random UUID per start). */
  instanceId?: string;
  /** How often this instance writes its heartbeat (default 5 s); three missed and it counts as gone. */
  heartbeatMs?: number;
}

interface InstanceRecord {
  instanceId: string;
  startedAt: string;
  heartbeatAt: string;
}

interface PresenceRecord {
  agentId: string;
  instanceId: string;
  sessionId: string;
  /** When the agent connected (its presence `since`). */
  since: string;
}

interface LeaseRecord {
  instanceId: string;
  until: string;
}

/** What the rest of the core asks of membership; the same shape alone and in a cluster. */
export interface Membership {
  readonly instanceId: string;
  /** Whether this instance runs the cluster-wide sweeps now (claiming or renewing the lease if due). */
  lead(): Promise<boolean>;
  /** The last answer of lead(), without asking the store (a running job checks it between slices). */
  readonly leading: boolean;
  /** Whether the agent's queued requests are delivered from this instance. */
  delivers(agentId: string): boolean;
  /** The agent's newest receiving session here is now `session` (undefined: it has none here any more). */
  receiving(agentId: string, session: { id: string; since: string } | undefined): void;
  /** The agent's presence on another live instance, if it holds its newest session. */
  remote(agentId: string): { since: string } | undefined;
  /** A record of the membership buckets from another writer; false for other buckets. */
  apply(change: StoreChange): boolean;
  load(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** One hub alone on its store. */
export class SoloMembership implements Membership {
  readonly instanceId = 'solo';
  readonly leading = true;
  async lead(): Promise<boolean> {
    return true;
  }
  delivers(): boolean {
    return true;
  }
  receiving(): void {}
  remote(): undefined {
    return undefined;
  }
  apply(): boolean {
    return false;
  }
  async load(): Promise<void> {}
  start(): void {}
  async stop(): Promise<void> {}
}

export interface ClusterMembershipDeps {
  store: BucketStore;
  log: Logger;
  now: () => Date;
  /** The agent's presence as this instance sees it may have changed (announce it if it did). */
  presenceChanged: (agentId: string) => void;
  /** This instance now delivers the agent's requests (it took over): send what waits. */
  deliveryGained: (agentId: string) => void;
  /** Agents with a receiving session here, and that session. */
  localReceiver: (agentId: string) => { id: string; since: string } | undefined;
  localAgents: () => Iterable<string>;
}

const isConflict = (error: unknown): boolean => (error as { code?: unknown } | undefined)?.code === 'conflict';

export class ClusterMembership implements Membership {
  readonly instanceId: string;
  private readonly heartbeatMs: number;
  private readonly startedAt: string;
  private readonly instances = new Map<string, InstanceRecord>();
  /** Every agent's presence record, with its revision (compare-and-set deletes only what it read). */
  private readonly presence = new Map<string, { record: PresenceRecord; revision: number }>();
  private lease: { record: LeaseRecord; revision: number } | undefined;
  private leadingNow = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Claims in flight, by agent: one at a time per agent, the newest session wins. */
  private readonly claiming = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: ClusterMembershipDeps,
    options: ClusterOptions = {},
  ) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.startedAt = deps.now().toISOString();
  }

  get leading(): boolean {
    return this.leadingNow;
  }

  async load(): Promise<void> {
    const { store } = this.deps;
    for await (const [, json] of store.bucket(INSTANCES_BUCKET).entries()) {
      const record = JSON.parse(json) as InstanceRecord;
      this.instances.set(record.instanceId, record);
    }
    for await (const [agentId] of store.bucket(PRESENCE_BUCKET).entries()) {
      const entry = await store.bucket(PRESENCE_BUCKET).getEntry(agentId);
      if (entry) this.presence.set(agentId, { record: JSON.parse(entry.value) as PresenceRecord, revision: entry.revision });
    }
    const lease = await store.bucket(LEASES_BUCKET).getEntry(MAINTENANCE_LEASE);
    if (lease) this.lease = { record: JSON.parse(lease.value) as LeaseRecord, revision: lease.revision };
    await this.heartbeat();
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  /** Leaves the cluster cleanly: gives up its agents and the lease, and removes its heartbeat. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled(this.claiming.values());
    const { store } = this.deps;
    const mine = [...this.presence].filter(([, { record }]) => record.instanceId === this.instanceId);
    // Each an async call: a store that is already gone rejects (bucket() throws) instead of failing close().
    const release = async (bucket: string, key: string, revision: number) => store.bucket(bucket).compareAndSet(key, undefined, revision);
    const releases = mine.map(([agentId, { revision }]) => release(PRESENCE_BUCKET, agentId, revision));
    if (this.lease?.record.instanceId === this.instanceId) releases.push(release(LEASES_BUCKET, MAINTENANCE_LEASE, this.lease.revision));
    releases.push(
      (async () => {
        await store.batch([{ type: 'del', bucket: INSTANCES_BUCKET, key: this.instanceId }]);
        return 0;
      })(),
    );
    const failed = (await Promise.allSettled(releases)).filter((r) => r.status === 'rejected' && !isConflict(r.reason));
    if (failed.length > 0) this.deps.log.warn({ failed: failed.length }, 'cluster: could not release some records on close; they go stale with the heartbeat');
  }

  /** Whether the instance's heartbeat is recent enough (this instance is always alive to itself). */
  private alive(instanceId: string): boolean {
    if (instanceId === this.instanceId) return !this.stopped;
    const record = this.instances.get(instanceId);
    return record !== undefined && this.deps.now().getTime() - Date.parse(record.heartbeatAt) < MISSED_HEARTBEATS * this.heartbeatMs;
  }

  /** The instance holding the agent's newest session, if it is alive. */
  private holder(agentId: string): string | undefined {
    const held = this.presence.get(agentId)?.record.instanceId;
    return held !== undefined && this.alive(held) ? held : undefined;
  }

  delivers(agentId: string): boolean {
    const holder = this.holder(agentId);
    return holder === undefined || holder === this.instanceId;
  }

  remote(agentId: string): { since: string } | undefined {
    const holder = this.holder(agentId);
    if (holder === undefined || holder === this.instanceId) return undefined;
    return { since: this.presence.get(agentId)!.record.since };
  }

  receiving(agentId: string, session: { id: string; since: string } | undefined): void {
    if (this.stopped) return;
    const previous = this.claiming.get(agentId) ?? Promise.resolve();
    const next = previous
      .then(() => (session ? this.claim(agentId, session) : this.release(agentId)))
      .catch((error: unknown) => this.deps.log.warn({ err: error, agentId }, 'cluster: could not update the agent’s presence record'));
    const tracked = next.finally(() => {
      if (this.claiming.get(agentId) === tracked) this.claiming.delete(agentId);
    });
    this.claiming.set(agentId, tracked);
  }

  /** Writes that this instance holds the agent's newest session (the newest claim in the log wins). */
  private async claim(agentId: string, session: { id: string; since: string }): Promise<void> {
    const bucket = this.deps.store.bucket(PRESENCE_BUCKET);
    const record: PresenceRecord = { agentId, instanceId: this.instanceId, sessionId: session.id, since: session.since };
    // A claim replaces whatever is there: the newest connection is the agent's. A conflict means
    // another write came between our read and our write: read again (bounded; the log moves on).
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await bucket.getEntry(agentId).catch(() => undefined);
      try {
        const revision = await bucket.compareAndSet(agentId, JSON.stringify(record), current?.revision ?? 0);
        this.presence.set(agentId, { record, revision });
        this.deps.presenceChanged(agentId);
        this.deps.deliveryGained(agentId);
        return;
      } catch (error) {
        if (!isConflict(error)) {
          // The store is unreachable: the heartbeat tick claims again once it is back.
          this.deps.log.warn({ err: error, agentId }, 'cluster: could not record that this instance holds the agent');
          return;
        }
      }
    }
  }

  /** Deletes the agent's presence record if it is still this instance's (another may have taken it since). */
  private async release(agentId: string): Promise<void> {
    const held = this.presence.get(agentId);
    if (held?.record.instanceId !== this.instanceId) return;
    try {
      await this.deps.store.bucket(PRESENCE_BUCKET).compareAndSet(agentId, undefined, held.revision);
      if (this.presence.get(agentId) === held) this.presence.delete(agentId);
    } catch (error) {
      if (!isConflict(error)) this.deps.log.warn({ err: error, agentId }, 'cluster: could not release the agent; it goes stale with the heartbeat');
    }
    this.deps.presenceChanged(agentId);
  }

  async lead(): Promise<boolean> {
    if (this.stopped) return (this.leadingNow = false);
    const nowMs = this.deps.now().getTime();
    const held = this.lease?.record;
    const heldByOther = held !== undefined && held.instanceId !== this.instanceId && Date.parse(held.until) > nowMs;
    if (heldByOther) return (this.leadingNow = false);
    // Ours with more than two heartbeats left: no write needed.
    if (held?.instanceId === this.instanceId && Date.parse(held.until) - nowMs > (MISSED_HEARTBEATS - 1) * this.heartbeatMs) return (this.leadingNow = true);
    const record: LeaseRecord = { instanceId: this.instanceId, until: new Date(nowMs + MISSED_HEARTBEATS * this.heartbeatMs).toISOString() };
    try {
      const revision = await this.deps.store.bucket(LEASES_BUCKET).compareAndSet(MAINTENANCE_LEASE, JSON.stringify(record), this.lease?.revision ?? 0);
      this.lease = { record, revision };
      if (!this.leadingNow) this.deps.log.info({ instanceId: this.instanceId }, 'cluster: this instance now runs the sweeps');
      return (this.leadingNow = true);
    } catch (error) {
      // Lost to another instance (its record reaches us through the feed), or the store is away.
      if (!isConflict(error)) this.deps.log.warn({ err: error }, 'cluster: could not renew the sweep lease');
      return (this.leadingNow = false);
    }
  }

  apply(change: StoreChange): boolean {
    const record: unknown = change.value === undefined ? undefined : JSON.parse(change.value);
    switch (change.bucket) {
      case INSTANCES_BUCKET: {
        if (record === undefined) this.instances.delete(change.key);
        else this.instances.set(change.key, record as InstanceRecord);
        // Its agents' presence may have ended (a clean stop deletes them too; this covers order).
        for (const [agentId, { record: held }] of this.presence) if (held.instanceId === change.key) this.presenceMoved(agentId);
        return true;
      }
      case PRESENCE_BUCKET: {
        if (record === undefined) this.presence.delete(change.key);
        else this.presence.set(change.key, { record: record as PresenceRecord, revision: change.revision });
        this.presenceMoved(change.key);
        return true;
      }
      case LEASES_BUCKET: {
        if (change.key !== MAINTENANCE_LEASE) return true;
        this.lease = record === undefined ? undefined : { record: record as LeaseRecord, revision: change.revision };
        if (this.lease?.record.instanceId !== this.instanceId) this.leadingNow = false;
        return true;
      }
      default:
        return false;
    }
  }

  /** The agent's presence record changed elsewhere: tell presence, and take the agent over if it is connected here and nobody live holds it. */
  private presenceMoved(agentId: string): void {
    this.deps.presenceChanged(agentId);
    const local = this.deps.localReceiver(agentId);
    if (local && this.holder(agentId) === undefined) this.receiving(agentId, local);
  }

  /** Heartbeat; agents held by instances that went silent are taken over (connected here) or cleared (by the leader). */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.heartbeat();
    for (const agentId of this.deps.localAgents()) {
      const local = this.deps.localReceiver(agentId);
      const held = this.presence.get(agentId)?.record;
      const lost = held === undefined || (held.instanceId !== this.instanceId && !this.alive(held.instanceId));
      if (local && lost) this.receiving(agentId, local);
    }
    if (!this.leadingNow) return;
    for (const [agentId, { record, revision }] of [...this.presence]) {
      if (this.alive(record.instanceId)) continue;
      try {
        await this.deps.store.bucket(PRESENCE_BUCKET).compareAndSet(agentId, undefined, revision);
        this.presence.delete(agentId);
        this.deps.presenceChanged(agentId);
      } catch (error) {
        if (!isConflict(error)) this.deps.log.warn({ err: error, agentId }, 'cluster: could not clear the presence of a gone instance');
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const record: InstanceRecord = { instanceId: this.instanceId, startedAt: this.startedAt, heartbeatAt: this.deps.now().toISOString() };
    try {
      await this.deps.store.batch([{ type: 'put', bucket: INSTANCES_BUCKET, key: this.instanceId, value: JSON.stringify(record) }]);
      this.instances.set(this.instanceId, record);
    } catch (error) {
      this.deps.log.warn({ err: error }, 'cluster: could not write the heartbeat');
    }
  }
}
