// The transport seam: a Transport opens Links; a Link carries request envelopes out and hands every
// message the hub sends to its handlers. WebSocket (Node and browsers) and MQTT (Node) implement it;
// reconnecting, correlating and resubscribing live above it, in HubSession, once for all of them.

import type { InboundMessage, RequestEnvelope } from './wire.js';

export interface LinkHandlers {
  message(message: InboundMessage): void;
  /** The link is gone (peer, network, or close()); called once. */
  closed(info: { code?: number; reason: string }): void;
}

export interface Link {
  /** Sends one request envelope; throws a TwinhubError (503) when the link is not open. */
  send(request: RequestEnvelope): void;
  /**
   * Starts the delivery of queued requests to this (agent) link when the transport has its own way
   * (MQTT: subscribing to agents/{clientId}/requests); absent: the `subscriberequests` envelope.
   */
  receiveRequests?(): Promise<void>;
  close(): void;
}

export interface Transport {
  /** 'ws', 'mqtt', ... (for logs). */
  readonly name: string;
  /** Opens one link; rejects with a TwinhubError (401 bad token, 503 unreachable, ...) when it cannot. */
  open(handlers: LinkHandlers): Promise<Link>;
}
