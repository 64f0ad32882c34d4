// ConsumerClient: the app side. Directory and property reads, queued writes and invocations with a
// handle that follows the request's status, observations, event subscriptions and directory
// notifications — re-established after a reconnect, with duplicates (by seq) dropped and the
// observed values re-read so a change made while offline is not missed.

import { TwinhubError } from './errors.js';
import { HubSession, type ConnectionState, type SessionOptions } from './session.js';
import type { Transport } from './transport.js';
import type {
  AgentNotificationMessage,
  HubRequest,
  InboundMessage,
  NotificationMessage,
  RequestRecord,
  ThingDescription,
  ThingNotificationMessage,
  TwinQuery,
} from './wire.js';

export type ConsumerOptions = SessionOptions;

/** A page of a listing (`thingsPage`). */
export interface ThingsPage {
  things: ThingDescription[];
  total?: number;
  next?: string;
  partial?: boolean;
}

/** What a history read asks (docs/history.md): a time range, paging, and optional aggregation. */
export interface HistoryQuery {
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
  order?: 'newest' | 'oldest';
  every?: string;
  agg?: string | string[];
}

/** One page of history: samples, or buckets when aggregated. */
export interface HistoryPage {
  samples?: { time: string; value?: unknown; data?: unknown; since?: string }[];
  every?: string;
  agg?: string[];
  buckets?: Record<string, unknown>[];
  scanned?: number;
  truncated?: boolean;
  next?: string;
}

export type ValueListener = (value: unknown, notification: ThingNotificationMessage | undefined) => void;
export type DirectoryListener = (notification: ThingNotificationMessage | AgentNotificationMessage) => void;

export interface Subscription {
  /** Stops this listener; the hub subscription ends with the last listener. */
  unsubscribe(): Promise<void>;
}

/** A queued write or invocation: its latest record, its status changes, and its outcome. */
export interface ActionHandle {
  readonly actionId: string;
  readonly thingId: string;
  readonly name: string;
  /** The latest record the client saw (from the response, actionstatus notifications or queries). */
  readonly record: RequestRecord;
  /** Called with every newer record (status, progress, output); returns a function that removes it. */
  onStatus(listener: (record: RequestRecord) => void): () => void;
  /** The output once completed; rejects with a TwinhubError when it failed (502), expired (504) or was cancelled (409). */
  result(timeoutMs?: number): Promise<unknown>;
  /** Cancels it while still pending (409 once delivered). */
  cancel(): Promise<RequestRecord>;
  /** Asks the hub for the current record (queryaction). */
  refresh(): Promise<RequestRecord>;
}

export interface WriteOptions {
  /** Seconds the request may wait for the agent. */
  ttl?: number;
  /** Optimistic locking on the state version (412 when it moved on). */
  ifVersion?: number;
}

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
const RANK: Record<string, number> = { pending: 0, delivered: 1, running: 2, completed: 3, failed: 3, expired: 3, cancelled: 3 };

/** One hub-side subscription and its local listeners. */
interface Entry {
  request: HubRequest;
  kind: 'property' | 'event' | 'directory';
  thingId?: string;
  name?: string;
  listeners: Set<ValueListener | DirectoryListener>;
  /** Last delivered value (properties): compared after a reconnect's re-read. */
  last?: { value: unknown };
}

class Handle implements ActionHandle {
  readonly #listeners = new Set<(record: RequestRecord) => void>();
  readonly #settled: Array<() => void> = [];
  #record: RequestRecord;

  constructor(
    record: RequestRecord,
    private readonly consumer: ConsumerClient,
  ) {
    this.#record = record;
  }

