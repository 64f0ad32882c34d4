// `npm run bench` leaves tracked files alone (issue #10): figures go to bench/out/ unless --record.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const tracked = ['bench/results/actions.quick.json', 'bench/RESULTS.md'].map((f) => `${REPO}${f}`);
const snapshot = () => tracked.map((f) => (existsSync(f) ? `${statSync(f).mtimeMs}:${readFileSync(f, 'utf8').length}` : 'absent'));

describe('npm run bench', () => {
  it('writes its figures to bench/out/ and leaves the tracked bench/results and RESULTS.md unchanged', { timeout: 120_000 }, () => {
    const before = snapshot();
    const run = spawnSync(process.execPath, ['bench/dist/run.js', '--quick', '--only', 'actions'], { cwd: REPO, encoding: 'utf8', timeout: 110_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /results and RESULTS\.md in bench\/out\//);
    assert.deepEqual(snapshot(), before, 'tracked figures untouched');
    const written = JSON.parse(readFileSync(`${REPO}bench/out/results/actions.quick.json`, 'utf8')) as { scenario: string; meta: { date: string } };
    assert.equal(written.scenario, 'actions');
    assert.ok(Date.parse(written.meta.date) > Date.now() - 120_000, 'this run wrote it');
  });
});
