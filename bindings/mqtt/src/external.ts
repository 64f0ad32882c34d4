// External mode: the hub is an ordinary client of someone else's broker (Mosquitto, EMQX, ...).
// It subscribes to the topics clients publish to and publishes values, events, requests and
// responses. The broker authenticates clients; the hub only learns identities from topics, so the
// broker's ACLs must guarantee that only client X publishes on clients/X/... (docs/mqtt.md).

import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { forbidden, notFound, type Client, type HubApi, type HubRequest, type Session } from '@twinhub/core';
import { disableNagle } from './nodelay.js';
import { handlePublish } from './inbound.js';
import { json, MQTT_SYSTEM_CLIENT, startMirror, type Mirror, type PublishOptions } from './mirror.js';
import { encodeLevel, INBOUND_FILTERS, isShareName, parseTopic, sharedFilter, topics, type InboundRoute } from './topics.js';
import type { RunningBroker } from './embedded.js';

export interface ExternalBrokerOptions {
  /** mqtt://, mqtts://, ws:// or wss:// URL of the broker. */
  url: string;
  username?: string;
  password?: string;
  /**
   * The hub's MQTT client id; stable, because the hub keeps a persistent session. Default 'twinhub'.
   * Instances sharing a broker need one each: a second connection with the same id takes the
   * session over and the broker disconnects the first (MQTT 5 §3.1.4). A function is called at
   * start (an instance's id may depend on the port it listens on).
   */
  clientId?: string | (() => string);
  /**
   * Several hub instances (cluster mode) share this broker: the inbound topics are subscribed as
   * MQTT 5 shared subscriptions `$share/{shareGroup}/…` (§4.8.2), so the broker hands each client
   * publish to one instance of the group; a graceful close leaves the group at once (the session
   * ends) instead of letting the broker queue this instance's share while it is gone.
   */
  shareGroup?: string;
  /**
   * Seconds the broker keeps the hub's session, and the messages it queues for it, while the hub is
   * offline (MQTT 5 §3.1.2.11.2). Default: no expiry (0xFFFFFFFF).
   */
  sessionExpirySeconds?: number;
  /**
   * True while the hub applies a change another instance made (cluster mode): the mirror leaves
   * publishing that value or event to the instance that made it.
   */
  fromOtherInstance?: () => boolean;
  /**
   * Hub client that plain topic writes and invocations (…/properties/{name}/set, …/actions/{name})
   * run as: a bare MQTT publish carries no identity the hub could check. Unset: they are refused
   * (logged), and consumers use request envelopes on clients/{clientId}/requests instead.
   */
  consumerId?: string;
}

interface RemoteSession {
  readonly client: Client;
  readonly session: Session;
}

/** QoS 0 messages in the hub at once before the next waits for one to be handled (backpressure). */
const MAX_PIPELINED = 64;
/** How long a graceful close waits for the broker's last messages to this instance before it leaves the share group. */
const DRAIN_QUIET_MS = 200;
const DRAIN_MAX_MS = 5000;

