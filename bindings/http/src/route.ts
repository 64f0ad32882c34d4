// What a route handler gets: the parsed request, the authenticated client, and the binding's
// shared dependencies. Also the SSE helper every streaming route uses.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Client, HubApi, HubObserver, HubRequest } from '@twinhub/core';
import { SSE_HEADERS, SseStream, type SseFormatter } from '@twinhub/binding-sse';
import { sendProblem } from './http-io.js';
import type { Router } from './router.js';

export interface BindingDeps {
  hub: HubApi;
  logger: Logger;
  /** Absolute base URL without trailing slash, e.g. https://hub.example.com. */
  baseUrl(): string;
  syncActionMaxWaitSeconds: number;
  heartbeatSeconds: number;
  observer: Pick<HubObserver, 'slowClientDropped' | 'notificationDropped'>;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** The authenticated client (an anonymous placeholder on public routes). */
  client: Client;
}

export interface Route {
  handle(ctx: RouteContext): Promise<void>;
  /** Streams (SSE) also accept `?access_token=`, since EventSource cannot set headers. */
  sse?: boolean;
  /** No authentication (health check). */
  public?: boolean;
}

export type HttpRouter = Router<Route>;

export const enc = encodeURIComponent;

export function thingUrl(deps: BindingDeps, thingId: string): string {
  return `${deps.baseUrl()}/things/${enc(thingId)}`;
}

export interface StreamOptions {
  format: SseFormatter;
  /** Subscriptions made on the stream's session before it starts. */
  subscribe: HubRequest[];
  /** Resume after the client's Last-Event-ID (notification streams); default true. */
  resumable?: boolean;
}

/**
 * Serves an SSE stream: opens the session, subscribes, and only then commits the 200 response, so
 * a refused subscription (403, 404) is still answered as a problem.
 */
export async function serveStream(ctx: RouteContext, deps: BindingDeps, options: StreamOptions): Promise<void> {
  const stream = new SseStream({
    hub: deps.hub,
    client: ctx.client,
    res: ctx.res,
    format: options.format,
    logger: deps.logger,
    heartbeatSeconds: deps.heartbeatSeconds,
    observer: deps.observer,
  });
  for (const request of options.subscribe) {
    const result = await deps.hub.handle(request, { client: ctx.client, session: stream.session });
    if (!result.ok) {
      stream.close(`subscription refused: ${result.problem.title}`);
      sendProblem(ctx.res, result.problem);
      return;
    }
  }
  // [tdd-http-head] HEAD gets the stream's head only: the subscription was checked, nothing streams.
  if (ctx.req.method === 'HEAD') {
    stream.close('HEAD request: headers only');
    ctx.res.writeHead(200, SSE_HEADERS);
    ctx.res.end();
    return;
  }
  const lastEventId = options.resumable === false ? undefined : header(ctx.req, 'last-event-id');
  stream.start({ lastEventId });
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
