// The logic of the benchmark's own library: the NATS/LevelDB ratio, percentiles of a phase from a
// Prometheus histogram, and that a NATS fill batch of twins fits one commit message (a real
// nats-server; skipped when it is not installed).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NatsStore } from '@twinhub/storage-nats';
import { natsSkipReason, startNatsCluster } from '@twinhub/storage-nats/testing';
import { natsRatio } from './compare.js';
import { TWINS_PER_NATS_COMMIT, twinRecords } from './scale-records.js';
import { histogramQuantile, parseHistogram } from './stats.js';

describe('natsRatio', () => {
  it('divides throughput NATS by LevelDB and latency LevelDB by NATS', () => {
    assert.equal(natsRatio(500, 1000, 'rate'), 0.5);
    assert.equal(natsRatio(20, 10, 'latency'), 0.5);
    assert.equal(natsRatio(5, 10, 'latency'), 2);
  });

  it('has no ratio when a figure is missing or zero', () => {
    assert.equal(natsRatio(undefined, 10, 'rate'), undefined);
    assert.equal(natsRatio(10, 0, 'rate'), undefined);
    assert.equal(natsRatio(0, 10, 'latency'), undefined);
  });
});

describe('histogramQuantile', () => {
  const near = (actual: number | undefined, expected: number) =>
    assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${actual} ≉ ${expected}`);
  const buckets = (...counts: number[]) => [0.001, 0.01, 0.1, Number.POSITIVE_INFINITY].map((le, i) => ({ le, count: counts[i] }));

  it('estimates from the observations between the two reads only, linear within a bucket', () => {
    const before = buckets(100, 100, 100, 100); // an earlier phase: all under 1 ms
    const after = buckets(100, 110, 200, 200); // this phase: 10 in (1, 10] ms, 90 in (10, 100] ms
    near(histogramQuantile(before, after, 0.05), 0.0055); // rank 5: half of the 10 in (0.001, 0.01]
    near(histogramQuantile(before, after, 0.5), 0.05); // rank 50: 40 of the 90 in (0.01, 0.1]
    near(histogramQuantile(before, after, 1), 0.1);
  });

  it('gives the largest finite bound for a rank in +Inf, a missing earlier read counts as zero', () => {
    near(histogramQuantile([], buckets(0, 0, 1, 4), 0.99), 0.1);
    near(histogramQuantile([], buckets(4, 4, 4, 4), 0.5), 0.0005);
  });

  it('has no quantile when nothing was observed', () => {
    assert.equal(histogramQuantile(buckets(1, 2, 3, 3), buckets(1, 2, 3, 3), 0.5), undefined);
    assert.equal(histogramQuantile([], [], 0.5), undefined);
  });

  it('reads the buckets of one histogram from the exposition, summed over matching series', () => {
    const text = [
      '# TYPE twinhub_persist_duration_seconds histogram',
      'twinhub_persist_duration_seconds_bucket{le="0.001",result="ok"} 3',
      'twinhub_persist_duration_seconds_bucket{le="+Inf",result="ok"} 5',
      'twinhub_persist_duration_seconds_bucket{le="0.001",result="refused"} 1',
      'twinhub_persist_duration_seconds_bucket{le="+Inf",result="refused"} 1',
      'twinhub_persist_duration_seconds_sum{result="ok"} 0.2',
      'twinhub_persist_batch_records_bucket{le="1"} 9',
    ].join('\n');
    const inf = Number.POSITIVE_INFINITY;
    assert.deepEqual(parseHistogram(text, 'twinhub_persist_duration_seconds', { result: 'ok' }), [
      { le: 0.001, count: 3 },
      { le: inf, count: 5 },
    ]);
    assert.deepEqual(parseHistogram(text, 'twinhub_persist_duration_seconds'), [
      { le: 0.001, count: 4 },
      { le: inf, count: 6 },
    ]);
    assert.deepEqual(parseHistogram(text, 'twinhub_absent_seconds'), []);
  });
});

describe('twin records', () => {
  it('writes a twin and three state records keyed as the core reads them', () => {
    const operations = twinRecords(7, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(
      operations.map((op) => [op.bucket, op.key]),
      [
        ['twins', 'urn:bench:scale-agent-7:0'],
        ['state', 'urn:bench:scale-agent-7:0\u0001p\u0001level'],
        ['state', 'urn:bench:scale-agent-7:0\u0001p\u0001status'],
        ['state', 'urn:bench:scale-agent-7:0\u0001e\u0001alarm'],
      ],
    );
    const twin = operations[0];
    assert.equal(twin.type === 'put' && (JSON.parse(twin.value) as { td: { id: string } }).td.id, 'urn:bench:scale-agent-7:0');
  });

  it('fit one NATS commit per fill batch, and a store reads them back', { skip: natsSkipReason() }, async () => {
    const cluster = await startNatsCluster({ size: 1 });
    try {
      const store = await NatsStore.open({ servers: cluster.servers, replicas: 1 });
      try {
        const now = new Date().toISOString();
        const from = 99_000; // the largest indices of a 100k fill: the longest IDs
        await store.batch(Array.from({ length: TWINS_PER_NATS_COMMIT }, (_, i) => twinRecords(from + i, now)).flat());
        let twins = 0;
        for await (const _ of store.bucket('twins').entries()) twins++;
        assert.equal(twins, TWINS_PER_NATS_COMMIT);
      } finally {
        await store.close();
      }
    } finally {
      await cluster.stop();
    }
  });
});
