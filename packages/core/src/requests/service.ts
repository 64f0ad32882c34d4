// The life of queued requests: enqueue (durable before anyone sees it), delivery to the agent's
// newest receiving session at the pace its send buffer allows, one end() for every way a request
// ends (status report, cancel, expiry, Thing deleted), the expiry and retention sweep, and waiters
// for `Prefer: wait`.

import type { Logger } from 'pino';
import type { AgentRequestMessage } from '../model/envelope.js';
import type { RequestRecord, RequestStatus } from '../model/types.js';
import type { LiveSession, NotificationRegistry } from '../notify/registry.js';
import type { SessionRegistry } from '../sessions/registry.js';
import type { PendingWrite, PersistQueue } from '../store/persist-queue.js';
import { isTerminal, isUnacknowledged, REQUESTS_BUCKET, RequestQueue } from './queue.js';

export interface RequestServiceOptions {
  log: Logger;
  now: () => Date;
  persist: PersistQueue;
  notify: NotificationRegistry;
  sessions: SessionRegistry;
  /** How long ended requests stay queryable, and how many of them at most. */
  retentionSeconds: number;
  retentionCount: number;
  /** Expiries handled per sweep step: 100k requests expiring at once must not stall the event loop. */
  expirySlice?: number;
}

/** A request record to store: distinct, so each status change has its own revision (its actionstatus id in a cluster). */
const recordWrite = (record: RequestRecord): PendingWrite => ({ bucket: REQUESTS_BUCKET, key: record.actionId, value: { ...record }, distinct: true });

/**
 * Told of each status change of a request as it applies (`from` → `to`), and of its undo when the
 * store refuses it (`to` → `from`); returns records to store in the same batch as the request's
 * (a job's counters), so the two are durable together. Requests a job queued carry its `jobId`.
 */
export type RequestStatusListener = (record: RequestRecord, from: RequestStatus, to: RequestStatus) => PendingWrite[];

export class RequestService {
  readonly queue = new RequestQueue();
  private readonly waiters = new Map<string, Set<(record: RequestRecord) => void>>();
  private sweeping: Promise<void> | undefined;
  private statusListener: RequestStatusListener = () => [];

  constructor(private readonly options: RequestServiceOptions) {}

  /** The one listener of status changes (the jobs domain). */
  onStatusChange(listener: RequestStatusListener): void {
    this.statusListener = listener;
  }

  /**
   * Queues a new request with the records that go with it; resolves once durable, then delivers
   * it. Until then it counts against the Thing's bound but is neither delivered nor shown; if the
   * store refuses the write it is gone, so a refused request never reaches the agent.
   */
  async enqueue(record: RequestRecord, agentId: string, writes: PendingWrite[] = []): Promise<void> {
    await this.enqueueBatch([{ record, agentId }], writes);
  }

  /**
   * Queues many new requests (a slice of a job) as one store batch with `writes`: all are staged
   * at once and delivered once durable; if the store refuses the batch, none of them exists.
   */
  async enqueueBatch(entries: ReadonlyArray<{ record: RequestRecord; agentId: string }>, writes: PendingWrite[] = []): Promise<void> {
    for (const { record, agentId } of entries) this.queue.add(record, agentId, true);
    try {
      await this.options.persist.write([...entries.map(({ record }) => recordWrite(record)), ...writes]);
    } catch (error) {
      for (const { record } of entries) this.queue.forget(record.actionId);
      throw error;
    }
    for (const { record, agentId } of entries) {
      this.queue.commit(record);
      // A Thing deleted meanwhile took its staged request along (cancelled): nothing to deliver.
      if (record.status === 'pending') this.deliver(record, agentId);
    }
  }

  /**
   * Ends (or advances) a request: the one path for status reports, cancel, expiry and deleted
   * Things. The change applies at once (a cancelled request is never delivered meanwhile) and is
   * undone if the store refuses it; the requester hears of it once durable.
   */
  async end(record: RequestRecord, changes: Partial<RequestRecord>): Promise<void> {
    const before = { ...record };
    this.queue.update(record, changes);
    const to = record.status;
    const writes = this.transition(record, before.status, to);
    let revision: number | undefined;
    try {
      [revision] = await this.options.persist.write([recordWrite(record), ...writes]);
    } catch (error) {
      this.queue.restore(record, before);
      this.transition(record, to, before.status);
      throw error;
    }
    this.changed(record, revision);
  }

