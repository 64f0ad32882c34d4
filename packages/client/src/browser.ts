// The browser entry of @twinhub/client: the same clients over the page's own WebSocket. It imports
// nothing Node-only (no `ws`, no `mqtt`, no node:*), so the compiled file loads as a plain ES module.

import { AgentClient, type AgentOptions } from './agent.js';
import { ConsumerClient, type ConsumerOptions } from './consumer.js';
import type { Transport } from './transport.js';
import { wsTransport } from './transports/ws.js';
import { openBrowserWebSocket } from './transports/ws-browser.js';
import { fallbackTransport } from './transports/fallback.js';
import { httpSessionTransport } from './transports/http-session.js';

export * from './common.js';
export { fallbackTransport } from './transports/fallback.js';
export { httpSessionTransport } from './transports/http-session.js';
export { openBrowserWebSocket } from './transports/ws-browser.js';

export interface BrowserConnectOptions {
  /** The hub: http(s)://host:port (its /ws is used) or ws(s)://host:port/ws. */
  url: string;
  token: string;
  /**
   * Default: WebSocket with the token as the `bearer.<token>` subprotocol, and when no WebSocket
   * opens (none in this page, or a proxy refuses upgrades), the envelope over HTTP (SSE + POST).
   */
  transport?: Transport;
}

function browserTransport(options: BrowserConnectOptions): Transport {
  if (options.transport) return options.transport;
  return fallbackTransport([wsTransport({ url: options.url, token: options.token, open: openBrowserWebSocket }), httpSessionTransport(options)]);
}

export function connectConsumer(options: BrowserConnectOptions & ConsumerOptions): Promise<ConsumerClient> {
  return ConsumerClient.connect(browserTransport(options), options);
}

export function connectAgent(options: BrowserConnectOptions & AgentOptions): Promise<AgentClient> {
  return AgentClient.connect(browserTransport(options), options);
}
