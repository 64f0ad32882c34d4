// The MQTT binding's part of every twin TD: mqtt:// forms on the topic scheme, in the shape
// node-wot's MQTT client reads (topic = URL path; mqv:retain / mqv:qos used on publish).

import type { AffordanceKind, Form, TwinTdContributor } from '@twinhub/core';
import { topics } from './topics.js';

export const MQTT_SECURITY_SCHEME = 'mqtt_basic_sc';

/** `baseUrl()` is the broker URL consumers connect to (mqtt://host:port), read when a TD is built. */
export function mqttTdContributor(baseUrl: () => string): TwinTdContributor {
  const href = (topic: string) => `${baseUrl().replace(/\/+$/, '')}/${topic}`;
  const common = { contentType: 'application/json', security: [MQTT_SECURITY_SCHEME] };
  const subscribeForm = (topic: string, op: string[], retain: boolean): Form => ({
    href: href(topic),
    op,
    ...common,
    'mqv:filter': topic,
    'mqv:qos': '0',
    'mqv:retain': retain,
  });
  const publishForm = (topic: string, op: string[]): Form => ({
    href: href(topic),
    op,
    ...common,
    'mqv:topic': topic,
    'mqv:qos': '1',
    'mqv:retain': false,
  });

  return {
    name: 'mqtt',
    securityDefinitions: () => ({ [MQTT_SECURITY_SCHEME]: { scheme: 'basic', in: 'auto' } }),
    affordanceForms(kind: AffordanceKind, thingId: string, name: string, affordance: Record<string, unknown>): Form[] {
      switch (kind) {
        case 'property': {
          const forms: Form[] = [];
          if (affordance.writeOnly !== true) {
            forms.push(subscribeForm(topics.propertyValue(thingId, name), ['readproperty', 'observeproperty', 'unobserveproperty'], true));
          }
          if (affordance.readOnly !== true) forms.push(publishForm(topics.propertySet(thingId, name), ['writeproperty']));
          return forms;
        }
        case 'action':
          return [publishForm(topics.action(thingId, name), ['invokeaction'])];
        case 'event':
          return [subscribeForm(topics.event(thingId, name), ['subscribeevent', 'unsubscribeevent'], false)];
      }
    },
  };
}
