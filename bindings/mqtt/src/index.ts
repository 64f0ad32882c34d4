// @twinhub/binding-mqtt: MQTT for the hub, with an embedded aedes broker or through an external
// broker, on one topic scheme (docs/mqtt.md).

import type { Logger } from 'pino';
import { NO_OBSERVER, type HubApi, type HubBinding, type HubObserver } from '@twinhub/core';
import { startEmbeddedBroker, type EmbeddedBrokerOptions, type RunningBroker } from './embedded.js';
import { startExternalBroker, type ExternalBrokerOptions } from './external.js';
import { mqttTdContributor } from './forms.js';

export type { EmbeddedBrokerOptions } from './embedded.js';
export type { ExternalBrokerOptions } from './external.js';
export { MQTT_SECURITY_SCHEME } from './forms.js';
export { MQTT_SYSTEM_CLIENT } from './mirror.js';
export { decodeLevel, encodeLevel, INBOUND_FILTERS, parseTopic, topicMatches, topics, type Route } from './topics.js';

export type MqttMode = { embedded: EmbeddedBrokerOptions } | { external: ExternalBrokerOptions };

export interface MqttBindingOptions {
  hub: HubApi;
  logger: Logger;
  mode: MqttMode;
  /** Broker URL forms name (mqtt(s)://host:port; the hub derives it); undefined: the URL start() resolved with. */
  publicUrl?: () => string | undefined;
  /** Told of refused CONNECTs and of clients dropped as slow (embedded broker; metrics); default: nobody. */
  observer?: Pick<HubObserver, 'authFailed' | 'slowClientDropped'>;
}

/** start() starts the embedded broker (or connects to the external one) and resolves with its URL. */
export type MqttBinding = HubBinding;

export function createMqttBinding(options: MqttBindingOptions): MqttBinding {
  const { hub, logger, mode } = options;
  let running: RunningBroker | undefined;
  let starting: Promise<RunningBroker> | undefined;

  const contributor = mqttTdContributor(() => {
    const url = options.publicUrl?.() ?? running?.url;
    if (url !== undefined) return url;
    if ('embedded' in mode) return `mqtt://${mode.embedded.host}:${mode.embedded.port}`;
    return mode.external.url;
  });

  return {
    name: 'mqtt',
    contributor,
    async start() {
      starting ??=
        'embedded' in mode ? startEmbeddedBroker(hub, logger, mode.embedded, options.observer ?? NO_OBSERVER) : startExternalBroker(hub, logger, mode.external);
      try {
        running = await starting;
      } catch (error) {
        starting = undefined;
        throw error;
      }
      return { url: running.url };
    },
    listening: () => running?.listening() ?? false,
    async close() {
      const broker = running ?? (await starting?.catch(() => undefined));
      running = undefined;
      starting = undefined;
      await broker?.close();
    },
  };
}