  get actionId() {
    return this.#record.actionId;
  }
  get thingId() {
    return this.#record.thingId;
  }
  get name() {
    return this.#record.name;
  }
  get record() {
    return this.#record;
  }
  get ended() {
    return TERMINAL.has(this.#record.status);
  }

  update(record: RequestRecord): void {
    if ((RANK[record.status] ?? 0) < (RANK[this.#record.status] ?? 0) || this.ended) return;
    this.#record = record;
    for (const listener of this.#listeners) listener(record);
    if (this.ended) for (const settle of this.#settled.splice(0)) settle();
  }

  onStatus(listener: (record: RequestRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  result(timeoutMs = 60_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        const record = this.#record;
        if (record.status === 'completed') resolve(record.output);
        else {
          const fallback = {
            status: record.status === 'cancelled' ? 409 : record.status === 'expired' ? 504 : 502,
            title: `Request ${record.status}`,
            detail: `${record.operation} ${record.name} ${record.status}`,
          };
          reject(new TwinhubError(record.error ?? fallback, record.operation));
        }
      };
      const timer = setTimeout(() => {
        const index = this.#settled.indexOf(settle);
        if (index >= 0) this.#settled.splice(index, 1);
        reject(
          TwinhubError.local(
            504,
            'Timeout',
            `request ${this.actionId} did not end within ${timeoutMs} ms (it is ${this.#record.status})`,
            this.#record.operation,
          ),
        );
      }, timeoutMs);
      if (this.ended) settle();
      else this.#settled.push(settle);
    });
  }

  async cancel(): Promise<RequestRecord> {
    const record = await this.consumer.cancel(this.thingId, this.actionId);
    this.update(record);
    return record;
  }

  async refresh(): Promise<RequestRecord> {
    const record = await this.consumer.queryAction(this.thingId, this.actionId);
    this.update(record);
    return this.#record;
  }
}

/** Seqs remembered to drop repeats (a replay is at most the hub's buffer, 10 000). */
const SEEN_SEQS = 16_384;

export class ConsumerClient {
  readonly #session: HubSession;
  readonly #entries = new Map<string, Entry>();
  readonly #handles = new Map<string, Handle>();
  /** actionstatus records that arrived before the response that names their request. */
  readonly #early = new Map<string, RequestRecord>();
  #lastSeq = 0;
  /**
   * Seqs received above `#seenFloor`: replays of several subscriptions interleave with live
   * notifications after a reconnect, so a repeat is a seq seen before, not one below the newest.
   */
  readonly #seen = new Set<number>();
  #seenFloor = 0;

  private constructor(transport: Transport, options: ConsumerOptions) {
    this.#session = new HubSession(transport, { message: (message) => this.#onMessage(message), setup: (first) => this.#setup(first) }, options);
  }

  static async connect(transport: Transport, options: ConsumerOptions = {}): Promise<ConsumerClient> {
    const consumer = new ConsumerClient(transport, options);
    await consumer.#session.start();
    return consumer;
  }

  get state(): ConnectionState {
    return this.#session.state;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    return this.#session.onState(listener);
  }

  /** The seq of the newest notification received (the resume point). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get reconnects(): number {
    return this.#session.reconnects;
  }

  /** Twin TDs matching the query (listTDs). */
  async things(query: TwinQuery = {}): Promise<ThingDescription[]> {
    return (await this.#output({ operation: 'listTDs', query })) as ThingDescription[];
  }

  /**
   * One page of twin TDs with what paging needs: `total` (absent when a query's scan limit cut
   * the page short), the `next` cursor, and `partial` when it was cut short (docs/queries.md).
   */
  async thingsPage(query: TwinQuery = {}): Promise<ThingsPage> {
    const response = await this.#session.request({ operation: 'listTDs', query });
    const page = response.page as { next?: string; partial?: unknown } | undefined;
    return {
      things: (response.output ?? []) as ThingDescription[],
      ...(response.total !== undefined ? { total: response.total } : {}),
      ...(page?.next !== undefined ? { next: page.next } : {}),
      ...(page?.partial !== undefined ? { partial: true } : {}),
    };
  }

  /** One twin TD (retrieveTD). */
  async td(thingId: string): Promise<ThingDescription> {
    return (await this.#output({ operation: 'retrieveTD', thingId })) as ThingDescription;
  }

  /** The twin document: reported and desired values, delta, versions (readtwin). */
  async twin(thingId: string): Promise<Record<string, unknown>> {
    return (await this.#output({ operation: 'readtwin', thingId })) as Record<string, unknown>;
  }

  async read(thingId: string, property: string): Promise<unknown> {
    return this.#output({ operation: 'readproperty', thingId, name: property });
  }

  async readAll(thingId: string): Promise<Record<string, unknown>> {
    return (await this.#output({ operation: 'readallproperties', thingId })) as Record<string, unknown>;
  }

  async readMany(thingId: string, properties: string[]): Promise<Record<string, unknown>> {
    return (await this.#output({ operation: 'readmultipleproperties', thingId, names: properties })) as Record<string, unknown>;
  }

  /** Queues a write for the agent (202); the handle follows it to completion. */
  async write(thingId: string, property: string, value: unknown, options: WriteOptions = {}): Promise<ActionHandle> {
    const record = (await this.#output({ operation: 'writeproperty', thingId, name: property, input: value, ...options })) as RequestRecord;
    return this.#handle(record);
  }

  /** Queues an invocation (201); `await (await invoke(...)).result()` gives the output. */
  async invoke(thingId: string, action: string, input?: unknown, options: { ttl?: number } = {}): Promise<ActionHandle> {
    const record = (await this.#output({
      operation: 'invokeaction',
      thingId,
      name: action,
      ...(input === undefined ? {} : { input }),
      ...options,
    })) as RequestRecord;
    return this.#handle(record);
  }

  async queryAction(thingId: string, actionId: string): Promise<RequestRecord> {
    return (await this.#output({ operation: 'queryaction', thingId, actionId })) as RequestRecord;
  }

  async queryAllActions(thingId: string): Promise<RequestRecord[]> {
    return (await this.#output({ operation: 'queryallactions', thingId })) as RequestRecord[];
  }

  async cancel(thingId: string, actionId: string): Promise<RequestRecord> {
    return (await this.#output({ operation: 'cancelaction', thingId, actionId })) as RequestRecord;
  }

  /** Calls `listener` with each new value of an observable property. */
  observe(thingId: string, property: string, listener: ValueListener): Promise<Subscription> {
    return this.#subscribe(
      `p\u0000${thingId}\u0000${property}`,
      { operation: 'observeproperty', thingId, name: property },
      { kind: 'property', thingId, name: property },
      listener,
    );
  }

  /** Calls `listener` with each occurrence of an event. */
  subscribe(thingId: string, event: string, listener: ValueListener): Promise<Subscription> {
    return this.#subscribe(
      `e\u0000${thingId}\u0000${event}`,
      { operation: 'subscribeevent', thingId, name: event },
      { kind: 'event', thingId, name: event },
      listener,
    );
  }

  /** TD lifecycle (thing_created / thing_updated / thing_deleted) and agent presence notifications. */
  onDirectory(listener: DirectoryListener): Promise<Subscription> {
    return this.#subscribe('d', { operation: 'subscribedirectory' }, { kind: 'directory' }, listener);
  }

  /**
   * Recorded values of a property (or, with `event: true`, occurrences of an event): a page of
   * `{ samples, next? }`, or with `every`/`agg` of `{ buckets, next?, truncated? }` (docs/history.md).
   * Pass the answer's `next` as `cursor` for the following page.
   */
  async history(thingId: string, name: string, query: HistoryQuery = {}, options: { event?: boolean } = {}): Promise<HistoryPage> {
    const operation = options.event ? 'readeventhistory' : 'readpropertyhistory';
    return (await this.#output({ operation, thingId, name, query })) as HistoryPage;
  }

  /** Any operation, as the response's output (throws a TwinhubError on refusal). */
  async request(request: HubRequest): Promise<unknown> {
    return this.#output(request);
  }

  async close(): Promise<void> {
    await this.#session.close();
  }

  async #output(request: HubRequest): Promise<unknown> {
    return (await this.#session.request(request)).output;
  }

  #handle(record: RequestRecord): ActionHandle {
    let handle = this.#handles.get(record.actionId);
    if (!handle) {
      handle = new Handle(record, this);
      this.#handles.set(record.actionId, handle);
    } else handle.update(record);
    const early = this.#early.get(record.actionId);
    if (early) {
      this.#early.delete(record.actionId);
      handle.update(early);
    }
    return handle;
  }

  async #subscribe(
    id: string,
    request: HubRequest,
    shape: Pick<Entry, 'kind' | 'thingId' | 'name'>,
    listener: ValueListener | DirectoryListener,
  ): Promise<Subscription> {
    let entry = this.#entries.get(id);
    if (!entry) {
      await this.#session.request(request);
      entry = this.#entries.get(id) ?? { request, ...shape, listeners: new Set() };
      this.#entries.set(id, entry);
    }
    entry.listeners.add(listener);
    const owner = entry;
    return {
      unsubscribe: async () => {
        owner.listeners.delete(listener);
        if (owner.listeners.size > 0 || this.#entries.get(id) !== owner) return;
        this.#entries.delete(id);
        const stop = { observeproperty: 'unobserveproperty', subscribeevent: 'unsubscribeevent', subscribedirectory: 'unsubscribedirectory' } as const;
        const operation = stop[owner.request.operation as keyof typeof stop];
        if (this.#session.state === 'connected') await this.#session.request({ ...owner.request, operation });
      },
    };
  }

  async #setup(first: boolean): Promise<void> {
    if (first) return;
    // A new hub session has no subscriptions: make them again from the last seq received, so the
    // hub replays what each missed (or says it cannot: the re-reads below then catch up values).
    const since = this.#lastSeq;
    for (const entry of this.#entries.values()) {
      try {
        const response = await this.#session.request(since > 0 ? { ...entry.request, since } : entry.request, { duringSetup: true });
        if ((response.output as { reset?: boolean } | undefined)?.reset) {
          this.#session.warn(`the hub could not replay what ${entry.request.operation} ${entry.thingId ?? ''} ${entry.name ?? ''} missed since seq ${since}`);
        }
      } catch (error) {
        if (!(error instanceof TwinhubError) || error.status === 503 || error.status === 504) throw error;
        this.#session.warn(`could not resubscribe (${entry.request.operation} ${entry.thingId ?? ''} ${entry.name ?? ''}): ${error.message}`);
      }
    }
    for (const entry of this.#entries.values()) {
      if (entry.kind !== 'property' || entry.thingId === undefined || entry.name === undefined) continue;
      try {
        const response = await this.#session.request({ operation: 'readproperty', thingId: entry.thingId, name: entry.name }, { duringSetup: true });
        if (entry.last === undefined || JSON.stringify(entry.last.value) !== JSON.stringify(response.output)) this.#deliver(entry, response.output, undefined);
      } catch (error) {
        if (!(error instanceof TwinhubError) || error.status === 503 || error.status === 504) throw error;
      }
    }
    for (const handle of this.#handles.values()) {
      if (handle.ended) continue;
      const response = await this.#session
        .request({ operation: 'queryaction', thingId: handle.thingId, actionId: handle.actionId }, { duringSetup: true })
        .catch((error: unknown) => {
          if (error instanceof TwinhubError && error.status === 404) return undefined;
          throw error;
        });
      if (response) handle.update(response.output as RequestRecord);
    }
  }

  #onMessage(message: InboundMessage): void {
    if (message.type !== 'notification') return;
    // seq is hub-wide, increasing and durable across hub restarts: a seq seen before is a repeat.
    if (message.seq <= this.#seenFloor || this.#seen.has(message.seq)) return;
    this.#seen.add(message.seq);
    if (this.#seen.size > SEEN_SEQS) {
      const oldest = [...this.#seen].sort((a, b) => a - b).slice(0, SEEN_SEQS / 2);
      for (const seq of oldest) this.#seen.delete(seq);
      this.#seenFloor = oldest[oldest.length - 1];
    }
    this.#lastSeq = Math.max(this.#lastSeq, message.seq);
    this.#notify(message);
  }

  #notify(notification: NotificationMessage): void {
    switch (notification.operation) {
      case 'actionstatus': {
        const record = notification.data as RequestRecord;
        const handle = this.#handles.get(record.actionId);
        if (handle) handle.update(record);
        else {
          this.#early.set(record.actionId, record);
          if (this.#early.size > 256) this.#early.delete(this.#early.keys().next().value as string);
        }
        return;
      }
      case 'observeproperty':
      case 'subscribeevent': {
        const prefix = notification.operation === 'observeproperty' ? 'p' : 'e';
        const entry = this.#entries.get(`${prefix}\u0000${notification.thingId}\u0000${notification.name}`);
        if (entry) this.#deliver(entry, notification.data, notification);
        return;
      }
      default: {
        const entry = this.#entries.get('d');
        if (entry) for (const listener of entry.listeners) (listener as DirectoryListener)(notification);
      }
    }
  }

  #deliver(entry: Entry, value: unknown, notification: ThingNotificationMessage | undefined): void {
    if (entry.kind === 'property') entry.last = { value };
    for (const listener of entry.listeners) {
      try {
        (listener as ValueListener)(value, notification);
      } catch (error) {
        this.#session.warn(`a listener threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
