// The Hub facade: wires the domains (directory, state, requests, sessions, notifications, clients)
// over one store, runs `handle()` for every binding after `authorize()`, and closes it all in
// order. Domain rules live in the domain modules; nothing else belongs here.

import { checkPermission } from './auth/permissions.js';
import type { TokenService } from './auth/tokens.js';
import { composeCore, loadCore, type ComposedCore, type HubOptions } from './compose.js';
import type { HubCore } from './core-context.js';
import type { NotificationMessage } from './model/envelope.js';
import { badRequest, internalProblem, isHubError, serviceUnavailable } from './model/errors.js';
import type { HubApi, HubLimits, SessionSink, TwinTdContributor } from './model/hub-api.js';
import type { HubContext, HubRequest, HubResult, Operation, Session } from './model/operations.js';
import type { AgentPresence, Client, Problem, RequestRecord, RequestStatus, Twin } from './model/types.js';
import { applyChanges } from './feed.js';
import { checkObservable } from './state/handlers.js';
import { HANDLERS } from './handlers.js';
import { checkThingId } from './td/index.js';

export type { HubOptions } from './compose.js';

export async function createHub(options: HubOptions): Promise<Hub> {
  const hub = new Hub(options);
  await hub.load();
  return hub;
}

export class Hub implements HubApi {
  readonly limits: HubLimits;
  readonly tokens: TokenService;
  private readonly core: HubCore;
  /** The rest of what composeCore built: the notification sequence, twin TDs, readiness and sweeps. */
  private readonly parts: ComposedCore;
  private stopWatching: (() => void) | undefined;
  private closed = false;

  /** Use createHub(): a hub must load its store before it serves. */
  constructor(private readonly options: HubOptions) {
    this.parts = composeCore(options);
    ({ core: this.core, tokens: this.tokens } = this.parts);
    this.limits = this.core.limits;
  }

  /** Loads every domain's records, follows other writers' changes, then starts the expiry sweep. */
  async load(): Promise<void> {
    await loadCore(this.core, this.tokens, this.parts.sequence, this.options.store);
    this.stopWatching = this.options.store.watch((changes) => applyChanges(this.core, this.tokens, changes));
    await this.parts.sweeps.start(this.options.expiryIntervalMs ?? 1000);
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
      checkPermission(context.client, request.operation, this.twinOf(request.thingId));
      // An ID no Thing can have ('#', '..', control characters...) is a client error on every operation, not a 404.
      if (request.thingId !== undefined) checkThingId(request.thingId);
      if (context.client.role === 'agent') this.core.sessions.seen(context.client.id);
      return await handler(this.core, request, context);
    } catch (error) {
      if (isHubError(error)) return error.toResult();
      this.core.log.error({ err: error, operation: request.operation, thingId: request.thingId }, 'request failed');
      return { ok: false, status: 500, problem: internalProblem() };
    }
  }

  authorize(client: Client, operation: Operation, thingId?: string, name?: string): Problem | undefined {
    try {
      checkPermission(client, operation, this.twinOf(thingId));
      if (operation === 'observeproperty' && name !== undefined) checkObservable(this.core, thingId, name);
      return undefined;
    } catch (error) {
      if (isHubError(error)) return error.problem;
      throw error;
    }
  }

  openSession(client: Client, binding: string, sink: SessionSink): Session {
    return this.core.sessions.open(client, binding, sink);
  }

  closeSession(session: Session): void {
    this.core.sessions.close(session);
  }

  resumeDelivery(session: Session): void {
    const live = this.core.sessions.get(session.id);
    if (live) this.core.requests.resume(live);
  }

  /** Queued requests per status, open and retained (metrics read it on each scrape). */
  requestCounts(): Partial<Record<RequestStatus, number>> {
    return this.core.requests.queue.countByStatus();
  }

  awaitRequest(requestId: string, timeoutMs: number): Promise<RequestRecord | undefined> {
    return this.core.requests.awaitRequest(requestId, timeoutMs);
  }

  notificationsSince(seq: number, who: Client | Session): NotificationMessage[] | undefined {
    const live = 'binding' in who ? this.core.sessions.get(who.id) : undefined;
    return this.core.notify.since(seq, live ?? ('binding' in who ? who.client : who));
  }

  presence(agentId: string): AgentPresence {
    return this.core.sessions.presence(agentId);
  }

  async ready(): Promise<Problem | undefined> {
    if (this.closed) return serviceUnavailable('the hub is shutting down').problem;
    return this.parts.readiness.check();
  }

  addTwinTdContributor(contributor: TwinTdContributor): void {
    this.parts.twinTds.addContributor(contributor);
  }

  private twinOf(thingId: string | undefined): Twin | undefined {
    return thingId === undefined ? undefined : this.core.directory.get(thingId);
  }

  /** Stops the sweep, ends all sessions, wakes waiters, waits for pending writes and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.parts.sweeps.stop();
    this.stopWatching?.();
    this.core.sessions.closeAll('hub shutting down');
    this.core.requests.releaseWaiters();
    await this.core.persist.drain();
    await this.options.store.close();
    this.core.log.info('hub closed');
  }
}
