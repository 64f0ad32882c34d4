// The Thing Description every benchmark registers: a small sensor/actuator with a numeric
// property the load generators report, an action to queue, and an event.

import type { ThingDescription } from '@twinhub/core';

export const BENCH_PROPERTY = 'level';
export const BENCH_ACTION = 'run';

export function benchThingId(agentId: string, index: number): string {
  return `urn:bench:${agentId}:${index}`;
}

export function benchTd(id: string, type = 'BenchSensor'): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id,
    title: `Bench ${id}`,
    '@type': type,
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      [BENCH_PROPERTY]: { type: 'number', observable: true, forms: [{ href: 'level' }] },
      status: { type: 'string', readOnly: true, observable: true, forms: [{ href: 'status' }] },
      unit: { type: 'string', readOnly: true, forms: [{ href: 'unit' }] },
    },
    actions: {
      [BENCH_ACTION]: { input: { type: 'object', properties: { n: { type: 'integer' } } }, forms: [{ href: 'run' }] },
    },
    events: { alarm: { data: { type: 'number' }, forms: [{ href: 'alarm' }] } },
  };
}
