// Retention in slices: every run keeps to its budget, a large series is counted and pruned across
// runs, and the walk visits every series, deleting those whose Thing or affordance is gone.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MemoryStore } from '@twinhub/storage-memory';
import { PersistQueue } from '../store/persist-queue.js';
import { HISTORY_BUCKET, sampleKey, seriesId, seriesPrefix } from './keys.js';
import type { EffectivePolicy } from './policy.js';
import type { SeriesState } from './recorder.js';
import { Retention, type SweepBudget } from './retention.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');

async function fill(store: MemoryStore, series: string, count: number, stepMs = 1000): Promise<void> {
  const ops = [];
  for (let i = 0; i < count; i++) {
    ops.push({
      type: 'put' as const,
      bucket: HISTORY_BUCKET,
      key: sampleKey(series, T0 + i * stepMs, 0),
      value: JSON.stringify({ t: new Date(T0 + i * stepMs).toISOString(), v: i }),
    });
  }
  await store.batch(ops);
}

async function keysOf(store: MemoryStore, series: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const [key] of store.bucket(HISTORY_BUCKET).entries({ prefix: seriesPrefix(series) })) keys.push(key);
  return keys;
}

function retention(store: MemoryStore, policies: Map<string, EffectivePolicy>, now = T0 + 10_000_000) {
  const series = new Map<string, SeriesState>();
  const persist = new PersistQueue(store, pino({ level: 'silent' }));
  const sweeper = new Retention({
    bucket: store.bucket(HISTORY_BUCKET),
    persist,
    series,
    now: () => new Date(now),
    policyOf: (thingId, kind, name) => policies.get(seriesId(thingId, kind, name)),
  });
  return { sweeper, series };
}

const policy = (maxSamples: number, maxAgeSeconds = 365 * 24 * 3600): EffectivePolicy => ({ enabled: true, maxSamples, maxAgeSeconds });

describe('history retention', () => {
  it('counts and prunes a large series across runs, each within its budget, keeping the newest maxSamples', async () => {
    const store = new MemoryStore();
    const big = seriesId('urn:t:1', 'p', 'level');
    await fill(store, big, 250);
    const { sweeper, series } = retention(store, new Map([[big, policy(100)]]));
    const budget: SweepBudget = { series: 10, deletes: 30, reads: 40 };
    const sizes: number[] = [];
    for (let run = 0; run < 20; run++) {
      await sweeper.sweep(budget);
      sizes.push((await keysOf(store, big)).length);
    }
    assert.equal(sizes.at(-1), 100);
    let previous = 250;
    for (const size of sizes) {
      assert.ok(previous - size <= budget.deletes, `a run deleted ${previous - size} samples: over its budget`);
      previous = size;
    }
    assert.ok(sizes.indexOf(100) >= 5, 'it took several runs (counting 101 keys at 40 a run, deleting 150 at 30 a run)');
    const kept = await keysOf(store, big);
    assert.equal(kept[0], sampleKey(big, T0 + 150_000, 0), 'the oldest 150 went');
    assert.equal(series.get(big)?.count, 100);
  });

  it('visits every series, deletes by age, and removes series without a Thing or affordance', async () => {
    const store = new MemoryStore();
    const kept = seriesId('urn:t:1', 'p', 'a');
    const aged = seriesId('urn:t:1', 'e', 'alarm');
    const orphan = seriesId('urn:t:gone', 'p', 'a');
    const sibling = seriesId('urn:t:1', 'p', 'a2'); // a name that extends another's: its own series
    await fill(store, kept, 5);
    await fill(store, aged, 5, 3_600_000); // one an hour
    await fill(store, orphan, 5);
    await fill(store, sibling, 3);
    const now = T0 + 4.5 * 3_600_000;
    const policies = new Map([
      [kept, policy(10)],
      [aged, policy(10, 2 * 3600)], // the samples at 0 h, 1 h and 2 h are over two hours old
      [sibling, policy(2)],
    ]);
    const { sweeper } = retention(store, policies, now);
    await sweeper.sweep({ series: 1, deletes: 1000, reads: 1000 });
    await sweeper.sweep({ series: 1, deletes: 1000, reads: 1000 });
    await sweeper.sweep({ series: 1, deletes: 1000, reads: 1000 });
    await sweeper.sweep({ series: 1, deletes: 1000, reads: 1000 });
    assert.deepEqual(
      [(await keysOf(store, kept)).length, (await keysOf(store, aged)).length, (await keysOf(store, orphan)).length, (await keysOf(store, sibling)).length],
      [5, 2, 0, 2],
    );
  });
});
