// Log compaction on a real 3-node JetStream cluster: snapshots and purges keep every record and
// revision, compare-and-set works on a purged log, one of two racing compactors wins, incomplete
// or replaced snapshots are never loaded, and a store cut off past the purge point reloads and
// reports what it missed. Plus the whole contract suite with compaction every few commits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StoreChange } from '@twinhub/bucket';
import { bucketStoreContract } from '@twinhub/bucket/contract';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsStore, type NatsStoreOptions } from './index.js';
import { type NatsCluster, natsSkipReason, startNatsCluster } from './testing.js';

const skip = natsSkipReason();
if (skip) console.log(`# skipping the NATS compaction tests: ${skip}`);

/** Retries `attempt` until it resolves, for at most `ms`. */
async function within<T>(ms: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function dump(store: NatsStore, bucket: string): Promise<[string, string, number][]> {
  const out: [string, string, number][] = [];
  for await (const [key, value] of store.bucket(bucket).entries()) {
    out.push([key, value, (await store.bucket(bucket).getEntry(key))?.revision ?? -1]);
  }
  return out;
}

/** Messages per subject of the snapshot stream, with the stream's own prefix cut off. */
async function snapshotSubjects(servers: string[], stream: string): Promise<Record<string, number>> {
  const nc = await connect({ servers });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(`${stream}-snapshots`, { subjects_filter: '>' });
    const prefix = `${stream}.snapshots.`;
    return Object.fromEntries(Object.entries(info.state.subjects ?? {}).map(([subject, count]) => [subject.slice(prefix.length), count]));
  } finally {
    await nc.close();
  }
}

async function streamState(servers: string[], stream: string): Promise<{ first: number; last: number; messages: number }> {
  const nc = await connect({ servers });
  try {
    const { state } = await (await jetstreamManager(nc)).streams.info(stream);
    return { first: state.first_seq, last: state.last_seq, messages: state.messages };
  } finally {
    await nc.close();
  }
}

const put = (key: string, value: string) => ({ bucket: 'b', type: 'put' as const, key, value });

describe('NatsStore compaction: the contract suite with a snapshot every few commits', { skip }, () => {
  let cluster: NatsCluster;
  let streams = 0;
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });
  bucketStoreContract(
    'nats, compacting every 3 commits',
    () => NatsStore.open({ servers: cluster.servers, stream: `compacting-${++streams}`, compaction: { commits: 3, leaseMs: 0 } }),
    (previous) => NatsStore.open((previous as NatsStore).options),
    (store) => (store as NatsStore).peer(),
  );
});

