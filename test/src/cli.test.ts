// The `twinhub` command as a user runs it (what `npm start` runs): token management on a data
// folder, `serve` printing its URLs and, on first start only, an admin token; SIGTERM stops it cleanly.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { tempDataDir } from './support.js';

const CLI = fileURLToPath(new URL('../../packages/hub/dist/cli.js', import.meta.url));

function twinhub(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TWINHUB_LOG_LEVEL: 'silent' } });
}

interface Served {
  url: string;
  adminToken?: string;
  stop(): Promise<number | null>;
}

/** Starts `twinhub serve` and waits for the lines it prints once listening. */
async function serve(dataDir: string): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dataDir, '--http-port', '0', '--mqtt-port', '0', '--log-level', 'silent'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`twinhub serve did not start: ${out}`)), 15_000);
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (/\n {2}data /.test(out) && (!out.includes('First start') || /\n {2}th_\S+\n/.test(out))) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`twinhub serve exited with ${code}: ${out}`)));
  });
  const url = /HTTP {2}(http:\/\/\S+)\/things/.exec(out)?.[1];
  assert.ok(url, out);
  const adminToken = /\n {2}(th_\S+)\n/.exec(out)?.[1];
  return {
    url,
    ...(adminToken ? { adminToken } : {}),
    async stop() {
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

const things = (url: string, token: string) => fetch(`${url}/things`, { headers: { Authorization: `Bearer ${token}` } });

describe('twinhub CLI', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let agentToken: string;
  let adminToken: string;

  before(async () => {
    data = await tempDataDir();
  });
  after(async () => {
    await data.remove();
  });

  it('creates and lists tokens without ever showing a stored secret', () => {
    const created = twinhub('token', 'create', '--role', 'agent', '--id', 'agent-9', '--data', data.dir);
    assert.equal(created.status, 0, created.stderr);
    agentToken = created.stdout.trim();
    assert.match(agentToken, /^th_[A-Za-z0-9_-]{40,}$/);
    const listed = twinhub('token', 'list', '--data', data.dir);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /agent\s+agent-9/);
    assert.ok(!listed.stdout.includes(agentToken.slice(3)), 'list never prints the secret');
    const bad = twinhub('token', 'create', '--role', 'superuser', '--id', 'x', '--data', data.dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /role "superuser" is unknown/);
  });

  it('serves GET /things, printing an admin token on the first start only, and stops on SIGTERM', async () => {
    const first = await serve(data.dir);
    assert.ok(first.adminToken, 'first start prints an admin token');
    adminToken = first.adminToken!;
    assert.equal((await things(first.url, adminToken)).status, 200);
    assert.equal((await things(first.url, agentToken)).status, 200);
    assert.equal((await things(first.url, 'th_wrong')).status, 401);
    assert.equal(await first.stop(), 0, 'graceful exit on SIGTERM');

    const second = await serve(data.dir);
    assert.equal(second.adminToken, undefined, 'the admin token is shown only once');
    assert.equal((await things(second.url, adminToken)).status, 200, 'the admin token survives a restart');
    assert.equal(await second.stop(), 0);
  });

  it('revokes a token so it no longer authenticates', async () => {
    const revoked = twinhub('token', 'revoke', 'agent-9', '--data', data.dir);
    assert.equal(revoked.status, 0, revoked.stderr);
    const hub = await serve(data.dir);
    assert.equal((await things(hub.url, agentToken)).status, 401);
    assert.equal(await hub.stop(), 0);
  });

  it('explains unknown commands and bad flags with exit code 2', () => {
    const unknown = twinhub('frobnicate');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badFlag = twinhub('serve', '--http-port', 'many');
    assert.equal(badFlag.status, 2);
    assert.match(badFlag.stderr, /--http-port must be a non-negative integer/);
  });
});
