// A damaged data folder, as the real `twinhub` binary meets it: `serve` refuses with one line
// naming `twinhub repair` (never printing a new admin token over lost data), and `repair` lets it
// start again, saying what survived. Damage is made by hand: a deleted CURRENT, a truncated log.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonRequest, lampTd } from '@twinhub/binding-http/testing';
import { tempDataDir } from './support.js';

const CLI = fileURLToPath(new URL('../../packages/hub/dist/cli.js', import.meta.url));
const ENV = { ...process.env, TWINHUB_LOG_LEVEL: 'silent' };

function twinhub(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: ENV });
}

interface Started {
  url: string;
  out: string;
  stop(): Promise<number | null>;
}

/** `twinhub serve` on `dir`: resolves once it listens, or with its exit code and output if it refuses to start. */
async function serve(dir: string): Promise<Started | { code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dir, '--http-port', '0', '--no-mqtt'], { env: ENV });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const listening = new Promise<void>((resolve) => {
    child.stdout.on('data', () => {
      if (/\n {2}data /.test(out) && (!out.includes('First start') || /\n {2}th_\S+\n/.test(out))) resolve();
    });
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const first = await Promise.race([
    listening.then(() => 'listening' as const),
    exited.then(() => 'exited' as const),
    new Promise((r) => setTimeout(r, 15_000, 'timeout')),
  ]);
  if (first === 'exited') return { code: (await exited)[0], out, err };
  assert.equal(first, 'listening', `twinhub serve did not start: ${out}${err}`);
  return {
    url: /HTTP {2}(http:\/\/\S+)\/things/.exec(out)![1],
    out,
    async stop() {
      child.kill('SIGTERM');
      return (await exited)[0];
    },
  };
}

function started(result: Awaited<ReturnType<typeof serve>>): Started {
  assert.ok('url' in result, `expected twinhub serve to start, it exited ${'code' in result ? result.code : ''}: ${'err' in result ? result.err : ''}`);
  return result;
}

function refused(result: Awaited<ReturnType<typeof serve>>, message: RegExp): string {
  if ('url' in result) {
    void result.stop();
    assert.fail(`twinhub serve started on a damaged folder:\n${result.out}`);
  }
  assert.notEqual(result.code, 0);
  assert.equal(result.err.trim().split('\n').length, 1, `one line: ${result.err}`);
  assert.match(result.err, message);
  assert.match(result.err, /twinhub repair --data/);
  assert.doesNotMatch(result.out, /th_/, 'no admin token is printed');
  return result.err;
}

const adminTokenOf = (out: string) => /\n {2}(th_\S+)\n/.exec(out)?.[1];

describe('twinhub on a damaged data folder', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  before(async () => {
    data = await tempDataDir();
  });
  after(async () => {
    await data.remove();
  });

  it('a deleted CURRENT: serve refuses without a new admin token; repair brings the old data back', async () => {
    const dir = join(data.dir, 'no-current');
    const first = started(await serve(dir));
    const admin = adminTokenOf(first.out);
    assert.ok(admin);
    assert.equal(await first.stop(), 0);
    await unlink(join(dir, 'CURRENT'));

    refused(await serve(dir), /refusing to open the data folder .*no CURRENT file/);
    assert.equal(twinhub('token', 'list', '--data', dir).status, 1, 'token commands refuse too');

    const repaired = twinhub('repair', '--data', dir);
    assert.equal(repaired.status, 0, repaired.stderr);
    assert.match(repaired.stdout, /whatever was damaged or lost stays lost/);
    assert.match(repaired.stdout, /tokens\s+1/);

    const again = started(await serve(dir));
    assert.equal(adminTokenOf(again.out), undefined, 'the old admin token survived, so no new one');
    assert.equal((await jsonRequest(again.url, 'GET', '/things', { token: admin! })).status, 200);
    assert.equal(await again.stop(), 0);
  });

  it('a truncated newest log after a clean stop: serve refuses naming how many batches are missing; repair lets it start', async () => {
    const dir = join(data.dir, 'truncated');
    const agent = twinhub('token', 'create', '--role', 'agent', '--id', 'agent-1', '--data', dir);
    assert.equal(agent.status, 0, agent.stderr);
    const token = agent.stdout.trim();
    const hub = started(await serve(dir));
    const THINGS = 30;
    for (let i = 0; i < THINGS; i++) {
      const id = `urn:dev:ops:lamp-${i}`;
      const created = await jsonRequest(hub.url, 'PUT', `/things/${encodeURIComponent(id)}`, { token, body: lampTd(id) });
      assert.equal(created.status, 201, created.text);
    }
    assert.equal(await hub.stop(), 0);
    const logs = (await readdir(dir)).filter((name) => /^\d+\.log$/.test(name)).sort();
    const newest = join(dir, logs[logs.length - 1]);
    await truncate(newest, Math.floor((await stat(newest)).size / 2));

    const line = refused(await serve(dir), /(\d+) acknowledged write batches are missing: it reads \d+ of the \d+ committed batches/);
    const missing = Number(/(\d+) acknowledged/.exec(line)![1]);
    assert.ok(missing > 0);
    refused(await serve(dir), /acknowledged write batches are missing/);

    const repaired = twinhub('repair', '--data', dir);
    assert.equal(repaired.status, 0, repaired.stderr);
    assert.match(repaired.stdout, new RegExp(`Data was lost: ${missing} of \\d+ acknowledged write batches could not be recovered`));
    assert.match(repaired.stdout, /twins\s+\d+/);

    const again = started(await serve(dir));
    const listed = await jsonRequest(again.url, 'GET', '/things', { token });
    assert.equal(listed.status, 200, listed.text);
    const kept = (listed.body as unknown[]).length;
    assert.ok(kept > 0 && kept < THINGS, `${kept} of ${THINGS} twins survived`);
    assert.equal(await again.stop(), 0);
  });
});
