// Fills a store with N twins (TD + state) straight through the storage API, in the layout the
// core persists (lib/scale-records.ts): far faster than registering through the hub. argv: a
// LevelDB folder and a count, or `--nats <servers JSON> <replicas>` and a count. A NATS commit must
// fit one message (1 MiB by default), so twins go in batches of a few hundred there.

import type { BucketStore, StoreOperation } from '@twinhub/bucket';
import { openLevelStore } from '@twinhub/storage-level';
import { NatsStore } from '@twinhub/storage-nats';
import { recordBytes, TWINS_PER_NATS_COMMIT, twinRecords } from '../lib/scale-records.js';

const args = process.argv.slice(2);
const nats = args[0] === '--nats';
const count = Number(nats ? args[3] : args[1]);
const BATCH = nats ? TWINS_PER_NATS_COMMIT : 2000;
/** NATS: commits in flight at once (each resolves on its acknowledgement). */
const IN_FLIGHT = nats ? 4 : 1;

const started = performance.now();
const store: BucketStore = nats
  ? await NatsStore.open({ servers: JSON.parse(args[1]) as string[], replicas: Number(args[2]), timeoutMs: 30_000 })
  : await openLevelStore(args[0]);
const now = new Date().toISOString();
let bytes = 0;
let commits = 0;
const pending = new Set<Promise<unknown>>();
for (let from = 0; from < count; from += BATCH) {
  const operations: StoreOperation[] = [];
  for (let i = from; i < Math.min(count, from + BATCH); i++) operations.push(...twinRecords(i, now));
  bytes += recordBytes(operations);
  commits++;
  const write = store.batch(operations).finally(() => pending.delete(write));
  pending.add(write);
  if (pending.size >= IN_FLIGHT) await Promise.race(pending);
}
await Promise.all(pending);
await store.close();
process.send?.({ type: 'done', ms: performance.now() - started, bytes, commits }, () => process.exit(0));
