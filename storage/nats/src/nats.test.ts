// The NATS store against a real 3-node JetStream cluster on loopback ports: the shared contract
// suite (with reopen and a second writer), plus outages: all servers down, one of three killed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StoreError } from '@twinhub/bucket';
import { bucketStoreContract } from '@twinhub/bucket/contract';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsStore } from './index.js';
import { type NatsCluster, natsSkipReason, startNatsCluster } from './testing.js';

const skip = natsSkipReason();
if (skip) console.log(`# skipping the NATS store tests: ${skip}`);

describe('NatsStore on a 3-node JetStream cluster', { skip }, () => {
  let cluster: NatsCluster;
  let streams = 0;
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  // A fresh stream per test: each test starts from an empty store.
  bucketStoreContract(
    'nats',
    () => NatsStore.open({ servers: cluster.servers, stream: `contract-${++streams}` }),
    (previous) => NatsStore.open((previous as NatsStore).options),
    (store) => (store as NatsStore).peer(),
  );
});

/** A write refused while the servers are down: not made, or (a publish sent just before) unconfirmed. */
const isRefused = (error: unknown): boolean => error instanceof StoreError && (error.code === 'unavailable' || error.code === 'unconfirmed');

/** Retries `attempt` until it resolves, for at most `ms` (recovery takes a leader election or two). */
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

async function collect(store: NatsStore, bucket: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const entry of store.bucket(bucket).entries()) out.push(entry);
  return out;
}

