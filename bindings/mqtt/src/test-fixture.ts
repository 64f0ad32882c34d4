// The test fixtures of this package's tests (not exported): a hub on a memory store with the
// embedded broker on 127.0.0.1 port 0 and tokens for two agents, an operator and a viewer; and
// what the external-broker tests need to run their own Mosquitto (mosquitto-broker.ts).

import type { Hub, HubApi, HubLimits, ThingDescription } from '@twinhub/core';
import { startFixture } from '@twinhub/testkit';
import pino, { type Logger } from 'pino';
import type { EmbeddedBrokerOptions } from './embedded.js';
import { createMqttBinding, type MqttBinding } from './index.js';

export const LAMP = 'urn:dev:ops:mqtt-lamp/1+x';
export const OTHER = 'urn:dev:ops:mqtt-fan-2';

export function td(id: string, title: string): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id,
    title,
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      brightness: { type: 'integer', minimum: 0, maximum: 100, observable: true, forms: [{ href: 'http://device.local/brightness' }] },
      status: { type: 'string', readOnly: true, forms: [{ href: 'http://device.local/status' }] },
    },
    actions: { fade: { input: { type: 'integer' }, forms: [{ href: 'http://device.local/fade' }] } },
    events: { overheating: { data: { type: 'number' }, forms: [{ href: 'http://device.local/overheating' }] } },
  };
}

export type Credentials = { username: string; password: string };

export interface Fixture {
  hub: Hub;
  binding: MqttBinding;
  url: string;
  tokens: Record<'agentA' | 'agentB' | 'operator' | 'viewer', Credentials>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Wraps the hub the binding sees (e.g. a HoldingHub). */
  wrap?: (hub: Hub) => HubApi;
  /** Embedded broker options beyond port and host. */
  broker?: Omit<EmbeddedBrokerOptions, 'port' | 'host'>;
  limits?: Partial<HubLimits>;
  logger?: Logger;
}

/** The test kit's fixture with the embedded broker, and MQTT credentials for the clients the tests name. */
export async function startHub(options: FixtureOptions = {}): Promise<Fixture> {
  const fixture = await startFixture({
    bindings: (hub) => [
      createMqttBinding({ hub, logger: options.logger ?? pino({ level: 'silent' }), mode: { embedded: { port: 0, host: '127.0.0.1', ...options.broker } } }),
    ],
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.wrap ? { wrap: options.wrap } : {}),
  });
  const { hub } = fixture;
  const [binding] = fixture.bindings;
  const credentials = async (id: string, role: 'agent' | 'operator' | 'viewer') => ({ username: id, password: (await hub.tokens.create({ id, role })).token });
  return {
    hub,
    binding,
    url: fixture.urls[binding.name],
    tokens: {
      agentA: await credentials('agent-a', 'agent'),
      agentB: await credentials('agent-b', 'agent'),
      operator: await credentials('operator-1', 'operator'),
      viewer: await credentials('viewer-1', 'viewer'),
    },
    close: fixture.close,
  };
}

export { findMosquitto, freePort, MOSQUITTO_SKIP_HINT, waitForPort } from './mosquitto-broker.js';
