// What both builds export: the clients, the error type, the transport seam and the wire types.

export { AgentClient, type ActionContext, type ActionHandler, type AgentOptions, type AgentStats, type RequestContext, type WriteHandler } from './agent.js';
export { type BackoffOptions, backoffDelay } from './backoff.js';
export {
  type ActionHandle,
  ConsumerClient,
  type ConsumerOptions,
  type DirectoryListener,
  type HistoryPage,
  type HistoryQuery,
  type Subscription,
  type ThingsPage,
  type ValueListener,
  type WriteOptions,
} from './consumer.js';
export { isTransient, TwinhubError } from './errors.js';
export { OfflineBuffer } from './offline-buffer.js';
export { type ConnectionState, HubSession, type RequestOptions, type SessionOptions } from './session.js';
export type { Link, LinkHandlers, Transport } from './transport.js';
export { type WebSocketLike, type WebSocketOpener, wsEndpoint, wsTransport } from './transports/ws.js';
export type * from './wire.js';