describe('NatsStore beyond the contract: replicas, message size, servers failing', { skip }, () => {
  let cluster: NatsCluster;
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('creates the stream with 3 replicas on a 3-server cluster', async () => {
    const store = await NatsStore.open({ servers: cluster.servers, stream: 'replicas' });
    const nc = await connect({ servers: cluster.servers });
    try {
      const info = await (await jetstreamManager(nc)).streams.info('replicas');
      assert.equal(info.config.num_replicas, 3);
    } finally {
      await nc.close();
      await store.close();
    }
  });

  it("refuses a batch over the server's max_payload as 'full', saying why, and applies none of it", async () => {
    const store = await NatsStore.open({ servers: cluster.servers, stream: 'oversize' });
    try {
      const big = 'x'.repeat(600_000);
      await assert.rejects(
        () =>
          store.batch([
            { bucket: 'b', type: 'put', key: 'one', value: big },
            { bucket: 'b', type: 'put', key: 'two', value: big },
          ]),
        (error: unknown) => {
          assert.ok(error instanceof StoreError && error.code === 'full', String(error));
          assert.match(error.message, /max_payload/);
          return true;
        },
      );
      assert.deepEqual(await collect(store, 'b'), []);
      // Each half fits: written as two batches it goes through.
      await store.batch([{ bucket: 'b', type: 'put', key: 'one', value: big }]);
      assert.equal((await store.bucket('b').get('one'))?.length, big.length);
    } finally {
      await store.close();
    }
  });

  it('kill -9 one of three servers: writes continue, nothing acknowledged is lost', async () => {
    const store = await NatsStore.open({ servers: cluster.servers, stream: 'r3', timeoutMs: 3000, reconnectWaitMs: 100 });
    const acknowledged: string[] = [];
    const write = async (i: number): Promise<void> => {
      const key = `k${String(i).padStart(3, '0')}`;
      await store.batch([{ bucket: 'b', type: 'put', key, value: String(i) }]);
      acknowledged.push(key);
    };
    try {
      for (let i = 0; i < 20; i++) await write(i);
      await cluster.nodes[0].kill();
      // A write in flight on the dead server may be refused while the client moves over and the
      // stream elects a leader; every write must go through within seconds, none may hang.
      for (let i = 20; i < 60; i++) await within(15_000, () => write(i));
      assert.equal(acknowledged.length, 60);
      const reopened = await NatsStore.open({ servers: cluster.servers.slice(1), stream: 'r3' });
      try {
        assert.deepEqual(
          (await collect(reopened, 'b')).map(([key]) => key),
          acknowledged,
        );
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close();
      cluster.nodes[0].start();
      await cluster.waitReady();
    }
  });

  it("a write not acknowledged in time is rejected 'unconfirmed'; one made after all reaches the writer's view and its change feed", async () => {
    const store = await within(20_000, () => NatsStore.open({ servers: cluster.servers, stream: 'unconfirmed' }));
    const peer = store.peer();
    const reported = new Set<string>();
    store.watch((changes) => {
      for (const change of changes) reported.add(change.key);
    });
    try {
      // Shortened after opening (a private field, for this test only): a 3-replica commit takes
      // longer than 1 ms to be acknowledged, so most writes below time out while being stored.
      const bound = store as unknown as { timeoutMs: number };
      bound.timeoutMs = 1;
      const outcomes = new Map<string, string>();
      for (let i = 0; i < 30; i++) {
        const key = `k${i}`;
        try {
          await store.batch([{ bucket: 'b', type: 'put', key, value: `v${i}` }]);
          outcomes.set(key, 'ok');
        } catch (error) {
          assert.ok(error instanceof StoreError, String(error));
          assert.ok(error.code === 'unconfirmed' || error.code === 'unavailable', `${error.code}: ${error.message}`);
          if (error.code === 'unconfirmed') assert.match(error.message, /may still have been made/);
          outcomes.set(key, error.code);
        }
      }
      bound.timeoutMs = 5000;
      const unconfirmed = [...outcomes].filter(([, outcome]) => outcome === 'unconfirmed').map(([key]) => key);
      assert.ok(unconfirmed.length > 0, `no write timed out (${[...outcomes.values()]}): the test proves nothing`);
      // The peer's own write comes after all of them in the log: once it reads it, it has the log up to there.
      await peer.batch([{ bucket: 'b', type: 'put', key: 'marker', value: 'm' }]);
      await within(10_000, async () => assert.equal(await store.bucket('b').get('marker'), 'm'));
      let made = 0;
      for (const key of unconfirmed) {
        if ((await peer.bucket('b').get(key)) === undefined) {
          assert.equal(await store.bucket('b').get(key), undefined, `${key}: not in the log, not in the writer's view`);
          continue;
        }
        made++;
        assert.ok(reported.has(key), `${key} was made after all: the writer's change feed reports it`);
        assert.equal(await store.bucket('b').get(key), `v${key.slice(1)}`);
      }
      for (const [key, outcome] of outcomes) {
        if (outcome === 'ok') assert.ok(!reported.has(key), `${key} was confirmed: the feed does not report the writer's own write`);
      }
      assert.ok(made > 0, 'at least one unconfirmed write was made after all (else this test proves nothing)');
    } finally {
      await peer.close();
      await store.close();
    }
  });

  it('with every server down a write is refused (unavailable, or unconfirmed) in bounded time, reads keep serving, and the store recovers', async () => {
    const timeoutMs = 2000;
    // Opening may wait for the node the previous test restarted to rejoin the stream placement.
    const store = await within(20_000, () => NatsStore.open({ servers: cluster.servers, stream: 'outage', timeoutMs, reconnectWaitMs: 100 }));
    const other = store.peer();
    const heard: string[] = [];
    store.watch((changes) => {
      for (const change of changes) heard.push(change.key);
    });
    try {
      await store.batch([{ bucket: 'b', type: 'put', key: 'before', value: '1' }]);
      await other.batch([{ bucket: 'b', type: 'put', key: 'from-other', value: '1' }]);
      await within(5000, async () => assert.deepEqual(heard, ['from-other']));
      await Promise.all(cluster.nodes.map((node) => node.kill()));
      const started = Date.now();
      await assert.rejects(() => store.batch([{ bucket: 'b', type: 'put', key: 'during', value: '1' }]), isRefused);
      await assert.rejects(() => store.bucket('b').compareAndSet('cas', 'x', 0), isRefused);
      assert.ok(Date.now() - started < 2 * timeoutMs + 1000, `took ${Date.now() - started} ms`);
      assert.equal(await store.bucket('b').get('before'), '1', 'reads keep serving the view');
      for (const node of cluster.nodes) node.start();
      await cluster.waitReady(30_000);
      await within(30_000, () => store.batch([{ bucket: 'b', type: 'put', key: 'after', value: '1' }]));
      // The other writer reconnected too and its commits reach this store again.
      await within(30_000, () => other.batch([{ bucket: 'b', type: 'put', key: 'other-after', value: '1' }]));
      await within(10_000, async () => assert.ok(heard.includes('other-after'), `heard ${heard.join(', ')}`));
      await within(10_000, async () => assert.equal(await other.bucket('b').get('after'), '1'));
      const keys = (await collect(store, 'b')).map(([key]) => key);
      for (const key of ['after', 'before', 'from-other', 'other-after']) assert.ok(keys.includes(key), `${key} in ${keys.join(', ')}`);
    } finally {
      await other.close();
      await store.close();
    }
  });

  it("kill -9 of the stream's leader: a store on a surviving server keeps following the log by itself", async () => {
    const writer = await within(20_000, () => NatsStore.open({ servers: cluster.servers, stream: 'leader', timeoutMs: 3000, reconnectWaitMs: 100 }));
    const leaderName = await cluster.streamLeader('leader');
    const dead = cluster.nodes.find((node) => node.name === leaderName)!;
    const survivors = cluster.nodes.filter((node) => node.name !== leaderName).map((node) => node.url);
    // Connected to a server that survives: it sees no disconnect, only its consumer going silent.
    const follower = await NatsStore.open({ servers: survivors, stream: 'leader', timeoutMs: 3000, reconnectWaitMs: 100 });
    const heard: string[] = [];
    follower.watch((changes) => {
      for (const change of changes) heard.push(change.key);
    });
    try {
      await writer.batch([{ bucket: 'b', type: 'put', key: 'before', value: '1' }]);
      await within(5000, async () => assert.deepEqual(heard, ['before']));
      await dead.kill();
      const after: string[] = [];
      for (let i = 0; i < 20; i++) {
        const key = `after-${String(i).padStart(2, '0')}`;
        await within(15_000, () => writer.batch([{ bucket: 'b', type: 'put', key, value: '1' }]));
        after.push(key);
      }
      // Its consumer lived on the dead server: the follower must start a new one by itself.
      await within(30_000, async () => assert.deepEqual(heard, ['before', ...after]));
      assert.equal(await follower.bucket('b').get('after-19'), '1', 'reads see them too');
    } finally {
      await follower.close();
      await writer.close();
      dead.start();
      await cluster.waitReady();
    }
  });
});
