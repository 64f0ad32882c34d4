// One server-sent-events response bound to one hub session: the core pushes messages to the
// session, a route-given formatter turns them into frames, and a client that cannot keep up is
// dropped rather than buffered without bound.

import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { NO_OBSERVER, type Client, type HubApi, type HubObserver, type OutboundMessage, type Session } from '@twinhub/core';
import { formatComment, formatFrame, type SseFrame } from './frame.js';
import type { SseFormatter } from './formatters.js';

export interface SseStreamOptions {
  hub: HubApi;
  client: Client;
  res: ServerResponse;
  format: SseFormatter;
  logger?: Logger;
  /** Seconds between heartbeat comments; default 15. 0 disables them. */
  heartbeatSeconds?: number;
  /** Session binding name (logs, presence); default 'sse'. */
  binding?: string;
  /** Told when this stream is dropped as slow (metrics); default: nobody. */
  observer?: Pick<HubObserver, 'slowClientDropped' | 'notificationDropped'>;
}

export interface SseStartOptions {
  /** The client's `Last-Event-ID`: notifications after this seq are replayed before live ones. */
  lastEventId?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

export const DEFAULT_HEARTBEAT_SECONDS = 15;
/** Bytes gathered in the corked response before they are written anyway. */
const CORK_FLUSH_BYTES = 64 * 1024;

/** Frames that arrived before start(), in order. seq is set for notifications (replay dedupe). */
interface PendingFrame {
  text: string;
  seq?: number;
}

/** The head of every event stream (also what a HEAD request on a stream gets). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/**
 * Serves one SSE response. Construct it (opens the session), make the subscriptions on
 * `stream.session`, then call start() to commit the 200 response; if a subscription fails, call
 * close() instead and answer with the problem (nothing has been written yet).
 */
export class SseStream {
  readonly session: Session;
  private readonly hub: HubApi;
  private readonly client: Client;
  private readonly res: ServerResponse;
  private readonly format: SseFormatter;
  private readonly logger: Logger | undefined;
  private readonly heartbeatMs: number;
  private readonly binding: string;
  private readonly observer: Pick<HubObserver, 'slowClientDropped' | 'notificationDropped'>;
  private pending: PendingFrame[] | undefined = [];
  private pendingBytes = 0;
  private lastSeq = -1;
  private heartbeat: NodeJS.Timeout | undefined;
  private closedReason: string | undefined;
  private corked = false;

