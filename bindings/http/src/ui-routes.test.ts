// The dashboard's static files at /ui/ and GET /me: content types, cache headers, index.html for
// client routes, HEAD, ETag revalidation, no way out of the folder, the 503 without a build, the
// redirect of browsers from / (API clients keep the JSON), and who a token belongs to.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpHub, type HttpHubFixture } from './testing.js';

const INDEX = '<!doctype html><title>twinhub test UI</title>';
const SCRIPT = 'console.log("app");';

describe('the dashboard files at /ui/', () => {
  let folder: string;
  let fx: HttpHubFixture;
  let missing: HttpHubFixture;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'twinhub-ui-'));
    const dist = join(folder, 'dist');
    await mkdir(join(dist, 'assets'), { recursive: true });
    await writeFile(join(dist, 'index.html'), INDEX);
    await writeFile(join(dist, 'assets', 'app-1a2b.js'), SCRIPT);
    await writeFile(join(dist, 'assets', 'app-1a2b.css'), 'body{}');
    // A file beside the build folder: nothing under /ui/ may reach it.
    await writeFile(join(folder, 'secret.txt'), 'not for browsers');
    fx = await startHttpHub({ binding: { uiDir: dist } });
    missing = await startHttpHub({ binding: { uiDir: join(folder, 'not-built') } });
  });

  after(async () => {
    await fx?.close();
    await missing?.close();
    await rm(folder, { recursive: true, force: true });
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${fx.url}${path}`, { method, headers, redirect: 'manual' });

  it('serves index.html without a token, never cached, with a content security policy', async () => {
    const res = await get('/ui/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(await res.text(), INDEX);
  });

  it('serves assets with their content type, cached for good (content-hashed names)', async () => {
    const js = await get('/ui/assets/app-1a2b.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(await js.text(), SCRIPT);
    assert.equal((await get('/ui/assets/app-1a2b.css')).headers.get('content-type'), 'text/css; charset=utf-8');
  });

  it('answers the app routes with index.html, and a missing asset with 404 (never HTML for a script)', async () => {
    for (const path of ['/ui/admin', '/ui/things/urn%3Adev%3Aops%3Alamp', '/ui/things/a%2Fb']) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), INDEX, path);
    }
    const gone = await get('/ui/assets/old-9z.js');
    assert.equal(gone.status, 404);
    assert.equal(gone.headers.get('content-type'), 'application/problem+json');
  });

  it('redirects /ui to /ui/', async () => {
    const res = await get('/ui');
    assert.equal(res.status, 301);
    assert.equal(res.headers.get('location'), '/ui/');
  });

  it('answers HEAD with the headers and no body, and If-None-Match with 304', async () => {
    const head = await get('/ui/assets/app-1a2b.js', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(SCRIPT.length));
    assert.equal(await head.text(), '');
    const etag = head.headers.get('etag');
    assert.ok(etag);
    const again = await get('/ui/assets/app-1a2b.js', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
  });

  it('never serves a file outside the build folder, however the path is encoded', async () => {
    for (const path of [
      '/ui/..%2Fsecret.txt',
      '/ui/assets/..%2F..%2Fsecret.txt',
      '/ui/%2e%2e/secret.txt',
      '/ui/..%5Csecret.txt',
      '/ui/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    ]) {
      const res = await get(path);
      assert.ok(!(await res.text()).includes('not for browsers'), path);
      assert.notEqual(res.status, 500, path);
    }
  });

  it('answers 503 saying how to build when the build is missing', async () => {
    const res = await fetch(`${missing.url}/ui/`);
    assert.equal(res.status, 503);
    const problem = (await res.json()) as { title: string; detail: string };
    assert.equal(problem.title, 'Dashboard Not Built');
    assert.match(problem.detail, /npm run build/);
  });

  it('sends browsers asking for HTML at / to /ui/, without a token; API clients keep the JSON', async () => {
    const browser = await get('/', { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    assert.equal(browser.status, 302);
    assert.equal(browser.headers.get('location'), '/ui/');
    assert.equal(browser.headers.get('vary'), 'Accept');
    const api = await fx.request('GET', '/', { headers: { Accept: 'application/json' } });
    assert.equal(api.status, 200);
    assert.ok((api.body as { links: { rel: string }[] }).links.some((link) => link.rel === 'dashboard'));
    assert.equal((await get('/', { Accept: '*/*' })).status, 401, 'the JSON answer still needs a token');
  });
});

describe('GET /me', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
  });
  after(() => fx.close());

  it("names the token's client and role, for every role, never cached", async () => {
    for (const [token, expected] of [
      [fx.tokens.admin, { id: 'admin-1', role: 'admin' }],
      [fx.tokens.operator, { id: 'operator-1', role: 'operator' }],
      [fx.tokens.viewer, { id: 'viewer-1', role: 'viewer' }],
      [fx.tokens.agent, { id: 'agent-1', role: 'agent' }],
    ] as const) {
      const res = await fx.request('GET', '/me', { token });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, expected);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
  });

  it('answers 401 without a token or with a revoked one', async () => {
    assert.equal((await fx.request('GET', '/me', { token: null })).status, 401);
    const { token, tokenId } = await fx.hub.tokens.create({ id: 'short-lived', role: 'viewer' });
    assert.equal((await fx.request('GET', '/me', { token })).status, 200);
    await fx.hub.tokens.revoke({ tokenId });
    assert.equal((await fx.request('GET', '/me', { token })).status, 401);
  });
});
