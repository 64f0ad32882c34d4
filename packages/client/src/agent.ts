// AgentClient: the device side. It registers TDs, routes the hub's queued writes and invocations
// to handlers (each handled once per actionId, whatever the hub redelivers), reports values and
// events through a bounded offline buffer, and after a reconnect re-registers missing TDs and
// subscribes to its requests again (docs/client.md).

import { TwinhubError } from './errors.js';
import { OfflineBuffer } from './offline-buffer.js';
import { HubSession, type ConnectionState, type SessionOptions } from './session.js';
import type { Transport } from './transport.js';
import type { ActionStatusReport, AgentRequestMessage, HubRequest, InboundMessage, ThingDescription } from './wire.js';

export interface AgentOptions extends SessionOptions {
  /** Reports and events kept while offline; the oldest is dropped beyond it (default 1000). */
  bufferCapacity?: number;
  /** How many handled actionIds are remembered to ignore redeliveries (default 10 000). */
  handledMemory?: number;
}

export interface RequestContext {
  thingId: string;
  /** Property or action name. */
  name: string;
  actionId: string;
  /** When the hub drops the request if not answered. */
  expiresAt: string;
  /** The request as the hub pushed it. */
  request: AgentRequestMessage;
}

export interface ActionContext extends RequestContext {
  /** Reports progress (status `running`); consumers see it on the request's actionstatus. */
  progress(progress: unknown): Promise<void>;
}

/** Applies a written value; resolves with the value to report (undefined: the written one). A throw fails the write. */
export type WriteHandler = (value: unknown, context: RequestContext) => unknown;
/** Runs an action; resolves with its output. A throw fails the request (its message becomes the detail). */
export type ActionHandler = (input: unknown, context: ActionContext) => unknown;

export interface AgentStats {
  /** Reports and events waiting to be sent. */
  buffered: number;
  /** Reports and events dropped because the buffer was full. */
  dropped: number;
  /** Requests whose handler ran. */
  handled: number;
  /** Redelivered requests ignored because they were handled (or are being handled) already. */
  duplicates: number;
  reconnects: number;
}

/** One request to send in order; `critical` ones (status reports) are never dropped. */
interface Outgoing {
  order: number;
  request: HubRequest;
  critical: boolean;
  resolve(): void;
  reject(error: TwinhubError): void;
}

/** Pause before resending what the hub could not take yet (504, or 503 with the link up). */
const RESEND_PAUSE_MS = 1000;

const key = (thingId: string, name: string) => `${thingId}\u0000${name}`;

export class AgentClient {
  readonly #session: HubSession;
  readonly #things = new Map<string, ThingDescription>();
  readonly #writeHandlers = new Map<string, WriteHandler>();
  readonly #actionHandlers = new Map<string, ActionHandler>();
  /** Requests with no handler yet, by thing/name: dispatched when one is registered. */
  readonly #held = new Map<string, AgentRequestMessage[]>();
  readonly #handledIds = new Set<string>();
  readonly #handledMemory: number;
  readonly #buffer: OfflineBuffer<Outgoing>;
  readonly #critical: Outgoing[] = [];
  #order = 0;
  #pumping = false;
  #handled = 0;
  #duplicates = 0;

