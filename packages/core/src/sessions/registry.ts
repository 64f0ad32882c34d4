// Live sessions: one per WS socket, SSE stream or MQTT client. Bounds them per client, knows which
// of an agent's sessions receive its queued requests (the newest one gets them), keeps presence
// (connected, sessions, since, lastSeen) and ends every session of a client (token revoked).

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { badRequest, forbidden, HubError, serviceUnavailable, tooManyRequests } from '../model/errors.js';
import type { SessionSink } from '../model/hub-api.js';
import type { HubObserver } from '../model/observer.js';
import type { HubContext, Operation, Session } from '../model/operations.js';
import type { AgentPresence, Client } from '../model/types.js';
import type { LiveSession } from '../notify/registry.js';
import { SoloMembership, type Membership } from '../cluster/membership.js';

export interface SessionRegistryOptions {
  maxSessionsPerClient: number;
  log: Logger;
  now: () => Date;
  /** Called after a session was forgotten (its subscriptions go with it). */
  onClose: (session: LiveSession) => void;
  observer: Pick<HubObserver, 'notificationDropped'>;
  /**
   * Called when an agent became connected or disconnected, here or (cluster) anywhere (not while
   * the hub shuts down); `revision`: of the cluster presence record whose change it was.
   */
  onPresence: (presence: AgentPresence, revision: number | undefined) => void;
  /** Which instance delivers each agent's requests and holds its presence (default: this hub alone). */
  membership?: () => Membership;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly byClient = new Map<string, Set<LiveSession>>();
  /** Sessions that receive an agent's requests, oldest first; the newest one gets them. */
  private readonly receivers = new Map<string, LiveSession[]>();
  /** When each agent was last seen (a request, or a receiving session closing) and since when it is connected. */
  private readonly lastSeen = new Map<string, string>();
  private readonly since = new Map<string, string>();
  /** Whether each agent was last announced connected: announcements follow the cluster-wide state, not one instance's sessions. */
  private readonly announced = new Map<string, boolean>();
  private closed = false;
  private readonly membership: () => Membership;

  constructor(private readonly options: SessionRegistryOptions) {
    const solo = new SoloMembership();
    this.membership = options.membership ?? (() => solo);
  }

  open(client: Client, binding: string, sink: SessionSink): Session {
    if (this.closed) throw serviceUnavailable('the hub is shutting down');
    const own = this.byClient.get(client.id) ?? new Set<LiveSession>();
    const max = this.options.maxSessionsPerClient;
    if (own.size >= max) throw tooManyRequests(`client '${client.id}' already has ${max} open sessions, the limit; close some first`);
    const session: LiveSession = {
      id: randomUUID(),
      client,
      binding,
      subscriptions: new Set(),
      send: (message) => {
        try {
          sink.send(message);
        } catch (error) {
          this.options.log.warn({ err: error, sessionId: session.id, binding }, 'session sink failed; closing the session');
          if (message.type === 'notification') this.options.observer.notificationDropped(binding);
          this.close(session);
        }
      },
      close: (reason) => sink.close(reason),
      ready: () => sink.ready?.() ?? true,
      sentRequests: new Set(),
      backlogged: false,
    };
    this.sessions.set(session.id, session);
    this.byClient.set(client.id, own.add(session));
    this.options.log.debug({ sessionId: session.id, clientId: client.id, binding }, 'session opened');
    return { id: session.id, client, binding };
  }

  get(sessionId: string): LiveSession | undefined {
    return this.sessions.get(sessionId);
  }

  /** Forgets a session (idempotent). */
  close(session: Session): void {
    const live = this.sessions.get(session.id);
    if (!live) return;
    this.sessions.delete(live.id);
    this.setReceiving(live, false);
    const own = this.byClient.get(live.client.id);
    own?.delete(live);
    if (own?.size === 0) this.byClient.delete(live.client.id);
    if (live.client.role === 'agent') this.seen(live.client.id);
    this.options.onClose(live);
    this.options.log.debug({ sessionId: live.id, clientId: live.client.id, binding: live.binding }, 'session closed');
  }

