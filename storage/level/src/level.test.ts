import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { StoreError, type BucketStore, type StoreErrorCode } from '@twinhub/bucket';
import { bucketStoreContract } from '@twinhub/bucket/contract';
import { openLevelStore, repairLevelStore, type StoreLog } from './index.js';
import { toStoreError } from './errors.js';
import { SIDECAR_FILE } from './integrity.js';

let root: string;
let counter = 0;
const folders = new Map<BucketStore, string>();

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinhub-level-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function openIn(dir: string): Promise<BucketStore> {
  const store = await openLevelStore(dir);
  folders.set(store, dir);
  return store;
}

bucketStoreContract(
  'level',
  () => openIn(join(root, `db-${++counter}`)),
  (previous) => openIn(folders.get(previous)!),
);

const put = (store: BucketStore, bucket: string, key: string, value: string) => store.batch([{ bucket, type: 'put', key, value }]);

/** Asserts a StoreError with this code whose message matches. */
const storeError =
  (code: StoreErrorCode, message: RegExp) =>
  (error: unknown): boolean => {
    assert.ok(error instanceof StoreError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  };

/** A log that keeps what the store reported. */
function recorder(): StoreLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (_d, message) => lines.push(`info ${message}`), warn: (_d, message) => lines.push(`warn ${message}`) };
}

/** Fills a folder with `batches` batches of ~1 KB values, then closes it cleanly. */
async function filled(name: string, batches: number): Promise<string> {
  const dir = join(root, name);
  const store = await openLevelStore(dir);
  for (let i = 0; i < batches; i++) await put(store, 'state', `thing-${i}`, 'x'.repeat(1000));
  await store.close();
  return dir;
}

async function newestLog(dir: string): Promise<string> {
  const logs = (await readdir(dir)).filter((n) => /^\d+\.log$/.test(n)).sort();
  assert.ok(logs.length > 0, 'a LevelDB log exists');
  return join(dir, logs[logs.length - 1]);
}

