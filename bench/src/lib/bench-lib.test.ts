// The logic of the benchmark's own library: the NATS/LevelDB ratio, and that a NATS fill batch of
// twins fits one commit message (a real nats-server; skipped when it is not installed).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NatsStore } from '@twinhub/storage-nats';
import { natsSkipReason, startNatsCluster } from '@twinhub/storage-nats/testing';
import { natsRatio } from './compare.js';
import { TWINS_PER_NATS_COMMIT, twinRecords } from './scale-records.js';

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
