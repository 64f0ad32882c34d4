// One WebSocket and its hub session: requests are pipelined (the core applies each one when it is
// started, in arrival order, so the next one need not wait for the previous durable write) and
// answered strictly in arrival order; a peer that stops reading or answering pings is dropped
// instead of buffering for it. What the messages look like is the codec's business (codec.ts).
import { NO_OBSERVER, type Client, type HubApi, type HubObserver, type OutboundMessage, type Session, type SessionSink } from '@twinhub/core';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import { twinhubCodec, type WireMessage, type WsCodec, type WsCodecFactory } from './codec.js';

/**
 * Requests started but not yet answered; messages read beyond it wait (unstarted) and the socket
 * stops being read (TCP backpressure) until the answers caught up.
 */
export const MAX_IN_FLIGHT_REQUESTS = 64;
/**
 * Bytes gathered in a corked socket before they are written anyway: a burst (all queued requests
 * pushed at subscriberequests) must reach the kernel as it would uncorked, or it would count as
 * a client that does not read.
 */
export const CORK_FLUSH_BYTES = 64 * 1024;
/** How long a closing socket may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 1000;

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_TRY_AGAIN_LATER = 1013;

export interface WsConnectionOptions {
  hub: HubApi;
  client: Client;
  logger: Logger;
  /** Largest request envelope accepted, bytes (larger ones get a 413 response). */
  envelopeLimitBytes: number;
  maxSendBufferBytes: number;
  /** Told when this socket is dropped as slow (metrics); default: nobody. */
  observer?: Pick<HubObserver, 'slowClientDropped' | 'notificationDropped'>;
  /** The subprotocol spoken (the one selected at the upgrade); default the twinhub.v1 envelope. */
  codec?: WsCodecFactory;
}

/** A message ready for the wire, and whether it carries a notification (for the drop metric). */
interface Outgoing {
  wire: WireMessage;
  notification: boolean;
}

export class WsConnection {
  /** What the core pushes to; messages pushed before the socket is attached wait in `early`. */
  readonly sink: SessionSink = {
    send: (message) => this.push(message),
    close: (reason) => this.drop(CLOSE_GOING_AWAY, reason),
    // Flow control for a backlog of queued requests: the core pushes them only while less than
    // half the send bound waits unsent, and resumes on the socket's 'drain' (see attach()).
    ready: () => (this.ws?.bufferedAmount ?? 0) < this.options.maxSendBufferBytes / 2,
  };
  /** Resolves once the socket closed and every request read from it was handled. */
  readonly closed: Promise<void>;

  private ws: WebSocket | undefined;
  /** The upgraded TCP socket under `ws`: corked while messages of one tick are written. */
  private socket: Duplex | undefined;
  private corked = false;
  private session: Session | undefined;
  private early: Outgoing[] = [];
  private readonly codec: WsCodec;
  /** Settles once the answer to the latest started request was sent: answers go out in order. */
  private answered: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** Read while MAX_IN_FLIGHT_REQUESTS were in flight: started, in order, as answers go out. */
  private waiting: Array<{ data: RawData; isBinary: boolean }> = [];
  private socketClosed = false;
  private alive = true;
  private dropped = false;
  private resolveClosed!: () => void;
  private logger: Logger;

  constructor(private readonly options: WsConnectionOptions) {
    this.logger = options.logger;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    const { hub, client, logger, envelopeLimitBytes } = options;
    this.codec = (options.codec ?? twinhubCodec)({ hub, client, logger, envelopeLimitBytes });
  }

  get attached(): boolean {
    return this.ws !== undefined;
  }

  attach(ws: WebSocket, session: Session, socket: Duplex): void {
    this.ws = ws;
    this.socket = socket;
    this.session = session;
    this.logger = this.options.logger.child({ session: session.id, client: session.client.id });
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    // ws reports protocol violations (oversize frame, bad UTF-8) here, then closes the socket itself.
    ws.on('error', (error) => this.logger.debug({ err: error.message }, 'ws socket error'));
    ws.on('close', (code) => this.onClose(code));
    // The socket took everything written after a write reported backpressure: push what is owed.
    socket.on('drain', () => this.options.hub.resumeDelivery(session));
    this.logger.debug('ws connection open');
    const early = this.early;
    this.early = [];
    for (const message of early) this.send(message);
  }

