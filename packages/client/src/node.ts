// The Node entry of @twinhub/client: agents and consumers over WebSocket (`ws`) or MQTT.

import { AgentClient, type AgentOptions } from './agent.js';
import { ConsumerClient, type ConsumerOptions } from './consumer.js';
import type { Transport } from './transport.js';
import { mqttTransport } from './transports/mqtt.js';
import { wsTransport } from './transports/ws.js';
import { openNodeWebSocket } from './transports/ws-node.js';

export * from './common.js';
export { mqttTransport, type MqttTransportOptions } from './transports/mqtt.js';
export { openNodeWebSocket } from './transports/ws-node.js';
export { fallbackTransport } from './transports/fallback.js';

export interface ConnectOptions {
  /** The hub: http(s)://host:port (its /ws is used), ws(s)://host:port/ws, or mqtt(s)://host:port. */
  url: string;
  token: string;
  /** The hub client id of the token: needed for MQTT (username and topics). */
  clientId?: string;
  /** Default: 'mqtt' for an mqtt(s):// URL, else 'ws'; or any Transport. */
  transport?: 'ws' | 'mqtt' | Transport;
}

export function nodeTransport(options: ConnectOptions): Transport {
  const kind = options.transport ?? (/^mqtts?:/.test(options.url) ? 'mqtt' : 'ws');
  if (typeof kind !== 'string') return kind;
  if (kind === 'mqtt') {
    if (!options.clientId) throw new TypeError('the MQTT transport needs the clientId the token belongs to (the MQTT username)');
    return mqttTransport({ url: options.url, token: options.token, clientId: options.clientId });
  }
  return wsTransport({ url: options.url, token: options.token, open: openNodeWebSocket });
}

/** Connects a device agent (rejects with a TwinhubError if the first connection fails). */
export function connectAgent(options: ConnectOptions & AgentOptions): Promise<AgentClient> {
  return AgentClient.connect(nodeTransport(options), options);
}

/** Connects a consumer (rejects with a TwinhubError if the first connection fails). */
export function connectConsumer(options: ConnectOptions & ConsumerOptions): Promise<ConsumerClient> {
  return ConsumerClient.connect(nodeTransport(options), options);
}
