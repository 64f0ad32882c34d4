// The WebSocket binding: authenticates upgrades on one path of an existing HTTP(S) server, gives
// each socket a hub session, and speaks the twinhub JSON envelope (twinhub.v1) or the W3C Web
// Thing Protocol draft (webthingprotocol) in both directions, as the client's subprotocol chose.

import type http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import {
  envelopeLimitBytes,
  forbidden,
  internalProblem,
  isHubError,
  notFound,
  serviceUnavailable,
  unauthorized,
  type HubApi,
  type HubBinding,
  type HubObserver,
  type Problem,
  type Session,
} from '@twinhub/core';
import { admissionOf } from '@twinhub/binding-http/admission';
import { pino, type Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { CLOSE_GOING_AWAY, WsConnection } from './connection.js';
import { twinhubCodec } from './codec.js';
import { bearerTokenOf, offeredSubprotocols, refuseUpgrade, selectSubprotocol, WTP_SUBPROTOCOL } from './handshake.js';
import { listeningWsUrl, wsTwinTdContributor } from './td-forms.js';
import { webThingProtocolCodec } from './wtp-codec.js';

export interface WsBindingOptions {
  hub: HubApi;
  server: http.Server | https.Server;
  /** URL path of the endpoint (default '/ws'). */
  path?: string;
  logger?: Logger;
  /** Ping interval; a socket that has not answered the previous ping is terminated (default 30 s). */
  heartbeatIntervalMs?: number;
  /** The ws(s):// endpoint URL forms name (the hub derives it); undefined: the URL start() resolved with. */
  publicUrl?: () => string | undefined;
  /** Browser origins allowed to upgrade (the HTTP binding's CORS list); default none: any origin. */
  corsOrigins?: readonly string[];
  /** Told of sockets dropped as slow (metrics); default: nobody. Failed upgrades count with the HTTP binding's admission. */
  observer?: Pick<HubObserver, 'slowClientDropped' | 'notificationDropped'>;
}

/**
 * Serves upgrades from creation on; start() only reports the endpoint URL, so it needs the server
 * listening (start the HTTP binding first). close() stops accepting upgrades, closes every socket
 * (1001) and its session; it leaves the server to its owner.
 */
export interface WsBinding extends HubBinding {
  /** Open sockets. */
  connections(): number;
}

export function attachWsBinding(options: WsBindingOptions): WsBinding {
  const { hub, server } = options;
  const path = options.path ?? '/ws';
  const logger = options.logger ?? pino({ enabled: false });
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000;
  const limits = hub.limits;
  // Envelopes up to this size are parsed; larger ones get a 413 response and the socket stays.
  const envelopeLimit = envelopeLimitBytes(limits);
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    // Frames beyond this are not even buffered: ws closes the socket with 1009 (message too big).
    maxPayload: 2 * envelopeLimit,
    handleProtocols: selectSubprotocol,
  });
  const connections = new Set<WsConnection>();
  const origins = new Set(options.corsOrigins);
  // Shared with the HTTP binding on this server: unauthenticated-socket bound, failure throttling.
  const admission = admissionOf(server, logger);
  let closing: Promise<void> | undefined;

  const url = (): string => {
    const address = server.address();
    const listening = address !== null && typeof address === 'object' ? { address: address.address, port: address.port } : undefined;
    return listeningWsUrl(path, listening, server instanceof https.Server);
  };

  const refuse = (socket: Duplex, problem: Problem): void => {
    const headers: Record<string, string> = {};
    if (problem.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="twinhub"';
    if (problem.status === 503) headers['Retry-After'] = '5';
    refuseUpgrade(socket, problem, headers);
  };

  // RFC 6455 §10.2: a server meant for some sites only checks Origin and refuses others with 403
  // (§4.2.2). Browsers always send Origin; other clients need not, so a missing one passes.
  const foreignOrigin = (request: http.IncomingMessage): Problem | undefined => {
    const origin = request.headers.origin;
    if (origins.size === 0 || origin === undefined || origins.has(origin)) return undefined;
    return forbidden(`WebSocket upgrades from pages on ${origin} are refused; the hub's --cors-origin list does not name it`).problem;
  };

  const overCapacity = (): Problem | undefined => {
    if (closing) return serviceUnavailable('the hub is shutting down').problem;
    if (connections.size >= limits.maxConnections) {
      return serviceUnavailable(`the hub holds its maximum of ${limits.maxConnections} WebSocket connections; retry later`).problem;
    }
    return undefined;
  };

  const accept = async (request: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    // A peer that resets during authentication must not crash the process.
    const onSocketError = (error: Error) => logger.debug({ err: error.message }, 'ws upgrade socket error');
    socket.on('error', onSocketError);
    try {
      const foreign = foreignOrigin(request);
      if (foreign) return refuse(socket, foreign);
      const full = overCapacity();
      if (full) return refuse(socket, full);
      const credentials = bearerTokenOf(request);
      if ('problem' in credentials) return refuse(socket, credentials.problem);
      const client = await hub.authenticate(credentials.token);
      if (client === undefined) {
        const reason = 'unknown or revoked token';
        await admission.authFailures.refuse({ remoteAddress: request.socket.remoteAddress ?? 'unknown', binding: 'ws', reason });
        return refuse(socket, unauthorized(`the bearer token is ${reason}`).problem);
      }
      if (socket.destroyed) return;
      const stillFull = overCapacity();
      if (stillFull) return refuse(socket, stillFull);

      const connection = new WsConnection({
        hub,
        client,
        logger,
        envelopeLimitBytes: envelopeLimit,
        maxSendBufferBytes: limits.maxSendBufferBytes,
        // The same choice ws makes for the handshake reply (handleProtocols); none offered: twinhub.v1.
        codec: selectSubprotocol(offeredSubprotocols(request)) === WTP_SUBPROTOCOL ? webThingProtocolCodec : twinhubCodec,
        ...(options.observer ? { observer: options.observer } : {}),
      });
      let session: Session;
      try {
        session = hub.openSession(client, 'ws', connection.sink);
      } catch (error) {
        return refuse(socket, isHubError(error) ? error.problem : internalProblem());
      }
      // Synchronous when the handshake is valid (no verifyClient); ws answers 400 itself otherwise.
      wss.handleUpgrade(request, socket, head, (ws) => {
        connection.attach(ws, session, socket);
        admission.authenticated(socket);
        connections.add(connection);
        void connection.closed.then(() => connections.delete(connection));
      });
      if (!connection.attached) hub.closeSession(session);
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'ws upgrade failed');
      refuse(socket, internalProblem());
    } finally {
      socket.off('error', onSocketError);
    }
  };

  const onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const pathname = pathnameOf(request.url);
    if (pathname !== path) {
      // Another binding may serve WebSockets on its own path of this server; leave those to it.
      if (server.listenerCount('upgrade') > 1) return;
      refuse(socket, notFound(`no WebSocket endpoint at ${pathname ?? request.url}; connect to ${path}`).problem);
      return;
    }
    void accept(request, socket, head);
  };
  server.on('upgrade', onUpgrade);

  const heartbeat = setInterval(() => {
    for (const connection of connections) connection.heartbeat();
  }, heartbeatIntervalMs);
  heartbeat.unref();

  return {
    name: 'ws',
    contributor: wsTwinTdContributor(() => options.publicUrl?.() ?? url()),
    start: async () => {
      if (!server.listening) throw new Error(`the WebSocket binding on ${path} needs its HTTP server listening: start the HTTP binding first`);
      return { url: url() };
    },
    connections: () => connections.size,
    listening: () => closing === undefined && server.listening,
    close: () => {
      closing ??= (async () => {
        clearInterval(heartbeat);
        server.off('upgrade', onUpgrade);
        const open = [...connections];
        for (const connection of open) connection.drop(CLOSE_GOING_AWAY, 'the hub is shutting down');
        await Promise.all(open.map((connection) => connection.closed));
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}

function pathnameOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}