  /**
   * Called on every heartbeat tick: a socket that has not answered the previous ping is cut
   * (a dead peer never sends a close frame), otherwise it is pinged again.
   */
  heartbeat(): void {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return;
    if (!this.alive) {
      this.logger.info('ws peer missed a pong; terminating');
      this.closeSession();
      ws.terminate();
      return;
    }
    this.alive = false;
    ws.ping();
  }

  /** Ends the connection now: the hub session is closed at once, unhandled requests are skipped. */
  drop(code: number, reason: string): void {
    if (this.dropped) return;
    this.closeSession();
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    ws.close(code, closeReason(reason));
    // A peer that does not read never sees the close frame: cut it after a grace period.
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    ws.once('close', () => clearTimeout(timer));
  }

  /** A message the core pushed, in this subprotocol's shape (some are not sent at all). */
  private push(message: OutboundMessage): void {
    const wire = this.codec.encode(message);
    if (wire !== undefined) this.send({ wire, notification: message.type === 'notification' });
  }

  private send(outgoing: Outgoing): void {
    const ws = this.ws;
    if (ws === undefined) {
      if (!this.dropped) this.early.push(outgoing);
      return;
    }
    if (this.dropped || ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.options.maxSendBufferBytes) {
      this.logger.warn({ bufferedAmount: ws.bufferedAmount }, 'ws client does not read its messages; dropping it');
      const observer = this.options.observer ?? NO_OBSERVER;
      observer.slowClientDropped('ws');
      if (outgoing.notification) observer.notificationDropped('ws');
      this.drop(CLOSE_TRY_AGAIN_LATER, 'send buffer full: the client does not read its messages');
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(outgoing.wire);
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, 'ws message not serializable');
      return;
    }
    this.corkUntilNextTick();
    ws.send(text, (error) => {
      if (error) this.logger.debug({ err: error.message }, 'ws send failed');
    });
  }

  /**
   * Messages sent in one tick (the answers and notifications of one group commit) leave in one
   * socket write instead of one write per frame: most of the hub's CPU went into those writes.
   */
  private corkUntilNextTick(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    if (this.corked) {
      if (socket.writableLength >= Math.min(CORK_FLUSH_BYTES, this.options.maxSendBufferBytes / 4)) {
        socket.uncork();
        socket.cork();
      }
      return;
    }
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.inFlight >= MAX_IN_FLIGHT_REQUESTS || this.waiting.length > 0) {
      this.waiting.push({ data, isBinary });
      this.ws?.pause();
      return;
    }
    this.start(data, isBinary);
  }

  /** Hands the request to the hub now; its answer is sent after those of all earlier requests. */
  private start(data: RawData, isBinary: boolean): void {
    this.inFlight += 1;
    const answer = this.process(data, isBinary).catch((error: unknown) => {
      // process() turns hub failures into answers itself; this only guards against a bug here.
      this.logger.error({ err: (error as Error).message }, 'ws message handling failed');
      return undefined;
    });
    this.answered = this.answered
      .then(() => answer)
      .then((message) => {
        if (message !== undefined) this.send({ wire: message, notification: false });
        this.inFlight -= 1;
        this.startWaiting();
      });
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.inFlight < MAX_IN_FLIGHT_REQUESTS) {
      const next = this.waiting.shift()!;
      this.start(next.data, next.isBinary);
    }
    if (this.waiting.length === 0) {
      if (this.socketClosed && this.inFlight === 0) this.finishClose();
      else if (this.ws?.isPaused) this.ws.resume();
    }
  }

  /**
   * Lets the codec parse the message and call hub.handle synchronously (so requests reach the core
   * in arrival order); resolves with the answer to send, if any.
   */
  private async process(data: RawData, isBinary: boolean): Promise<WireMessage | undefined> {
    if (this.dropped || this.session === undefined) return undefined;
    return this.codec.answer({ data: toBuffer(data), isBinary }, this.session);
  }

  private onClose(code: number): void {
    this.logger.debug({ code }, 'ws connection closed');
    // Requests already read are still handled (a client may send and close); then the session ends.
    this.socketClosed = true;
    if (this.inFlight === 0 && this.waiting.length === 0) this.finishClose();
  }

  private finishClose(): void {
    this.closeSession();
    this.resolveClosed();
  }

  private closeSession(): void {
    if (this.dropped) return;
    this.dropped = true;
    this.early = [];
    if (this.session !== undefined) this.options.hub.closeSession(this.session);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Close reasons are limited to 123 bytes of UTF-8. */
function closeReason(reason: string): string {
  let text = reason;
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1);
  return text;
}
