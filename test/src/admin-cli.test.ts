// `twinhub token|clients` as clients of a running `twinhub serve`: a token created over HTTP lets
// an agent in over WebSocket and MQTT, and revoking it cuts both connections at once; the tables
// and the one-line errors (unreachable, 401, 403, 409) with their exit codes; a --memory hub with
// TWINHUB_ADMIN_TOKEN.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { connectWs } from '@twinhub/binding-ws/testing';
import { connectMqtt } from '@twinhub/binding-mqtt/testing';
import { cliResult, runCli, spawnHub, tempDataDir, type ChildHub } from './support.js';

/** Resolves within `ms` or fails naming what did not happen. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function stop(hub: ChildHub | undefined): Promise<void> {
  if (!hub) return;
  hub.child.kill('SIGTERM');
  await hub.exited;
}

describe('twinhub token and clients commands against a running hub', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let hub: ChildHub;
  let admin: Record<string, string>;

  before(async () => {
    data = await tempDataDir();
    hub = await spawnHub(data.dir);
    assert.ok(hub.firstAdminToken);
    admin = { TWINHUB_URL: hub.urls.http, TWINHUB_TOKEN: hub.firstAdminToken! };
  });
  after(async () => {
    await stop(hub);
    await data.remove();
  });

  it('creates a token over HTTP; revoking it closes the agent’s WebSocket and MQTT sessions within a second', async () => {
    const created = await runCli(['token', 'create', '--role', 'agent', '--id', 'lamp-agent', '--url', hub.urls.http, '--token', hub.firstAdminToken!]);
    const token = created.stdout.trim();
    assert.match(token, /^th_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /shown only this once/);

    const ws = await connectWs(hub.urls.ws, { token });
    assert.equal((await ws.request({ operation: 'listTDs' })).status, 200);
    const mqtt = await connectMqtt(hub.urls.mqtt!, { username: 'lamp-agent', password: token });
    assert.equal((await mqtt.request({ operation: 'listTDs' })).status, 200);
    const mqttClosed = new Promise<void>((resolve) => mqtt.mqtt.once('close', () => resolve()));

    const revoked = await runCli(['token', 'revoke', 'lamp-agent'], admin);
    assert.equal(revoked.stdout.trim(), 'revoked 1 token(s)');
    const [wsClose] = await within(Promise.all([ws.closed, mqttClosed]), 1000, 'both sessions closing');
    assert.equal(wsClose.code, 1001);
    assert.match(wsClose.reason, /revoked/);
    await mqtt.close(true);
  });

  it('lists tokens and clients as aligned tables with a header, never with a secret', async () => {
    const secret = (await runCli(['token', 'create', '--role', 'viewer', '--id', 'dashboard-1'], admin)).stdout.trim();
    await runCli(['clients', 'create', '--id', 'ops-team', '--role', 'operator'], admin);
    const tokens = (await runCli(['token', 'list'], admin)).stdout.trimEnd().split('\n');
    assert.match(tokens[0], /^TOKEN ID +ROLE +CLIENT +CREATED$/);
    const row = tokens.find((line) => line.includes('dashboard-1'));
    assert.ok(row, tokens.join('\n'));
    assert.match(row, /^[0-9a-f]{12} +viewer +dashboard-1 +\d{4}-\d\d-\d\dT/);
    assert.equal(row.indexOf('dashboard-1'), tokens[0].indexOf('CLIENT'), 'columns line up under the header');
    assert.ok(!tokens.join('\n').includes(secret.slice(3)));

    const clients = (await runCli(['clients', 'list'], admin)).stdout.trimEnd().split('\n');
    assert.match(clients[0], /^CLIENT +ROLE +TOKENS +CREATED$/);
    const ops = clients.find((line) => line.startsWith('ops-team '));
    assert.match(ops ?? '', /^ops-team +operator +0 +\d{4}-/);
    assert.equal(ops!.indexOf('operator'), clients[0].indexOf('ROLE'));
    assert.match((await runCli(['clients', 'delete', 'ops-team'], admin)).stdout, /deleted client ops-team/);
  });

  it('fails with one clear line and a non-zero exit: unreachable, 401, 403, 409, missing token', async () => {
    const closedUrl = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = await cliResult(['token', 'list'], { TWINHUB_URL: closedUrl, TWINHUB_TOKEN: 'th_x' });
    assert.equal(unreachable.code, 1);
    assert.ok(unreachable.stderr.startsWith(`hub not reachable at ${closedUrl} (ECONNREFUSED)`), unreachable.stderr);
    assert.equal(unreachable.stderr.trim().split('\n').length, 1);

    const wrong = await cliResult(['token', 'list'], { ...admin, TWINHUB_TOKEN: 'th_not-a-real-token' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused the token \(401 Unauthorized\)/);

    const viewer = (await runCli(['token', 'create', '--role', 'viewer', '--id', 'viewer-7'], admin)).stdout.trim();
    const forbidden = await cliResult(['clients', 'list'], { ...admin, TWINHUB_TOKEN: viewer });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /not an admin's \(403 Forbidden\): role 'viewer' may not listclients/);

    const clash = await cliResult(['token', 'create', '--role', 'operator', '--id', 'viewer-7'], admin);
    assert.equal(clash.code, 1);
    assert.equal(clash.stderr, "client 'viewer-7' already has role 'viewer'; one client id has one role (409 Conflict)\n");

    const unknown = await cliResult(['token', 'revoke', 'nobody-here'], admin);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no token with id or client id 'nobody-here'/);

    const noToken = await cliResult(['token', 'list'], { TWINHUB_URL: hub.urls.http, TWINHUB_TOKEN: '' });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /give an admin token in TWINHUB_TOKEN/);
  });
});

describe('twinhub serve --memory', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let hub: ChildHub | undefined;
  before(async () => {
    data = await tempDataDir();
  });
  after(async () => {
    await stop(hub);
    await data.remove();
  });

  it('accepts TWINHUB_ADMIN_TOKEN as its admin token (printing none), and the CLI manages it over HTTP', async () => {
    const bootstrap = `th_${'a1B2'.repeat(11)}`;
    hub = await spawnHub(data.dir, ['--memory'], 15_000, { TWINHUB_ADMIN_TOKEN: bootstrap });
    assert.equal(hub.firstAdminToken, undefined, 'no generated token when one is given');
    const env = { TWINHUB_URL: hub.urls.http, TWINHUB_TOKEN: bootstrap };
    const token = (await runCli(['token', 'create', '--role', 'operator', '--id', 'op-1'], env)).stdout.trim();
    const things = await fetch(`${hub.urls.http}/things`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(things.status, 200);
    assert.match((await runCli(['clients', 'list'], env)).stdout, /^admin +admin +1 /m);
    await stop(hub);
    hub = undefined;
  });

  it('prints a generated admin token without TWINHUB_ADMIN_TOKEN, and refuses a short one', async () => {
    hub = await spawnHub(data.dir, ['--memory'], 15_000, { TWINHUB_ADMIN_TOKEN: '' });
    assert.match(hub.firstAdminToken ?? '', /^th_/);
    const listed = await runCli(['token', 'list'], { TWINHUB_URL: hub.urls.http, TWINHUB_TOKEN: hub.firstAdminToken! });
    assert.match(listed.stdout, / admin +admin +\d{4}-/);
    await stop(hub);
    hub = undefined;
    const refused = await cliResult(['serve', '--memory', '--http-port', '0', '--no-mqtt'], { TWINHUB_ADMIN_TOKEN: 'th_short' });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /TWINHUB_ADMIN_TOKEN must be th_ followed by at least 43/);
  });
});
