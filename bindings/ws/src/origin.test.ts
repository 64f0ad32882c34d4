import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpBinding } from '@twinhub/binding-http';
import { startFixture, type RoleTokens } from '@twinhub/testkit';
import { attachWsBinding } from './index.js';
import { connectWs, refusedUpgrade } from './testing.js';

const PAGE = 'http://app.example:8000';

async function startHub(corsOrigins?: string[]) {
  const fixture = await startFixture({
    bindings: (hub) => {
      const http = createHttpBinding({ hub, ...(corsOrigins ? { corsOrigins } : {}) });
      return [http, attachWsBinding({ hub, server: http.server, ...(corsOrigins ? { corsOrigins } : {}) })] as const;
    },
  });
  const [, binding] = fixture.bindings;
  return { url: fixture.urls.ws, tokens: fixture.tokens, binding, close: fixture.close };
}

describe('WebSocket Origin check (RFC 6455 §10.2)', () => {
  let fixture: Awaited<ReturnType<typeof startHub>>;
  let tokens: RoleTokens;
  before(async () => {
    fixture = await startHub([PAGE]);
    tokens = fixture.tokens;
  });
  after(() => fixture.close());

  it('accepts a browser upgrade from a listed origin', async () => {
    const client = await connectWs(fixture.url, { token: tokens.viewer, tokenIn: 'protocol', ws: { origin: PAGE } });
    assert.equal((await client.request({ operation: 'listTDs' })).status, 200);
    await client.close();
  });

  it('refuses an upgrade from another origin with 403 before looking at the token', async () => {
    const refused = await refusedUpgrade(fixture.url, { token: tokens.viewer, tokenIn: 'protocol', ws: { origin: 'http://evil.example' } });
    assert.equal(refused.status, 403);
    assert.match((refused.json() as { detail: string }).detail, /http:\/\/evil\.example.*--cors-origin/);
    assert.equal(fixture.binding.connections(), 0);
  });

  it('accepts an upgrade without Origin (a non-browser client)', async () => {
    const client = await connectWs(fixture.url, { token: tokens.viewer });
    assert.equal((await client.request({ operation: 'listTDs' })).status, 200);
    await client.close();
  });

  it('accepts any origin when no list is configured', async () => {
    const open = await startHub();
    try {
      const client = await connectWs(open.url, { token: open.tokens.viewer, ws: { origin: 'http://evil.example' } });
      await client.close();
    } finally {
      await open.close();
    }
  });
});
