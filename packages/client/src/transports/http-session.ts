// The envelope over plain HTTP, for browsers that cannot open a WebSocket (a proxy refusing
// upgrades): an EventSource on `GET /session?key=K` receives everything the hub pushes to the
// session, and each request envelope is a `POST /session/K` answered with its response envelope
// (docs/http.md "The envelope over HTTP"). Requests are posted one at a time, so they keep their order.

import { TwinhubError } from '../errors.js';
import type { Link, LinkHandlers, Transport } from '../transport.js';
import { asInboundMessage, type RequestEnvelope, type ResponseMessage } from '../wire.js';

/** The hub's http(s):// base from any of the URLs a client is given (http(s)://host, ws(s)://host/ws). */
export function httpBase(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:';
  if (parsed.protocol === 'wss:') parsed.protocol = 'https:';
  return `${parsed.protocol}//${parsed.host}`;
}

/** 32 hex digits from the platform's CSPRNG (randomUUID needs a secure context; this does not). */
function sessionKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

type EventSourceClass = new (url: string) => EventSource;

export function httpSessionTransport(options: { url: string; token: string }): Transport {
  const base = httpBase(options.url);
  const auth = { Authorization: `Bearer ${options.token}` };
  return {
    name: 'http-session',
    async open(handlers: LinkHandlers): Promise<Link> {
      const Source = (globalThis as { EventSource?: EventSourceClass }).EventSource;
      if (!Source) throw TwinhubError.local(503, 'No EventSource', 'this environment has no global EventSource');
      const key = sessionKey();
      const stream = `${base}/session?key=${key}`;
      // EventSource cannot tell a refused token from a dead hub: ask first, with the header.
      const probe = await fetch(stream, { method: 'HEAD', headers: auth }).catch((error: unknown) => {
        throw TwinhubError.local(503, 'Connection Failed', `${base} did not answer: ${(error as Error).message}`);
      });
      if (!probe.ok) throw TwinhubError.local(probe.status, probe.statusText || 'Refused', `the hub refused the session (${probe.status})`);
      const source = new Source(`${stream}&access_token=${encodeURIComponent(options.token)}`);
      await new Promise<void>((resolve, reject) => {
        source.onopen = () => resolve();
        source.onerror = () => {
          source.close();
          reject(TwinhubError.local(503, 'Connection Failed', `the event stream ${base}/session did not open`));
        };
      });
      let closed = false;
      const finish = (reason: string) => {
        if (closed) return;
        closed = true;
        source.close();
        handlers.closed({ reason });
      };
      // A dropped stream is a dropped session: EventSource would reconnect into a new one, which the
      // client must set up again itself (subscriptions, request delivery).
      source.onerror = () => finish('the event stream ended');
      source.addEventListener('message', (event) => {
        let value: unknown;
        try {
          value = JSON.parse((event as MessageEvent<string>).data);
        } catch {
          return;
        }
        const message = asInboundMessage(value);
        if (message) handlers.message(message);
      });
      let queue: Promise<void> = Promise.resolve();
      const post = async (request: RequestEnvelope) => {
        const response = await fetch(`${base}/session/${key}`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify(request),
        });
        const body = (await response.json().catch(() => undefined)) as unknown;
        const message = response.ok ? asInboundMessage(body) : undefined;
        if (message) return handlers.message(message);
        // The route itself refused (the session is gone, the body too large): a response with its problem.
        const problem = (body ?? { status: response.status, title: response.statusText, detail: 'the hub refused the request' }) as ResponseMessage['error'];
        handlers.message({
          type: 'response',
          operation: request.operation,
          status: response.status,
          error: problem,
          ...(request.correlationId ? { correlationId: request.correlationId } : {}),
        } as ResponseMessage);
        if (response.status === 404) finish('the hub no longer has this session');
      };
      return {
        send(request: RequestEnvelope) {
          if (closed) throw TwinhubError.local(503, 'Not Connected', 'the HTTP session is closed', request.operation);
          queue = queue.then(() => post(request)).catch(() => finish('a request could not be posted'));
        },
        close() {
          finish('client closing');
        },
      };
    },
  };
}
