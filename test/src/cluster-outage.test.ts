// Cluster mode under failure (issue #15): `twinhub serve` processes on a 3-node NATS JetStream
// cluster, under a modest continuous load (an agent reporting, consumers writing and invoking,
// the agent handling those requests), while (1) a hub instance is killed with SIGKILL, (2) one of
// the three NATS servers is killed, (3) every NATS server is down for a while. Afterwards every
// acknowledged operation must be there and every acknowledged request handled, none twice after
// the agent acknowledged it. Needs `nats-server`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentClient, ConsumerClient, connectConsumer, type RequestRecord, type ThingDescription } from '@twinhub/client';
import { natsSkipReason, startNatsCluster, type NatsCluster } from '@twinhub/storage-nats/testing';
import { eventually } from '@twinhub/testkit';
import {
  AgentWireTap,
  bootstrapAdminToken,
  createToken,
  failoverTransport,
  httpCall,
  killHub,
  type Ledger,
  newLedger,
  quickClient,
  spawnClusterHub,
  startLoad,
} from './cluster-support.js';
import { tempDataDir, type ChildHub } from './support.js';

const skip = natsSkipReason();
const THING = 'urn:dev:ops:cluster-outage-valve';
const enc = encodeURIComponent;
/** Acknowledged operations to wait for before and after each failure (a modest load reaches them in a second or two). */
const OPS = 60;

function valveTd(): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id: THING,
    title: 'Valve',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: {
      level: { type: 'integer', readOnly: true, observable: true, forms: [{ href: 'level' }] },
      target: { type: 'integer', observable: true, forms: [{ href: 'target' }] },
    },
    actions: {
      move: { input: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, forms: [{ href: 'move' }] },
    },
  };
}

/** Every request record of the Thing, page by page (a listing answers at most 1000). */
async function allRecords(consumer: ConsumerClient): Promise<Map<string, RequestRecord>> {
  const records = new Map<string, RequestRecord>();
  for (let offset = 0; ; offset += 1000) {
    const page = (await consumer.request({ operation: 'queryallactions', thingId: THING, query: { offset, limit: 1000 } })) as RequestRecord[];
    for (const record of page) records.set(record.actionId, record);
    if (page.length < 1000) return records;
  }
}

