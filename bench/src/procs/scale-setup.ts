// Fills a data folder with N twins (TD + state) straight through the storage API, in the layout
// the core persists (bucket 'twins': Twin JSON keyed by Thing ID; bucket 'state': one record per
// reported property and per event, keyed `<thingId>\u0001p|e\u0001<name>`; see
// packages/core/src/directory and state). Far faster than registering through the hub.

import type { Twin } from '@twinhub/core';
import { openLevelStore } from '@twinhub/storage-level';
import type { StoreOperation } from '@twinhub/bucket';
import { benchTd, benchThingId } from '../lib/td.js';

const [dir, countArg] = process.argv.slice(2);
const count = Number(countArg);
const AGENTS = 100;
const BATCH = 2000;

const started = performance.now();
const store = await openLevelStore(dir);
const now = new Date().toISOString();
let bytes = 0;
for (let from = 0; from < count; from += BATCH) {
  const operations: StoreOperation[] = [];
  for (let i = from; i < Math.min(count, from + BATCH); i++) {
    const agentId = `scale-agent-${i % AGENTS}`;
    const thingId = benchThingId(agentId, Math.floor(i / AGENTS));
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
    const twinJson = JSON.stringify(twin);
    operations.push({ bucket: 'twins', type: 'put', key: thingId, value: twinJson });
    bytes += twinJson.length;
    for (const [key, record] of state) {
      const json = JSON.stringify(record);
      bytes += json.length;
      operations.push({ bucket: 'state', type: 'put', key, value: json });
    }
  }
  await store.batch(operations);
}
await store.close();
process.send?.({ type: 'done', ms: performance.now() - started, bytes }, () => process.exit(0));