describe('openLevelStore', () => {
  it('refuses a data folder that is already open, saying it is in use', async () => {
    const dir = join(root, 'locked');
    const first = await openLevelStore(dir);
    try {
      await assert.rejects(openLevelStore(dir), (error: unknown) => {
        storeError('unavailable', /in use by another twinhub/)(error);
        assert.ok((error as Error).message.includes(dir));
        return true;
      });
      // The first store is unaffected.
      await put(first, 'b', 'k', 'v');
      assert.equal(await first.bucket('b').get('k'), 'v');
    } finally {
      await first.close();
    }
    const again = await openLevelStore(dir);
    assert.equal(await again.bucket('b').get('k'), 'v');
    await again.close();
  });

  it('reports a folder it cannot create as a StoreError naming the folder', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'not a folder');
    const dir = join(file, 'db');
    await assert.rejects(openLevelStore(dir), (error: unknown) => {
      assert.ok(error instanceof StoreError && error.code === 'unavailable');
      assert.ok(error.message.startsWith(`cannot open the data folder ${dir}`), error.message);
      return true;
    });
  });

  it('writes with sync: true and reads them back after reopening', async () => {
    const dir = join(root, 'synced');
    const store = await openLevelStore(dir, { sync: true });
    await store.batch([{ bucket: 'b', type: 'put', key: 'k', value: 'v' }]);
    await store.close();
    const reopened = await openLevelStore(dir);
    assert.equal(await reopened.bucket('b').get('k'), 'v');
    await reopened.close();
  });

  it('keeps keys with lone surrogates and NUL characters intact and in order', async () => {
    const store = await openLevelStore(join(root, 'odd-keys'));
    const bucket = store.bucket('b');
    const keys = ['\uD83D', '\uDE00', 'a\u0000b', 'a', '\u{1F600}', '\uFFFD'];
    for (const key of keys) await put(store, 'b', key, key.length.toString());
    const walked: string[] = [];
    for await (const [key] of bucket.entries()) walked.push(key);
    assert.deepEqual(walked, [...keys].sort());
    for (const key of keys) assert.equal(await bucket.get(key), key.length.toString());
    await store.close();
  });

  it('reads a data folder written before revisions existed: its values are revision 1, new writes go above', async () => {
    const dir = join(root, 'legacy');
    // The layout of the previous version: `bucket 0x00 key` -> plain UTF-8 value, no store records.
    const old = new ClassicLevel<Buffer, string>(dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
    await old.batch([
      { type: 'put', key: Buffer.from('twins\0t1'), value: '{"title":"lamp"}' },
      { type: 'put', key: Buffer.from('twins\0t2'), value: '' },
      { type: 'put', key: Buffer.from('tokens\0h'), value: 'é' },
    ]);
    await old.close();
    const log = recorder();
    const store = await openLevelStore(dir, { log });
    assert.ok(
      log.lines.some((l) => /adopted a data folder/.test(l)),
      log.lines.join('\n'),
    );
    const twins = store.bucket('twins');
    assert.deepEqual(await twins.getEntry('t1'), { value: '{"title":"lamp"}', revision: 1 });
    assert.deepEqual(await twins.getEntry('t2'), { value: '', revision: 1 });
    assert.equal(await store.bucket('tokens').get('h'), 'é');
    assert.ok((await twins.compareAndSet('t1', 'updated', 1)) > 1);
    await assert.rejects(() => twins.compareAndSet('t2', 'x', 0), storeError('conflict', /revision 1/));
    await store.close();
    const again = await openLevelStore(dir);
    assert.equal(await again.bucket('twins').get('t1'), 'updated');
    await again.close();
  });

  it('writes the integrity file at open and marks it clean at close', async () => {
    const dir = join(root, 'sidecar');
    const store = await openLevelStore(dir);
    assert.equal(JSON.parse(await readFile(join(dir, SIDECAR_FILE), 'utf8')).cleanClose, false);
    await put(store, 'b', 'k', 'v');
    await store.batch([{ bucket: 'b', type: 'put', key: 'k2', value: 'v' }]);
    await store.close();
    const sidecar = JSON.parse(await readFile(join(dir, SIDECAR_FILE), 'utf8'));
    assert.equal(sidecar.cleanClose, true);
    assert.equal(sidecar.commits, 2);
  });

  it('opens a folder after a crash (no clean close) and says so', async () => {
    const dir = join(root, 'crashed');
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      import { openLevelStore } from ${JSON.stringify(new URL('./index.js', import.meta.url).href)};
      const store = await openLevelStore(${JSON.stringify(dir)});
      await store.batch([{ bucket: 'b', type: 'put', key: 'k', value: 'kept' }]);
      process.exit(0);
    `,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(child.status, 0, child.stderr);
    const log = recorder();
    const store = await openLevelStore(dir, { log });
    assert.equal(await store.bucket('b').get('k'), 'kept', 'an acknowledged write survives the process exiting without close');
    assert.ok(
      log.lines.some((l) => /did not stop cleanly/.test(l)),
      log.lines.join('\n'),
    );
    await store.close();
  });
});

describe('damaged data folders fail loudly', () => {
  it('refuses a folder whose CURRENT file is gone instead of creating an empty store', async () => {
    const dir = await filled('no-current', 3);
    await unlink(join(dir, 'CURRENT'));
    await assert.rejects(openLevelStore(dir), storeError('corrupt', /holds LevelDB files .* but no CURRENT file.*twinhub repair --data/));
    assert.ok(!(await readdir(dir)).includes('CURRENT'), 'nothing was created');
    const log = recorder();
    const report = await repairLevelStore(dir, { log });
    assert.deepEqual(report, { buckets: { state: 3 }, commits: 3, expectedCommits: 3 });
    assert.ok(
      log.lines.some((l) => /opened a repaired data folder/.test(l)),
      log.lines.join('\n'),
    );
    assert.ok(!log.lines.some((l) => /integrity file is missing/.test(l)), log.lines.join('\n'));
    const store = await openLevelStore(dir);
    assert.equal(await store.bucket('state').get('thing-2'), 'x'.repeat(1000));
    await store.close();
  });

  it('refuses a folder whose CURRENT names a missing MANIFEST', async () => {
    const dir = await filled('no-manifest', 1);
    const manifest = (await readFile(join(dir, 'CURRENT'), 'utf8')).trim();
    await unlink(join(dir, manifest));
    await assert.rejects(openLevelStore(dir), storeError('corrupt', new RegExp(`CURRENT file names "${manifest}", which is missing`)));
  });

  it('refuses a folder whose LevelDB files are all gone but whose integrity file remains', async () => {
    const dir = await filled('wiped', 2);
    for (const name of await readdir(dir)) if (name !== SIDECAR_FILE) await rm(join(dir, name));
    await assert.rejects(openLevelStore(dir), storeError('corrupt', /integrity file says it held 2 committed batches/));
  });

  it('refuses a truncated newest log, naming how many acknowledged batches are missing; repair lets it open', async () => {
    const dir = await filled('truncated', 40);
    const log = await newestLog(dir);
    await truncate(log, Math.floor((await stat(log)).size / 2));
    let missing = 0;
    await assert.rejects(openLevelStore(dir), (error: unknown) => {
      storeError('corrupt', /(\d+) acknowledged write batches are missing: it reads \d+ of the 40 committed batches/)(error);
      missing = Number(/(\d+) acknowledged/.exec((error as Error).message)![1]);
      return true;
    });
    assert.ok(missing > 5 && missing < 40, `missing ${missing}`);
    // Refused again on the next try: the loss is not forgotten by having opened once.
    await assert.rejects(openLevelStore(dir), storeError('corrupt', /missing/));
    const report = await repairLevelStore(dir);
    assert.equal(report.expectedCommits, 40);
    assert.equal(report.commits, 40 - missing);
    assert.equal(report.buckets.state, 40 - missing);
    const store = await openLevelStore(dir);
    assert.equal(await store.bucket('state').get('thing-0'), 'x'.repeat(1000));
    await put(store, 'state', 'after-repair', 'ok');
    await store.close();
  });

  it('refuses a store whose marker record vanished while the integrity file remembers it', async () => {
    const dir = await filled('no-marker', 2);
    const raw = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await raw.del(Buffer.from('\0marker', 'latin1'));
    await raw.close();
    await assert.rejects(openLevelStore(dir), storeError('corrupt', /marker record is gone/));
  });

  it('repair refuses a missing folder and one a running store holds', async () => {
    await assert.rejects(repairLevelStore(join(root, 'never-created')), storeError('invalid', /no data folder at/));
    const dir = join(root, 'busy');
    const store = await openLevelStore(dir);
    try {
      await assert.rejects(repairLevelStore(dir), storeError('unavailable', /in use by another twinhub/));
    } finally {
      await store.close();
    }
  });
});

describe('LevelDB failures map to StoreError codes', () => {
  const coded = (code: string, message: string) => Object.assign(new Error(message), { code });
  it('maps out of space, corruption, other I/O errors and use after close', () => {
    assert.equal(toStoreError(coded('LEVEL_IO_ERROR', 'IO error: /d/000005.log: No space left on device'), 'writing', '/d').code, 'full');
    assert.equal(toStoreError(coded('ENOSPC', 'write failed'), 'writing', '/d').code, 'full');
    const corrupt = toStoreError(coded('LEVEL_CORRUPTION', 'Corruption: checksum mismatch'), 'reading', '/d');
    assert.equal(corrupt.code, 'corrupt');
    assert.match(corrupt.message, /twinhub repair --data \/d/);
    assert.equal(toStoreError(coded('LEVEL_IO_ERROR', 'IO error: /d/LOCK: Permission denied'), 'writing', '/d').code, 'unavailable');
    assert.equal(toStoreError(coded('LEVEL_DATABASE_NOT_OPEN', 'Database is not open'), 'reading', '/d').code, 'closed');
    const wrappedOpen = Object.assign(new Error('Database failed to open', { cause: coded('LEVEL_CORRUPTION', 'Corruption: bad block') }), {
      code: 'LEVEL_DATABASE_NOT_OPEN',
    });
    assert.equal(toStoreError(wrappedOpen, 'opening', '/d').code, 'corrupt');
  });
});
