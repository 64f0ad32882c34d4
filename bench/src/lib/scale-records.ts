// The records of one stored twin for the start-up scenarios, in the layout the core persists
// (bucket 'twins': Twin JSON keyed by Thing ID; bucket 'state': one record per reported property
// and per event, keyed `<thingId>\u0001p|e\u0001<name>`; see packages/core/src/directory and state).

import type { StoreOperation } from '@twinhub/bucket';
import type { Twin } from '@twinhub/core';
import { benchTd, benchThingId } from './td.js';

const AGENTS = 100;
/** Twins per NATS commit when filling: ~1.4 KB each once encoded in a commit message, so 400 stay well under 1 MiB (tested). */
export const TWINS_PER_NATS_COMMIT = 400;

function agentOf(i: number): string {
  return `scale-agent-${i % AGENTS}`;
}

/** The Thing ID of twin number `i`. */
export function scaleThingId(i: number): string {
  return benchThingId(agentOf(i), Math.floor(i / AGENTS));
}

/** The store operations writing twin number `i` (a TD with 3 properties, 1 action, 1 event, and its state). */
export function twinRecords(i: number, now: string): StoreOperation[] {
  const agentId = agentOf(i);
  const thingId = scaleThingId(i);
  const twin: Twin = {
    thingId,
    td: benchTd(thingId, `BenchType${i % 10}`),
    agentId,
    created: now,
    modified: now,
    version: 1,
    tags: { site: `site-${i % 50}` },
  };
  const state: [string, object][] = [
    [`${thingId}\u0001p\u0001level`, { value: i * 0.5, updated: now, version: 1 }],
    [`${thingId}\u0001p\u0001status`, { value: 'ok', updated: now, version: 2 }],
    [`${thingId}\u0001e\u0001alarm`, { data: 1, time: now, version: 3 }],
  ];
  return [
    { bucket: 'twins', type: 'put', key: thingId, value: JSON.stringify(twin) },
    ...state.map(([key, record]): StoreOperation => ({ bucket: 'state', type: 'put', key, value: JSON.stringify(record) })),
  ];
}

/** Bytes of JSON the operations store (values only). */
export function recordBytes(operations: readonly StoreOperation[]): number {
  let bytes = 0;
  for (const op of operations) if (op.type === 'put') bytes += op.value.length;
  return bytes;
}
