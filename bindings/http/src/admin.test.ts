// The /admin routes: clients and tokens over HTTP, problem+json errors, the secret in the one
// POST response only (never cached), and a revoked token refused at once.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSse, startHttpHub, type HttpHubFixture } from './testing.js';

describe('HTTP /admin/clients and /admin/tokens', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
  });
  after(() => fx.close());

  test('POST /admin/clients creates (201 + Location), finds the same (200), clashes on another role (409 problem)', async () => {
    const created = await fx.request('POST', '/admin/clients', { body: { id: 'kiosk-1', role: 'viewer' } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('location'), `${fx.url}/admin/clients/kiosk-1`);
    assert.deepEqual({ ...(created.body as object), created: undefined }, { id: 'kiosk-1', role: 'viewer', tokens: 0, created: undefined });
    assert.equal((await fx.request('POST', '/admin/clients', { body: { id: 'kiosk-1', role: 'viewer' } })).status, 200);
    const clash = await fx.request('POST', '/admin/clients', { body: { id: 'kiosk-1', role: 'operator' } });
    assert.equal(clash.status, 409);
    assert.equal(clash.headers.get('content-type'), 'application/problem+json');
    assert.match((clash.body as { detail: string }).detail, /already has role 'viewer'/);
    const bad = await fx.request('POST', '/admin/clients', { body: ['kiosk-2'] });
    assert.equal(bad.status, 400);
  });

  test('POST /admin/clients/{id}/tokens returns the token once, no-store; lists show ids only; DELETE revokes', async () => {
    const issued = await fx.request('POST', '/admin/clients/kiosk-1/tokens');
    assert.equal(issued.status, 201, issued.text);
    assert.equal(issued.headers.get('cache-control'), 'no-store');
    const { token, tokenId, clientId, role } = issued.body as { token: string; tokenId: string; clientId: string; role: string };
    assert.deepEqual([clientId, role], ['kiosk-1', 'viewer']);
    assert.equal((await fx.request('GET', '/things', { token })).status, 200);

    for (const path of ['/admin/tokens', '/admin/clients/kiosk-1/tokens']) {
      const listed = await fx.request('GET', path);
      assert.equal(listed.status, 200);
      assert.ok(
        (listed.body as { tokenId: string }[]).some((t) => t.tokenId === tokenId),
        path,
      );
      assert.ok(!listed.text.includes(token.slice(3)), `${path} shows no secret`);
    }
    const clients = await fx.request('GET', '/admin/clients');
    assert.equal((clients.body as { id: string; tokens: number }[]).find((c) => c.id === 'kiosk-1')?.tokens, 1);

    assert.equal((await fx.request('DELETE', `/admin/tokens/${tokenId}`)).status, 204);
    assert.equal((await fx.request('GET', '/things', { token })).status, 401);
    const again = await fx.request('DELETE', `/admin/tokens/${tokenId}`);
    assert.equal(again.status, 404);
    assert.equal(again.headers.get('content-type'), 'application/problem+json');
  });

  test("DELETE /admin/clients/{id}/tokens revokes all of a client's; DELETE /admin/clients/{id} removes it", async () => {
    const a = (await fx.request('POST', '/admin/clients/bot-1/tokens', { body: { role: 'operator' } })).body as { token: string };
    await fx.request('POST', '/admin/clients/bot-1/tokens');
    const revoked = await fx.request('DELETE', '/admin/clients/bot-1/tokens');
    assert.deepEqual([revoked.status, revoked.body], [200, { revoked: 2 }]);
    assert.equal((await fx.request('GET', '/things', { token: a.token })).status, 401);
    assert.equal((await fx.request('DELETE', '/admin/clients/bot-1')).status, 204);
    assert.equal((await fx.request('DELETE', '/admin/clients/bot-1')).status, 404);
    assert.equal((await fx.request('GET', '/admin/clients/bot-1/tokens')).status, 404);
  });

  test("revoking a client's last token ends its SSE stream", async () => {
    const { token, tokenId } = (await fx.request('POST', '/admin/clients/screen-1/tokens', { body: { role: 'viewer' } })).body as {
      token: string;
      tokenId: string;
    };
    const stream = await openSse(fx.url, '/events', { token });
    assert.equal(stream.status, 200);
    assert.equal((await fx.request('DELETE', `/admin/tokens/${tokenId}`)).status, 204);
    await stream.ended;
    assert.equal((await openSse(fx.url, '/events', { token })).status, 401);
  });

  test('non-admins get 403 problems; no token gets 401', async () => {
    const denied = await fx.request('GET', '/admin/clients', { token: fx.tokens.operator });
    assert.equal(denied.status, 403);
    assert.match((denied.body as { detail: string }).detail, /role 'operator' may not listclients/);
    assert.equal((await fx.request('POST', '/admin/clients/x/tokens', { token: fx.tokens.agent, body: { role: 'admin' } })).status, 403);
    assert.equal((await fx.request('GET', '/admin/tokens', { token: null })).status, 401);
  });
});