  constructor(options: SseStreamOptions) {
    this.hub = options.hub;
    this.client = options.client;
    this.res = options.res;
    this.format = options.format;
    this.logger = options.logger;
    this.heartbeatMs = (options.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS) * 1000;
    this.binding = options.binding ?? 'sse';
    this.observer = options.observer ?? NO_OBSERVER;
    this.session = this.hub.openSession(this.client, this.binding, {
      send: (message) => this.push(message),
      close: (reason) => this.close(reason),
      // Flow control for a backlog of queued requests: the core pushes them only while less than
      // half the send bound waits unsent (gathered before start(), or in the response once live),
      // and resumes on 'drain' (see start()). Notifications are not held back.
      ready: () => (this.pending ? this.pendingBytes : this.res.writableLength) < this.hub.limits.maxSendBufferBytes / 2,
    });
    this.res.once('close', () => this.close('client disconnected'));
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  get started(): boolean {
    return this.pending === undefined;
  }

  /** Sends the 200 `text/event-stream` head (SSE_HEADERS), replays after Last-Event-ID, then goes live. */
  start(options: SseStartOptions = {}): void {
    if (this.closed || this.started) return;
    const queued = this.pending ?? [];
    this.pending = undefined;
    this.res.socket?.setNoDelay(true);
    this.res.writeHead(200, { ...SSE_HEADERS, ...options.headers });
    // A first comment flushes the head, so clients see the stream open before any event.
    this.write(formatComment('stream open'));
    this.replay(options.lastEventId);
    for (const frame of queued) {
      if (frame.seq !== undefined) {
        if (frame.seq <= this.lastSeq) continue;
        this.lastSeq = frame.seq;
      }
      this.write(frame.text);
    }
    if (this.heartbeatMs > 0 && !this.closed) {
      this.heartbeat = setInterval(() => this.write(formatComment('heartbeat')), this.heartbeatMs);
      this.heartbeat.unref();
    }
    if (this.closed) return;
    // 'drain': the socket took everything written (a write had reported backpressure). Queued
    // requests held back before start() go out now, the rest as the client reads.
    this.res.on('drain', () => this.hub.resumeDelivery(this.session));
    this.hub.resumeDelivery(this.session);
  }

  /** Writes a frame outside the session (e.g. an error notice); subject to the same buffer limit. */
  sendFrame(frame: SseFrame): void {
    if (this.started) this.write(formatFrame(frame));
  }

  /** Ends the session and, once started, the response. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closedReason = reason;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.pending = this.pending && [];
    this.hub.closeSession(this.session);
    if (this.started && !this.res.writableEnded) this.res.end();
    this.logger?.debug({ session: this.session.id, client: this.client.id, reason }, 'SSE stream closed');
  }

  private push(message: OutboundMessage): void {
    if (this.closed) return;
    let frame: SseFrame | undefined;
    try {
      frame = this.format(message);
    } catch (error) {
      // The sink must not throw into the core; a formatter bug costs one message, not the hub.
      this.logger?.error({ err: error, session: this.session.id }, 'SSE formatter failed');
      return;
    }
    if (!frame) return;
    const seq = message.type === 'notification' ? message.seq : undefined;
    const text = formatFrame(frame);
    if (this.pending) {
      this.pending.push({ text, seq });
      this.pendingBytes += text.length;
      if (this.pendingBytes > this.hub.limits.maxSendBufferBytes) this.drop(this.pendingBytes);
    } else {
      if (seq !== undefined) {
        if (seq <= this.lastSeq) return;
        this.lastSeq = seq;
      }
      this.write(text);
    }
    // This notification overflowed the send buffer: it went down with the stream.
    if (this.closed && seq !== undefined) this.observer.notificationDropped(this.binding);
  }

  private replay(lastEventId: string | undefined): void {
    if (lastEventId === undefined || !/^\d+$/.test(lastEventId.trim())) return;
    const since = Number(lastEventId.trim());
    const missed = this.hub.notificationsSince(since, this.client);
    if (missed === undefined) {
      this.write(
        formatFrame({
          event: 'reset',
          data: JSON.stringify({ lastEventId: since, detail: 'Some notifications after this id are no longer available; re-read the current state.' }),
        }),
      );
      return;
    }
    for (const message of missed) {
      if (message.seq <= this.lastSeq) continue;
      const frame = this.format(message);
      if (!frame) continue;
      this.lastSeq = message.seq;
      this.write(formatFrame(frame));
      if (this.closed) return;
    }
  }

  private write(text: string): void {
    if (this.closed || this.res.writableEnded) return;
    // Frames written in one tick (the notifications of one group commit) leave in one socket
    // write instead of one per frame.
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    } else if (this.res.writableLength >= Math.min(CORK_FLUSH_BYTES, this.hub.limits.maxSendBufferBytes / 4)) {
      // A burst (a replay after Last-Event-ID) reaches the kernel as it would uncorked, instead of
      // piling up here and counting as a client that does not read.
      this.res.uncork();
      this.res.cork();
    }
    this.res.write(text);
    if (this.res.writableLength > this.hub.limits.maxSendBufferBytes) this.drop(this.res.writableLength);
  }

  /** A client that does not read: free its buffer and its session instead of growing memory. */
  private drop(buffered: number): void {
    this.observer.slowClientDropped(this.binding);
    this.logger?.warn({ session: this.session.id, client: this.client.id, buffered, limit: this.hub.limits.maxSendBufferBytes }, 'dropping slow SSE client');
    const wasStarted = this.started;
    this.close('slow client: send buffer limit exceeded');
    if (!wasStarted && !this.res.headersSent) {
      this.res.writeHead(503, { 'Content-Type': 'application/problem+json', Connection: 'close' });
      this.res.end(JSON.stringify({ status: 503, title: 'Service Unavailable', detail: 'The stream fell behind before it started.' }));
      return;
    }
    this.res.destroy();
  }
}