  /**
   * Takes a deleted Thing's requests out of the queue; open ones end as cancelled (410). Returns
   * the deletions to store with the Thing's, `undo` for when the store refuses them, and
   * `announce` to tell the requesters once it is durable (with the revisions the writes got).
   */
  removeThing(thingId: string, agentId: string): { writes: PendingWrite[]; undo: () => void; announce: (revisions: readonly number[]) => void } {
    const records = this.queue.removeThing(thingId);
    const open = records.filter((r) => !isTerminal(r.status));
    const before = open.map((r) => ({ ...r }));
    const now = this.options.now().toISOString();
    for (const record of open) {
      Object.assign(record, {
        status: 'cancelled',
        timeEnded: now,
        error: { status: 410, title: 'Gone', detail: `Thing '${thingId}' was deleted before the request ended` },
      });
    }
    const listenerWrites = open.flatMap((record, i) => this.transition(record, before[i].status, 'cancelled'));
    return {
      writes: [...records.map((r) => ({ bucket: REQUESTS_BUCKET, key: r.actionId, value: undefined, distinct: true })), ...listenerWrites],
      undo: () => {
        open.forEach((record, i) => {
          delete record.timeEnded;
          delete record.error;
          Object.assign(record, before[i]);
          this.transition(record, 'cancelled', record.status);
        });
        this.queue.reinsert(records, agentId);
      },
      announce: (revisions) => {
        for (const record of open) this.changed(record, revisions[records.indexOf(record)]);
      },
    };
  }

  /**
   * A request record another writer committed (cluster mode), applied like this hub's own: a new
   * pending one is delivered if its agent's receiving session is here; a changed status is
   * announced to the requester's sessions here; a deleted one is forgotten.
   */
  applyRecord(requestId: string, stored: RequestRecord | undefined, agentOf: (thingId: string) => string | undefined, revision?: number): void {
    const known = this.queue.get(requestId);
    if (!stored) {
      this.queue.forget(requestId);
      return;
    }
    if (known) {
      if (known.status === stored.status && known.seq === stored.seq) return;
      // A request only moves forward (pending → delivered → running → ended). A record behind the
      // one applied here is older news — it reached this instance after a newer one (its own
      // write of the newer status, or another instance's): applying it would merge an old status
      // into newer fields and reopen an ended request (seen after a NATS outage: "pending" with
      // timeEnded set, never delivered again).
      if (progress(stored.status) < progress(known.status)) return;
      const from = known.status;
      this.queue.update(known, stored);
      // The job's counters follow here too; the listener's writes are the sweep leader's to store
      // (JobBook: other instances keep counters in memory and take the leader's record).
      const writes = this.transition(known, from, known.status);
      if (writes.length > 0) this.options.persist.write(writes).catch((error) => this.options.log.error({ err: error }, 'could not store job counters'));
      this.changed(known, revision);
      return;
    }
    const agentId = agentOf(stored.thingId);
    if (agentId === undefined) return;
    this.queue.add(stored, agentId);
    this.queue.noteSeq(stored.seq);
    if (stored.status === 'pending') this.deliver(stored, agentId);
  }

  /** Starts (owing it everything unacknowledged, oldest first) or stops sending the agent's requests to a session. */
  receive(session: LiveSession, enabled: boolean): void {
    this.options.sessions.setReceiving(session, enabled);
    if (!enabled) return;
    session.sentRequests.clear();
    session.backlogged = true;
    this.pump(session);
  }

  /** The session's send buffer drained: continue its backlog. */
  resume(session: LiveSession): void {
    if (session.backlogged) this.pump(session);
  }

  /** (Cluster) this instance took over delivering the agent's requests: send its session what it was not sent yet. */
  resumeAgent(agentId: string): void {
    const session = this.options.sessions.receiverOf(agentId);
    if (!session) return;
    session.backlogged = true;
    this.pump(session);
  }

