// The lamp every binding and end-to-end test registers: a dimmable lamp with a read-only status,
// a large read-only value, an action with input and output, and an event.
import type { ThingDescription } from '@twinhub/core';

export const LAMP_ID = 'urn:dev:ops:lamp-1';

export function lampTd(id = LAMP_ID): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id,
    title: 'Lamp',
    '@type': 'Light',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      brightness: { type: 'integer', minimum: 0, maximum: 100, observable: true, forms: [{ href: 'brightness' }] },
      status: { type: 'string', readOnly: true, observable: true, forms: [{ href: 'status' }] },
      blob: { type: 'string', readOnly: true, observable: true, forms: [{ href: 'blob' }] },
    },
    actions: {
      fade: {
        input: { type: 'object', properties: { level: { type: 'integer', minimum: 0, maximum: 100 } }, required: ['level'] },
        output: { type: 'object', properties: { reached: { type: 'integer' } } },
        forms: [{ href: 'fade' }],
      },
    },
    events: { overheated: { data: { type: 'number' }, forms: [{ href: 'overheated' }] } },
  };
}