describe('NatsStore compaction on a 3-node cluster', { skip }, () => {
  let cluster: NatsCluster;
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });
  const open = (stream: string, extra: Partial<NatsStoreOptions> = {}) => NatsStore.open({ servers: cluster.servers, stream, compaction: false, ...extra });

  it('snapshots, purges all commits but the last, and a new store opens from the snapshot with the same records and revisions', async () => {
    const store = await open('snap');
    try {
      for (let i = 0; i < 50; i++) await store.batch([put(`k${String(i).padStart(2, '0')}`, `v${i}`)]);
      await store.batch([{ bucket: 'b', type: 'del', key: 'k07' }, put('k10', 'rewritten')]);
      const before = await dump(store, 'b');
      const result = await store.compact();
      assert.ok(result.done, JSON.stringify(result));
      const state = await streamState(cluster.servers, 'snap');
      assert.equal(result.sequence, state.last);
      assert.equal(state.first, state.last, 'every commit before the snapshot is purged');
      assert.equal(state.messages, 1, 'the last commit stays');
      assert.equal(result.records, 49);

      const reopened = await open('snap');
      try {
        assert.deepEqual(await dump(reopened, 'b'), before);
        // Compare-and-set on a purged log: the expected last sequence is the kept commit's.
        const revision = (await reopened.bucket('b').getEntry('k11'))?.revision ?? 0;
        const next = await reopened.bucket('b').compareAndSet('k11', 'cas', revision);
        assert.ok(next > revision);
        await assert.rejects(() => reopened.bucket('b').compareAndSet('k11', 'stale', revision), { code: 'conflict' });
        await within(5000, async () => assert.equal(await store.bucket('b').get('k11'), 'cas'));
        assert.equal((await reopened.bucket('b').compareAndSet('new', 'x', 0)) > next, true);
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close();
    }
  });

  it('compacts by itself when the commit count is reached, and a second snapshot replaces the first', async () => {
    const store = await open('auto', { compaction: { commits: 20, leaseMs: 0 } });
    try {
      for (let i = 0; i < 45; i++) await store.batch([put(`k${i}`, String(i))]);
      // Two snapshots are due (after 20 and 40 commits); the log is then shorter than 20 commits.
      await within(10_000, async () => {
        const state = await streamState(cluster.servers, 'auto');
        assert.ok(state.first > 40 && state.messages < 20, JSON.stringify(state));
      });
      const subjects = await snapshotSubjects(cluster.servers, 'auto');
      const newest = (await streamState(cluster.servers, 'auto')).first;
      const reopened = await open('auto');
      try {
        assert.deepEqual(await dump(reopened, 'b'), await dump(store, 'b'));
        assert.equal((await dump(reopened, 'b')).length, 45);
      } finally {
        await reopened.close();
      }
      // Older snapshots are removed: one manifest and the newest snapshot's one chunk are left.
      assert.equal(subjects.manifest, 1, JSON.stringify(subjects));
      assert.deepEqual(
        Object.keys(subjects).filter((subject) => subject.startsWith('data.')),
        [`data.${newest}`],
      );
    } finally {
      await store.close();
    }
  });

  it('of two stores compacting at once exactly one writes a snapshot', async () => {
    const a = await open('race');
    const b = await open('race');
    try {
      for (let i = 0; i < 30; i++) await (i % 2 === 0 ? a : b).batch([put(`k${i}`, String(i))]);
      await within(5000, async () => assert.equal((await dump(a, 'b')).length, (await dump(b, 'b')).length));
      const results = await Promise.all([a.compact(), b.compact()]);
      assert.equal(results.filter((r) => r.done).length, 1, JSON.stringify(results));
      const loser = results.find((r) => !r.done);
      assert.ok(loser !== undefined && ['lease-held', 'up-to-date', 'superseded'].includes(loser.done ? '' : loser.reason));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('with an expired lease the manifest compare-and-set still lets only one snapshot through', async () => {
    // leaseMs 0: every lease has run out at once, so both may take it in turn and write chunks.
    const a = await open('race-nolease', { compaction: { leaseMs: 0 } });
    const b = await open('race-nolease', { compaction: { leaseMs: 0 } });
    try {
      for (let i = 0; i < 30; i++) await a.batch([put(`k${i}`, String(i))]);
      await within(5000, async () => assert.equal((await dump(b, 'b')).length, 30));
      const results = await Promise.all([a.compact(), b.compact()]);
      assert.ok(results.filter((r) => r.done).length <= 1 && results.some((r) => r.done), JSON.stringify(results));
      const reopened = await open('race-nolease');
      try {
        assert.equal((await dump(reopened, 'b')).length, 30);
      } finally {
        await reopened.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('ignores the chunks of a snapshot whose writer died before its manifest', async () => {
    const store = await open('crash');
    try {
      for (let i = 0; i < 10; i++) await store.batch([put(`k${i}`, String(i))]);
      assert.ok((await store.compact()).done);
      await store.batch([put('after', '1')]);
      // What a writer killed mid-snapshot leaves: chunks of a newer snapshot, no manifest for it.
      const nc = await connect({ servers: cluster.servers });
      try {
        const js = jetstream(nc);
        const last = (await streamState(cluster.servers, 'crash')).last;
        await js.publish(`crash.snapshots.data.${last}`, new TextEncoder().encode(JSON.stringify([['b', 'k1', 'from a dead writer', 1]])));
      } finally {
        await nc.close();
      }
      const reopened = await open('crash');
      try {
        assert.equal(await reopened.bucket('b').get('k1'), '1');
        assert.equal(await reopened.bucket('b').get('after'), '1');
        assert.equal((await dump(reopened, 'b')).length, 11);
        // The next snapshot removes the dead writer's chunks.
        await reopened.batch([put('more', '1')]);
        assert.ok((await reopened.compact()).done);
        const subjects = await snapshotSubjects(cluster.servers, 'crash');
        const newest = (await streamState(cluster.servers, 'crash')).first;
        assert.deepEqual(
          Object.keys(subjects).filter((subject) => subject.startsWith('data.')),
          [`data.${newest}`],
        );
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close();
    }
  });

  it('a store opening while snapshots are written and replaced loads a complete one', async () => {
    // Small chunks: each snapshot is many messages, so opens overlap writes and replacements.
    const writer = await open('overlap', { compaction: { chunkBytes: 2048, leaseMs: 0 } });
    try {
      const value = 'x'.repeat(100);
      for (let i = 0; i < 40; i++) {
        await writer.batch(Array.from({ length: 25 }, (_, j) => put(`k${String(i * 25 + j).padStart(4, '0')}`, value)));
      }
      const expected = await dump(writer, 'b');
      let compacting = true;
      const compactions = (async () => {
        let done = 0;
        for (let round = 0; round < 6; round++) {
          await writer.batch([put(`k${String(round).padStart(4, '0')}`, value)]);
          if ((await writer.compact()).done) done++;
        }
        compacting = false;
        return done;
      })();
      let opens = 0;
      while (compacting) {
        const reader = await open('overlap');
        try {
          const seen = await dump(reader, 'b');
          assert.equal(seen.length, expected.length);
          assert.ok(
            seen.every(([key, v]) => key.startsWith('k') && v === value),
            'every record is whole',
          );
        } finally {
          await reader.close();
        }
        opens++;
      }
      assert.equal(await compactions, 6);
      assert.ok(opens >= 1);
      const last = await open('overlap');
      try {
        assert.deepEqual(await dump(last, 'b'), await dump(writer, 'b'));
      } finally {
        await last.close();
      }
    } finally {
      await writer.close();
    }
  });
});

describe('NatsStore compaction: a store cut off past the purge point', { skip }, () => {
  let cluster: NatsCluster;
  before(async () => {
    // Not advertised: a client given only n1 cannot move to another server while n1 is down.
    cluster = await startNatsCluster({ size: 3, advertise: false });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('reloads from the snapshot and reports to watch listeners what it missed', async () => {
    const options = { stream: 'cutoff', replicas: 3, compaction: false as const, reconnectWaitMs: 100 };
    const a = await NatsStore.open({ servers: cluster.servers.slice(1), ...options });
    const b = await NatsStore.open({ servers: cluster.servers.slice(0, 1), ...options });
    const heard: StoreChange[][] = [];
    b.watch((changes) => heard.push([...changes]));
    try {
      await a.batch([put('kept', '1'), put('changed', '1'), put('deleted', '1')]);
      await within(5000, async () => assert.equal(await b.bucket('b').get('deleted'), '1'));
      heard.length = 0;
      await cluster.nodes[0].kill();
      // The stream may have to elect a new leader first.
      // Each write retried while the two servers left settle (a loaded machine sees request
      // timeouts after the kill); the writes are idempotent, so a retry of one that landed is harmless.
      await within(15_000, () => a.batch([put('changed', '2')]));
      await within(15_000, () => a.batch([{ bucket: 'b', type: 'del', key: 'deleted' }]));
      await within(15_000, () => a.batch([put('added', '1'), put('changed', '3')]));
      const result = await within(15_000, () => a.compact());
      assert.ok(result.done);
      await within(15_000, () => a.batch([put('after', '1')]));
      assert.ok((await streamState(cluster.servers.slice(1), 'cutoff')).first > 2, 'the commits b has not seen are purged');
      cluster.nodes[0].start();
      await within(30_000, async () => assert.equal(await b.bucket('b').get('after'), '1'));
      assert.deepEqual(await dump(b, 'b'), await dump(a, 'b'));
      const reported = new Map(heard.flat().map((change) => [change.key, change.value]));
      assert.deepEqual(Object.fromEntries(reported), { changed: '3', deleted: undefined, added: '1', after: '1' });
      assert.ok(!reported.has('kept'), 'an unchanged record is not reported');
      // The last reported revision of each record is its revision. (b may hear a record change twice
      // when it caught up with a commit before the purge; the earlier report has the earlier revision.)
      const last = new Map(heard.flat().map((change) => [change.key, change]));
      for (const change of last.values()) {
        if (change.value !== undefined) assert.equal(change.revision, (await b.bucket('b').getEntry(change.key))?.revision);
      }
    } finally {
      await a.close();
      await b.close();
      cluster.nodes[0].start();
    }
  });
});
