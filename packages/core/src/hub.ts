// The Hub facade: one `handle(request, context)` for every binding, live sessions, pushing queued
// requests to connected agents, expiring the ones nobody picked up in time, and the twin TD
// served to consumers. Domain rules live in the handler modules; this file wires them together.

import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { BucketStore } from '@twinhub/bucket';
import { actionHandlers } from './actions/handlers.js';
import { ACTIONS_BUCKET, ActionQueue, isUnacknowledged } from './actions/queue.js';
import { checkPermission } from './auth/permissions.js';
import { TokenService } from './auth/tokens.js';
import type { HandlerTable, HubCore } from './core-context.js';
import { directoryHandlers } from './directory/handlers.js';
import { TwinDirectory } from './directory/directory.js';
import type { AgentRequestMessage, NotificationMessage } from './model/envelope.js';
import { badRequest, forbidden, HubError, internalProblem, isHubError, serviceUnavailable, tooManyRequests } from './model/errors.js';
import { DEFAULT_LIMITS, type HubApi, type HubLimits, type SessionSink, type TwinTdContributor } from './model/hub-api.js';
import type { HubContext, HubRequest, HubResult, Operation, Session } from './model/operations.js';
import type { ActionRecord, AgentPresence, Client, Problem, ThingDescription, Twin } from './model/types.js';
import { canSee } from './auth/permissions.js';
import { NotificationRegistry, type LiveSession } from './notify/registry.js';
import { stateHandlers } from './state/handlers.js';
import { STATE_BUCKET, TwinStateStore } from './state/state.js';
import { PersistQueue, type PendingWrite } from './store/persist-queue.js';
import { buildTwinTd, checkThingId } from './td/index.js';

export interface HubOptions {
  /** Where everything is kept. The hub owns it from now on and closes it in `close()`. */
  store: BucketStore;
  logger?: Logger;
  limits?: Partial<HubLimits>;
  /** How long a queued request waits for its agent before it expires (default one day). */
  defaultActionTtlSeconds?: number;
  /** How long ended requests stay queryable (default one day). */
  actionRetentionSeconds?: number;
  /** How often expired requests are looked for (default 1 s). */
  expiryIntervalMs?: number;
  /** Notifications kept for SSE Last-Event-ID resumption (default 10 000)... */
  replayBufferSize?: number;
  /** ...within about this many bytes of notification data (default 8 MiB). */
  replayBufferBytes?: number;
  /** The clock (tests). */
  now?: () => Date;
}

const HANDLERS: HandlerTable = { ...directoryHandlers, ...stateHandlers, ...actionHandlers };

export async function createHub(options: HubOptions): Promise<Hub> {
  const hub = new Hub(options);
  await hub.load();
  return hub;
}

export class Hub implements HubApi {
  readonly limits: HubLimits;
  readonly tokens: TokenService;
  private readonly log: Logger;
  private readonly store: BucketStore;
  private readonly core: HubCore;
  private readonly directory = new TwinDirectory();
  private readonly state = new TwinStateStore();
  private readonly queue = new ActionQueue();
  private readonly persist: PersistQueue;
  private readonly notify: NotificationRegistry;
  private readonly sessions = new Map<string, LiveSession>();
  private readonly sessionsByClient = new Map<string, Set<LiveSession>>();
  /** Sessions that receive an agent's requests, oldest first; the newest one gets them. */
  private readonly receivers = new Map<string, LiveSession[]>();
  private readonly lastSeen = new Map<string, string>();
  private readonly waiters = new Map<string, Set<(record: ActionRecord) => void>>();
  private readonly contributors: TwinTdContributor[] = [];
  private twinTdCache = new WeakMap<Twin, ThingDescription>();
  private readonly options: Required<Pick<HubOptions, 'defaultActionTtlSeconds' | 'actionRetentionSeconds' | 'expiryIntervalMs'>>;
  private readonly now: () => Date;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Use createHub(): a hub must load its store before it serves. */
  constructor(options: HubOptions) {
    this.store = options.store;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.now = options.now ?? (() => new Date());
    this.options = {
      defaultActionTtlSeconds: options.defaultActionTtlSeconds ?? 24 * 3600,
      actionRetentionSeconds: options.actionRetentionSeconds ?? 24 * 3600,
      expiryIntervalMs: options.expiryIntervalMs ?? 1000,
    };
    this.persist = new PersistQueue(this.store);
    this.tokens = new TokenService(this.persist, (clientId) => this.endSessionsOf(clientId, 'token revoked'));
    this.notify = new NotificationRegistry({
      replayCount: options.replayBufferSize ?? 10_000,
      replayBytes: options.replayBufferBytes ?? 8 * 1024 * 1024,
      maxSubscriptionsPerSession: this.limits.maxSubscriptionsPerSession,
      visible: (client, thingId) => {
        const twin = this.directory.get(thingId);
        return twin !== undefined && canSee(client, twin);
      },
    });
    this.core = {
      limits: this.limits,
      log: this.log,
      directory: this.directory,
      state: this.state,
      queue: this.queue,
      persist: this.persist,
      notify: this.notify,
      defaultActionTtlSeconds: this.options.defaultActionTtlSeconds,
      now: this.now,
      twinTd: (twin) => this.twinTd(twin),
      session: (context, operation) => this.liveSession(context, operation),
      deliver: (record) => this.deliver(record),
      receiveRequests: (session, enabled) => this.receiveRequests(session, enabled),
      actionChanged: (record) => this.actionChanged(record),
    };
  }

