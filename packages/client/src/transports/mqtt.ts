// The MQTT transport (Node only; docs/mqtt.md): envelopes published on clients/{clientId}/requests
// (QoS 1), answers on clients/{clientId}/responses|notifications|errors, queued requests for an
// agent on agents/{clientId}/requests. MQTT username = hub client id, password = token.

import mqtt from 'mqtt';
import { TwinhubError } from '../errors.js';
import type { Link, LinkHandlers, Transport } from '../transport.js';
import { asInboundMessage, type RequestEnvelope } from '../wire.js';

export interface MqttTransportOptions {
  /** mqtt:// or mqtts:// URL of the hub's broker. */
  url: string;
  token: string;
  /** The hub client id the token belongs to (the MQTT username; topics are named after it). */
  clientId: string;
  /** Connect timeout in ms (default 10 000). */
  connectTimeoutMs?: number;
}

const level = (value: string) => encodeURIComponent(value);

export function mqttTransport(options: MqttTransportOptions): Transport {
  const base = `clients/${level(options.clientId)}`;
  const agentRequests = `agents/${level(options.clientId)}/requests`;
  return {
    name: 'mqtt',
    async open(handlers: LinkHandlers): Promise<Link> {
      const client = mqtt.connect(options.url, {
        username: options.clientId,
        password: options.token,
        // One MQTT client id per connection: a clean session, the hub redelivers what was not acknowledged.
        clientId: `${options.clientId}-${Math.random().toString(36).slice(2, 10)}`,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: options.connectTimeoutMs ?? 10_000,
      });
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', (error: Error & { code?: number }) => {
          client.end(true);
          // CONNACK 4 (bad username or password) / 5 (not authorized): the hub refused the token.
          if (error.code === 4 || error.code === 5)
            reject(TwinhubError.local(401, 'Unauthorized', `the broker refused the credentials of ${options.clientId}: ${error.message}`, 'connect'));
          else reject(TwinhubError.local(503, 'Connection Failed', `${options.url}: ${error.message}`, 'connect'));
        });
        client.once('close', () => reject(TwinhubError.local(503, 'Connection Failed', `${options.url}: closed before CONNACK`, 'connect')));
      });
      client.removeAllListeners('error');
      client.on('error', () => undefined); // followed by 'close'
      let closed = false;
      const finish = (reason: string) => {
        if (closed) return;
        closed = true;
        handlers.closed({ reason });
      };
      client.on('close', () => finish('connection closed'));
      client.on('message', (topic, payload) => {
        let value: unknown;
        try {
          value = JSON.parse(payload.toString('utf8'));
        } catch {
          return;
        }
        const message = asInboundMessage(value);
        if (message)
          handlers.message(message); // errors/ carries response envelopes (plus "topic")
        else if (topic === `${base}/errors`) return;
      });
      await client.subscribeAsync([`${base}/responses`, `${base}/notifications`, `${base}/errors`], { qos: 1 });
      return {
        send(request: RequestEnvelope) {
          if (closed || !client.connected) throw TwinhubError.local(503, 'Not Connected', 'the MQTT connection is not open', request.operation);
          client.publish(`${base}/requests`, JSON.stringify(request), { qos: 1 });
        },
        async receiveRequests() {
          const granted = await client.subscribeAsync(agentRequests, { qos: 1 });
          if (granted.some((grant) => grant.qos === 128))
            throw TwinhubError.local(403, 'Forbidden', `subscription to ${agentRequests} refused`, 'subscriberequests');
        },
        close() {
          client.end(true);
          finish('client closing');
        },
      };
    },
  };
}
