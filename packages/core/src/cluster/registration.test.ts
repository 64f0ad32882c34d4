// TD registrations across instances (issue #15): each write of a twin record is a compare-and-set
// on the revision read when it started, so of two instances registering one Thing ID at the same
// moment exactly one wins and the other answers 409; writes of one Thing on one instance run one
// after the other and never conflict with each other. The memory backend's peer() plays the
// shared store.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { eventually } from '../testing/index.js';
import { createHub, type Hub } from '../hub.js';
import type { Client, ThingDescription } from '../model/types.js';
import { lampTd } from '../td/test-fixtures.js';

const agentA: Client = { id: 'agent-a', role: 'agent' };
const agentB: Client = { id: 'agent-b', role: 'agent' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };

const td = (id: string, title: string): ThingDescription => ({ ...lampTd(), id, title });

describe('registrations across instances', () => {
  const hubs: Hub[] = [];
  after(async () => {
    for (const hub of hubs) await hub.close();
  });

  it('of two agents registering one new Thing ID on two instances at once, exactly one wins; both instances agree on the owner', async () => {
    const store = new MemoryStore();
    const a = await createHub({ store, cluster: { heartbeatMs: 250 } });
    const b = await createHub({ store: store.peer(), cluster: { heartbeatMs: 250 } });
    hubs.push(a, b);
    for (let round = 0; round < 5; round++) {
      const id = `urn:dev:contested-${round}`;
      const [onA, onB] = await Promise.all([
        a.handle({ operation: 'updateTD', input: td(id, 'A') }, { client: agentA }),
        b.handle({ operation: 'updateTD', input: td(id, 'B') }, { client: agentB }),
      ]);
      const statuses = [onA.status, onB.status].sort();
      assert.deepEqual(statuses, [201, 409], `round ${round}: ${JSON.stringify([onA, onB].map((r) => (r.ok ? r.status : r.problem)))}`);
      const loser = onA.status === 409 ? onA : onB;
      assert.ok(!loser.ok && /another hub instance changed this record at the same moment/.test(loser.problem.detail ?? ''));
      const winner = onA.status === 201 ? 'A' : 'B';
      await eventually(async () => {
        for (const hub of [a, b]) {
          const read = await hub.handle({ operation: 'retrieveTD', thingId: id }, { client: viewer });
          assert.equal(read.ok && (read.output as ThingDescription).title, winner);
        }
      });
    }
  });

  it("runs one instance's writes of one Thing one after the other: pipelined updates by its agent never conflict", async () => {
    const [a] = hubs;
    const id = 'urn:dev:pipelined';
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => a.handle({ operation: 'updateTD', input: td(id, `v${i}`) }, { client: agentA })));
    assert.deepEqual(
      results.map((r) => r.status),
      [201, 200, 200, 200, 200, 200],
    );
    const tags = await a.handle({ operation: 'updatetags', thingId: id, input: { room: 'lab' } }, { client: { id: 'op', role: 'operator' } });
    assert.equal(tags.status, 200);
    const read = await a.handle({ operation: 'retrieveTD', thingId: id }, { client: viewer });
    assert.equal(read.ok && (read.output as ThingDescription).title, 'v5');
    assert.equal((await a.handle({ operation: 'deleteTD', thingId: id }, { client: agentA })).status, 204);
  });
});
