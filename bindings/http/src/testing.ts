// Test clients of the HTTP binding (subpath `@twinhub/binding-http/testing`, for its own tests and
// the e2e tests in /test): a hub with the HTTP binding on 127.0.0.1:0 built by the test kit's
// startFixture, a JSON request helper, and a small SSE reader over node:http.

import http from 'node:http';
import type { Logger } from 'pino';
import type { Hub, HubLimits, HubOptions } from '@twinhub/core';
import { Inbox, startFixture, type RoleTokens } from '@twinhub/testkit';
import { createHttpBinding, type HttpBinding, type HttpBindingOptions } from './binding.js';

export { eventually, lampTd } from '@twinhub/testkit';

export interface HttpHubFixture {
  hub: Hub;
  binding: HttpBinding;
  /** Base URL, e.g. http://127.0.0.1:43121 */
  url: string;
  tokens: RoleTokens;
  /** JSON request with a bearer token (default: admin). */
  request(method: string, path: string, options?: RequestOptions): Promise<JsonResponse>;
  close(): Promise<void>;
}

export interface StartOptions {
  limits?: Partial<HubLimits>;
  /** `store` defaults to a fresh MemoryStore. */
  hub?: Omit<HubOptions, 'store' | 'limits'> & { store?: HubOptions['store'] };
  binding?: Omit<HttpBindingOptions, 'hub'>;
  logger?: Logger;
}

export async function startHttpHub(options: StartOptions = {}): Promise<HttpHubFixture> {
  const fixture = await startFixture({
    bindings: (hub) => [createHttpBinding({ hub, logger: options.logger, ...options.binding })],
    ...(options.limits ? { limits: options.limits } : {}),
    hub: { ...(options.logger ? { logger: options.logger } : {}), ...options.hub },
  });
  const [binding] = fixture.bindings;
  const url = fixture.urls[binding.name];
  return {
    hub: fixture.hub,
    binding,
    url,
    tokens: fixture.tokens,
    request: (method, path, requestOptions = {}) => jsonRequest(url, method, path, { token: fixture.tokens.admin, ...requestOptions }),
    close: fixture.close,
  };
}

export interface RequestOptions {
  /** Bearer token; null sends no Authorization header. */
  token?: string | null;
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  /** A body sent as is (e.g. malformed JSON). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: unknown;
  text: string;
}

export async function jsonRequest(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
  const response = await fetch(new URL(path, baseUrl), { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseConnection {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Response body for a non-200 answer. */
  body: string;
  /** Every event received so far. */
  readonly events: readonly SseEvent[];
  /** Comment lines received so far (heartbeats). */
  comments: string[];
  /** The next event not yet returned by next(); rejects after timeoutMs. */
  next(timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export interface SseOptions {
  token?: string | null;
  /** Pass the token as ?access_token= instead of a header. */
  tokenInQuery?: boolean;
  lastEventId?: string;
  headers?: Record<string, string>;
}

/** Opens an SSE stream and parses events as they arrive (WHATWG event-stream rules, minus retry). */
export function openSse(baseUrl: string, path: string, options: SseOptions = {}): Promise<SseConnection> {
  const url = new URL(path, baseUrl);
  const headers: Record<string, string> = { Accept: 'text/event-stream', ...options.headers };
  if (options.token && options.tokenInQuery) url.searchParams.set('access_token', options.token);
  else if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.setEncoding('utf8');
      const inbox = new Inbox<SseEvent>({ keepHistory: true });
      const comments: string[] = [];
      let endedResolve!: () => void;
      const ended = new Promise<void>((done) => (endedResolve = done));
      res.on('close', () => {
        endedResolve();
        inbox.close(new Error(`SSE stream ${path} ended`));
      });
      res.on('error', () => undefined);
      const connection: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: '',
        get events() {
          return inbox.items;
        },
        comments,
        ended,
        close: () => req.destroy(),
        next: (timeoutMs = 2000) => inbox.next(timeoutMs, `SSE event on ${path}`),
      };
      if (res.statusCode !== 200) {
        res.on('data', (chunk: string) => (connection.body += chunk));
        res.on('end', () => resolve(connection));
        return;
      }
      let buffer = '';
      let current: SseEvent = { data: '' };
      let hasData = false;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            if (hasData) inbox.push(current);
            current = { data: '' };
            hasData = false;
            continue;
          }
          if (line.startsWith(':')) {
            comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') {
            current.data = hasData ? `${current.data}\n${value}` : value;
            hasData = true;
          } else if (field === 'event') current.event = value;
          else if (field === 'id') current.id = value;
        }
      });
      resolve(connection);
    });
    req.on('error', reject);
  });
}
