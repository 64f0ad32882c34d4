// The README's quick start, run as a newcomer would run it: the commands of the block marked
// `quick-start` (the ones that need no human), in bash, against a `twinhub serve` this test started.
// Only the two lines that name the hub's URL and admin token are left out: the test sets them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { spawnHub, tempDataDir, type ChildHub } from './support.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The sh block after the `<!-- quick-start` marker, less the lines that set TWINHUB_URL and TWINHUB_TOKEN. */
function quickStartScript(): string {
  const readme = readFileSync(`${REPO}README.md`, 'utf8');
  const marker = readme.indexOf('<!-- quick-start');
  assert.ok(marker >= 0, 'the README marks its quick-start block');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker));
  assert.ok(block, 'a sh block follows the marker');
  const lines = block[1].split('\n').filter((line) => line.trim() !== '');
  const kept = lines.filter((line) => !/^export TWINHUB_(URL|TOKEN)=/.test(line));
  assert.equal(lines.length - kept.length, 2, 'the block sets TWINHUB_URL and TWINHUB_TOKEN, which the test provides');
  return kept.join('\n');
}

describe("the README's quick start", () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let hub: ChildHub;
  before(async () => {
    data = await tempDataDir();
    hub = await spawnHub(data.dir);
  });
  after(async () => {
    hub.child.kill('SIGTERM');
    await hub.exited;
    await data.remove();
  });

  it('registers the example lamp, reads it, writes it and toggles it through the twin', { timeout: 90_000 }, async () => {
    assert.ok(hub.firstAdminToken, 'the first start printed an admin token');
    const env = { ...process.env, TWINHUB_URL: hub.urls.http, TWINHUB_TOKEN: hub.firstAdminToken };
    // Its own process group: the example agent the script starts in the background goes with it.
    const shell = spawn('bash', ['-e', '-c', quickStartScript()], { cwd: REPO, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    shell.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    shell.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => process.kill(-shell.pid!, 'SIGKILL'), 80_000);
    const [code] = (await once(shell, 'exit')) as [number | null];
    clearTimeout(timer);
    try {
      process.kill(-shell.pid!, 'SIGTERM'); // the background agent
    } catch {
      // already gone
    }
    assert.equal(code, 0, `the quick start failed:\n${stdout}\n${stderr}`);
    const lines = stdout.split('\n').filter((line) => line.startsWith('{') || line === 'true' || line === 'false');
    assert.deepEqual(lines.length, 5, stdout);
    assert.equal(lines[0], 'false', 'the agent registered the lamp and reported it off');
    assert.deepEqual(JSON.parse(lines[1]), { brightness: 50, on: false });
    const write = JSON.parse(lines[2]) as { operation: string; actionId: string };
    assert.equal(write.operation, 'writeproperty');
    assert.ok(write.actionId);
    assert.equal(lines[3], 'true', 'the agent toggled the lamp and answered');
    assert.deepEqual(JSON.parse(lines[4]), { brightness: 80, on: true });
  });
});
