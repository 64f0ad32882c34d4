// Runs every compiled test file (`dist/**/*.test.js` in each workspace) with Node's test runner.
// Node 20's `--test` has no glob support, so the files are collected here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['storage', 'packages', 'bindings', 'test', 'bench'];
const skip = new Set(['node_modules', 'src']);

function collect(dir, out) {
  for (const entry of readdirSync(dir)) {
    if (skip.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (entry.endsWith('.test.js') && path.split('/').includes('dist')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = roots
  .flatMap((root) => collect(root, []))
  .filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))
  .sort();
if (files.length === 0) {
  console.error('no test files found: run `tsc -b` first');
  process.exit(1);
}
// A test that hangs fails after two minutes instead of stalling the whole run (and CI).
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-timeout=120000', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
