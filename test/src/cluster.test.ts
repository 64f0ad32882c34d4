// Two hub instances on one NATS JetStream cluster (issue #15, first steps of cluster mode): a Thing
// registered and reported on A is served by B; a write made on B reaches the agent connected to A
// once, and its completion is seen on B; a token made on A works on B, and one revoked on B is
// refused on A and ends its sessions there. Needs `nats-server`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectAgent, connectConsumer, type AgentClient, type ConsumerClient } from '@twinhub/client';
import type { RunningHub } from '@twinhub/hub';
import { natsSkipReason, startNatsCluster, type NatsCluster } from '@twinhub/storage-nats/testing';
import { eventually, lampTd } from '@twinhub/testkit';
import { jsonRequest, openSse } from '@twinhub/binding-http/testing';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const skip = natsSkipReason();
const LAMP = 'urn:dev:ops:cluster-lamp';

describe('two hub instances on one NATS JetStream cluster', { skip }, () => {
  let cluster: NatsCluster;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let a: RunningHub;
  let b: RunningHub;
  let tokens: Tokens;
  let agent: AgentClient;
  let consumer: ConsumerClient;
  const handled: string[] = [];

  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
    data = await tempDataDir();
    a = await startTestHub(data.dir, { nats: cluster.servers, mqtt: false });
    b = await startTestHub(data.dir, { nats: cluster.servers, mqtt: false });
    // Tokens are records too: made through A, they authenticate on B.
    tokens = await createTokens(a);
    agent = await connectAgent({ url: a.urls.ws, token: tokens.agent, clientId: 'agent-1', onWarning: () => undefined });
    agent.onWrite(LAMP, 'brightness', async (value, { actionId }) => {
      handled.push(actionId);
      await agent.report(LAMP, { brightness: value as number });
    });
    // B learns of the tokens through the change feed, a moment after A stored them.
    await eventually(async () => {
      consumer = await connectConsumer({ url: b.urls.ws, token: tokens.operator, onWarning: () => undefined });
    });
  });

  after(async () => {
    await consumer?.close();
    await agent?.close();
    await b?.close();
    await a?.close();
    await cluster?.stop();
    await data?.remove();
  });

  it('serves on B the Thing registered and reported on A, and tells B’s observers', async () => {
    await agent.register(lampTd(LAMP));
    await agent.report(LAMP, { brightness: 12 });
    await eventually(async () => assert.equal((await consumer.td(LAMP)).id, LAMP));
    await eventually(async () => assert.equal(await consumer.read(LAMP, 'brightness'), 12));
    const seen: unknown[] = [];
    await consumer.observe(LAMP, 'brightness', (value) => seen.push(value));
    await agent.report(LAMP, { brightness: 13 });
    await eventually(() => assert.deepEqual(seen, [13]));
  });

  it("gives an agent's requests to the instance holding its newest session only; presence is the same on every instance", async () => {
    // The same agent also connects to B (a second process, or a reconnect A has not noticed yet).
    const second = await connectAgent({ url: b.urls.ws, token: tokens.agent, clientId: 'agent-1', onWarning: () => undefined });
    const onB: string[] = [];
    second.onWrite(LAMP, 'brightness', async (value, { actionId }) => {
      onB.push(actionId);
      await second.report(LAMP, { brightness: value as number });
    });
    try {
      const presence = async (hub: RunningHub) =>
        (await jsonRequest(hub.urls.http, 'GET', '/agents/agent-1', { token: tokens.operator })).body as { connected: boolean };
      // Once A learned that B holds the newest session, a write made on A is delivered by B alone.
      await eventually(async () => {
        const handle = await consumer.write(LAMP, 'brightness', 41);
        await handle.result(5_000);
        assert.ok(onB.includes(handle.actionId), 'delivered through B');
      });
      const before = handled.length;
      const handle = await consumer.write(LAMP, 'brightness', 42);
      await handle.result(20_000);
      assert.deepEqual(
        onB.filter((id) => id === handle.actionId),
        [handle.actionId],
        'delivered once, by B',
      );
      assert.equal(handled.length, before, 'the older session on A got nothing');
      for (const hub of [a, b]) assert.equal((await presence(hub)).connected, true);
    } finally {
      await second.close();
    }
    // B's session gone: A, where the agent is still connected, takes its requests again.
    await eventually(async () => {
      const handle = await consumer.write(LAMP, 'brightness', 43);
      await handle.result(5_000);
      assert.ok(handled.includes(handle.actionId), 'delivered through A again');
    });
  });

  it('numbers each value the same on A and B, so an SSE stream resumes on B with the Last-Event-ID it got from A', async () => {
    const path = `/things/${encodeURIComponent(LAMP)}/properties/brightness/observe`;
    const onA = await openSse(a.urls.http, path, { token: tokens.viewer });
    const onB = await openSse(b.urls.http, path, { token: tokens.viewer });
    try {
      for (const brightness of [51, 52, 53, 54]) await agent.report(LAMP, { brightness });
      const four = async (stream: typeof onA) => {
        const got: Array<[string | undefined, string]> = [];
        while (got.length < 4) {
          const event = await stream.next(10_000);
          got.push([event.id, event.data]);
        }
        return got;
      };
      const [fromA, fromB] = await Promise.all([four(onA), four(onB)]);
      assert.deepEqual(
        fromA.map(([, data]) => data),
        ['51', '52', '53', '54'],
      );
      assert.deepEqual(fromB, fromA, 'the same ids for the same values on both instances');
      // A consumer of A that got the second value resumes on B: it gets exactly the two after it.
      const resumed = await openSse(b.urls.http, path, { token: tokens.viewer, lastEventId: fromA[1][0] });
      try {
        const missed = [await resumed.next(10_000), await resumed.next(10_000)];
        assert.deepEqual(
          missed.map((event) => [event.id, event.data]),
          fromA.slice(2),
        );
      } finally {
        resumed.close();
      }
    } finally {
      onA.close();
      onB.close();
    }
  });

  it('takes a token revoked on B away on A too: its open streams there end and its requests get 401', async () => {
    const { token } = await a.hub.tokens.create({ id: 'watcher-1', role: 'viewer' });
    const read = (hub: RunningHub) => jsonRequest(hub.urls.http, 'GET', `/things/${encodeURIComponent(LAMP)}`, { token });
    await eventually(async () => assert.equal((await read(b)).status, 200), 'B learned of the token');
    const stream = await openSse(a.urls.http, `/things/${encodeURIComponent(LAMP)}/properties/brightness/observe`, { token });
    assert.equal(stream.status, 200);
    const watcher = await connectConsumer({ url: a.urls.ws, token, onWarning: () => undefined });
    const states: string[] = [];
    watcher.onState((state) => states.push(state));
    try {
      const revoked = await jsonRequest(b.urls.http, 'DELETE', '/admin/clients/watcher-1/tokens', { token: tokens.admin });
      assert.deepEqual([revoked.status, revoked.body], [200, { revoked: 1 }]);
      // Revocation cuts every session of the client on every instance, not only on B.
      let ended = false;
      void stream.ended.then(() => (ended = true));
      await eventually(() => assert.ok(ended, 'SSE stream on A ended'));
      await eventually(() => assert.ok(states.length > 0 && !states.includes('connected'), `WebSocket session on A cut (states: ${states})`));
      await eventually(async () => assert.equal((await read(a)).status, 401), 'refused on A');
      assert.equal((await read(b)).status, 401);
    } finally {
      stream.close();
      await watcher.close();
    }
  });

  it('delivers a write made on B to the agent on A, once, and B sees it completed', async () => {
    const handle = await consumer.write(LAMP, 'brightness', 40);
    await handle.result(20_000);
    assert.equal(handle.record.status, 'completed');
    assert.deepEqual(
      handled.filter((id) => id === handle.actionId),
      [handle.actionId],
      'handled exactly once',
    );
    await eventually(async () => assert.equal(await consumer.read(LAMP, 'brightness'), 40));
  });
});