  /** The live session of a request, or a 400 saying the operation needs one. */
  require(context: HubContext, operation: Operation): LiveSession {
    if (!context.session)
      throw badRequest(`${operation} needs a live connection (WebSocket, MQTT or SSE stream); plain HTTP requests cannot receive notifications`);
    const live = this.sessions.get(context.session.id);
    if (!live) throw new HubError(410, 'Gone', 'this session is closed; reconnect and subscribe again');
    if (live.client.id !== context.client.id) throw forbidden('a session can only be used by the client that opened it');
    return live;
  }

  /** The client's live sessions (action status goes to every session of the requester). */
  ofClient(clientId: string): Iterable<LiveSession> {
    return this.byClient.get(clientId) ?? [];
  }

  /** Starts or stops sending the agent's requests to this session; the first and the last receiver change the agent's presence. */
  setReceiving(session: LiveSession, enabled: boolean): void {
    const agentId = session.client.id;
    const before = this.receivers.get(agentId) ?? [];
    const others = before.filter((s) => s !== session);
    if (enabled) {
      this.receivers.set(agentId, [...others, session]);
      // A session that asks again keeps the agent's `since`: it was connected without a break.
      if (before.length === 0) this.since.set(agentId, this.options.now().toISOString());
    } else if (others.length > 0) {
      this.receivers.set(agentId, others);
    } else if (this.receivers.delete(agentId)) {
      this.since.delete(agentId);
      this.seen(agentId);
    }
    const newest = this.receivers.get(agentId)?.at(-1);
    if (newest !== before.at(-1)) this.membership().receiving(agentId, this.localReceiver(agentId));
    this.presenceChanged(agentId);
  }

  /**
   * Announces the agent's presence if it changed since the last announcement. In a cluster only a
   * presence record's change announces (`revision`: its id, the same on every instance): a session
   * opening or closing here changes the record first.
   */
  presenceChanged(agentId: string, revision?: number): void {
    if (this.closed || (this.membership().clustered && revision === undefined)) return;
    const presence = this.presence(agentId);
    if ((this.announced.get(agentId) ?? false) === presence.connected) return;
    this.announced.set(agentId, presence.connected);
    this.options.onPresence(presence, revision);
  }

  /** The agent's newest receiving session here with the time it connected, for the cluster's presence record. */
  localReceiver(agentId: string): { id: string; since: string } | undefined {
    const newest = this.receivers.get(agentId)?.at(-1);
    return newest && { id: newest.id, since: this.since.get(agentId) ?? this.options.now().toISOString() };
  }

  /** Agents with a receiving session here. */
  receivingAgents(): Iterable<string> {
    return this.receivers.keys();
  }

  /** The session that gets the agent's requests: its newest receiving one, unless (cluster) another instance holds a newer one. */
  receiverOf(agentId: string): LiveSession | undefined {
    const newest = this.receivers.get(agentId)?.at(-1);
    return newest && this.membership().delivers(agentId) ? newest : undefined;
  }

  seen(agentId: string): void {
    this.lastSeen.set(agentId, this.options.now().toISOString());
  }

  /** Agents this hub has seen since it started: connected now, or with a lastSeen. */
  agents(): Iterable<string> {
    return new Set([...this.receivers.keys(), ...this.lastSeen.keys()]);
  }

  presence(agentId: string): AgentPresence {
    const sessions = this.receivers.get(agentId)?.length ?? 0;
    const remote = sessions === 0 ? this.membership().remote(agentId) : undefined;
    // Connected to another instance of the cluster: connected, with one session there.
    if (remote) return { agentId, connected: true, sessions: 1, since: remote.since, lastSeen: this.options.now().toISOString() };
    const lastSeen = sessions > 0 ? this.options.now().toISOString() : this.lastSeen.get(agentId);
    const since = this.since.get(agentId);
    return { agentId, connected: sessions > 0, sessions, ...(since ? { since } : {}), ...(lastSeen ? { lastSeen } : {}) };
  }

  /** Ends every session of a client (token revoked). */
  endClient(clientId: string, reason: string): void {
    for (const session of [...(this.byClient.get(clientId) ?? [])]) {
      session.close(reason);
      this.close(session);
    }
  }

  /** Ends every session and refuses new ones (hub shutting down). */
  closeAll(reason: string): void {
    this.closed = true;
    for (const session of [...this.sessions.values()]) {
      session.close(reason);
      this.close(session);
    }
  }
}
