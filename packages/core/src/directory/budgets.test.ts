// TD byte budgets (issue "Hardening" 5): one agent cannot exhaust the heap inside the count
// limits, and a listing of large TDs is paged by bytes, not built whole.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { createHub, type Hub } from '../hub.js';
import type { Client, ThingDescription } from '../model/types.js';

const agent: Client = { id: 'agent-1', role: 'agent' };
const other: Client = { id: 'agent-2', role: 'agent' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };

/** A valid TD of about `kib` KiB (a long description). */
function bigTd(id: string, kib: number): ThingDescription {
  return {
    '@context': 'https://www.w3.org/2022/wot/td/v1.1',
    id,
    title: id,
    description: 'x'.repeat(kib * 1024),
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
  };
}

describe('TD byte budgets', () => {
  const hubs: Hub[] = [];
  after(async () => {
    for (const hub of hubs) await hub.close();
  });
  const start = async (limits: Parameters<typeof createHub>[0]['limits']) => {
    const hub = await createHub({ store: new MemoryStore(), limits });
    hubs.push(hub);
    return hub;
  };

  it('refuses a TD past the agent budget with 507, counts replacements by growth, frees deleted bytes', async () => {
    const hub = await start({ maxTdBytesPerAgent: 100 * 1024 });
    const register = (client: Client, id: string, kib: number) => hub.handle({ operation: 'updateTD', input: bigTd(id, kib) }, { client });
    assert.equal((await register(agent, 'urn:t:1', 40)).status, 201);
    assert.equal((await register(agent, 'urn:t:2', 40)).status, 201);
    const over = await register(agent, 'urn:t:3', 40);
    assert.equal(over.status, 507);
    assert.match((over as { problem: { detail: string } }).problem.detail, /agent 'agent-1'.*budget is 102400/);
    assert.equal((await hub.handle({ operation: 'retrieveTD', thingId: 'urn:t:3' }, { client: viewer })).status, 404, 'nothing stored');
    assert.equal((await register(agent, 'urn:t:2', 10)).status, 200, 'shrinking a TD is always allowed');
    assert.equal((await register(agent, 'urn:t:3', 40)).status, 201, 'and frees room');
    assert.equal((await register(other, 'urn:o:1', 90)).status, 201, 'the budget is per agent');
    assert.equal((await hub.handle({ operation: 'deleteTD', thingId: 'urn:t:1' }, { client: agent })).status, 204);
    assert.equal((await register(agent, 'urn:t:4', 40)).status, 201, 'a delete gives its bytes back');
  });

  it('refuses past the total budget whoever registers', async () => {
    const hub = await start({ maxTdBytesTotal: 100 * 1024 });
    assert.equal((await hub.handle({ operation: 'updateTD', input: bigTd('urn:a', 60) }, { client: agent })).status, 201);
    const over = await hub.handle({ operation: 'updateTD', input: bigTd('urn:b', 60) }, { client: other });
    assert.equal(over.status, 507);
    assert.match((over as { problem: { detail: string } }).problem.detail, /directory would hold/);
  });

  it('ends a listing page at the byte bound (never empty) and says how many there are in all', async () => {
    const hub = await start({ maxListPageBytes: 100 * 1024 });
    for (let i = 0; i < 5; i++) await hub.handle({ operation: 'updateTD', input: bigTd(`urn:l:${i}`, 40) }, { client: agent });
    const page = await hub.handle({ operation: 'listTDs', query: { limit: 100 } }, { client: viewer });
    assert.ok(page.ok);
    assert.equal((page.output as unknown[]).length, 2, 'two 40 KiB TDs fit 100 KiB, a third does not');
    assert.equal(page.total, 5);
    const tiny = await start({ maxListPageBytes: 1 });
    await tiny.handle({ operation: 'updateTD', input: bigTd('urn:l:0', 40) }, { client: agent });
    const one = await tiny.handle({ operation: 'listTDs' }, { client: viewer });
    assert.equal((one as { output: unknown[] }).output.length, 1, 'a page holds at least one TD');
  });
});
