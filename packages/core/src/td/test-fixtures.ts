// Test support: a realistic TD (a dimmable lamp) that every test copies and breaks in its own way.

import type { ThingDescription } from '../model/types.js';

export function lampTd(): ThingDescription {
  return {
    '@context': ['https://www.w3.org/2022/wot/td/v1.1', { saref: 'https://w3id.org/saref#' }],
    id: 'urn:dev:ops:32473-WoTLamp-1234',
    title: 'MyLampThing',
    titles: { en: 'My lamp', de: 'Meine Lampe' },
    description: 'A dimmable lamp',
    '@type': ['saref:LightSwitch'],
    base: 'https://lamp.example.com/',
    securityDefinitions: { basic_sc: { scheme: 'basic', in: 'header' } },
    security: 'basic_sc',
    links: [{ href: 'manual.pdf', rel: 'service-doc', type: 'application/pdf' }],
    forms: [{ href: 'all/properties', op: ['readallproperties', 'writemultipleproperties'] }],
    properties: {
      status: {
        type: 'string',
        enum: ['on', 'off'],
        readOnly: true,
        observable: true,
        forms: [{ href: 'properties/status', op: ['readproperty', 'observeproperty'] }],
      },
      brightness: {
        title: 'Brightness',
        type: 'integer',
        minimum: 0,
        maximum: 100,
        unit: 'percent',
        observable: true,
        forms: [{ href: 'properties/brightness' }],
      },
      config: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 32 },
          tags: { type: 'array', items: { type: 'string' }, maxItems: 4 },
        },
        required: ['name'],
        writeOnly: false,
        observable: true,
        forms: [{ href: 'properties/config', contentType: 'application/json' }],
      },
    },
    actions: {
      toggle: { forms: [{ href: 'actions/toggle' }], safe: false, idempotent: false },
      fade: {
        title: 'Fade to a brightness',
        input: {
          type: 'object',
          properties: {
            level: { type: 'integer', minimum: 0, maximum: 100 },
            duration: { type: 'number', minimum: 0, unit: 's' },
          },
          required: ['level'],
        },
        output: { type: 'object', properties: { reached: { type: 'integer' } } },
        forms: [{ href: 'actions/fade', op: 'invokeaction' }],
      },
    },
    events: {
      overheating: {
        data: { type: 'object', properties: { celsius: { type: 'number' } }, required: ['celsius'] },
        forms: [{ href: 'events/overheating', subprotocol: 'longpoll' }],
      },
    },
  };
}
