// What bindings see of the core: the Hub facade, the sink they give it for push messages, and the
// hook through which each binding contributes its forms to twin TDs.

import type { OutboundMessage, NotificationMessage } from './envelope.js';
import type { HubContext, HubRequest, HubResult, Operation, Session } from './operations.js';
import type { RequestRecord, AgentPresence, Client, Problem } from './types.js';

/** Implemented by a binding for each live session: where the core pushes messages. */
export interface SessionSink {
  /** Must not throw. A binding whose client cannot keep up drops it (closeSession) instead of buffering without bound. */
  send(message: OutboundMessage): void;
  /** The core ends the session (token revoked, hub shutting down): close the connection. */
  close(reason: string): void;
  /**
   * Flow control for queued requests (a backlog of thousands must not overflow the send buffer):
   * false while the binding's send buffer is above its low-water mark. The core then stops pushing
   * queued requests to this session until the binding calls `HubApi.resumeDelivery(session)`.
   * Absent: always ready. Notifications are not flow-controlled (live, at most once).
   */
  ready?(): boolean;
}

/** A TD form, as JSON. */
export type Form = Record<string, unknown> & { href: string };

export type AffordanceKind = 'property' | 'action' | 'event';

/**
 * A binding's contribution to twin TDs: forms pointing at the hub for each affordance, and the
 * security schemes those forms use. Twin TDs are built on first use and cached per twin version;
 * adding a contributor clears that cache, so add contributors once their URLs are known.
 */
export interface TwinTdContributor {
  readonly name: string;
  /** JSON-LD prefixes the forms use (e.g. `{ mqv: 'http://www.example.org/mqtt-binding#' }`), added to the twin TD's @context. */
  context?(): Record<string, string>;
  securityDefinitions?(): Record<string, Record<string, unknown>>;
  /** Top-level forms (readallproperties, observeallproperties, queryallactions, subscribeallevents...). */
  thingForms?(thingId: string): Form[];
  affordanceForms?(kind: AffordanceKind, thingId: string, name: string, affordance: Record<string, unknown>): Form[];
}

export interface HubLimits {
  /** Largest TD accepted, bytes of JSON. */
  maxTdBytes: number;
  /** Largest property value, action input/output, event data or message envelope, bytes of JSON. */
  maxPayloadBytes: number;
  /** Requests (actions + writes) not yet ended, per Thing. */
  maxQueuedRequestsPerThing: number;
  /** Observations/subscriptions one session may hold. */
  maxSubscriptionsPerSession: number;
  /** Live sessions one client may hold at once. */
  maxSessionsPerClient: number;
  /** Connections a binding accepts in total (bindings enforce it). */
  maxConnections: number;
  /** Bytes a binding may buffer for one slow client before dropping it (bindings enforce it). */
  maxSendBufferBytes: number;
  /** Twins one agent may register. */
  maxThingsPerAgent: number;
  /** Bytes of TD JSON one agent may have registered in all (TD count alone does not bound memory). */
  maxTdBytesPerAgent: number;
  /** Bytes of TD JSON the whole directory may hold. */
  maxTdBytesTotal: number;
  /** A listing page stops once its TDs reach this many bytes (the Link header names the next page). */
  maxListPageBytes: number;
}

export const DEFAULT_LIMITS: HubLimits = {
  maxTdBytes: 256 * 1024,
  maxPayloadBytes: 64 * 1024,
  maxQueuedRequestsPerThing: 1000,
  maxSubscriptionsPerSession: 1000,
  maxSessionsPerClient: 100,
  maxConnections: 10_000,
  maxSendBufferBytes: 1024 * 1024,
  maxThingsPerAgent: 10_000,
  maxTdBytesPerAgent: 64 * 1024 * 1024,
  maxTdBytesTotal: 512 * 1024 * 1024,
  maxListPageBytes: 16 * 1024 * 1024,
};

/** The core as bindings use it. */
export interface HubApi {
  readonly limits: HubLimits;
  /** Resolves a bearer token (or MQTT password) to its client; undefined if unknown or revoked. */
  authenticate(token: string): Promise<Client | undefined>;
  /** The client a token was issued to, by client id (for transports that identify clients by id only, e.g. an external MQTT broker). */
  clientById(clientId: string): Client | undefined;
  /**
   * Runs one operation for a client. Never throws: failures come back as HubFailure.
   * Its effect on the hub's state is applied synchronously, in call order, before the call
   * returns; results that wait for a durable write settle in call order. A binding may therefore
   * start the next request of a connection before the previous one settled, as long as it sends
   * the answers in request order.
   */
  handle(request: HubRequest, context: HubContext): Promise<HubResult>;
  /**
   * The permission check alone, for bindings that must decide before a request exists (MQTT
   * authorizeSubscribe). With `name`, observeproperty also checks the property can be observed
   * (it exists, is observable and not write-only). undefined = allowed; otherwise the problem to report.
   */
  authorize(client: Client, operation: Operation, thingId?: string, name?: string): Problem | undefined;
  /** Registers a live connection; push messages for it go to `sink`. */
  openSession(client: Client, binding: string, sink: SessionSink): Session;
  /** Forgets a session and all its subscriptions (idempotent). */
  closeSession(session: Session): void;
  /** The binding's send buffer drained (see SessionSink.ready): push the queued requests still owed to this session. */
  resumeDelivery(session: Session): void;
  /** Resolves when the request ends or the timeout passes, with its latest record (undefined if unknown). */
  awaitRequest(requestId: string, timeoutMs: number): Promise<RequestRecord | undefined>;
  /**
   * Notifications after `seq` that this client may see, if the replay buffer still holds all of
   * them; undefined when some were already evicted (the client should re-read state).
   */
  notificationsSince(seq: number, client: Client): NotificationMessage[] | undefined;
  presence(agentId: string): AgentPresence;
  /** undefined when the store takes writes (readiness); otherwise a 503 problem saying why not. Probes the store at most every few seconds. */
  ready(): Promise<Problem | undefined>;
  /** Adds a binding's forms to every twin TD served from now on. */
  addTwinTdContributor(contributor: TwinTdContributor): void;
}

/**
 * The lifecycle every transport binding (HTTP, WebSocket, MQTT) shares, so the hub starts them in
 * order, registers their contributors once all know their URLs, and closes them in reverse order.
 */
export interface HubBinding {
  /** Short name of the binding ('http', 'ws', 'mqtt'), used in logs and RunningHub.urls. */
  readonly name: string;
  /** Register with `addTwinTdContributor` after start(), so no twin TD is built with a guessed URL. */
  readonly contributor: TwinTdContributor;
  /** Listens (or connects); resolves with the URL this process reaches the binding at. */
  start(): Promise<{ url: string }>;
  /** Whether it serves now: listening (or connected to its broker); false before start() and after close(). Readiness asks it. */
  listening(): boolean;
  /** Stops accepting work and ends its connections; safe to call before or without start(). */
  close(): Promise<void>;
}
