// Embedded mode: an aedes broker inside the hub. aedes' hooks carry the policy: authenticate maps
// username/password to a hub client, authorizePublish turns each publish into a hub request (and
// holds a QoS 1 PUBACK until the hub has accepted it durably), authorizeSubscribe and
// authorizeForward apply the core's permission table per topic and per message. Client publishes
// end at the hub (only the hub's own are routed); each connection's outbound side is connection.ts.

import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createBrokerEmitter } from './emitter.js';
import { type RetainedPersistence, serveRetainedValuesFromState } from './retained-values.js';
import { Aedes, type AedesPublishPacket, type Client as AedesClient, type Subscription } from 'aedes';
import type { Logger } from 'pino';
import {
  AuthFailures,
  NO_OBSERVER,
  type HubObserver,
  envelopeLimitBytes,
  forbidden,
  peekCorrelationId,
  isHubError,
  notFound,
  type Client,
  type HubApi,
  type Problem,
} from '@twinhub/core';
import { MqttConnection, subscriptionsOf } from './connection.js';
import { handlePublish, publishProblem, SCHEME_HINT } from './inbound.js';
import { PendingConnections } from './admission.js';
import { createPacketSizeGuard } from './packet-guard.js';
import { RecentPublishes } from './resends.js';
import { MqttSessions } from './sessions.js';
import { startMirror, type Mirror } from './mirror.js';
import { hasWildcard, parseTopic, topics } from './topics.js';

export interface EmbeddedBrokerOptions {
  port: number;
  host: string;
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Connections accepted but not yet authenticated; further ones are closed at once. Default 256. */
  maxPendingConnections?: number;
  /** How long a new connection may take to send CONNECT (and, with TLS, to finish the handshake). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Persistent (clean=false) MQTT sessions one hub client keeps; a new one evicts its oldest offline one. Default 10. */
  maxPersistentSessionsPerClient?: number;
  /** Seconds a persistent session lives without a connection (then its subscriptions and queued messages go). Default 86400. */
  sessionExpirySeconds?: number;
  /** At most one warning per remote address per this interval about failed authentications. Default 5000 ms. */
  authFailureLogIntervalMs?: number;
  /** The longest wait before refusing a bad login, ms (default 3000; 0: no slowdown). */
  authFailureMaxDelayMs?: number;
}

const EMBEDDED_DEFAULTS = {
  maxPendingConnections: 256,
  connectTimeoutMs: 5000,
  maxPersistentSessionsPerClient: 10,
  sessionExpirySeconds: 86_400,
  authFailureLogIntervalMs: 5000,
} as const;

export interface RunningBroker {
  url: string;
  /** The embedded listener accepts connections / the external broker connection is up. */
  listening(): boolean;
  close(): Promise<void>;
}

/**
 * QoS 0 publishes in flight per connection beyond which aedes' authorizePublish callback is held
 * until the hub answered, so a client that floods stops being read (TCP backpressure).
 */
const MAX_IN_FLIGHT_PUBLISHES = 64;

type Done = (error?: Error) => void;

/** CONNACK return codes of MQTT 3.1.1 (aedes' AuthErrorCode is a const enum, unusable here). */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refusal(message: string, returnCode: number): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

/** The will of a connecting client (aedes sets it before authenticate; not part of its typings). */
function willOf(mqtt: AedesClient): { topic: string } | undefined {
  return (mqtt as unknown as { _will?: { topic: string } | null })._will ?? undefined;
}

/** The broker state of an ended persistent session, as a clean CONNECT would drop it (MQTT 3.1.1 §3.1.2.4). */
async function forgetSession(aedes: Aedes, mqttClientId: string): Promise<void> {
  // aedes' persistence API takes a client-like { id }; its typings do not declare the instance's persistence.
  const { persistence } = aedes as unknown as {
    persistence: {
      cleanSubscriptions(client: { id: string }): Promise<void>;
      cleanIncoming(client: { id: string }): Promise<void>;
      outgoingStream(client: { id: string }): AsyncIterable<{ messageId?: number }>;
      outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<unknown>;
      delWill(client: { id: string; brokerId: string }): Promise<unknown>;
    };
  };
  const client = { id: mqttClientId };
  await persistence.cleanSubscriptions(client);
  await persistence.cleanIncoming(client);
  for await (const packet of persistence.outgoingStream(client)) await persistence.outgoingClearMessageId(client, packet);
  await persistence.delWill({ id: mqttClientId, brokerId: aedes.id }).catch(() => undefined); // no will stored
}

