// The MQTT binding's part of every twin TD: mqtt:// forms on the topic scheme, in the shape
// node-wot's MQTT client reads (topic = URL path; mqv:retain / mqv:qos used on publish).

import type { AffordanceKind, Form, TwinTdContributor } from '@twinhub/core';
import { topics } from './topics.js';

export const MQTT_SECURITY_SCHEME = 'mqtt_basic_sc';

/** The MQTT binding template's vocabulary (W3C WoT Binding Templates, MQTT), for the `mqv:` terms of the forms. */
export const MQV_NAMESPACE = 'http://www.example.org/mqtt-binding#';

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
    context: () => ({ mqv: MQV_NAMESPACE }),
    securityDefinitions: () => ({ [MQTT_SECURITY_SCHEME]: { scheme: 'basic', in: 'auto' } }),
    affordanceForms(kind: AffordanceKind, thingId: string, name: string, affordance: Record<string, unknown>): Form[] {
      switch (kind) {
        case 'property': {
          const forms: Form[] = [];
          // Subscribing to the value topic observes the property, so only an observable one has
          // it (a non-observable property's values are never published: read it over HTTP, WS or
          // the request topic); a write-only one is never readable at all.
          if (affordance.observable === true && affordance.writeOnly !== true) {
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
