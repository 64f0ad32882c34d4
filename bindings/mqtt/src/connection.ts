// One authenticated connection to the embedded broker: its hub session, and the hub's messages to
// it, flow-controlled (the core pushes queued requests only while the connection is ready, held
// inbound publishes wait for the answers to drain), finished in the order the work arrived.

import type { Client as AedesClient } from 'aedes';
import type { Logger } from 'pino';
import { toErrorMessage, type Client, type HubApi, type Problem, type Session } from '@twinhub/core';
import type { PublishError } from './inbound.js';
import { json } from './mirror.js';
import { topicMatches, topics } from './topics.js';

/** The client's subscriptions (aedes keeps them on the client; not in its typings). */
export function subscriptionsOf(mqtt: AedesClient): Record<string, { qos: number }> {
  return (mqtt as unknown as { subscriptions?: Record<string, { qos: number }> }).subscriptions ?? {};
}

export class MqttConnection {
  session?: Session;
  receivesRequests = false;
  /** actionIds pushed on this connection: only these may be forwarded on agents/{id}/requests. */
  readonly pushedRequests = new Set<string>();
  /** Inbound work handed to the hub and not finished yet. */
  inFlight = 0;
  closed = false;
  /**
   * Inbound work (publishes, request (un)subscriptions) reaches the hub as it arrives, in order;
   * this chain finishes it (replies, PUBACKs) in the same order once the hub answered.
   */
  private work: Promise<void> = Promise.resolve();
  /** Bytes of the hub's own messages handed to aedes and not yet in the socket (aedes writes on setImmediate). */
  private queuedBytes = 0;
  /**
   * Of those, the answers to this client's own publishes (responses, errors). Only these hold its
   * inbound publishes: counting the pushed request backlog too deadlocked an agent acknowledging
   * each request — the hub stopped reading it while requests filled its socket, and the agent
   * (its acknowledgement writes blocked) stopped reading the requests. The backlog has its own flow
   * control (ready/resumeDelivery).
   */
  private queuedAnswerBytes = 0;
  /** The core was told the connection is not ready (SessionSink.ready) and waits for resumeDelivery. */
  private backlogged = false;
  /** Inbound publishes held (not read on) until the hub's answers to this connection drained. */
  private readonly drainWaiters: Array<() => void> = [];
  /** Below this the core may push more queued requests; a backlog then flows at the pace the client reads. */
  private readonly lowWaterBytes: number;

  constructor(
    readonly mqtt: AedesClient,
    readonly client: Client,
    private readonly hub: HubApi,
    private readonly logger: Logger,
    /** Called when this client is disconnected for not keeping up (metrics); default: nothing. */
    private readonly onSlowClient: () => void = () => undefined,
  ) {
    this.lowWaterBytes = Math.floor(hub.limits.maxSendBufferBytes / 4);
    mqtt.conn.on('drain', () => this.resumeIfDrained());
  }

  /** Opens the connection's hub session (throws the core's HubError, e.g. 429 over maxSessionsPerClient). */
  openSession(): void {
    this.session = this.hub.openSession(this.client, 'mqtt', {
      send: (message) => {
        if (message.type === 'request') {
          this.pushedRequests.add(message.actionId);
          this.sendOwn(topics.agentRequests(this.client.id), message);
        } else {
          this.sendOwn(topics.clientNotifications(this.client.id), message);
        }
      },
      close: (reason) => {
        this.logger.info({ clientId: this.client.id, reason }, 'mqtt: the hub ended the session; disconnecting');
        this.mqtt.close();
      },
      ready: () => this.ready(),
    });
  }

  /** The socket closed: forget the session and release held work. */
  closedBySocket(): void {
    this.closed = true;
    for (const resume of this.drainWaiters.splice(0)) resume();
    if (this.session) this.hub.closeSession(this.session);
  }

  /** Whether the hub's messages still waiting to be sent are below the low-water mark (the core may push more). */
  get drainedNow(): boolean {
    return this.unsentBytes() < this.lowWaterBytes;
  }

  /** Whether the answers to this client's publishes still waiting to be sent are below the low-water mark. */
  get answersDrained(): boolean {
    return this.queuedAnswerBytes < this.lowWaterBytes;
  }