export async function startEmbeddedBroker(
  hub: HubApi,
  logger: Logger,
  options: EmbeddedBrokerOptions,
  observer: Pick<HubObserver, 'authFailed' | 'slowClientDropped'> = NO_OBSERVER,
): Promise<RunningBroker> {
  const connections = new WeakMap<AedesClient, MqttConnection>();
  const live = new Set<MqttConnection>();
  const recentPublishes = new RecentPublishes();

  const connectTimeoutMs = options.connectTimeoutMs ?? EMBEDDED_DEFAULTS.connectTimeoutMs;
  const authFailures = new AuthFailures(
    logger,
    Date.now,
    options.authFailureLogIntervalMs ?? EMBEDDED_DEFAULTS.authFailureLogIntervalMs,
    observer,
    options.authFailureMaxDelayMs,
  );
  const pending = new PendingConnections(options.maxPendingConnections ?? EMBEDDED_DEFAULTS.maxPendingConnections, logger);
  // connectTimeout: a socket that sends no CONNECT holds a file descriptor; 5 s, not aedes' 30 s.
  const aedes = await Aedes.createBroker({
    id: 'twinhub',
    drainTimeout: 30_000,
    heartbeatInterval: 60_000,
    connectTimeout: connectTimeoutMs,
    // Drains a backlog without recursing per queued message (emitter.ts): overload must not overflow the stack.
    mq: createBrokerEmitter(),
  });
  // Retained property values come from the twin state (retained-values.ts), so nothing seeds them.
  // aedes' typings do not declare the instance's persistence.
  serveRetainedValuesFromState((aedes as unknown as { persistence: RetainedPersistence }).persistence, hub, logger);
  // A client's publish (accepted, refused, or its will) is a request to the hub, never a message
  // for other clients: the hub republishes what it accepted on its own topics. So the broker
  // routes and retains only the hub's own publishes (made without a client), and no subscriber
  // ever receives, and no retained slot ever holds, what a client wrote on a hub topic.
  // aedes calls publish(packet, client, done) for client publishes and wills, and
  // publish(packet, done) for its own and the hub's; its typings only know the second form.
  type BrokerPublish = (packet: AedesPublishPacket, clientOrDone?: AedesClient | Done | null, done?: Done) => void;
  const route = aedes.publish.bind(aedes) as unknown as BrokerPublish;
  (aedes as unknown as { publish: BrokerPublish }).publish = (packet, clientOrDone, done) => {
    if (clientOrDone && typeof clientOrDone !== 'function') {
      if (done) setImmediate(done);
    } else {
      route(packet, clientOrDone, done);
    }
  };

  const maxPersistentPerClient = options.maxPersistentSessionsPerClient ?? EMBEDDED_DEFAULTS.maxPersistentSessionsPerClient;
  const sessions = new MqttSessions(
    { maxPersistentPerClient, expiryMs: (options.sessionExpirySeconds ?? EMBEDDED_DEFAULTS.sessionExpirySeconds) * 1000 },
    (mqttClientId) => forgetSession(aedes, mqttClientId),
    logger,
  );

  // ---- agent requests ------------------------------------------------------------------------

  function setRequests(conn: MqttConnection, on: boolean): void {
    if (conn.closed || conn.receivesRequests === on || conn.client.role !== 'agent') return;
    conn.receivesRequests = on;
    const session = conn.session;
    const operation = on ? 'subscriberequests' : 'unsubscriberequests';
    conn.pipeline(hub.handle({ operation }, { client: conn.client, ...(session ? { session } : {}) }), (result) => {
      if (!result.ok) {
        if (on) conn.receivesRequests = false;
        conn.sendError({ type: 'response', operation, status: result.status, error: result.problem, topic: topics.agentRequests(conn.client.id) });
      }
    });
  }

  const requestTopicOf = (conn: MqttConnection) => topics.agentRequests(conn.client.id);

  // ---- hooks ---------------------------------------------------------------------------------

  aedes.authenticate = (mqtt, username, password, done) => {
    void (async () => {
      if (live.size >= hub.limits.maxConnections) return done(refusal('too many connections', SERVER_UNAVAILABLE), false);
      const remote = (mqtt.conn as Socket).remoteAddress;
      if (!username || !password) {
        await authFailures.refuse({ remoteAddress: remote ?? 'unknown', binding: 'mqtt', reason: 'no username or password' });
        return done(refusal('username (client id) and password (token) are required', BAD_USERNAME_OR_PASSWORD), false);
      }
      const client = await hub.authenticate(password.toString('utf8'));
      if (!client || client.id !== username) {
        const reason = `${client ? 'token of another client' : 'unknown or revoked token'} for username '${username}'`;
        await authFailures.refuse({ remoteAddress: remote ?? 'unknown', binding: 'mqtt', reason });
        return done(refusal('bad username or password', BAD_USERNAME_OR_PASSWORD), false);
      }
      // Wills are publishes made on the client's behalf: the same rules, checked up front.
      const will = willOf(mqtt);
      const willProblem = will && publishProblem(hub, client, will.topic);
      if (willProblem) return done(refusal(`will topic '${will.topic}': ${willProblem.detail}`, NOT_AUTHORIZED), false);
      const claimRefused = sessions.claim(mqtt.id, client.id, mqtt.clean);
      if (claimRefused === 'owned-by-another-client') {
        return done(refusal(`MQTT client id '${mqtt.id}' belongs to another hub client`, IDENTIFIER_REJECTED), false);
      }
      if (claimRefused === 'too-many-persistent-sessions') {
        return done(refusal(`client '${client.id}' already has ${maxPersistentPerClient} persistent sessions connected, the limit`, SERVER_UNAVAILABLE), false);
      }
      const conn = new MqttConnection(mqtt, client, hub, logger, () => observer.slowClientDropped('mqtt'));
      try {
        conn.openSession();
      } catch (error) {
        sessions.release(mqtt.id);
        const detail = isHubError(error) ? error.problem.detail : 'the hub could not open a session';
        return done(refusal(detail, SERVER_UNAVAILABLE), false);
      }
      connections.set(mqtt, conn);
      live.add(conn);
      pending.authenticated(mqtt.conn as Socket);
      mqtt.conn.once('close', () => {
        conn.closedBySocket();
        live.delete(conn);
        sessions.release(mqtt.id);
      });
      done(null, true);
    })().catch((error) => {
      logger.error({ err: error }, 'mqtt: authentication failed');
      done(refusal('authentication failed', SERVER_UNAVAILABLE), false);
    });
  };

  aedes.authorizePublish = (mqtt, packet, done) => {
    const conn = mqtt ? connections.get(mqtt) : undefined;
    if (!conn) return done(new Error('publish from an unauthenticated client'));
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    // A QoS 1/2 resend (DUP=1) of a publish the hub handled or is handling: acknowledge it once the
    // original is, without a second request (MQTT 3.1.1 §4.3.2: the receiver must not apply it twice).
    const resendKeys =
      packet.qos > 0 ? RecentPublishes.keys(conn.mqtt.id, packet.messageId, correlationIdOf(packet.topic, payload, envelopeLimitBytes(hub.limits))) : [];
    const original = packet.dup ? recentPublishes.original(conn.client.id, resendKeys) : undefined;
    if (original) {
      logger.debug(
        { clientId: conn.client.id, topic: packet.topic, messageId: packet.messageId },
        'mqtt: resent publish acknowledged without running it again',
      );
      conn.pipeline(original, (acknowledged) => (acknowledged ? done(null) : done(new Error('hub failure; the resent publish stays unacknowledged'))));
      return;
    }
    // Replies wait for the replies to earlier publishes of this connection.
    const replies: Array<() => void> = [];
    const outcome = handlePublish(
      hub,
      logger,
      packet.topic,
      payload,
      {
        client: () => conn.client,
        context: (client) => (conn.session ? { client, session: conn.session } : { client }),
      },
      {
        response: (message) => replies.push(() => conn.sendOwn(topics.clientResponses(conn.client.id), message, true)),
        error: (message) => replies.push(() => conn.sendError(message)),
      },
    );
    // A hub failure (5xx) is neither accepted nor refused: it is not acknowledged (a QoS 1 client resends it).
    const failed = outcome.then(({ result }) => !result.ok && result.status >= 500);
    recentPublishes.remember(
      conn.client.id,
      resendKeys,
      failed.then((hubFailed) => !hubFailed),
    );
    // QoS 0 has no acknowledgement to hold: let aedes read on while the hub works (up to a bound).
    const released = packet.qos === 0 && conn.inFlight < MAX_IN_FLIGHT_PUBLISHES && conn.answersDrained;
    if (released) done(null);
    const settled = failed.then(async (hubFailed) => {
      if (!released) await conn.drained();
      return hubFailed;
    });
    conn.pipeline(settled, (hubFailed) => {
      for (const reply of replies) reply();
      if (released) {
        if (hubFailed) conn.mqtt.close();
      } else if (hubFailed) done(new Error('hub failure; the publish stays unacknowledged'));
      // Accepted, or refused with an error the client can read: PUBACK it.
      else done(null);
    });
  };

  function subscribeProblem(client: Client, filter: string): Problem | undefined {
    // '$' topics are the broker's own ($SYS statistics): not part of the twin API, never served.
    if (filter.startsWith('$')) return notFound(`'${filter}': topics starting with '$' are broker-internal and not served; see docs/mqtt.md`).problem;
    // Wildcard filters are allowed; authorizeForward decides per message what they deliver.
    if (hasWildcard(filter)) return undefined;
    const route = parseTopic(filter);
    if (!route) return notFound(`topic '${filter}' is not part of the twinhub MQTT topic scheme; see docs/mqtt.md`).problem;
    switch (route.kind) {
      case 'propertyValue':
        // Subscribing to one value topic observes that property: refused like observeproperty is
        // on every binding (unknown, write-only or non-observable property).
        return hub.authorize(client, 'observeproperty', route.thingId, route.name);
      case 'event':
        return hub.authorize(client, 'subscribeevent', route.thingId);
      case 'agentRequests':
        return route.clientId === client.id
          ? hub.authorize(client, 'subscriberequests')
          : forbidden(`client '${client.id}' may only subscribe to its own agents/{clientId}/requests`).problem;
      case 'clientResponses':
      case 'clientNotifications':
      case 'clientErrors':
        return route.clientId === client.id
          ? undefined
          : forbidden(`client '${client.id}' may only subscribe to its own clients/{clientId}/... topics`).problem;
      default:
        return forbidden(`'${filter}' is a topic clients publish to; nothing is delivered on it. ${SCHEME_HINT}`).problem;
    }
  }

  aedes.authorizeSubscribe = (mqtt, subscription: Subscription, done) => {
    const conn = connections.get(mqtt);
    if (!conn) return done(new Error('subscribe from an unauthenticated client'));
    const problem = subscribeProblem(conn.client, subscription.topic);
    if (problem) {
      logger.debug({ clientId: conn.client.id, topic: subscription.topic, problem }, 'mqtt: subscription refused');
      conn.sendProblem(problem, subscription.topic);
      return done(null, null); // SUBACK 0x80 for this filter; the connection stays
    }
    done(null, subscription);
  };

  aedes.authorizeForward = (mqtt, packet: AedesPublishPacket) => {
    const conn = connections.get(mqtt);
    if (!conn) return null;
    const route = parseTopic(packet.topic);
    if (!route) return null;
    const { client } = conn;
    switch (route.kind) {
      case 'propertyValue':
        // An empty payload clears a deleted Thing's value; its owner can no longer be checked.
        if (packet.payload.length === 0 && client.role === 'agent') return null;
        return hub.authorize(client, 'observeproperty', route.thingId) ? null : packet;
      case 'event':
        return hub.authorize(client, 'subscribeevent', route.thingId) ? null : packet;
      case 'agentRequests': {
        if (route.clientId !== client.id) return null;
        // Only requests this connection's hub session pushed: a copy aedes queued for an earlier
        // connection of a persistent session is dropped, the core redelivers what is still owed.
        const actionId = actionIdOf(packet.payload);
        return actionId !== undefined && conn.pushedRequests.delete(actionId) ? packet : null;
      }
      case 'clientResponses':
      case 'clientNotifications':
      case 'clientErrors':
        return route.clientId === client.id ? packet : null;
      default:
        return null; // inbound topics deliver nothing
    }
  };

  aedes.on('clientReady', (mqtt) => {
    const conn = connections.get(mqtt);
    // A persistent session's restored subscription counts as subscribing again.
    if (conn && Object.hasOwn(subscriptionsOf(mqtt), requestTopicOf(conn))) setRequests(conn, true);
  });
  aedes.on('subscribe', (subscriptions, mqtt) => {
    const conn = connections.get(mqtt);
    if (conn && subscriptions.some((s) => s.topic === requestTopicOf(conn) && (s.qos as number) !== 128)) setRequests(conn, true);
  });
  aedes.on('unsubscribe', (unsubscriptions, mqtt) => {
    const conn = connections.get(mqtt);
    if (conn && !conn.closed && unsubscriptions.includes(requestTopicOf(conn))) setRequests(conn, false);
  });
  aedes.on('clientError', (mqtt, error) => logger.debug({ err: error, mqttClientId: mqtt?.id }, 'mqtt: client error'));
  aedes.on('connectionError', (_mqtt, error) => logger.debug({ err: error }, 'mqtt: connection error'));

  // ---- listen --------------------------------------------------------------------------------

  let mirror: Mirror | undefined;
  // Envelopes may carry a whole TD; the rest is room for the topic and packet fields.
  const maxPacketBytes = envelopeLimitBytes(hub.limits) + 64 * 1024;
  const accept = (socket: Socket) => {
    // Small request/response packets: without this, Nagle's algorithm meets the client's delayed
    // ACK and every answer waits ~40 ms.
    socket.setNoDelay(true);
    if (!pending.admit(socket)) return;
    aedes.handle(socket);
    // Listening to 'data' after aedes' 'readable' listener only observes what aedes reads.
    const guard = createPacketSizeGuard(maxPacketBytes);
    socket.on('data', (chunk: Buffer) => {
      const size = guard(chunk);
      if (size === undefined) return;
      logger.warn({ size, maxPacketBytes, remote: socket.remoteAddress }, 'mqtt: packet over the size limit; closing the connection');
      socket.destroy();
    });
  };
  const server: Server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert, handshakeTimeout: connectTimeoutMs }, accept)
    : createServer(accept);
  try {
    mirror = await startMirror(
      hub,
      logger,
      (topic, payload, { qos, retain }) => {
        aedes.publish({ cmd: 'publish', topic, payload, qos, retain, dup: false }, (error) => {
          if (error) logger.warn({ err: error, topic }, 'mqtt: broker publish failed');
        });
      },
      { seedRetained: false },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    mirror?.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.tls ? 'mqtts' : 'mqtt'}://${host}:${address.port}`;
  logger.info({ url }, 'mqtt: embedded broker listening');

  return {
    url,
    listening: () => server.listening,
    async close() {
      mirror?.close();
      sessions.close();
      // aedes.close() disconnects the clients; only then can the listener finish closing.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await closed;
      for (const conn of live) {
        conn.closed = true;
        if (conn.session) hub.closeSession(conn.session);
      }
      live.clear();
    },
  };
}

/** The correlationId of an envelope request (clients/{id}/requests), if the payload has one. */
function correlationIdOf(topic: string, payload: Buffer, maxBytes: number): string | undefined {
  return parseTopic(topic)?.kind === 'clientRequests' ? peekCorrelationId(payload, maxBytes) : undefined;
}

function actionIdOf(payload: Buffer | string): string | undefined {
  try {
    const message = JSON.parse(payload.toString()) as { actionId?: unknown };
    return typeof message?.actionId === 'string' ? message.actionId : undefined;
  } catch {
    return undefined;
  }
}
