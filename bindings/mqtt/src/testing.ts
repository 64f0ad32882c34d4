// A small promise-based MQTT client for tests (subpath `@twinhub/binding-mqtt/testing`, for this
// package's tests and the e2e tests in /test): it keeps every message it receives in the test
// kit's Inbox, so a test can await the next one on a topic, send request envelopes and await their
// response, or check that nothing arrived.

import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { AgentRequestMessage, HubRequest, NotificationMessage, ResponseMessage } from '@twinhub/core';
import { Inbox } from '@twinhub/testkit';
import { disableNagle } from './nodelay.js';
import { topicMatches, topics } from './topics.js';
import type { PublishError } from './inbound.js';

export { findMosquitto, MOSQUITTO_SKIP_HINT, startMosquitto, type MosquittoBroker } from './mosquitto-broker.js';

const DEFAULT_TIMEOUT_MS = 5000;

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** The payload parsed as JSON (throws if it is not JSON). */
  json(): unknown;
}

export type MessageMatch = string | ((message: ReceivedMessage) => boolean);

export interface MqttTestClientOptions {
  /** Hub client id (the MQTT username). */
  username?: string;
  /** Hub token (the MQTT password). */
  password?: string;
  /** MQTT client id; default: a random one. */
  clientId?: string;
  /** MQTT clean session; default true. */
  clean?: boolean;
  /** Subscribe to clients/{username}/responses, errors and notifications on connect (default true). */
  subscribeOwnTopics?: boolean;
  /** Extra mqtt.js options. */
  mqtt?: IClientOptions;
}

export interface MqttTestClient {
  readonly mqtt: MqttClient;
  /** Whether the broker still had this client's session (CONNACK session present). */
  readonly sessionPresent: boolean;
  /** Subscribes; resolves with the granted QoS per filter (128 = refused). */
  subscribe(filter: string | string[], qos?: 0 | 1 | 2): Promise<number[]>;
  unsubscribe(filter: string | string[]): Promise<void>;
  /** Publishes `value` as JSON (a Buffer or string as is); QoS 1 by default, resolves on PUBACK. */
  publish(topic: string, value: unknown, options?: { qos?: 0 | 1 | 2; retain?: boolean; raw?: boolean }): Promise<void>;
  /** Publishes a request envelope on clients/{username}/requests and resolves with its response. */
  request(request: HubRequest, timeoutMs?: number): Promise<ResponseMessage>;
  /** The next message (buffered or future) on a topic matching `match` (an MQTT filter or a predicate). */
  nextMessage(match: MessageMatch, timeoutMs?: number): Promise<ReceivedMessage>;
  /** The next error message on clients/{username}/errors (about `topic`, when given). */
  nextError(topic?: string, timeoutMs?: number): Promise<PublishError>;
  /** The next queued request pushed on agents/{username}/requests. */
  nextAgentRequest(timeoutMs?: number): Promise<AgentRequestMessage>;
  nextNotification(match?: (notification: NotificationMessage) => boolean, timeoutMs?: number): Promise<NotificationMessage>;
  /** Every message received so far (consumed or not), in arrival order. */
  readonly received: readonly ReceivedMessage[];
  /** Closes the connection (force: without DISCONNECT, as if the network dropped). */
  close(force?: boolean): Promise<void>;
}

function matcher(match: MessageMatch): (message: ReceivedMessage) => boolean {
  return typeof match === 'string' ? (message) => topicMatches(match, message.topic) : match;
}

/** Connects to the broker; rejects (with the mqtt.js error, e.g. code 4 or 5) if the CONNACK refuses. */
export async function connectMqtt(url: string, options: MqttTestClientOptions = {}): Promise<MqttTestClient> {
  const client = mqtt.connect(url, {
    clientId: options.clientId ?? `test-${randomUUID().slice(0, 8)}`,
    username: options.username,
    password: options.password,
    clean: options.clean ?? true,
    reconnectPeriod: 0,
    connectTimeout: DEFAULT_TIMEOUT_MS,
    ...options.mqtt,
  });
  disableNagle(client);
  const inbox = new Inbox<ReceivedMessage>({ keepHistory: true });
  client.on('message', (topic, payload, packet) => {
    inbox.push({ topic, payload, retain: packet.retain, json: () => JSON.parse(payload.toString('utf8')) });
  });
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (connack) => resolve(connack.sessionPresent));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
  client.on('error', () => {}); // later errors surface as failed operations

  const nextMessage = (match: MessageMatch, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReceivedMessage> =>
    inbox.take(matcher(match), timeoutMs, `message matching ${typeof match === 'string' ? match : 'the predicate'}`);

  const subscribe = async (filter: string | string[], qos: 0 | 1 | 2 = 1): Promise<number[]> => {
    try {
      const granted = await client.subscribeAsync(filter, { qos });
      return granted.map((grant) => grant.qos);
    } catch (error) {
      // mqtt.js rejects when a filter was refused (SUBACK 0x80); report the grants instead.
      const granted = (error as { packet?: { granted?: number[] } }).packet?.granted;
      if (granted) return granted;
      throw error;
    }
  };

  const username = options.username ?? '';
  if (options.subscribeOwnTopics !== false && options.username) {
    await subscribe([topics.clientResponses(username), topics.clientErrors(username), topics.clientNotifications(username)]);
  }

  return {
    mqtt: client,
    sessionPresent,
    subscribe,
    async unsubscribe(filter) {
      await client.unsubscribeAsync(filter);
    },
    async publish(topic, value, publishOptions = {}) {
      const payload = Buffer.isBuffer(value) ? value : publishOptions.raw && typeof value === 'string' ? value : JSON.stringify(value);
      await client.publishAsync(topic, payload, { qos: publishOptions.qos ?? 1, retain: publishOptions.retain ?? false });
    },
    async request(request, timeoutMs) {
      const correlationId = request.correlationId ?? randomUUID();
      await client.publishAsync(topics.clientRequests(username), JSON.stringify({ type: 'request', ...request, correlationId }), { qos: 1 });
      const response = await nextMessage(
        (message) => message.topic === topics.clientResponses(username) && (message.json() as ResponseMessage).correlationId === correlationId,
        timeoutMs,
      );
      return response.json() as ResponseMessage;
    },
    nextMessage,
    async nextError(topic, timeoutMs) {
      const errors = topics.clientErrors(username);
      const message = await nextMessage((m) => m.topic === errors && (topic === undefined || (m.json() as PublishError).topic === topic), timeoutMs);
      return message.json() as PublishError;
    },
    async nextAgentRequest(timeoutMs) {
      return (await nextMessage(topics.agentRequests(username), timeoutMs)).json() as AgentRequestMessage;
    },
    async nextNotification(match, timeoutMs) {
      const message = await nextMessage(
        (m) => m.topic === topics.clientNotifications(username) && (!match || match(m.json() as NotificationMessage)),
        timeoutMs,
      );
      return message.json() as NotificationMessage;
    },
    get received() {
      return inbox.items;
    },
    async close(force = false) {
      await client.endAsync(force);
    },
  };
}

/** The CONNACK return code of a refused connection (throws if the broker accepts it). */
export async function connectRefusal(url: string, options: MqttTestClientOptions): Promise<number> {
  try {
    const client = await connectMqtt(url, { ...options, subscribeOwnTopics: false });
    await client.close(true);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw error;
  }
  throw new Error('the broker accepted the connection');
}

/** Waits `ms` — for asserting that something does NOT arrive. */
export const quiet = (ms = 200) => new Promise((resolve) => setTimeout(resolve, ms));

export { eventually } from '@twinhub/core/testing';
