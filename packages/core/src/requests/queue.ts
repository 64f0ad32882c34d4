// The request queue's records: actions and property writes on their way to agents, in memory,
// indexed by agent (open ones, in enqueue order) and by Thing, with ended ones retained for a time
// and up to a count. Records are the source of truth in the `actions` bucket (its v1 name, kept
// so existing data folders load); a pending write's desired value is derived from its record.

import type { BucketStore } from '@twinhub/bucket';
import { TERMINAL_STATUSES, type RequestRecord, type RequestStatus } from '../model/types.js';

/** The bucket of request records, keyed by request id. Only this module and its handlers name it. */
export const REQUESTS_BUCKET = 'actions';

export function isTerminal(status: RequestStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Not yet acknowledged by the agent: still owed to it (and may still expire or be cancelled). */
export function isUnacknowledged(record: RequestRecord): boolean {
  return record.status === 'pending' || record.status === 'delivered';
}

export class RequestQueue {
  private readonly records = new Map<string, RequestRecord>();
  /** Records per Thing in enqueue (seq) order: Map keeps insertion order. */
  private readonly byThing = new Map<string, Map<string, RequestRecord>>();
  /** Open (non-terminal) records per agent, in enqueue order. */
  private readonly openByAgent = new Map<string, Map<string, RequestRecord>>();
  private readonly agentOfRequest = new Map<string, string>();
  private readonly openCountByThing = new Map<string, number>();
  /** Ended records, in the order they ended: retention prunes from the front. */
  private readonly ended = new Map<string, RequestRecord>();
  /** Enqueued but not yet durable: invisible to delivery and queries, removed if the write fails. */
  private readonly staged = new Set<string>();
  private lastSeq = 0;

  /** Loads stored records; `agentOf` names the agent owning a Thing (undefined: Thing is gone). */
  async load(store: BucketStore, agentOf: (thingId: string) => string | undefined): Promise<{ orphans: RequestRecord[] }> {
    const loaded: RequestRecord[] = [];
    for await (const [, json] of store.bucket(REQUESTS_BUCKET).entries()) loaded.push(JSON.parse(json) as RequestRecord);
    loaded.sort((a, b) => a.seq - b.seq);
    const ended = loaded.filter((r) => isTerminal(r.status)).sort((a, b) => (a.timeEnded ?? '').localeCompare(b.timeEnded ?? ''));
    const orphans: RequestRecord[] = [];
    for (const record of [...loaded.filter((r) => !isTerminal(r.status)), ...ended]) {
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

  /** Another writer used `seq`: ours continue after it. */
  noteSeq(seq: number): void {
    this.lastSeq = Math.max(this.lastSeq, seq);
  }

  /** A durable record (staged ones are not known yet). */
  get(requestId: string): RequestRecord | undefined {
    return this.staged.has(requestId) ? undefined : this.records.get(requestId);
  }

  openCount(thingId: string): number {
    return this.openCountByThing.get(thingId) ?? 0;
  }

  /** Adds a record; `staged` ones count against bounds at once but are only delivered or shown once committed. */
  add(record: RequestRecord, agentId: string, staged = false): void {
    this.records.set(record.actionId, record);
    this.agentOfRequest.set(record.actionId, agentId);
    let ofThing = this.byThing.get(record.thingId);
    if (!ofThing) this.byThing.set(record.thingId, (ofThing = new Map()));
    ofThing.set(record.actionId, record);
    if (staged) this.staged.add(record.actionId);
    if (isTerminal(record.status)) {
      this.ended.set(record.actionId, record);
      return;
    }
    let open = this.openByAgent.get(agentId);
    if (!open) this.openByAgent.set(agentId, (open = new Map()));
    open.set(record.actionId, record);
    this.openCountByThing.set(record.thingId, this.openCount(record.thingId) + 1);
  }

  /** The staged record is durable now. */
  commit(record: RequestRecord): void {
    this.staged.delete(record.actionId);
  }

  /** Applies a status change; a terminal status takes the record out of the open indexes. */
  update(record: RequestRecord, changes: Partial<RequestRecord>): RequestRecord {
    const wasOpen = !isTerminal(record.status);
    Object.assign(record, changes);
    if (wasOpen && isTerminal(record.status)) {
      this.close(record);
      this.ended.set(record.actionId, record);
    }
    return record;
  }

  /** Durable records per status (open ones and the ended ones still retained), counted on demand. */
  countByStatus(): Partial<Record<RequestStatus, number>> {
    const counts: Partial<Record<RequestStatus, number>> = {};
    for (const record of this.records.values()) {
      if (!this.staged.has(record.actionId)) counts[record.status] = (counts[record.status] ?? 0) + 1;
    }
    return counts;
  }

  /** Durable requests still owed to the agent (pending or delivered without acknowledgement), oldest first. */
  /** How many requests of the agent are open (not ended). */
  openCountOfAgent(agentId: string): number {
    return this.openByAgent.get(agentId)?.size ?? 0;
  }

  *unacknowledged(agentId: string): IterableIterator<RequestRecord> {
    for (const record of this.openByAgent.get(agentId)?.values() ?? []) {
      if (isUnacknowledged(record) && !this.staged.has(record.actionId)) yield record;
    }
  }

  /** A page of a Thing's durable records (open and recently ended), oldest first, and how many there are. */
  forThing(thingId: string, offset: number, limit: number): { records: RequestRecord[]; total: number } {
    const records: RequestRecord[] = [];
    let total = 0;
    for (const record of this.byThing.get(thingId)?.values() ?? []) {
      if (this.staged.has(record.actionId)) continue;
      if (total >= offset && records.length < limit) records.push(record);
      total++;
    }
    return { records, total };
  }

  /** Unacknowledged requests whose time to live has passed, at most `max` of them. */
  due(nowMs: number, max: number): RequestRecord[] {
    const due: RequestRecord[] = [];
    for (const open of this.openByAgent.values()) {
      for (const record of open.values()) {
        if (due.length >= max) return due;
        if (isUnacknowledged(record) && !this.staged.has(record.actionId) && Date.parse(record.expiresAt) <= nowMs) due.push(record);
      }
    }
    return due;
  }

  /**
   * Forgets ended records that ended before `olderThanMs`, and the oldest ended ones beyond
   * `maxEnded`; returns their ids for deletion from storage.
   */
  prune(olderThanMs: number, maxEnded: number): string[] {
    const removed: string[] = [];
    let excess = this.ended.size - maxEnded;
    for (const record of this.ended.values()) {
      const old = record.timeEnded !== undefined && Date.parse(record.timeEnded) < olderThanMs;
      if (!old && excess <= 0) break;
      removed.push(record.actionId);
      excess--;
    }
    for (const requestId of removed) this.forget(requestId);
    return removed;
  }

  /** Forgets every record of a Thing and returns them (the caller ends the open ones). */
  removeThing(thingId: string): RequestRecord[] {
    const records = [...(this.byThing.get(thingId)?.values() ?? [])];
    for (const record of records) this.forget(record.actionId);
    return records;
  }

  /** Forgets one record (a staged one whose write failed, or a pruned one). */
  forget(requestId: string): void {
    const record = this.records.get(requestId);
    if (!record) return;
    if (!isTerminal(record.status)) this.close(record);
    this.records.delete(requestId);
    this.agentOfRequest.delete(requestId);
    this.ended.delete(requestId);
    this.staged.delete(requestId);
    const ofThing = this.byThing.get(record.thingId);
    ofThing?.delete(requestId);
    if (ofThing?.size === 0) this.byThing.delete(record.thingId);
  }

  /**
   * Undoes `update` after the store refused it: the record gets its fields back and, if it was
   * open, its place in the agent's queue (by seq: delivery order survives the undo).
   */
  restore(record: RequestRecord, before: RequestRecord): void {
    const agentId = this.agentOfRequest.get(record.actionId);
    if (agentId === undefined) return;
    const wasEnded = isTerminal(record.status);
    for (const key of Object.keys(record) as (keyof RequestRecord)[]) if (!(key in before)) delete record[key];
    Object.assign(record, before);
    if (!wasEnded || isTerminal(record.status)) return;
    this.ended.delete(record.actionId);
    this.forget(record.actionId);
    this.add(record, agentId);
    bySeq(this.openByAgent.get(agentId)!);
    bySeq(this.byThing.get(record.thingId)!);
  }

  /** Puts back records taken out by removeThing (the store refused the delete), in seq order. */
  reinsert(records: readonly RequestRecord[], agentId: string): void {
    for (const record of records) this.add(record, agentId);
    const open = this.openByAgent.get(agentId);
    if (open) bySeq(open);
    for (const thingId of new Set(records.map((r) => r.thingId))) bySeq(this.byThing.get(thingId)!);
  }

  /** Open writes of a property, oldest first: the newest one carries the desired value. */
  *openWrites(thingId: string): IterableIterator<RequestRecord> {
    for (const record of this.byThing.get(thingId)?.values() ?? []) {
      if (record.operation === 'writeproperty' && !isTerminal(record.status) && !this.staged.has(record.actionId)) yield record;
    }
  }

  private close(record: RequestRecord): void {
    const agentId = this.agentOfRequest.get(record.actionId);
    const open = agentId === undefined ? undefined : this.openByAgent.get(agentId);
    if (open?.delete(record.actionId)) {
      if (open.size === 0) this.openByAgent.delete(agentId!);
      const count = this.openCount(record.thingId) - 1;
      if (count > 0) this.openCountByThing.set(record.thingId, count);
      else this.openCountByThing.delete(record.thingId);
    }
  }
}

/** Puts a record map back in seq order (Map iteration follows insertion order). */
function bySeq(records: Map<string, RequestRecord>): void {
  const ordered = [...records.values()].sort((a, b) => a.seq - b.seq);
  records.clear();
  for (const record of ordered) records.set(record.actionId, record);
}
