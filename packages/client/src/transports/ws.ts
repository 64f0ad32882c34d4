// The WebSocket transport (twinhub.v1 envelopes, docs/ws.md), on any WHATWG-style socket: the
// browser's global WebSocket or the `ws` package in Node. Only the opener differs (how the token
// travels, how a refused upgrade is read); it lives in ws-node.ts / ws-browser.ts.

import { TwinhubError } from '../errors.js';
import type { Link, LinkHandlers, Transport } from '../transport.js';
import { asInboundMessage, type RequestEnvelope } from '../wire.js';

/** The part of a WebSocket both the browser's and the `ws` package's have. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

/** Opens a socket to `url` with `token`; resolves once it is open, rejects with a TwinhubError. */
export type WebSocketOpener = (url: string, token: string) => Promise<WebSocketLike>;

const OPEN = 1;

/** The hub's /ws URL from a base URL: http(s)://host → ws(s)://host/ws; a ws(s):// URL is kept. */
export function wsEndpoint(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
    parsed.protocol = parsed.protocol === 'https:' ? 'wss:' : 'ws:';
    if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/ws';
  }
  return parsed.toString();
}

export function wsTransport(options: { url: string; token: string; open: WebSocketOpener }): Transport {
  const url = wsEndpoint(options.url);
  return {
    name: 'ws',
    async open(handlers: LinkHandlers): Promise<Link> {
      const socket = await options.open(url, options.token);
      let closed = false;
      const finish = (info: { code?: number; reason: string }) => {
        if (closed) return;
        closed = true;
        handlers.closed(info);
      };
      socket.addEventListener('message', (event) => {
        if (typeof event.data !== 'string') return; // the hub sends text frames only
        let value: unknown;
        try {
          value = JSON.parse(event.data);
        } catch {
          return;
        }
        const message = asInboundMessage(value);
        if (message) handlers.message(message);
      });
      socket.addEventListener('close', (event) => finish({ code: event.code, reason: event.reason || 'closed' }));
      socket.addEventListener('error', () => undefined); // a 'close' follows every error
      return {
        send(request: RequestEnvelope) {
          if (closed || socket.readyState !== OPEN) throw TwinhubError.local(503, 'Not Connected', 'the WebSocket is not open', request.operation);
          socket.send(JSON.stringify(request));
        },
        close() {
          if (socket.readyState <= OPEN) socket.close(1000, 'client closing');
          finish({ code: 1000, reason: 'client closing' });
        },
      };
    },
  };
}
