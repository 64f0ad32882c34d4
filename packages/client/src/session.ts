// HubSession: one logical connection to the hub over a Transport. It matches responses to requests
// by correlationId, reconnects with capped exponential backoff and jitter when the link drops, and
// runs the owner's setup (re-register, re-subscribe, flush) on every new link before the session
// counts as connected again; requests made meanwhile wait for it (up to their timeout).

import { type BackoffOptions, backoffDelay } from './backoff.js';
import { TwinhubError } from './errors.js';
import type { Link, Transport } from './transport.js';
import type { HubRequest, InboundMessage, ResponseMessage } from './wire.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface SessionOptions {
  /** Reconnect delays (default: 250 ms doubling up to 30 s, full jitter). */
  backoff?: BackoffOptions;
  /** How long a request waits for its response, including waiting for a connection (default 10 s). */
  requestTimeoutMs?: number;
  /** Warnings (dropped buffer entries, failed re-subscriptions, reconnects); default console.warn. */
  onWarning?: (message: string) => void;
}

export interface SessionHooks {
  /** Every message that is not a response to a request of this session. */
  message(message: InboundMessage): void;
  /** Runs on each new link (first: the initial one) before the session counts as connected. */
  setup(first: boolean): Promise<void>;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** Send on the current link even before setup finished (setup's own requests). */
  duringSetup?: boolean;
}

interface Pending {
  resolve(response: ResponseMessage): void;
  reject(error: TwinhubError): void;
  timer: ReturnType<typeof setTimeout>;
}

type StateListener = (state: ConnectionState) => void;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const randomId = (): string =>
  typeof globalThis.crypto?.randomUUID === 'function' ? globalThis.crypto.randomUUID() : `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;

export class HubSession {
  readonly #transport: Transport;
  readonly #hooks: SessionHooks;
  readonly #options: SessionOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #stateListeners = new Set<StateListener>();
  /** Resolved by the next transition to 'connected' (or rejected by close()). */
  #connectedWaiters: Array<{ resolve(): void; reject(error: TwinhubError): void }> = [];
  #link: Link | undefined;
  #state: ConnectionState = 'connecting';
  #attempt = 0;
  #reconnects = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  // A per-session prefix: correlationIds never repeat across restarts (MQTT dedupes resent envelopes by them).
  readonly #idPrefix = randomId();
  #counter = 0;

  constructor(transport: Transport, hooks: SessionHooks, options: SessionOptions = {}) {
    this.#transport = transport;
    this.#hooks = hooks;
    this.#options = options;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** How many times the link was re-established after a drop. */
  get reconnects(): number {
    return this.#reconnects;
  }

  get transportName(): string {
    return this.#transport.name;
  }

  onState(listener: StateListener): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  warn(message: string): void {
    (this.#options.onWarning ?? ((text: string) => console.warn(`twinhub client: ${text}`)))(message);
  }

  /** The first connection: rejects (and the session is closed) if it cannot be opened or set up. */
  async start(): Promise<void> {
    try {
      const failure = await this.#openLink(true);
      if (failure !== undefined) throw failure;
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Sends a request and resolves with its (successful) response; a refusal rejects with TwinhubError. */
  async request(request: HubRequest, options: RequestOptions = {}): Promise<ResponseMessage> {
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    if (!options.duringSetup) await this.#whenConnected(timeoutMs, request.operation);
    const link = this.#link;
    if (this.#state === 'closed' || !link) throw TwinhubError.local(503, 'Not Connected', 'the client is closed or not connected', request.operation);
    const correlationId = `${this.#idPrefix}-${++this.#counter}`;
    const response = await new Promise<ResponseMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#pending.delete(correlationId);
          reject(TwinhubError.local(504, 'Timeout', `no response within ${timeoutMs} ms`, request.operation));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.#pending.set(correlationId, { resolve, reject, timer });
      try {
        link.send({ ...request, type: 'request', correlationId });
      } catch (error) {
        clearTimeout(timer);
        this.#pending.delete(correlationId);
        reject(error instanceof TwinhubError ? error : TwinhubError.local(503, 'Send Failed', String(error), request.operation));
      }
    });
    if (response.status >= 400 || response.error) {
      throw new TwinhubError(response.error ?? { status: response.status, title: 'Request Failed', detail: `status ${response.status}` }, request.operation);
    }
    return response;
  }

  /** The current link, for transport-specific steps during setup (MQTT's request subscription). */
  get link(): Link | undefined {
    return this.#link;
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#setState('closed');
    clearTimeout(this.#retryTimer);
    const error = TwinhubError.local(503, 'Closed', 'the client was closed');
    for (const waiter of this.#connectedWaiters.splice(0)) waiter.reject(error);
    this.#link?.close();
    this.#link = undefined;
    this.#failPending(error);
  }

  /**
   * Opens a link and runs the setup on it. Resolves with the setup's error when setup failed (the
   * link is then closed, and its close handler scheduled the next attempt); rejects when the
   * transport could not open a link at all.
   */
  async #openLink(first: boolean): Promise<unknown> {
    const link: Link = await this.#transport.open({
      message: (message) => this.#onMessage(message),
      closed: (info) => this.#onLinkClosed(link, info),
    });
    if (this.#state === 'closed') {
      link.close();
      return undefined;
    }
    this.#link = link;
    try {
      await this.#hooks.setup(first);
    } catch (error) {
      if (this.#link === link) link.close(); // else the link died during setup, and its close handler took over
      return error;
    }
    if (this.#link !== link) return undefined;
    this.#attempt = 0;
    if (!first) this.#reconnects += 1;
    this.#setState('connected');
    for (const waiter of this.#connectedWaiters.splice(0)) waiter.resolve();
    return undefined;
  }

  #onMessage(message: InboundMessage): void {
    if (message.type === 'response' && message.correlationId !== undefined) {
      const pending = this.#pending.get(message.correlationId);
      if (pending) {
        this.#pending.delete(message.correlationId);
        clearTimeout(pending.timer);
        pending.resolve(message);
        return;
      }
    }
    if (message.type !== 'response') this.#hooks.message(message);
  }

  #onLinkClosed(link: Link, info: { code?: number; reason: string }): void {
    if (this.#link !== undefined && this.#link !== link) return;
    this.#link = undefined;
    this.#failPending(TwinhubError.local(503, 'Connection Lost', `the ${this.#transport.name} link closed (${info.code ?? '-'} ${info.reason})`));
    if (this.#state === 'closed') return;
    this.#setState('reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = backoffDelay(this.#attempt++, this.#options.backoff);
    this.#retryTimer = setTimeout(() => {
      if (this.#state === 'closed') return;
      this.#openLink(false).then(
        (setupFailure) => {
          if (setupFailure !== undefined && this.#state !== 'closed') this.warn(`setup after reconnecting failed: ${describe(setupFailure)}; retrying`);
        },
        (error: unknown) => {
          if (this.#state === 'closed') return;
          this.warn(`reconnect failed (${describe(error)}); retrying`);
          this.#scheduleReconnect();
        },
      );
    }, delay);
  }

  #whenConnected(timeoutMs: number, operation: string): Promise<void> {
    if (this.#state === 'connected') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(TwinhubError.local(503, 'Closed', 'the client was closed', operation));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: TwinhubError) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#connectedWaiters = this.#connectedWaiters.filter((other) => other !== waiter);
        reject(TwinhubError.local(503, 'Not Connected', `no connection to the hub within ${timeoutMs} ms`, operation));
      }, timeoutMs);
      this.#connectedWaiters.push(waiter);
    });
  }

  #failPending(error: TwinhubError): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(new TwinhubError(error.problem, error.operation));
    }
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state);
  }
}