  /** Loads tokens, twins, state and queued requests, then starts the expiry sweep. */
  async load(): Promise<void> {
    const started = Date.now();
    await this.tokens.load(this.store);
    await this.directory.load(this.store);
    await this.state.load(this.store);
    const { orphans } = await this.queue.load(this.store, (thingId) => this.directory.get(thingId)?.agentId);
    if (orphans.length > 0) await this.persist.write(orphans.map((r) => ({ bucket: ACTIONS_BUCKET, key: r.actionId, value: undefined })));
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.options.expiryIntervalMs);
    this.sweepTimer.unref();
    this.log.info({ twins: this.directory.size, ms: Date.now() - started }, 'hub state loaded');
  }

  async authenticate(token: string): Promise<Client | undefined> {
    return this.tokens.authenticate(token);
  }

  /** The client a token was issued to, by client id (external MQTT brokers identify clients by id). */
  clientById(clientId: string): Client | undefined {
    return this.tokens.clientById(clientId);
  }

  async handle(request: HubRequest, context: HubContext): Promise<HubResult> {
    try {
      if (this.closed) throw serviceUnavailable('the hub is shutting down; retry after it restarted');
      const handler = HANDLERS[request.operation];
      if (!handler) throw badRequest(`unknown operation ${JSON.stringify(request.operation)}`);
      const { client } = context;
      checkPermission(client, request.operation, request.thingId === undefined ? undefined : this.directory.get(request.thingId));
      // An ID no Thing can have ('#', '..', control characters...) is a client error on every operation, not a 404.
      if (request.thingId !== undefined) checkThingId(request.thingId);
      if (client.role === 'agent') this.lastSeen.set(client.id, this.now().toISOString());
      return await handler(this.core, request, context);
    } catch (error) {
      if (isHubError(error)) return error.toResult();
      this.log.error({ err: error, operation: request.operation, thingId: request.thingId }, 'request failed');
      const problem = internalProblem();
      return { ok: false, status: problem.status, problem };
    }
  }

  authorize(client: Client, operation: Operation, thingId?: string): Problem | undefined {
    try {
      checkPermission(client, operation, thingId === undefined ? undefined : this.directory.get(thingId));
      return undefined;
    } catch (error) {
      if (isHubError(error)) return error.problem;
      throw error;
    }
  }

  openSession(client: Client, binding: string, sink: SessionSink): Session {
    if (this.closed) throw serviceUnavailable('the hub is shutting down');
    const own = this.sessionsByClient.get(client.id) ?? new Set<LiveSession>();
    if (own.size >= this.limits.maxSessionsPerClient) {
      throw tooManyRequests(`client '${client.id}' already has ${this.limits.maxSessionsPerClient} open sessions, the limit; close some first`);
    }
    const session: LiveSession = {
      id: randomUUID(),
      client,
      binding,
      subscriptions: new Set(),
      send: (message) => {
        try {
          sink.send(message);
        } catch (error) {
          this.log.warn({ err: error, sessionId: session.id, binding }, 'session sink failed; closing the session');
          this.closeSession(session);
        }
      },
      close: (reason) => sink.close(reason),
      ready: () => sink.ready?.() ?? true,
      requestCursor: 0,
      backlogged: false,
    };
    this.sessions.set(session.id, session);
    this.sessionsByClient.set(client.id, own.add(session));
    this.log.debug({ sessionId: session.id, clientId: client.id, binding }, 'session opened');
    return { id: session.id, client, binding };
  }

  closeSession(session: Session): void {
    const live = this.sessions.get(session.id);
    if (!live) return;
    this.sessions.delete(live.id);
    this.notify.forget(live);
    this.receiveRequests(live, false);
    const own = this.sessionsByClient.get(live.client.id);
    own?.delete(live);
    if (own?.size === 0) this.sessionsByClient.delete(live.client.id);
    if (live.client.role === 'agent') this.lastSeen.set(live.client.id, this.now().toISOString());
    this.log.debug({ sessionId: live.id, clientId: live.client.id, binding: live.binding }, 'session closed');
  }

  resumeDelivery(session: Session): void {
    const live = this.sessions.get(session.id);
    if (live && live.backlogged) this.pumpRequests(live);
  }

  async awaitAction(actionId: string, timeoutMs: number): Promise<ActionRecord | undefined> {
    const record = this.queue.get(actionId);
    if (!record || record.timeEnded !== undefined) return record;
    return new Promise((resolve) => {
      const waiters = this.waiters.get(actionId) ?? new Set();
      const done = (latest: ActionRecord) => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.waiters.delete(actionId);
        resolve(latest);
      };
      const timer = setTimeout(() => done(this.queue.get(actionId) ?? record), timeoutMs);
      this.waiters.set(actionId, waiters.add(done));
    });
  }

  notificationsSince(seq: number, who: Client | Session): NotificationMessage[] | undefined {
    const live = 'binding' in who ? this.sessions.get(who.id) : undefined;
    return this.notify.since(seq, live ?? ('binding' in who ? who.client : who));
  }

  presence(agentId: string): AgentPresence {
    const sessions = this.receivers.get(agentId)?.length ?? 0;
    const lastSeen = sessions > 0 ? this.now().toISOString() : this.lastSeen.get(agentId);
    return { agentId, connected: sessions > 0, sessions, ...(lastSeen ? { lastSeen } : {}) };
  }

  addTwinTdContributor(contributor: TwinTdContributor): void {
    this.contributors.push(contributor);
    this.twinTdCache = new WeakMap();
  }

  /** Stops the sweep, ends all sessions, waits for pending writes and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const session of [...this.sessions.values()]) {
      session.close('hub shutting down');
      this.closeSession(session);
    }
    for (const [actionId, waiters] of this.waiters) {
      const record = this.queue.get(actionId);
      if (record) for (const done of [...waiters]) done(record);
    }
    await this.persist.drain();
    await this.store.close();
    this.log.info('hub closed');
  }

  private twinTd(twin: Twin): ThingDescription {
    let td = this.twinTdCache.get(twin);
    if (!td) this.twinTdCache.set(twin, (td = buildTwinTd(twin, this.contributors)));
    return td;
  }

  private liveSession(context: HubContext, operation: Operation): LiveSession {
    if (!context.session) throw badRequest(`${operation} needs a live connection (WebSocket, MQTT or SSE stream); plain HTTP requests cannot receive notifications`);
    const live = this.sessions.get(context.session.id);
    if (!live) throw new HubError(410, 'Gone', 'this session is closed; reconnect and subscribe again');
    if (live.client.id !== context.client.id) throw forbidden('a session can only be used by the client that opened it');
    return live;
  }

  private receiveRequests(session: LiveSession, enabled: boolean): void {
    const agentId = session.client.id;
    const current = this.receivers.get(agentId) ?? [];
    const others = current.filter((s) => s !== session);
    if (!enabled) {
      if (others.length > 0) this.receivers.set(agentId, others);
      else this.receivers.delete(agentId);
      return;
    }
    this.receivers.set(agentId, [...others, session]);
    // Everything the agent has not acknowledged goes out again, oldest first, as fast as the
    // session's send buffer drains (a backlog of thousands is never pushed in one burst).
    session.requestCursor = 0;
    session.backlogged = true;
    this.pumpRequests(session);
  }

  /** Pushes the agent's unacknowledged requests after the session's cursor while the session is ready. */
  private pumpRequests(session: LiveSession): void {
    for (const record of this.queue.undelivered(session.client.id)) {
      if (record.seq <= session.requestCursor) continue;
      if (!session.ready()) return; // resumeDelivery() continues from the cursor
      session.requestCursor = record.seq;
      this.deliverTo(session, record);
    }
    session.backlogged = false;
  }

  private deliver(record: ActionRecord): void {
    const agentId = this.directory.get(record.thingId)?.agentId;
    const receivers = agentId === undefined ? undefined : this.receivers.get(agentId);
    if (!receivers || receivers.length === 0) return;
    const newest = receivers[receivers.length - 1];
    // Behind a backlog still draining, the new request waits its turn (delivery stays in order).
    if (newest.backlogged) return;
    if (!newest.ready()) {
      newest.backlogged = true;
      return;
    }
    newest.requestCursor = record.seq;
    this.deliverTo(newest, record);
  }

  private deliverTo(session: LiveSession, record: ActionRecord): void {
    if (!isUnacknowledged(record)) return;
    if (Date.parse(record.expiresAt) <= this.now().getTime()) {
      this.expire([record]).catch((error) => this.log.error({ err: error, actionId: record.actionId }, 'failed to persist an expiry'));
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
    if (record.status === 'pending') {
      this.queue.update(record, { status: 'delivered', timeDelivered: this.now().toISOString() });
      // The agent may answer before this write is durable: announce the state as of now.
      const delivered = { ...record };
      this.persist.put(ACTIONS_BUCKET, record.actionId, record).then(
        () => this.actionChanged(delivered),
        (error) => this.log.error({ err: error, actionId: record.actionId }, 'failed to persist delivery'),
      );
    }
  }

  /** Announces a request's status as it is now (copied: the live record keeps changing). */
  private actionChanged(live: ActionRecord): void {
    const record = { ...live };
    const sessions = this.sessionsByClient.get(record.requestedBy);
    this.notify.publish(
      { operation: 'actionstatus', thingId: record.thingId, name: record.name, data: record, timestamp: this.now().toISOString() },
      { onlyTo: sessions ?? [], audience: (client) => client.id === record.requestedBy },
    );
    if (record.timeEnded !== undefined) {
      for (const done of [...(this.waiters.get(record.actionId) ?? [])]) done(record);
    }
  }

  private async expire(records: ActionRecord[]): Promise<void> {
    const now = this.now().toISOString();
    const writes: PendingWrite[] = [];
    const expired = records.filter(isUnacknowledged);
    for (const record of expired) {
      this.queue.update(record, {
        status: 'expired',
        timeEnded: now,
        error: { status: 504, title: 'Expired', detail: `the agent did not take the request before it expired at ${record.expiresAt}` },
      });
      writes.push({ bucket: ACTIONS_BUCKET, key: record.actionId, value: record });
      if (record.operation === 'writeproperty' && this.state.endWrite(record.thingId, record.name, record.actionId)) {
        writes.push({ bucket: STATE_BUCKET, key: record.thingId, value: this.state.get(record.thingId) });
      }
    }
    if (writes.length === 0) return;
    await this.persist.write(writes);
    for (const record of expired) this.actionChanged(record);
    this.log.debug({ count: expired.length }, 'requests expired');
  }

  /** Expires overdue requests and forgets ended ones past their retention. */
  private async sweep(): Promise<void> {
    try {
      const nowMs = this.now().getTime();
      await this.expire(this.queue.due(nowMs));
      const pruned = this.queue.prune(nowMs - this.options.actionRetentionSeconds * 1000);
      if (pruned.length > 0) await this.persist.write(pruned.map((actionId) => ({ bucket: ACTIONS_BUCKET, key: actionId, value: undefined })));
    } catch (error) {
      this.log.error({ err: error }, 'request expiry sweep failed');
    }
  }

  private endSessionsOf(clientId: string, reason: string): void {
    for (const session of [...(this.sessionsByClient.get(clientId) ?? [])]) {
      session.close(reason);
      this.closeSession(session);
    }
  }
}