  async awaitRequest(requestId: string, timeoutMs: number): Promise<RequestRecord | undefined> {
    const record = this.queue.get(requestId);
    if (!record || record.timeEnded !== undefined) return record && { ...record };
    return new Promise((resolve) => {
      const waiters = this.waiters.get(requestId) ?? new Set();
      const done = (latest: RequestRecord) => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.waiters.delete(requestId);
        resolve({ ...latest });
      };
      const timer = setTimeout(() => done(this.queue.get(requestId) ?? record), timeoutMs);
      this.waiters.set(requestId, waiters.add(done));
    });
  }

  /** Expires overdue requests in slices and forgets ended ones past their retention (age or count). */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepSlices().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Wakes every waiter with the request as it is (hub closing). */
  releaseWaiters(): void {
    for (const [requestId, waiters] of this.waiters) {
      const record = this.queue.get(requestId);
      if (record) for (const done of [...waiters]) done(record);
    }
  }

  /** Announces a request's status as it is now, to its requester's sessions and waiters; `revision`: of the record's write. */
  changed(live: RequestRecord, revision?: number): void {
    const record = { ...live };
    this.options.notify.publish(
      { operation: 'actionstatus', thingId: record.thingId, name: record.name, data: record, timestamp: this.options.now().toISOString() },
      { revision, onlyTo: this.options.sessions.ofClient(record.requestedBy), audience: (client) => client.id === record.requestedBy },
    );
    if (isTerminal(record.status)) for (const done of [...(this.waiters.get(record.actionId) ?? [])]) done(record);
  }

  /** Tells the status listener of a change (none when the status stayed). */
  private transition(record: RequestRecord, from: RequestStatus, to: RequestStatus): PendingWrite[] {
    return from === to ? [] : this.statusListener(record, from, to);
  }

  private deliver(record: RequestRecord, agentId: string): void {
    const session = this.options.sessions.receiverOf(agentId);
    // Behind a backlog still draining, a new request waits its turn: delivery stays in order.
    if (!session || session.backlogged) return;
    if (!session.ready()) {
      session.backlogged = true;
      return;
    }
    this.send(session, record);
  }

  /** Pushes the agent's unacknowledged requests not sent to the session yet, oldest first, while the session is ready. */
  private pump(session: LiveSession): void {
    // Not (or no longer) the session that gets them: a newer one here, or (cluster) on another instance.
    if (this.options.sessions.receiverOf(session.client.id) !== session) return;
    for (const record of this.queue.unacknowledged(session.client.id)) {
      if (session.sentRequests.has(record.actionId)) continue;
      if (!session.ready()) return; // resume() continues with what is not sent yet
      this.send(session, record);
    }
    session.backlogged = false;
  }

  private send(session: LiveSession, record: RequestRecord): void {
    if (Date.parse(record.expiresAt) <= this.options.now().getTime()) {
      this.expire([record]).catch((error) => this.options.log.error({ err: error, requestId: record.actionId }, 'failed to store an expiry'));
      return;
    }
    const message: AgentRequestMessage = {
      type: 'request',
      operation: record.operation,
      thingId: record.thingId,
      name: record.name,
      ...(record.input !== undefined ? { input: record.input } : {}),
      actionId: record.actionId,
      correlationId: record.actionId,
      expiresAt: record.expiresAt,
    };
    session.send(message);
    this.noteSent(session, record.actionId);
    if (record.status !== 'pending') return;
    // Sent is sent: the record says so at once. If storing that fails, the stored record still
    // says pending and the request is delivered again after a restart (at least once).
    this.queue.update(record, { status: 'delivered', timeDelivered: this.options.now().toISOString() });
    const writes = this.transition(record, 'pending', 'delivered');
    // The agent may answer before this write is durable: announce the status as of now.
    const delivered = { ...record };
    this.options.persist.write([recordWrite(record), ...writes]).then(
      ([revision]) => this.changed(delivered, revision),
      (error) => this.options.log.error({ err: error, requestId: record.actionId }, 'failed to store a delivery'),
    );
  }

  /** Remembers a request sent to the session; forgets those acknowledged since, once they outnumber the open ones. */
  private noteSent(session: LiveSession, actionId: string): void {
    const sent = session.sentRequests;
    sent.add(actionId);
    if (sent.size < 64 || sent.size < 2 * this.queue.openCountOfAgent(session.client.id)) return;
    for (const id of sent) {
      const record = this.queue.get(id);
      if (!record || !isUnacknowledged(record)) sent.delete(id);
    }
  }

  private async expire(records: RequestRecord[]): Promise<void> {
    const now = this.options.now().toISOString();
    await Promise.all(
      records.filter(isUnacknowledged).map((record) =>
        this.end(record, {
          status: 'expired',
          timeEnded: now,
          error: { status: 504, title: 'Expired', detail: `the agent did not take the request before it expired at ${record.expiresAt}` },
        }),
      ),
    );
  }

  private async sweepSlices(): Promise<void> {
    const slice = this.options.expirySlice ?? 1000;
    try {
      for (;;) {
        const due = this.queue.due(this.options.now().getTime(), slice);
        if (due.length === 0) break;
        await this.expire(due);
        this.options.log.debug({ count: due.length }, 'requests expired');
        if (due.length < slice) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const olderThan = this.options.now().getTime() - this.options.retentionSeconds * 1000;
      const pruned = this.queue.prune(olderThan, this.options.retentionCount);
      if (pruned.length > 0) await this.options.persist.write(pruned.map((key) => ({ bucket: REQUESTS_BUCKET, key, value: undefined })));
    } catch (error) {
      this.options.log.error({ err: error }, 'request expiry sweep failed');
    }
  }
}

/** How far a request got: its statuses in lifecycle order, the ended ones last (all equal). */
function progress(status: RequestStatus): number {
  if (isTerminal(status)) return 3;
  return status === 'running' ? 2 : status === 'delivered' ? 1 : 0;
}