describe('cluster mode under failure: hub instances and NATS servers killed under load', { skip, timeout: 150_000 }, () => {
  let cluster: NatsCluster;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  const admin = bootstrapAdminToken();
  const tokens = { agent: '', operator: '' };
  const hubs: ChildHub[] = [];
  const clients: Array<AgentClient | ConsumerClient> = [];
  /** What the agent's handlers ran, by actionId (the client runs each id once; the tap sees the wire). */
  const handled = new Map<string, number>();
  const tap = new AgentWireTap();
  /** Every phase's ledger: later checks verify the earlier phases' acknowledgements too. */
  const ledgers: Ledger[] = [];
  let agent: AgentClient;

  const startHub = async () => {
    const hub = await spawnClusterHub(data.dir, cluster.servers, admin);
    hubs.push(hub);
    return hub;
  };
  const consumerOn = async (urls: string[]) => {
    const consumer = await ConsumerClient.connect(failoverTransport(urls, tokens.operator), quickClient);
    clients.push(consumer);
    return consumer;
  };

  /**
   * Checks, through `hub`, every acknowledgement of every phase so far: the reported and written
   * values (the acknowledged one or one sent after it), every acknowledged request stored and
   * completed, each handled by the agent, none delivered after its acknowledgement.
   */
  async function verify(hub: ChildHub, label: string): Promise<void> {
    const checker = await connectConsumer({ url: hub.urls.http, token: tokens.operator, ...quickClient });
    try {
      const last = ledgers.at(-1)!;
      // Another instance's writes reach this one's view through the change feed: eventually.
      await eventually(
        async () => {
          const level = (await checker.read(THING, 'level')) as number;
          assert.ok(
            level >= last.reported.acked && level <= last.reported.sent,
            `${label}: level ${level}, acknowledged ${last.reported.acked}, sent ${last.reported.sent}`,
          );
        },
        `${label}: the last acknowledged report`,
        30_000,
      );
      await eventually(
        async () => {
          const records = await allRecords(checker);
          for (const ledger of ledgers) {
            for (const [actionId, { operation, n }] of ledger.requests) {
              const record = records.get(actionId);
              assert.ok(record, `${label}: acknowledged ${operation} ${n} (${actionId}) is stored`);
              assert.equal(record.operation, operation);
              assert.deepEqual(record.input, operation === 'writeproperty' ? n : { n });
              if (record.status !== 'completed') {
                const elsewhere: string[] = [];
                for (const other of hubs.slice(1)) {
                  const probe = await connectConsumer({ url: other.urls.http, token: tokens.operator, ...quickClient });
                  try {
                    const r = (await allRecords(probe)).get(actionId);
                    elsewhere.push(`${other.urls.http}: ${JSON.stringify(r)}`);
                  } finally {
                    await probe.close();
                  }
                }
                console.log(`DIAG ${label} ${actionId} via ${hub.urls.http}: ${JSON.stringify(record)}\n  ${elsewhere.join('\n  ')}`);
              }
              if (record.status !== 'completed') {
                // What every instance holds, to tell a lost status from one instance's stale view.
                const views: string[] = [];
                for (const other of hubs.filter((h) => h.child.exitCode === null && h.child.signalCode === null)) {
                  const probe = await connectConsumer({ url: other.urls.http, token: tokens.operator, ...quickClient });
                  try {
                    views.push(`${other.urls.http}: ${JSON.stringify((await allRecords(probe)).get(actionId))}`);
                  } finally {
                    await probe.close();
                  }
                }
                assert.fail(
                  `${label}: ${operation} ${n} (${actionId}) is ${record.status}, not completed (delivered to the agent ${tap.deliveries.get(actionId) ?? 0} times, handled ${handled.get(actionId) ?? 0}, acknowledged ${tap.acknowledged.has(actionId)}); on each instance: ${views.join('; ')}`,
                );
              }
              assert.equal(handled.get(actionId), 1, `${label}: the agent handled ${actionId} once`);
            }
          }
        },
        `${label}: every acknowledged request completed`,
        30_000,
      );
      await eventually(async () => {
        const target = (await checker.read(THING, 'target')) as number;
        assert.ok(
          target >= last.written.acked && target <= last.written.sent,
          `${label}: target ${target}, acknowledged ${last.written.acked}, sent ${last.written.sent}`,
        );
      }, `${label}: the last acknowledged write`);
      assert.deepEqual(tap.afterAck, [], `${label}: no request delivered again after the agent's acknowledgement`);
    } finally {
      await checker.close();
    }
  }

  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
    data = await tempDataDir();
    const a = await startHub();
    await startHub();
    tokens.agent = await createToken(a, admin, 'agent', 'agent-1');
    tokens.operator = await createToken(a, admin, 'operator', 'operator-1');
  });

  after(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await Promise.allSettled(hubs.map((hub) => killHub(hub)));
    await cluster?.stop();
    await data?.remove();
  });

  it('kill -9 of the hub instance serving the agent and consumers: they fail over, nothing acknowledged is lost or handled twice', async (t) => {
    const [a, b] = hubs;
    // Every client lists A first, then B: its own reconnect loop lands on B once A is gone.
    const urls = [a.urls.http, b.urls.http];
    agent = await AgentClient.connect(tap.wrap(failoverTransport(urls, tokens.agent)), { ...quickClient, bufferCapacity: 100_000 });
    clients.push(agent);
    await agent.register(valveTd());
    const count = (actionId: string) => handled.set(actionId, (handled.get(actionId) ?? 0) + 1);
    agent.onWrite(THING, 'target', (_value, { actionId }) => void count(actionId));
    agent.onAction(THING, 'move', (input, { actionId }) => {
      count(actionId);
      return input;
    });
    const writer = await consumerOn(urls);
    const invoker = await consumerOn(urls);
    const ledger = newLedger();
    ledgers.push(ledger);
    const load = startLoad({ thingId: THING, agent, writer, invoker, base: 100_000 }, ledger);
    try {
      await eventually(() => load.ops() >= OPS, 'acknowledged operations on A', 30_000);
      await killHub(a);
      const atKill = load.ops();
      await eventually(() => load.ops() >= atKill + OPS, 'acknowledged operations on B after the kill', 60_000);
    } finally {
      await load.stop();
    }
    assert.deepEqual(ledger.refusals, [], 'nothing was refused');
    assert.ok(agent.stats.reconnects >= 1, 'the agent reconnected (to B)');
    // Requests the agent took from A but had not acknowledged may come again from B (at least
    // once): the client runs a handler once per actionId, and the tap checks that nothing came
    // again after the hub confirmed the acknowledgement.
    await verify(b, 'after kill -9 of A');
    t.diagnostic(
      `hub kill: ${ledger.requests.size} requests and reports up to ${ledger.reported.acked} acknowledged, ${ledger.unconfirmed} unconfirmed (link lost), ${tap.redeliveredBeforeAck} redelivered before acknowledgement`,
    );
  });

  it('kill -9 of one of the three NATS servers (the stream leader): writes go on after retries, nothing acknowledged is lost, also after its restart', async (t) => {
    const b = hubs[1];
    // A second instance again (the killed one is not restarted: a new process replays the log).
    const c = await startHub();
    // The agent stays on B; the consumers use C, so every request crosses instances.
    const writer = await consumerOn([c.urls.http]);
    const invoker = await consumerOn([c.urls.http]);
    const ledger = newLedger();
    ledgers.push(ledger);
    const load = startLoad({ thingId: THING, agent, writer, invoker, base: 200_000 }, ledger);
    const leader = await cluster.streamLeader('twinhub');
    const node = cluster.nodes.find((n) => n.name === leader)!;
    try {
      await eventually(() => load.ops() >= OPS, 'acknowledged operations before the NATS kill', 30_000);
      await node.kill();
      const atKill = load.ops();
      await eventually(() => load.ops() >= atKill + OPS, 'acknowledged operations after the NATS kill', 60_000);
    } finally {
      await load.stop();
    }
    assert.deepEqual(ledger.refusals, [], 'nothing was refused except with 503');
    await verify(b, `after killing NATS server ${leader} (on B)`);
    await verify(c, `after killing NATS server ${leader} (on C)`);
    node.start();
    await cluster.waitReady(30_000);
    await verify(c, `after restarting NATS server ${leader}`);
    t.diagnostic(`NATS node kill: ${ledger.requests.size} requests acknowledged, ${ledger.retried503} retried after 503, ${ledger.unconfirmed} unconfirmed`);
  });

  it('all NATS servers down: writes answer 503 problems, reads are served, not ready; back up, the hubs recover by themselves and lose nothing', async (t) => {
    const [, b, c] = hubs;
    const writer = await consumerOn([c.urls.http]);
    const invoker = await consumerOn([b.urls.http]);
    const ledger = newLedger();
    ledgers.push(ledger);
    const load = startLoad({ thingId: THING, agent, writer, invoker, base: 300_000 }, ledger);
    try {
      await eventually(() => load.ops() >= OPS, 'acknowledged operations before the outage', 30_000);
      await Promise.all(cluster.nodes.map((node) => node.kill()));
      const before503 = ledger.retried503;
      await eventually(() => ledger.retried503 > before503 + 5, 'writes refused with 503 during the outage', 30_000);
    } finally {
      // The agent's last report waits in its buffer until the store is back: collected below.
      load.halt();
    }
    assert.deepEqual(ledger.refusals, [], 'nothing was refused except with 503');
    for (const hub of [b, c]) {
      // A write answers (bounded by the call's timeout: never a hang) with a 503 problem.
      const write = await httpCall(hub.urls.http, 'PUT', `/things/${enc(THING)}/properties/target`, tokens.operator, 7);
      assert.equal(write.status, 503, write.text);
      assert.match(write.contentType, /^application\/problem\+json/);
      assert.equal((write.body as { status?: number }).status, 503);
      const read = await httpCall(hub.urls.http, 'GET', `/things/${enc(THING)}/properties/level`, tokens.operator);
      assert.equal(read.status, 200, read.text);
      assert.ok((read.body as number) >= ledger.reported.acked, `reads still served: ${read.text}`);
      await eventually(async () => assert.equal((await httpCall(hub.urls.http, 'GET', '/health/ready', undefined)).status, 503), 'not ready', 20_000);
    }
    for (const node of cluster.nodes) node.start();
    await cluster.waitReady(30_000);
    await load.stop();
    // Recovery without restarting the hubs: writes succeed again, readiness comes back.
    for (const hub of [b, c]) {
      await eventually(
        async () => {
          const write = await httpCall(hub.urls.http, 'PUT', `/things/${enc(THING)}/properties/target`, tokens.operator, ledger.written.sent);
          assert.ok(write.status < 300, write.text);
        },
        'writes accepted again',
        40_000,
      );
      await eventually(async () => assert.equal((await httpCall(hub.urls.http, 'GET', '/health/ready', undefined)).status, 200), 'ready again', 20_000);
    }
    const recovery = newLedger();
    ledgers.push(recovery);
    const load2 = startLoad({ thingId: THING, agent, writer, invoker, base: 400_000 }, recovery);
    try {
      await eventually(() => load2.ops() >= OPS, 'acknowledged operations after the outage', 60_000);
    } finally {
      await load2.stop();
    }
    await verify(b, 'after the outage (on B)');
    await verify(c, 'after the outage (on C)');
    t.diagnostic(`NATS outage: ${ledger.retried503} writes refused with 503 during it, ${ledger.unconfirmed} unconfirmed`);
  });
});