  /**
   * Resolves once the hub's answers to this connection are below the low-water mark: a client that
   * publishes faster than it reads the answers is read no faster than they drain (TCP backpressure)
   * instead of being dropped at maxSendBufferBytes.
   */
  drained(): Promise<void> {
    if (this.closed || this.answersDrained) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** `started` is already with the hub; `finish` runs once it settled, after earlier work finished. */
  pipeline<T>(started: Promise<T>, finish: (outcome: T) => void): void {
    this.inFlight += 1;
    this.work = this.work
      .then(() => started)
      .then(finish)
      .catch((error) => this.logger.error({ err: error, clientId: this.client.id }, 'mqtt: connection task failed'))
      .finally(() => (this.inFlight -= 1));
  }

  /** Sends to this connection only, on one of its own topics, if it subscribed to that topic; `answer`: to one of its publishes. */
  sendOwn(topic: string, value: unknown, answer = false): void {
    if (this.closed) return;
    const filter = Object.entries(subscriptionsOf(this.mqtt)).find(([f]) => topicMatches(f, topic));
    if (!filter) {
      this.logger.debug({ clientId: this.client.id, topic }, 'mqtt: dropped a message for a topic the client did not subscribe to');
      return;
    }
    if (this.unsentPushedBytes() > this.hub.limits.maxSendBufferBytes) {
      this.logger.warn({ clientId: this.client.id, unsentBytes: this.unsentBytes() }, 'mqtt: client does not keep up with its messages; disconnecting it');
      this.onSlowClient();
      this.mqtt.close();
      return;
    }
    const qos = Math.min(1, filter[1].qos) as 0 | 1;
    const payload = json(value);
    // Payload, topic and a few header bytes (MQTT 3.1.1 §3.3).
    const size = payload.length + Buffer.byteLength(topic) + 8;
    this.queuedBytes += size;
    if (answer) this.queuedAnswerBytes += size;
    this.mqtt.publish({ cmd: 'publish', topic, payload, qos, retain: false, dup: false }, (error) => {
      this.queuedBytes -= size;
      if (answer) this.queuedAnswerBytes -= size;
      if (error) this.logger.debug({ err: error, clientId: this.client.id, topic }, 'mqtt: delivery failed');
      this.resumeIfDrained();
    });
  }

  sendError(message: PublishError): void {
    this.sendOwn(topics.clientErrors(this.client.id), message, true);
  }

  sendProblem(problem: Problem, topic: string): void {
    this.sendError({ ...toErrorMessage(problem), topic });
  }

  /**
   * The hub's own messages to this connection not yet sent. aedes calls a publish back once the
   * socket took it, or, above the socket's high-water mark, once it drained: so queuedBytes already
   * covers most of writableLength, and adding them would count those bytes twice.
   */
  private unsentBytes(): number {
    return Math.max(this.queuedBytes, this.mqtt.conn.writableLength);
  }

  /**
   * Of the unsent bytes, those the hub pushed (requests, notifications), not the answers to the
   * client's own publishes: only these may get a client dropped as too slow. Answers are bounded by
   * holding its publishes instead, though not to the byte: aedes hands over every publish of one
   * socket read at once, and a read of acknowledgements can carry hundreds, each answered (seen: an
   * agent acknowledging a backlog under load was dropped at 860 KiB of answers, none in the socket
   * buffer yet, all waiting for aedes' next turn to be written).
   */
  private unsentPushedBytes(): number {
    return Math.max(this.queuedBytes - this.queuedAnswerBytes, this.mqtt.conn.writableLength - this.queuedAnswerBytes);
  }

  private ready(): boolean {
    if (this.drainedNow) return true;
    this.backlogged = true;
    return false;
  }

  /** Called as the hub's messages leave: hands the turn back to the core and to held publishes once the buffer drained. */
  private resumeIfDrained(): void {
    if (this.closed) return;
    if (this.answersDrained) for (const resume of this.drainWaiters.splice(0)) resume();
    if (!this.drainedNow || !this.backlogged || !this.session) return;
    this.backlogged = false;
    this.hub.resumeDelivery(this.session);
  }
}
