// createHttpBinding: a node:http(s) server that routes REST and SSE requests to the hub. The
// WebSocket binding attaches to the same server (upgrade on /ws); this module ignores upgrades.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import {
  AUTH_FAILURE_MAX_DELAY_MS,
  internalProblem,
  isHubError,
  NO_OBSERVER,
  type Client,
  type HubApi,
  type HubBinding,
  type HubObserver,
} from '@twinhub/core';
import { admitConnections } from './admission.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerAgentRoutes } from './agent-routes.js';
import { registerAgentsRoutes } from './agents-routes.js';
import { registerConsumerRoutes } from './consumer-routes.js';
import { createCorsHandler } from './cors.js';
import { registerDirectoryRoutes } from './directory-routes.js';
import { directoryTd } from './directory-td.js';
import { registerSessionRoutes } from './session-routes.js';
import { createHttpTdContributor } from './forms.js';
import { registerHealthRoutes, type ReadinessCheck } from './health-routes.js';
import { registerJobsRoutes } from './jobs-routes.js';
import { registerHistoryRoutes } from './history-routes.js';
import { registerMeRoutes } from './me-routes.js';
import { registerSearchRoutes } from './search-routes.js';
import { redirectToUi, registerUiRoutes, wantsHtml } from './ui-routes.js';
import { answerClientError, HttpError, sendJson, sendProblem } from './http-io.js';
import { header, type BindingDeps, type HttpRouter, type Route } from './route.js';
import { Router } from './router.js';
import { openApiDocument } from './openapi.js';

/** This package's version, named in the API description. */
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface HttpBindingOptions {
  hub: HubApi;
  logger?: Logger;
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Base URL forms and links name (the hub derives it); undefined: the URL start() resolved with. */
  publicUrl?: () => string | undefined;
  /** Upper bound for `Prefer: wait=N` on invokeaction, and the N put in twin TD forms; default 30. */
  syncActionMaxWaitSeconds?: number;
  /** Seconds between SSE heartbeat comments; default 15. */
  heartbeatSeconds?: number;
  /** Serve HTTPS with this key pair. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Sockets (HTTP and WebSocket) that have not completed an authenticated request or upgrade, at most; default 1000. */
  maxPendingConnections?: number;
  /** Seconds a socket has to send complete request headers, or to send anything while unauthenticated; default 10. */
  handshakeTimeoutSeconds?: number;
  /** The longest wait before answering a refused token, ms (default 3000; 0: no slowdown). */
  authFailureMaxDelayMs?: number;
  /** Browser origins (`https://app.example`) whose pages may call the API (CORS); default none. */
  corsOrigins?: readonly string[];
  /** Told of refused credentials and of SSE clients dropped as slow (metrics); default: nobody. */
  observer?: Pick<HubObserver, 'authFailed' | 'slowClientDropped' | 'notificationDropped'>;
  /** Called once per answered request (access log); default: nothing. */
  onExchange?: (exchange: HttpExchange) => void;
  /** What GET /health/ready asks (the hub knows every binding); default: the core's store check alone. */
  readiness?: ReadinessCheck;
  /** The built web dashboard (index.html and assets/), served at /ui/; undefined: /ui/ answers 503. */
  uiDir?: string;
}

/** One answered HTTP request, as the access log records it. Never a header or query value. */
export interface HttpExchange {
  method: string;
  /** The route pattern (`/things/:id/properties/:name`), not the path: no IDs, no `access_token`. */
  route: string;
  status: number;
  ms: number;
  remoteAddress: string | undefined;
}

/** The HTTP binding; `server` is exposed for the WebSocket binding, which serves upgrades on it. */
export interface HttpBinding extends HubBinding {
  readonly server: http.Server;
}

const ANONYMOUS: Client = { id: 'anonymous', role: 'viewer' };
export const DEFAULT_MAX_PENDING_CONNECTIONS = 1000;
export const DEFAULT_HANDSHAKE_TIMEOUT_SECONDS = 10;
/** The longest a request (headers and body) may take to arrive: a 256 KiB TD at 4.4 KB/s. */
const REQUEST_TIMEOUT_MS = 60_000;