export async function startExternalBroker(hub: HubApi, logger: Logger, options: ExternalBrokerOptions): Promise<RunningBroker> {
  const sessions = new Map<string, RemoteSession>();
  const { shareGroup } = options;
  if (shareGroup !== undefined && !isShareName(shareGroup)) {
    throw new Error(`MQTT share group ${JSON.stringify(shareGroup)} must be non-empty and hold no '/', '+' or '#' (MQTT 5 §4.8.2)`);
  }
  const filters = INBOUND_FILTERS.map((filter) => (shareGroup === undefined ? filter : sharedFilter(shareGroup, filter)));

  const connection: MqttClient = await mqtt.connectAsync(
    options.url,
    {
      clientId: (typeof options.clientId === 'function' ? options.clientId() : options.clientId) ?? 'twinhub',
      username: options.username,
      password: options.password,
      protocolVersion: 5,
      // Persistent: QoS 1 requests published while the hub is down wait at the broker.
      clean: false,
      properties: { sessionExpiryInterval: options.sessionExpirySeconds ?? 0xffffffff },
      reconnectPeriod: 1000,
    },
    false,
  );
  connection.on('error', (error) => logger.warn({ err: error }, 'mqtt: external broker connection error'));
  connection.on('reconnect', () => logger.info('mqtt: reconnecting to the external broker'));
  disableNagle(connection);

  const publish = (topic: string, payload: Buffer, publishOptions: PublishOptions & { properties?: IPublishPacket['properties'] }) => {
    connection.publish(topic, payload, publishOptions, (error) => {
      if (error) logger.warn({ err: error, topic }, 'mqtt: publish to the external broker failed');
    });
  };

  function lookup(clientId: string): Client {
    const client = hub.clientById(clientId);
    if (!client) throw forbidden(`client '${clientId}' is unknown or its tokens were revoked`);
    return client;
  }

  /** Who a publish on `route` is attributed to (the broker's ACLs vouch for the topic). */
  async function attribute(route: InboundRoute): Promise<Client | undefined> {
    switch (route.kind) {
      case 'clientRequests':
        return lookup(route.clientId);
      case 'propertyReported':
      case 'eventReported': {
        const twin = await hub.handle({ operation: 'readtwin', thingId: route.thingId }, { client: MQTT_SYSTEM_CLIENT });
        if (!twin.ok) throw notFound(`Thing '${route.thingId}' is not registered; the agent registers its TD (updateTD) first`);
        return lookup((twin.output as { agentId: string }).agentId);
      }
      case 'propertySet':
      case 'action':
        return options.consumerId === undefined ? undefined : lookup(options.consumerId);
    }
  }

  function sessionFor(client: Client, request: HubRequest): Session | undefined {
    const existing = sessions.get(client.id);
    // An agent announces each (re)connection with subscriberequests: start over on a fresh session
    // so the core delivers everything still owed to it.
    if (existing && request.operation === 'subscriberequests') {
      sessions.delete(client.id);
      hub.closeSession(existing.session);
    } else if (existing) {
      return existing.session;
    }
    try {
      const session = hub.openSession(client, 'mqtt', {
        send(message) {
          if (message.type === 'request') publish(topics.agentRequests(client.id), json(message), { qos: 1, retain: false });
          else publish(topics.clientNotifications(client.id), json(message), { qos: 1, retain: false });
        },
        close(reason) {
          logger.info({ clientId: client.id, reason }, 'mqtt: the hub ended a remote session');
          if (sessions.get(client.id)?.session === session) sessions.delete(client.id);
        },
      });
      sessions.set(client.id, { client, session });
      return session;
    } catch (error) {
      logger.warn({ err: error, clientId: client.id }, 'mqtt: could not open a hub session');
      return undefined;
    }
  }

  async function onPublish(packet: IPublishPacket, handing?: () => void): Promise<boolean> {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    let publisher: Client | undefined;
    // Whom to answer: the attributed client, else the client the topic names (even if unknown,
    // so a refused request still gets its response envelope).
    const route = parseTopic(packet.topic);
    const answerTo = () => publisher?.id ?? (route?.kind === 'clientRequests' ? route.clientId : undefined);
    const { result } = await handlePublish(
      hub,
      logger,
      packet.topic,
      payload,
      {
        client: async (route) => (publisher = await attribute(route)),
        context: (client, request) => {
          const session = sessionFor(client, request);
          return session ? { client, session } : { client };
        },
        ...(handing ? { handing } : {}),
      },
      {
        response(message) {
          const clientId = answerTo();
          if (clientId === undefined) return;
          // MQTT 5 request/response, confined to the requester's own topics.
          const { responseTopic, correlationData } = packet.properties ?? {};
          const own = `clients/${encodeLevel(clientId)}/`;
          if (responseTopic?.startsWith(own) && !responseTopic.includes('+') && !responseTopic.includes('#')) {
            publish(responseTopic, json(message), { qos: 1, retain: false, properties: correlationData ? { correlationData } : {} });
          } else {
            publish(topics.clientResponses(clientId), json(message), { qos: 1, retain: false });
          }
        },
        error(message) {
          const clientId = answerTo();
          if (clientId !== undefined) publish(topics.clientErrors(clientId), json(message), { qos: 1, retain: false });
          else logger.warn({ topic: packet.topic, problem: message.error }, 'mqtt: refused a publish from an unidentified client');
        },
      },
    );
    // A hub failure is not acknowledged: the broker redelivers it (persistent session).
    return result.ok || result.status < 500;
  }

  // mqtt.js reads the next message only after handleMessage's callback, and acknowledges a QoS 1
  // message then: a QoS 1 message is called back once the hub has handled it (stored, or refused
  // with an answer), so nothing acknowledged is lost. A QoS 0 message has no acknowledgement: it is
  // called back as soon as the hub has it in its order (hub.handle called), so the next one is read
  // while this one waits for its group commit (up to MAX_PIPELINED), as on the embedded broker. Each
  // message starts only after the previous one was handed over, so the core sees them in arrival
  // order (the owner lookup before hub.handle is asynchronous here).
  let inFlight = 0;
  let lastMessageAt = 0;
  let previousHanded: Promise<void> = Promise.resolve();
  connection.handleMessage = (packet, callback) => {
    const publish = packet as IPublishPacket;
    inFlight += 1;
    lastMessageAt = Date.now();
    const pipelined = publish.qos === 0 && inFlight <= MAX_PIPELINED;
    let markHanded!: () => void;
    const handed = new Promise<void>((resolve) => (markHanded = resolve));
    const handled = previousHanded.then(() => onPublish(publish, markHanded));
    previousHanded = handed;
    // Refused before reaching the hub (unknown Thing...): handed over all the same, the next may start.
    void handled.finally(markHanded).catch(() => undefined);
    if (pipelined) void handed.then(() => callback());
    handled
      .then(
        (acknowledge) => {
          if (pipelined) {
            if (!acknowledge) logger.warn({ topic: publish.topic }, 'mqtt: a QoS 0 message failed in the hub (not stored)');
          } else if (acknowledge) callback();
          else callback(new Error('hub failure; message left unacknowledged'));
        },
        (error) => {
          if (pipelined) logger.warn({ err: error, topic: publish.topic }, 'mqtt: a QoS 0 message failed in the hub');
          else callback(error as Error);
        },
      )
      .finally(() => {
        inFlight -= 1;
        lastMessageAt = Date.now();
      });
  };

  /**
   * Leaving a share group: stop new messages (UNSUBSCRIBE), handle what the broker had already sent
   * or queued for this session, then end the session (DISCONNECT with Session Expiry Interval 0,
   * MQTT 5 §3.14.2.2.2) so the broker gives the group's messages to the other instances only.
   */
  async function leaveShareGroup(): Promise<void> {
    await connection.unsubscribeAsync(filters);
    const deadline = Date.now() + DRAIN_MAX_MS;
    while (Date.now() < deadline && (inFlight > 0 || Date.now() - lastMessageAt < DRAIN_QUIET_MS)) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_QUIET_MS / 4));
    }
    await connection.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  }

  let mirror: Mirror | undefined;
  try {
    await connection.subscribeAsync(Object.fromEntries(filters.map((topic) => [topic, { qos: 1 as const }])));
    mirror = await startMirror(hub, logger, publish, options.fromOtherInstance ? { fromOtherInstance: options.fromOtherInstance } : {});
  } catch (error) {
    mirror?.close();
    await connection.endAsync(true);
    throw error;
  }
  logger.info({ url: options.url, ...(shareGroup !== undefined ? { shareGroup } : {}) }, 'mqtt: connected to the external broker');

  return {
    url: options.url,
    listening: () => connection.connected,
    async close() {
      // A shared instance first hands its share back, while its mirror and sessions still answer.
      if (shareGroup !== undefined && connection.connected) {
        await leaveShareGroup().catch((error) => logger.warn({ err: error }, 'mqtt: could not leave the share group cleanly'));
      }
      mirror?.close();
      for (const { session } of sessions.values()) hub.closeSession(session);
      sessions.clear();
      await connection.endAsync();
    },
  };
}
