// Admission on the hub's HTTP port before a client proved who it is: at most N sockets that have not
// completed an authenticated request or WebSocket upgrade, each closed when it sends nothing for the
// handshake timeout, room kept below the process fd limit, and failed authentications throttled.
// One per server, so the WebSocket binding on the same server shares it (admissionOf).

import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { AUTH_FAILURE_MAX_DELAY_MS, AuthFailures, AUTH_FAILURE_LOG_INTERVAL_MS, NO_OBSERVER, type HubObserver } from '@twinhub/core';

export interface AdmissionOptions {
  /** Sockets not yet authenticated, at most; beyond it the oldest is closed. */
  maxPendingConnections: number;
  /** A socket not yet authenticated that sends nothing for this long is closed. */
  handshakeTimeoutMs: number;
  /** The longest wait before answering a refused token (AuthFailures). */
  authFailureMaxDelayMs: number;
}

/**
 * File descriptors kept free for everything but this server's sockets: the store (LevelDB keeps up
 * to 1000 table files open) plus logs, the MQTT listener and its clients' slack.
 */
export const STORE_FD_HEADROOM = 1200;

export class Admission {
  readonly authFailures: AuthFailures;
  /** Sockets not yet authenticated. */
  private readonly pending = new Set<Socket>();
  /** All sockets of the server (authenticated or not), for the fd headroom. */
  private open = 0;
  private readonly maxOpen: number;

  constructor(
    private readonly options: AdmissionOptions,
    private readonly logger: Logger,
    fdLimit = processFdLimit(),
    observer: Pick<HubObserver, 'authFailed'> = NO_OBSERVER,
  ) {
    this.authFailures = new AuthFailures(logger, Date.now, AUTH_FAILURE_LOG_INTERVAL_MS, observer, options.authFailureMaxDelayMs);
    this.maxOpen = fdLimit === undefined ? Infinity : Math.max(1, fdLimit - STORE_FD_HEADROOM);
  }

  get pendingConnections(): number {
    return this.pending.size;
  }

  /**
   * A new TCP socket, admitted as pending. At the bound the oldest pending socket is closed to make
   * room: a client that authenticates promptly still gets in while a flood of idle sockets cycles.
   */
  admit(socket: Socket): void {
    if (this.pending.size >= this.options.maxPendingConnections || this.open >= this.maxOpen) {
      const oldest = this.pending.values().next().value;
      if (oldest === undefined) {
        // Every socket is authenticated and the fd headroom is reached: refuse the new one.
        this.logger.debug({ open: this.open }, 'connection refused: file descriptor headroom reached');
        socket.destroy();
        return;
      }
      this.logger.debug({ pending: this.pending.size, open: this.open }, 'closing the oldest unauthenticated socket to admit a new one');
      this.pending.delete(oldest);
      oldest.destroy();
    }
    this.open += 1;
    this.pending.add(socket);
    socket.once('close', () => {
      this.open -= 1;
      this.pending.delete(socket);
    });
    // Sent nothing (or nothing more) for the handshake timeout while unauthenticated: close it.
    // node:http's own keep-alive timeout reuses this timer after a response, which is fine.
    socket.setTimeout(this.options.handshakeTimeoutMs);
    socket.on('timeout', () => {
      if (this.pending.has(socket)) socket.destroy();
    });
  }

  /** The socket carried an authenticated request or WebSocket upgrade: it no longer counts as pending. */
  authenticated(socket: Duplex): void {
    const raw = rawSocketOf(socket);
    if (this.pending.delete(raw)) raw.setTimeout(0);
  }
}

const admissions = new WeakMap<http.Server, Admission>();

/** Starts admission control on a server (the HTTP binding does, before it listens). */
export function admitConnections(
  server: http.Server,
  options: AdmissionOptions,
  logger: Logger,
  observer: Pick<HubObserver, 'authFailed'> = NO_OBSERVER,
): Admission {
  const admission = new Admission(options, logger, processFdLimit(), observer);
  admissions.set(server, admission);
  // The raw TCP socket, also for HTTPS: sockets still in the TLS handshake count as pending too.
  server.on('connection', (socket: Socket) => admission.admit(socket));
  return admission;
}

/** The server's admission control; a server without one gets failure throttling only. */
export function admissionOf(server: http.Server, logger: Logger = pino({ enabled: false })): Admission {
  let admission = admissions.get(server);
  if (admission === undefined) {
    admission = new Admission({ maxPendingConnections: Infinity, handshakeTimeoutMs: 0, authFailureMaxDelayMs: AUTH_FAILURE_MAX_DELAY_MS }, logger, undefined);
    admissions.set(server, admission);
  }
  return admission;
}

/**
 * Over TLS, requests and upgrades carry the TLSSocket, while 'connection' saw the TCP socket under it.
 * TLSSocket keeps it as `_parent` (not in @types/node; present since Node 0.11).
 */
function rawSocketOf(socket: Duplex): Socket {
  return ((socket as Duplex & { _parent?: Duplex })._parent ?? socket) as Socket;
}

/** The soft RLIMIT_NOFILE (Linux /proc); undefined elsewhere. Node raises it to the hard limit at start. */
function processFdLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}
