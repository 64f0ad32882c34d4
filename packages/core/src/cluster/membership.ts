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

/**
 * An agent's presence in the cluster. Leaving writes a record without `instanceId` rather than
 * deleting it: the change has a revision (its announcement's id) and keeps `lastSeen` for all.
 */
interface PresenceRecord {
  agentId: string;
  /** The instance holding the agent's newest receiving session; absent: connected nowhere. */
  instanceId?: string;
  sessionId?: string;
  /** When the agent connected (its presence `since`). */
  since?: string;
  /** When it left (absent while connected). */
  lastSeen?: string;
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
  /** Whether presence is shared (cluster): then it is announced on its records' changes only, numbered by their revisions. */
  readonly clustered: boolean;
  /** A record of the membership buckets from another writer; false for other buckets. */
  apply(change: StoreChange): boolean;
  load(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** One hub alone on its store. */
export class SoloMembership implements Membership {
  readonly instanceId = 'solo';
  readonly clustered = false;
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
  /** The agent's presence record changed (`revision`: of that change); announce it if presence did. */
  presenceChanged: (agentId: string, revision: number) => void;
  /** This instance now delivers the agent's requests (it took over): send what waits. */
  deliveryGained: (agentId: string) => void;
  /** Agents with a receiving session here, and that session. */
  localReceiver: (agentId: string) => { id: string; since: string } | undefined;
  localAgents: () => Iterable<string>;
}

const isConflict = (error: unknown): boolean => (error as { code?: unknown } | undefined)?.code === 'conflict';

export class ClusterMembership implements Membership {
  readonly instanceId: string;
  readonly clustered = true;
  private readonly heartbeatMs: number;
  private readonly startedAt: string;
  private readonly instances = new Map<string, InstanceRecord>();
  /** Every agent's presence record, with its revision (compare-and-set deletes only what it read). */
  private readonly presence = new Map<string, { record: PresenceRecord; revision: number }>();
  private lease: { record: LeaseRecord; revision: number } | undefined;
  private leadingNow = false;
  /** The revision of this instance's first heartbeat: it hears every change after it (the core follows the feed from before load). */
  joinedRevision = 0;
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
    const release = async (bucket: string, key: string, value: string | undefined, revision: number) =>
      store.bucket(bucket).compareAndSet(key, value, revision);
    const left = (agentId: string) => JSON.stringify({ agentId, lastSeen: this.deps.now().toISOString() } satisfies PresenceRecord);
    const releases = mine.map(([agentId, { revision }]) => release(PRESENCE_BUCKET, agentId, left(agentId), revision));
    if (this.lease?.record.instanceId === this.instanceId) releases.push(release(LEASES_BUCKET, MAINTENANCE_LEASE, undefined, this.lease.revision));
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
    // A record naming no instance: connected nowhere.
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
    return { since: this.presence.get(agentId)!.record.since ?? this.deps.now().toISOString() };
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
        this.deps.presenceChanged(agentId, revision);
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

  /** Records that the agent left, if this instance still holds it (another may have taken it since). */
  private async release(agentId: string): Promise<void> {
    const held = this.presence.get(agentId);
    if (held?.record.instanceId !== this.instanceId) return;
    await this.clear(agentId, held.revision, 'could not record that the agent left; it goes stale with the heartbeat');
  }

  /** Writes "connected nowhere" over the record read at `expected` (compare-and-set: a newer claim stays). */
  private async clear(agentId: string, expected: number, failure: string): Promise<void> {
    const record: PresenceRecord = { agentId, lastSeen: this.deps.now().toISOString() };
    try {
      const revision = await this.deps.store.bucket(PRESENCE_BUCKET).compareAndSet(agentId, JSON.stringify(record), expected);
      this.presence.set(agentId, { record, revision });
      this.deps.presenceChanged(agentId, revision);
    } catch (error) {
      if (!isConflict(error)) this.deps.log.warn({ err: error, agentId }, `cluster: ${failure}`);
    }
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
        for (const [agentId, { record: held }] of this.presence) if (held.instanceId === change.key) this.takeOverIfConnected(agentId);
        return true;
      }
      case PRESENCE_BUCKET: {
        if (record === undefined) this.presence.delete(change.key);
        else this.presence.set(change.key, { record: record as PresenceRecord, revision: change.revision });
        this.deps.presenceChanged(change.key, change.revision);
        this.takeOverIfConnected(change.key);
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

  /** Takes the agent over if it is connected here and nobody live holds it. */
  private takeOverIfConnected(agentId: string): void {
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
      const lost = held?.instanceId === undefined || (held.instanceId !== this.instanceId && !this.alive(held.instanceId));
      if (local && lost) this.receiving(agentId, local);
    }
    if (!this.leadingNow) return;
    // The leader records that the agents of gone instances left (announced everywhere with that
    // record's revision), and forgets the gone instances' heartbeats.
    for (const [agentId, { record, revision }] of [...this.presence]) {
      if (record.instanceId === undefined || this.alive(record.instanceId)) continue;
      await this.clear(agentId, revision, 'could not record that the agent of a gone instance left');
    }
    for (const instanceId of [...this.instances.keys()]) {
      if (this.alive(instanceId)) continue;
      try {
        await this.deps.store.batch([{ type: 'del', bucket: INSTANCES_BUCKET, key: instanceId }]);
        this.instances.delete(instanceId);
      } catch (error) {
        this.deps.log.warn({ err: error, instanceId }, 'cluster: could not forget a gone instance');
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const record: InstanceRecord = { instanceId: this.instanceId, startedAt: this.startedAt, heartbeatAt: this.deps.now().toISOString() };
    try {
      const [revision] = await this.deps.store.batch([{ type: 'put', bucket: INSTANCES_BUCKET, key: this.instanceId, value: JSON.stringify(record) }]);
      this.instances.set(this.instanceId, record);
      if (this.joinedRevision === 0) this.joinedRevision = revision;
    } catch (error) {
      this.deps.log.warn({ err: error }, 'cluster: could not write the heartbeat');
    }
  }
}
