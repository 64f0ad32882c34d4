// The durable request queue: actions and property writes on their way to agents. Records live in
// memory, indexed by agent in enqueue order, and in the `actions` bucket; the hub persists every
// transition before acknowledging it. Delivery is at-least-once until the agent acknowledges a
// request (any status report): unacknowledged requests are sent again when the agent reconnects.

import type { BucketStore } from '@twinhub/bucket';
import { TERMINAL_STATUSES, type ActionRecord, type ActionStatus } from '../model/types.js';

export const ACTIONS_BUCKET = 'actions';

export function isTerminal(status: ActionStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Not yet acknowledged by the agent: still owed to it (and may still expire or be cancelled). */
export function isUnacknowledged(record: ActionRecord): boolean {
  return record.status === 'pending' || record.status === 'delivered';
}

export class ActionQueue {
  private readonly records = new Map<string, ActionRecord>();
  /** Open (non-terminal) records per agent, in enqueue (seq) order: Map keeps insertion order. */
  private readonly openByAgent = new Map<string, Map<string, ActionRecord>>();
  private readonly agentOfAction = new Map<string, string>();
  private readonly openCountByThing = new Map<string, number>();
  private lastSeq = 0;

  /** Loads stored records; `agentOf` names the agent owning a Thing (undefined: Thing is gone). */
  async load(store: BucketStore, agentOf: (thingId: string) => string | undefined): Promise<{ orphans: ActionRecord[] }> {
    const loaded: ActionRecord[] = [];
    for await (const [, json] of store.bucket(ACTIONS_BUCKET).entries()) loaded.push(JSON.parse(json) as ActionRecord);
    loaded.sort((a, b) => a.seq - b.seq);
    const orphans: ActionRecord[] = [];
    for (const record of loaded) {
      this.lastSeq = Math.max(this.lastSeq, record.seq);
      const agentId = agentOf(record.thingId);
      if (agentId === undefined) orphans.push(record);
      else this.add(record, agentId);
    }
    return { orphans };
  }

  nextSeq(): number {
    return ++this.lastSeq;
  }

  get(actionId: string): ActionRecord | undefined {
    return this.records.get(actionId);
  }

  openCount(thingId: string): number {
    return this.openCountByThing.get(thingId) ?? 0;
  }

  add(record: ActionRecord, agentId: string): void {
    this.records.set(record.actionId, record);
    this.agentOfAction.set(record.actionId, agentId);
    if (isTerminal(record.status)) return;
    let open = this.openByAgent.get(agentId);
    if (!open) this.openByAgent.set(agentId, (open = new Map()));
    open.set(record.actionId, record);
    this.openCountByThing.set(record.thingId, this.openCount(record.thingId) + 1);
  }

  /** Applies a status change; a terminal status takes the record out of the open indexes. */
  update(record: ActionRecord, changes: Partial<ActionRecord>): ActionRecord {
    const wasOpen = !isTerminal(record.status);
    Object.assign(record, changes);
    if (wasOpen && isTerminal(record.status)) this.close(record);
    return record;
  }

  /** Requests still owed to the agent (pending or delivered without acknowledgement), oldest first. */
  undelivered(agentId: string): ActionRecord[] {
    const open = this.openByAgent.get(agentId);
    return open ? [...open.values()].filter(isUnacknowledged) : [];
  }

  /** Every record of a Thing (open and recently ended), oldest first. */
  forThing(thingId: string): ActionRecord[] {
    return [...this.records.values()].filter((r) => r.thingId === thingId).sort((a, b) => a.seq - b.seq);
  }

  /** Unacknowledged requests whose time to live has passed. */
  due(nowMs: number): ActionRecord[] {
    const due: ActionRecord[] = [];
    for (const open of this.openByAgent.values()) {
      for (const record of open.values()) {
        if (isUnacknowledged(record) && Date.parse(record.expiresAt) <= nowMs) due.push(record);
      }
    }
    return due;
  }

  /** Ended records older than the retention; removed from memory, ids returned for deletion from storage. */
  prune(olderThanMs: number): string[] {
    const removed: string[] = [];
    for (const record of this.records.values()) {
      if (isTerminal(record.status) && record.timeEnded !== undefined && Date.parse(record.timeEnded) < olderThanMs) {
        removed.push(record.actionId);
      }
    }
    for (const actionId of removed) this.forget(actionId);
    return removed;
  }

  /** Forgets every record of a Thing; returns them (open ones first need cancelling by the caller). */
  removeThing(thingId: string): ActionRecord[] {
    const records = this.forThing(thingId);
    for (const record of records) this.forget(record.actionId);
    return records;
  }

  private forget(actionId: string): void {
    const record = this.records.get(actionId);
    if (!record) return;
    if (!isTerminal(record.status)) this.close(record);
    this.records.delete(actionId);
    this.agentOfAction.delete(actionId);
  }

  private close(record: ActionRecord): void {
    const agentId = this.agentOfAction.get(record.actionId);
    const open = agentId === undefined ? undefined : this.openByAgent.get(agentId);
    if (open?.delete(record.actionId)) {
      if (open.size === 0) this.openByAgent.delete(agentId!);
      const count = this.openCount(record.thingId) - 1;
      if (count > 0) this.openCountByThing.set(record.thingId, count);
      else this.openCountByThing.delete(record.thingId);
    }
  }
}
