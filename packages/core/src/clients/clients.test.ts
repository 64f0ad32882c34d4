// Clients and tokens as core operations: admin only, one role per client id (409 on a clash),
// the secret in the create result only, lists without secrets, and revocation ending sessions.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { createHub, type Hub } from '../hub.js';
import type { HubRequest, HubResult } from '../model/operations.js';
import type { Client } from '../model/types.js';
import type { ClientInfo, CreatedToken, TokenInfo } from '../auth/tokens.js';
import { ADMIN_OPERATIONS } from '../model/operations.js';
import { keepOpen } from '../testing/index.js';

const admin: Client = { id: 'admin-1', role: 'admin' };

describe('clients and tokens operations', () => {
  let hub: Hub;
  let store: MemoryStore;
  const call = (request: HubRequest, client: Client = admin): Promise<HubResult> => hub.handle(request, { client });
  const output = async <T>(request: HubRequest, status: number): Promise<T> => {
    const result = await call(request);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.status, status);
    return result.output as T;
  };

  before(async () => {
    store = new MemoryStore();
    hub = await createHub({ store });
  });
  after(() => hub.close());

  it('refuses every admin operation to the other roles with 403', async () => {
    for (const role of ['agent', 'operator', 'viewer'] as const) {
      for (const operation of ADMIN_OPERATIONS) {
        const result = await call({ operation, input: { id: 'x', clientId: 'x', role: 'viewer', tokenId: 'x' } }, { id: `${role}-1`, role });
        assert.equal(result.status, 403, `${role} ${operation}`);
        assert.ok(!result.ok && /may not/.test(result.problem.detail));
      }
    }
  });

  it('creates a client once per role: 201, then 200 for the same role, 409 for another', async () => {
    const created = await output<ClientInfo>({ operation: 'createclient', input: { id: 'lamp-agent', role: 'agent' } }, 201);
    assert.deepEqual({ ...created, created: undefined }, { id: 'lamp-agent', role: 'agent', tokens: 0, created: undefined });
    await output({ operation: 'createclient', input: { id: 'lamp-agent', role: 'agent' } }, 200);
    const clash = await call({ operation: 'createclient', input: { id: 'lamp-agent', role: 'operator' } });
    assert.equal(clash.status, 409);
    assert.ok(!clash.ok && /already has role 'agent'/.test(clash.problem.detail));
    const tokenClash = await call({ operation: 'createtoken', input: { clientId: 'lamp-agent', role: 'viewer' } });
    assert.equal(tokenClash.status, 409);
    assert.equal((await call({ operation: 'createclient', input: { id: 'bad id', role: 'agent' } })).status, 400);
    assert.equal((await call({ operation: 'createclient', input: { id: 'x', role: 'root' } })).status, 400);
  });

  it('shows a token once: the create result has the secret, lists and the store never do', async () => {
    const created = await output<CreatedToken>({ operation: 'createtoken', input: { clientId: 'lamp-agent' } }, 201);
    assert.match(created.token, /^th_/);
    assert.deepEqual(await hub.authenticate(created.token), { id: 'lamp-agent', role: 'agent' });
    const all = await output<TokenInfo[]>({ operation: 'listtokens' }, 200);
    const own = await output<TokenInfo[]>({ operation: 'listtokens', input: { clientId: 'lamp-agent' } }, 200);
    assert.deepEqual(
      own.map((t) => t.tokenId),
      [created.tokenId],
    );
    for (const list of [all, own]) assert.ok(!JSON.stringify(list).includes(created.token.slice(3)), 'no secret in a list');
    for (const bucket of ['tokens', 'clients']) {
      for await (const [key, value] of store.bucket(bucket).entries()) assert.ok(!`${key}${value}`.includes(created.token.slice(3)));
    }
    const clients = await output<ClientInfo[]>({ operation: 'listclients' }, 200);
    assert.equal(clients.find((c) => c.id === 'lamp-agent')?.tokens, 1);
    assert.equal((await call({ operation: 'createtoken', input: { clientId: 'nobody' } })).status, 404, 'an unknown client needs a role');
    assert.equal((await call({ operation: 'listtokens', input: { clientId: 'nobody' } })).status, 404);
  });

  it('revokes one token or all of a client, ending its sessions when the last goes', async () => {
    const a = await output<CreatedToken>({ operation: 'createtoken', input: { clientId: 'op-7', role: 'operator' } }, 201);
    const b = await output<CreatedToken>({ operation: 'createtoken', input: { clientId: 'op-7' } }, 201);
    const closed: string[] = [];
    hub.openSession({ id: 'op-7', role: 'operator' }, 'test', { send: () => undefined, close: (reason) => closed.push(reason) });
    assert.deepEqual(await output({ operation: 'revoketoken', input: { tokenId: a.tokenId } }, 200), { revoked: 1 });
    assert.equal(await hub.authenticate(a.token), undefined);
    assert.deepEqual(closed, [], 'another token keeps the client connected');
    assert.equal((await call({ operation: 'revoketoken', input: { tokenId: a.tokenId } })).status, 404);
    assert.deepEqual(await output({ operation: 'revoketoken', input: { clientId: 'op-7' } }, 200), { revoked: 1 });
    assert.equal(await hub.authenticate(b.token), undefined);
    assert.deepEqual(closed, ['token revoked']);
    assert.equal((await call({ operation: 'revoketoken', input: {} })).status, 400);
  });

  it('deletes a client with its tokens and sessions; its id is free for another role', async () => {
    const token = await output<CreatedToken>({ operation: 'createtoken', input: { clientId: 'gone-1', role: 'viewer' } }, 201);
    const closed: string[] = [];
    hub.openSession({ id: 'gone-1', role: 'viewer' }, 'test', { send: () => undefined, close: (reason) => closed.push(reason) });
    await output({ operation: 'deleteclient', input: { id: 'gone-1' } }, 204);
    assert.equal(await hub.authenticate(token.token), undefined);
    assert.deepEqual(closed, ['token revoked']);
    assert.ok(!(await output<ClientInfo[]>({ operation: 'listclients' }, 200)).some((c) => c.id === 'gone-1'));
    assert.equal((await call({ operation: 'deleteclient', input: { id: 'gone-1' } })).status, 404);
    await output({ operation: 'createclient', input: { id: 'gone-1', role: 'operator' } }, 201);
  });

  it('keeps clients without tokens across a restart', async () => {
    const again = await createHub({ store: keepOpen(store) });
    try {
      const clients = await again.handle({ operation: 'listclients' }, { client: admin });
      assert.ok(clients.ok);
      const ids = (clients.output as ClientInfo[]).map((c) => `${c.id}:${c.role}:${c.tokens}`);
      assert.ok(ids.includes('lamp-agent:agent:1') && ids.includes('op-7:operator:0') && ids.includes('gone-1:operator:0'), ids.join());
    } finally {
      await again.close();
    }
  });
});
