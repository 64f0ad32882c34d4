// Cluster membership (issue #15) between hubs on one store: the memory backend's peer() plays the
// shared NATS store. Presence records decide which instance delivers an agent's requests (once),
// presence is seen cluster-wide, one instance holds the sweep lease, and a silent instance's
// agents and lease are taken over.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { eventually } from '../testing/index.js';
import { createHub, type Hub, type HubOptions } from '../hub.js';
import type { OutboundMessage } from '../model/envelope.js';
import type { Client, JobRecord, RequestRecord } from '../model/types.js';
import { lampTd } from '../td/test-fixtures.js';
import type { HubCore } from '../core-context.js';
import type { Membership } from './membership.js';

const LAMP = 'urn:dev:ops:32473-WoTLamp-1234';
const agent: Client = { id: 'agent-1', role: 'agent' };
const operator: Client = { id: 'op-1', role: 'operator' };
// Short for the test, long enough that a loaded CI machine does not miss three in a row.
const HEARTBEAT_MS = 250;

function listen(hub: Hub, client: Client) {
  const received: OutboundMessage[] = [];
  const session = hub.openSession(client, 'test', { send: (m) => received.push(m), close: () => {} });
  return { session, received, requests: () => received.filter((m) => m.type === 'request') as Array<OutboundMessage & { actionId: string }> };
}

/** The hub's membership (private to the hub; the tests look at who leads and who delivers). */
const membershipOf = (hub: Hub): Membership => (hub as unknown as { core: HubCore }).core.membership;

async function invoke(hub: Hub): Promise<string> {
  const result = await hub.handle({ operation: 'invokeaction', thingId: LAMP, name: 'toggle' }, { client: operator });
  assert.equal(result.status, 201, JSON.stringify(result));
  return (result as { output: RequestRecord }).output.actionId;
}