  private constructor(transport: Transport, options: AgentOptions) {
    this.#handledMemory = options.handledMemory ?? 10_000;
    this.#session = new HubSession(transport, { message: (message) => this.#onMessage(message), setup: (first) => this.#setup(first) }, options);
    this.#buffer = new OfflineBuffer<Outgoing>(options.bufferCapacity ?? 1000, (dropped, count) => {
      this.#session.warn(`offline buffer full: dropped the oldest ${dropped.request.operation} of ${dropped.request.thingId} (${count} dropped so far)`);
      dropped.reject(TwinhubError.local(507, 'Dropped', `the offline buffer was full (${count} dropped so far)`, dropped.request.operation));
    });
    this.#session.onState((state) => {
      if (state === 'connected') void this.#pump();
    });
  }

  /** Connects (rejects if the first connection fails) and starts receiving requests. */
  static async connect(transport: Transport, options: AgentOptions = {}): Promise<AgentClient> {
    const agent = new AgentClient(transport, options);
    await agent.#session.start();
    return agent;
  }

  get state(): ConnectionState {
    return this.#session.state;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    return this.#session.onState(listener);
  }

  get stats(): AgentStats {
    return {
      buffered: this.#buffer.length,
      dropped: this.#buffer.dropped,
      handled: this.#handled,
      duplicates: this.#duplicates,
      reconnects: this.#session.reconnects,
    };
  }

  /** Registers (or replaces) a TD; resolves with the twin TD. Re-registered after a reconnect if the hub lost it. */
  async register(td: ThingDescription): Promise<ThingDescription> {
    const response = await this.#session.request({ operation: 'updateTD', input: td });
    const twin = response.output as ThingDescription;
    this.#things.set(String(twin.id ?? td.id), td.id === undefined ? { ...td, id: twin.id } : td);
    return twin;
  }

  async unregister(thingId: string): Promise<void> {
    this.#things.delete(thingId);
    await this.#session.request({ operation: 'deleteTD', thingId });
  }

  /** Handles writes of one property; returns a function that removes the handler. */
  onWrite(thingId: string, property: string, handler: WriteHandler): () => void {
    return this.#addHandler(this.#writeHandlers, thingId, property, handler);
  }

  /** Handles invocations of one action; returns a function that removes the handler. */
  onAction(thingId: string, action: string, handler: ActionHandler): () => void {
    return this.#addHandler(this.#actionHandlers, thingId, action, handler);
  }

  /**
   * Reports property values `{ name: value }`. Resolves once the hub accepted them; while offline
   * they wait in the buffer. Rejects with a TwinhubError if refused (or dropped from a full buffer);
   * not awaiting it is fine.
   */
  report(thingId: string, values: Record<string, unknown>): Promise<void> {
    return this.#send({ operation: 'updateproperty', thingId, input: values }, false);
  }

  /** Publishes an event (buffered like report()). */
  emit(thingId: string, event: string, data?: unknown): Promise<void> {
    return this.#send({ operation: 'publishevent', thingId, name: event, ...(data === undefined ? {} : { input: data }) }, false);
  }

  /**
   * Start-up configuration (readdesired): per writable property the value a consumer asked for
   * last, else the last reported one. With a thingId `{ name: value }`, without one `{ thingId: { name: value } }`.
   */
  async desired(thingId: string): Promise<Record<string, unknown>>;
  async desired(): Promise<Record<string, Record<string, unknown>>>;
  async desired(thingId?: string): Promise<Record<string, unknown>> {
    const response = await this.#session.request({ operation: 'readdesired', ...(thingId === undefined ? {} : { thingId }) });
    const output = (response.output ?? {}) as Record<string, Record<string, unknown>>;
    return thingId === undefined ? output : (output[thingId] ?? {});
  }

  /** Any other operation (e.g. readtwin), as the raw response's output. */
  async request(request: HubRequest): Promise<unknown> {
    return (await this.#session.request(request)).output;
  }

  /** Closes the connection; what is still buffered is rejected. */
  async close(): Promise<void> {
    await this.#session.close();
    const error = TwinhubError.local(503, 'Closed', 'the agent was closed before this was sent');
    for (const item of [...this.#buffer.drain(), ...this.#critical.splice(0)]) item.reject(error);
  }

  #addHandler<H>(handlers: Map<string, H>, thingId: string, name: string, handler: H): () => void {
    const id = key(thingId, name);
    handlers.set(id, handler);
    const held = this.#held.get(id);
    if (held) {
      this.#held.delete(id);
      for (const request of held) this.#dispatch(request);
    }
    return () => {
      if (handlers.get(id) === handler) handlers.delete(id);
    };
  }

  async #setup(first: boolean): Promise<void> {
    if (!first) {
      // The hub keeps TDs across restarts; re-register only those it no longer has (expired, deleted, another store).
      for (const [thingId, td] of this.#things) {
        try {
          await this.#session.request({ operation: 'retrieveTD', thingId }, { duringSetup: true });
        } catch (error) {
          if (!(error instanceof TwinhubError) || error.status !== 404) throw error;
          await this.#session.request({ operation: 'updateTD', input: td }, { duringSetup: true });
        }
      }
    }
    const link = this.#session.link;
    if (link?.receiveRequests) await link.receiveRequests();
    else await this.#session.request({ operation: 'subscriberequests' }, { duringSetup: true });
  }

  #onMessage(message: InboundMessage): void {
    if (message.type === 'request') this.#dispatch(message);
  }

  #dispatch(request: AgentRequestMessage): void {
    if (this.#handledIds.has(request.actionId)) {
      // A redelivery (the hub had no acknowledgement yet): the status is sent or queued already.
      this.#duplicates += 1;
      return;
    }
    const id = key(request.thingId, request.name);
    const write = request.operation === 'writeproperty' ? this.#writeHandlers.get(id) : undefined;
    const action = request.operation === 'invokeaction' ? this.#actionHandlers.get(id) : undefined;
    if (!write && !action) {
      const held = this.#held.get(id) ?? [];
      if (!held.some((other) => other.actionId === request.actionId)) held.push(request);
      this.#held.set(id, held);
      return;
    }
    this.#remember(request.actionId);
    this.#handled += 1;
    if (write) void this.#runWrite(request, write);
    else if (action) void this.#runAction(request, action);
  }

  #remember(actionId: string): void {
    this.#handledIds.add(actionId);
    if (this.#handledIds.size > this.#handledMemory) {
      const oldest = this.#handledIds.values().next().value;
      if (oldest !== undefined) this.#handledIds.delete(oldest);
    }
  }

  #context(request: AgentRequestMessage): RequestContext {
    return { thingId: request.thingId, name: request.name, actionId: request.actionId, expiresAt: request.expiresAt, request };
  }

  async #runWrite(request: AgentRequestMessage, handler: WriteHandler): Promise<void> {
    try {
      const result = await handler(request.input, this.#context(request));
      // The device applied the value: report what it now has, then close the request.
      void this.#send(
        { operation: 'updateproperty', thingId: request.thingId, input: { [request.name]: result === undefined ? request.input : result } },
        true,
      );
      this.#status(request, { status: 'completed' });
    } catch (error) {
      this.#status(request, { status: 'failed', error: failure('Write Failed', error) });
    }
  }

  async #runAction(request: AgentRequestMessage, handler: ActionHandler): Promise<void> {
    this.#status(request, { status: 'running' }); // acknowledges receipt at once: no redelivery while it runs
    const context: ActionContext = {
      ...this.#context(request),
      progress: (progress) =>
        this.#send({ operation: 'updateactionstatus', thingId: request.thingId, actionId: request.actionId, input: { status: 'running', progress } }, true),
    };
    try {
      const output = await handler(request.input, context);
      this.#status(request, { status: 'completed', ...(output === undefined ? {} : { output }) });
    } catch (error) {
      this.#status(request, { status: 'failed', error: failure('Action Failed', error) });
    }
  }

  #status(request: AgentRequestMessage, report: ActionStatusReport): void {
    void this.#send({ operation: 'updateactionstatus', thingId: request.thingId, actionId: request.actionId, input: report }, true);
  }

  #send(request: HubRequest, critical: boolean): Promise<void> {
    const promise = new Promise<void>((resolve, reject) => {
      const item: Outgoing = { order: ++this.#order, request, critical, resolve, reject };
      if (critical) this.#critical.push(item);
      else this.#buffer.push(item);
    });
    promise.catch(() => undefined); // callers may ignore the promise; failures are also warned about
    void this.#pump();
    return promise;
  }

  /** Sends queued items oldest first while connected; a lost link stops it until the next connection. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#session.state === 'connected') {
        const buffered = this.#buffer.peek();
        const critical = this.#critical[0];
        const item = critical && (!buffered || critical.order < buffered.order) ? critical : buffered;
        if (!item) return;
        try {
          await this.#session.request(item.request);
          this.#take(item);
          item.resolve();
        } catch (error) {
          const problem = error instanceof TwinhubError ? error : TwinhubError.local(500, 'Send Failed', String(error), item.request.operation);
          // The link went: resend once reconnected (the 'connected' state restarts the pump).
          if (problem.status === 503 && this.#session.state !== 'connected') return;
          // No answer yet (504; a resent status that ended already gets 409), or the hub answered
          // 503 over a live link (its store unavailable: nothing was made, and no reconnect will
          // come to restart the pump): resend after a pause.
          if (problem.status === 503 || problem.status === 504) {
            setTimeout(() => void this.#pump(), RESEND_PAUSE_MS);
            return;
          }
          this.#take(item);
          if (item.request.operation === 'updateactionstatus' && (problem.status === 409 || problem.status === 404)) {
            item.resolve(); // already ended (a resend after a lost response) or expired: nothing left to say
            continue;
          }
          this.#session.warn(`${item.request.operation} of ${item.request.thingId ?? '-'} refused: ${problem.message}`);
          item.reject(problem);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #take(item: Outgoing): void {
    if (item.critical) this.#critical.splice(this.#critical.indexOf(item), 1);
    else this.#buffer.remove(item);
  }
}

function failure(title: string, error: unknown): { title: string; detail: string } {
  if (error instanceof TwinhubError) return { title: error.title, detail: error.detail };
  return { title, detail: error instanceof Error ? error.message : String(error) };
}