export function createHttpBinding(options: HttpBindingOptions): HttpBinding {
  const { hub } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const scheme = options.tls ? 'https' : 'http';
  let listenUrl: string | undefined;
  const observer = options.observer ?? NO_OBSERVER;
  const deps: BindingDeps = {
    hub,
    logger,
    baseUrl: () => (options.publicUrl?.() ?? listenUrl ?? `${scheme}://localhost`).replace(/\/+$/, ''),
    syncActionMaxWaitSeconds: options.syncActionMaxWaitSeconds ?? 30,
    heartbeatSeconds: options.heartbeatSeconds ?? 15,
    observer,
  };
  const onExchange = options.onExchange ?? (() => undefined);

  const router: HttpRouter = new Router<Route>();
  registerHealthRoutes(router, options.readiness ?? (() => hub.ready()));
  router.add('GET', '/', {
    async handle({ res }) {
      const base = deps.baseUrl();
      sendJson(
        res,
        200,
        {
          title: 'twinhub',
          links: [
            { rel: 'things', href: `${base}/things`, type: 'application/ld+json' },
            { rel: 'directory', href: `${base}/.well-known/wot`, type: 'application/td+json' },
            { rel: 'search-jsonpath', href: `${base}/search/jsonpath`, type: 'application/json' },
            { rel: 'search-sparql', href: `${base}/search/sparql`, type: 'application/sparql-results+json' },
            { rel: 'directory-events', href: `${base}/events`, type: 'text/event-stream' },
            { rel: 'stream', href: `${base}/stream`, type: 'text/event-stream' },
            { rel: 'agent-requests', href: `${base}/agent/requests`, type: 'text/event-stream' },
            { rel: 'agents', href: `${base}/agents`, type: 'application/json' },
            { rel: 'health', href: `${base}/health`, type: 'application/json' },
            { rel: 'health-ready', href: `${base}/health/ready`, type: 'application/json' },
            { rel: 'dashboard', href: `${base}/ui/`, type: 'text/html' },
          ],
        },
        { Vary: 'Accept' },
      );
    },
  });
  registerDirectoryRoutes(router, deps);
  registerConsumerRoutes(router, deps);
  registerAgentRoutes(router, deps);
  registerAgentsRoutes(router, deps);
  registerAdminRoutes(router, deps);
  registerJobsRoutes(router, deps);
  registerHistoryRoutes(router, deps);
  registerMeRoutes(router);
  registerUiRoutes(router, options.uiDir);
  const search = registerSearchRoutes(router, deps);
  registerSessionRoutes(router, deps);
  // The directory's own TD for WoT tooling; public like the API description (it names no secret).
  router.add('GET', '/.well-known/wot', {
    public: true,
    handle: async ({ res }) => sendJson(res, 200, directoryTd(router, deps.baseUrl(), PACKAGE_VERSION), {}, 'application/td+json'),
  });
  // Registered last, so the document lists every route (itself included).
  router.add('GET', '/openapi.json', { public: true, handle: async ({ res }) => sendJson(res, 200, openApiDocument(router, deps.baseUrl(), PACKAGE_VERSION)) });

  /** The client a request authenticates as; a token presented but refused is logged and slowed down. */
  async function authenticate(req: http.IncomingMessage, url: URL, route: Route): Promise<Client | undefined> {
    const authorization = header(req, 'authorization');
    let token: string | undefined;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      token = match?.[1];
    } else if (route.sse) {
      token = url.searchParams.get('access_token') ?? undefined;
    }
    if (authorization === undefined && token === undefined) return undefined;
    const client = token ? await hub.authenticate(token) : undefined;
    if (client) admission.authenticated(req.socket);
    else {
      const reason = token ? 'unknown or revoked token' : 'Authorization is not "Bearer <token>"';
      await admission.authFailures.refuse({ remoteAddress: req.socket.remoteAddress ?? 'unknown', binding: route.sse ? 'sse' : 'http', reason });
    }
    return client;
  }

  async function dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const method = req.method ?? 'GET';
    let found = router.lookup(method, url.pathname);
    // [tdd-http-head] Every GET endpoint answers HEAD with the same head and no body (node:http
    // writes no body for a HEAD request; streams stop after the head, see serveStream), unless a
    // route defines its own HEAD (the long-poll handshake).
    if (method === 'HEAD' && found.kind !== 'found') {
      const get = router.lookup('GET', url.pathname);
      if (get.kind === 'found') found = get;
    }
    // Streams answer 200 at once and live on: their line is logged when they end.
    const started = performance.now();
    // Read now: by 'close' the response may have let go of its socket.
    const remoteAddress = req.socket.remoteAddress;
    res.once('close', () =>
      onExchange({
        method,
        route: found.kind === 'found' ? found.match.pattern : '(no route)',
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        remoteAddress,
      }),
    );
    if (found.kind === 'none') {
      return sendProblem(res, { status: 404, title: 'Not Found', detail: `no route for ${url.pathname}; see GET / for the entry points` });
    }
    if (found.kind === 'method') {
      const allow = found.allow.includes('GET') && !found.allow.includes('HEAD') ? [...found.allow, 'HEAD'].sort() : found.allow;
      return sendProblem(
        res,
        { status: 405, title: 'Method Not Allowed', detail: `${method} is not supported on ${url.pathname}; use ${allow.join(', ')}` },
        { Allow: allow.join(', ') },
      );
    }
    // A browser navigating to / is sent to the dashboard before any token is asked for (the page
    // asks for one); API clients keep the JSON entry points (docs/dashboard.md).
    if (found.match.pattern === '/' && wantsHtml(req)) return redirectToUi(res);
    const { route, params } = found.match;
    let client = ANONYMOUS;
    if (!route.public) {
      const authenticated = await authenticate(req, url, route);
      if (!authenticated) {
        return sendProblem(
          res,
          { status: 401, title: 'Unauthorized', detail: 'send a valid token as "Authorization: Bearer <token>"' },
          { 'WWW-Authenticate': 'Bearer realm="twinhub"' },
        );
      }
      client = authenticated;
    }
    await route.handle({ req, res, url, params, client });
  }

  // HTTP connections, counted here rather than with Node's server.maxConnections, which also counts
  // sockets upgraded to WebSocket (those are the WS binding's to bound) and silently resets the
  // excess. A socket counts from its first plain request: an upgrade never emits 'request'.
  let connections = 0;
  const counted = new WeakSet<Duplex>();
  const cors = createCorsHandler(options.corsOrigins ?? []);

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    if (!counted.has(socket)) {
      if (connections >= hub.limits.maxConnections) {
        res.setHeader('Connection', 'close');
        return sendProblem(
          res,
          {
            status: 503,
            title: 'Service Unavailable',
            detail: `the hub already serves ${hub.limits.maxConnections} HTTP connections, the limit; retry shortly`,
          },
          { 'Retry-After': '5' },
        );
      }
      counted.add(socket);
      connections++;
      socket.once('close', () => connections--);
    }
    if (cors?.(req, res)) return;
    dispatch(req, res).catch((error: unknown) => {
      if (isHubError(error)) {
        // A request we refuse before reading all of it: close the connection rather than read on.
        if (error.status === 413) res.setHeader('Connection', 'close');
        sendProblem(res, error.problem, error instanceof HttpError ? error.headers : {});
        if (error.status === 413) req.resume();
        return;
      }
      logger.error({ err: error, method: req.method, url: req.url }, 'HTTP handler failed');
      sendProblem(res, internalProblem());
    });
  };

  // Slow or silent peers must not hold sockets: request headers within the handshake timeout,
  // checked every quarter of it (node:http checks every 30 s by default).
  const handshakeTimeoutMs = (options.handshakeTimeoutSeconds ?? DEFAULT_HANDSHAKE_TIMEOUT_SECONDS) * 1000;
  const timeouts: http.ServerOptions = {
    headersTimeout: handshakeTimeoutMs,
    requestTimeout: Math.max(REQUEST_TIMEOUT_MS, handshakeTimeoutMs),
    connectionsCheckingInterval: Math.max(250, handshakeTimeoutMs / 4),
  };
  const server: http.Server = options.tls
    ? https.createServer({ ...timeouts, key: options.tls.key, cert: options.tls.cert, handshakeTimeout: handshakeTimeoutMs }, onRequest)
    : http.createServer(timeouts, onRequest);
  const admission = admitConnections(
    server,
    {
      maxPendingConnections: options.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS,
      handshakeTimeoutMs,
      authFailureMaxDelayMs: options.authFailureMaxDelayMs ?? AUTH_FAILURE_MAX_DELAY_MS,
    },
    logger,
    observer,
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket, logger));

  return {
    name: 'http',
    server,
    contributor: createHttpTdContributor({ baseUrl: deps.baseUrl, syncActionMaxWaitSeconds: deps.syncActionMaxWaitSeconds }),
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          // An unspecified address (0.0.0.0, ::) is no destination: this process reaches it on loopback.
          const host =
            address.address === '0.0.0.0'
              ? '127.0.0.1'
              : address.address === '::'
                ? '[::1]'
                : address.family === 'IPv6'
                  ? `[${address.address}]`
                  : address.address;
          listenUrl = `${scheme}://${host}:${address.port}`;
          logger.info({ url: listenUrl }, 'HTTP binding listening');
          resolve({ url: listenUrl });
        });
      });
    },
    listening: () => server.listening,
    close() {
      void search.close();
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        // SSE responses never end by themselves: end them so close() does not wait forever.
        server.closeAllConnections();
      });
    },
  };
}