describe('cluster membership between hubs on one store', () => {
  const hubs: Hub[] = [];
  const store = new MemoryStore();
  const member = async (options: Partial<HubOptions> = {}) => {
    const hub = await createHub({ store: hubs.length === 0 ? store : store.peer(), cluster: { heartbeatMs: HEARTBEAT_MS }, expiryIntervalMs: 50, ...options });
    hubs.push(hub);
    return hub;
  };
  after(async () => {
    for (const hub of hubs) await hub.close();
  });

  it("delivers an agent's requests from the instance holding its newest session, once; another takes over when it leaves", async () => {
    const a = await member();
    const b = await member();
    assert.equal((await a.handle({ operation: 'updateTD', input: lampTd() }, { client: agent })).status, 201);
    await eventually(async () => assert.equal((await b.handle({ operation: 'retrieveTD', thingId: LAMP }, { client: operator })).status, 200));

    // The agent connects to A, then (say after a network change) to B without A noticing.
    const onA = listen(a, agent);
    await a.handle({ operation: 'subscriberequests' }, { client: agent, session: onA.session });
    await eventually(() => assert.equal(b.presence(agent.id).connected, true), 'B sees the agent connected on A');
    const onB = listen(b, agent);
    await b.handle({ operation: 'subscriberequests' }, { client: agent, session: onB.session });
    await eventually(() => assert.deepEqual(a.presence(agent.id).sessions, 1), 'A sees the agent held by B');

    // Requests made on either instance: each reaches the agent once, through B.
    const first = await invoke(a);
    const second = await invoke(b);
    await eventually(() =>
      assert.deepEqual(
        onB.requests().map((r) => r.actionId),
        [first, second],
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
    assert.deepEqual(onA.requests(), [], 'A, holding an older session, delivered nothing');
    assert.equal((await b.handle({ operation: 'updateactionstatus', actionId: first, input: { status: 'completed' } }, { client: agent })).status, 200);

    // The agent leaves B: A, where it is still connected, takes over and sends what is unacknowledged.
    b.closeSession(onB.session);
    await eventually(
      () =>
        assert.deepEqual(
          onA.requests().map((r) => r.actionId),
          [second],
        ),
      'A delivers the request B had not seen acknowledged',
    );
    const third = await invoke(b);
    await eventually(() =>
      assert.deepEqual(
        onA.requests().map((r) => r.actionId),
        [second, third],
      ),
    );
    assert.equal(onB.requests().length, 2);
    assert.equal(a.presence(agent.id).connected, true);
    for (const actionId of [second, third]) {
      assert.equal((await a.handle({ operation: 'updateactionstatus', actionId, input: { status: 'completed' } }, { client: agent })).status, 200);
    }
    a.closeSession(onA.session);
    await eventually(() => assert.equal(b.presence(agent.id).connected, false), 'gone from every instance: disconnected everywhere');
  });

  it('announces presence cluster-wide once: connected when the agent first connects anywhere, disconnected when it left everywhere', async () => {
    const [a, b] = hubs;
    const watcher = listen(a, operator);
    await a.handle({ operation: 'subscribedirectory' }, { client: operator, session: watcher.session });
    const presence = () => watcher.received.filter((m) => m.operation === 'agent_connected' || m.operation === 'agent_disconnected').map((m) => m.operation);
    const onB = listen(b, agent);
    await b.handle({ operation: 'subscriberequests' }, { client: agent, session: onB.session });
    await eventually(() => assert.deepEqual(presence(), ['agent_connected']));
    // Also connected on A now, then gone from B: still connected, nothing announced.
    const onA = listen(a, agent);
    await a.handle({ operation: 'subscriberequests' }, { client: agent, session: onA.session });
    b.closeSession(onB.session);
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
    assert.deepEqual(presence(), ['agent_connected']);
    a.closeSession(onA.session);
    await eventually(() => assert.deepEqual(presence(), ['agent_connected', 'agent_disconnected']));
  });

  it('runs a job created on any instance on the sweep leader, one request per Thing', async () => {
    const [a, b] = hubs;
    const leader = membershipOf(a).leading ? a : b;
    const follower = leader === a ? b : a;
    assert.equal(membershipOf(follower).leading, false, 'one leader at a time');
    const device = listen(follower, agent);
    await follower.handle({ operation: 'subscriberequests' }, { client: agent, session: device.session });
    const created = await follower.handle(
      { operation: 'createjob', input: { operation: 'invokeaction', name: 'toggle', query: { type: 'saref:LightSwitch' } } },
      { client: operator },
    );
    assert.equal(created.status, 201);
    const { jobId } = (created as { output: JobRecord }).output;
    await eventually(() => assert.equal(device.requests().length, 1), 'the agent on the follower got the job’s request');
    const jobOf = async (hub: Hub) => ((await hub.handle({ operation: 'readjob', input: { jobId } }, { client: operator })) as { output: JobRecord }).output;
    await eventually(async () => assert.deepEqual([(await jobOf(leader)).status, (await jobOf(follower)).status], ['queued', 'queued']));
    assert.equal(
      (await follower.handle({ operation: 'updateactionstatus', actionId: device.requests()[0].actionId, input: { status: 'completed' } }, { client: agent }))
        .status,
      200,
    );
    // The follower counted in memory; the leader stored the counters and every instance shows them.
    await eventually(async () => {
      for (const hub of [leader, follower]) {
        const job = await jobOf(hub);
        assert.deepEqual([job.status, job.counts.queued, job.counts.completed], ['completed', 1, 1]);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
    assert.equal(device.requests().length, 1, 'queued once, not once per instance');
    follower.closeSession(device.session);
  });

  it('delivers requests two instances queued at the same moment (the same seq) behind a backlog, each once', async () => {
    const [a, b] = hubs;
    // The agent on A with a send buffer that is full for now.
    let ready = false;
    const received: Array<OutboundMessage & { actionId?: string }> = [];
    const session = a.openSession(agent, 'test', { send: (m) => received.push(m), close: () => {}, ready: () => ready });
    await a.handle({ operation: 'subscriberequests' }, { client: agent, session });
    await eventually(() => assert.equal(membershipOf(b).delivers(agent.id), false));
    // Queued on both at once: each instance numbers its own, so both may carry the same seq.
    const both = await Promise.all([invoke(a), invoke(b)]);
    const seqs = await Promise.all(
      both.map(async (actionId) => ((await a.handle({ operation: 'queryaction', actionId }, { client: operator })) as { output: RequestRecord }).output.seq),
    );
    ready = true;
    a.resumeDelivery(session);
    await eventually(
      () =>
        assert.deepEqual(
          received
            .filter((m) => m.type === 'request')
            .map((m) => m.actionId)
            .sort(),
          [...both].sort(),
        ),
      `seqs ${seqs}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
    assert.equal(received.filter((m) => m.type === 'request').length, 2, 'each once');
    for (const actionId of both) {
      assert.equal((await a.handle({ operation: 'updateactionstatus', actionId, input: { status: 'completed' } }, { client: agent })).status, 200);
    }
    a.closeSession(session);
  });

  it("takes over a silent instance's lease and agents: it is gone after three missed heartbeats", async () => {
    const [a] = hubs;
    // D stands for an instance that dies: its store connection goes at once, nothing is released.
    const dStore = store.peer();
    const d = await createHub({ store: dStore, cluster: { heartbeatMs: HEARTBEAT_MS }, expiryIntervalMs: 50 });
    const onA = listen(a, agent);
    await a.handle({ operation: 'subscriberequests' }, { client: agent, session: onA.session });
    const onD = listen(d, agent);
    await d.handle({ operation: 'subscriberequests' }, { client: agent, session: onD.session });
    await eventually(() => assert.equal(membershipOf(a).delivers(agent.id), false), 'D holds the newest session');
    const pending = await invoke(a);
    await eventually(() =>
      assert.deepEqual(
        onD.requests().map((r) => r.actionId),
        [pending],
      ),
    );

    await dStore.close();
    await eventually(
      () =>
        assert.deepEqual(
          onA.requests().map((r) => r.actionId),
          [pending],
        ),
      'A delivers what D had not seen acknowledged',
      5000,
    );
    await eventually(() => assert.equal(membershipOf(a).leading || membershipOf(hubs[1]).leading, true), 'a live instance leads', 5000);
    assert.equal(a.presence(agent.id).connected, true);
    a.closeSession(onA.session);
    await eventually(() => assert.equal(a.presence(agent.id).connected, false));
    await d.close();
  });
});
