// The browser entry of @twinhub/client: the same clients over the page's own WebSocket. It imports
// nothing Node-only (no `ws`, no `mqtt`, no node:*), so the compiled file loads as a plain ES module.

import { AgentClient, type AgentOptions } from './agent.js';
import { ConsumerClient, type ConsumerOptions } from './consumer.js';
import type { Transport } from './transport.js';
import { wsTransport } from './transports/ws.js';
import { openBrowserWebSocket } from './transports/ws-browser.js';

export * from './common.js';
export { openBrowserWebSocket } from './transports/ws-browser.js';

export interface BrowserConnectOptions {
  /** The hub: http(s)://host:port (its /ws is used) or ws(s)://host:port/ws. */
  url: string;
  token: string;
  /** Default: WebSocket with the token as the `bearer.<token>` subprotocol. */
  transport?: Transport;
}

function browserTransport(options: BrowserConnectOptions): Transport {
  return options.transport ?? wsTransport({ url: options.url, token: options.token, open: openBrowserWebSocket });
}

export function connectConsumer(options: BrowserConnectOptions & ConsumerOptions): Promise<ConsumerClient> {
  return ConsumerClient.connect(browserTransport(options), options);
}

export function connectAgent(options: BrowserConnectOptions & AgentOptions): Promise<AgentClient> {
  return AgentClient.connect(browserTransport(options), options);
}
