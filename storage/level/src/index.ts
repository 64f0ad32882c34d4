// BucketStore over LevelDB (classic-level): the default, embedded, on-disk backend. This file
// opens a folder through the integrity checks that refuse a damaged one (integrity.ts) and
// repairs one (`repairLevelStore`); the store itself is store.ts.
//
// Layout: one LevelDB key space; a bucket's key is `enc(bucket) 0x00 enc(key)` where enc is
// CESU-8 (UTF-8 applied to each UTF-16 code unit, surrogates included). CESU-8 bytes sort exactly
// like UTF-16 code units, which is the order the contract promises (plain UTF-8 would put U+1F600
// after U+FFFD), and it keeps lone surrogates intact. Bucket names contain no NUL, so
// `enc(bucket) 0x00` is a prefix no other bucket's keys share. Values carry their revision
// (records.ts); every batch also rewrites the store's counter record (one small key).
//
// Durability: with `sync: false` (default) a write resolves once LevelDB has appended it to its
// log in the OS page cache, so it survives the process being killed (kill -9) but not a power
// loss or kernel crash. `sync: true` also fsyncs the log before resolving, which survives power
// loss at a large cost in write latency. A clean close always syncs.
import { access } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { StoreError, type BucketStore } from '@twinhub/bucket';
import { isLockHeld, toStoreError } from './errors.js';
import { checkAgainstSidecar, inspectFolder, readSidecar, writeSidecar, SIDECAR_FILE, type Sidecar } from './integrity.js';
import {
  COUNTER_KEY,
  decodeCounter,
  decodeMarker,
  encodeCounter,
  encodeMarker,
  FIRST_BUCKET_KEY,
  LEGACY_REVISION,
  MARKER_KEY,
  type Counter,
} from './records.js';
import { LevelStore, type Db } from './store.js';

/** Where the store reports what it found when opening (a pino logger fits). */
export interface StoreLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface LevelStoreOptions {
  /** fsync every write (survives power loss; slower). Default false (survives kill -9). */
  sync?: boolean;
  log?: StoreLog;
}

const silent: StoreLog = { info: () => undefined, warn: () => undefined };

/**
 * Opens the LevelDB data folder `dir` as a BucketStore, creating it only when the folder is
 * absent or holds no store. Rejects with a StoreError: 'corrupt' when the folder is damaged or
 * acknowledged writes are missing (the message names `twinhub repair`), 'unavailable' when it is
 * in use or unreadable.
 */
export async function openLevelStore(dir: string, options: LevelStoreOptions = {}): Promise<BucketStore> {
  return openStore(dir, options);
}

/** `repaired`: the folder was just repaired, so what it held before is not compared (the loss is accepted). */
async function openStore(dir: string, options: LevelStoreOptions, repaired = false): Promise<LevelStore> {
  const log = options.log ?? silent;
  let folder: Awaited<ReturnType<typeof inspectFolder>>;
  try {
    folder = await inspectFolder(dir);
  } catch (error) {
    throw toStoreError(error, 'opening', dir);
  }
  const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: folder.fresh });
  try {
    await db.open();
  } catch (error) {
    throw toStoreError(error, 'opening', dir);
  }
  try {
    const counter = await verify(db, dir, repaired ? 'repaired' : folder.sidecar, log);
    await writeSidecar(dir, { ...counter, cleanClose: false });
    return new LevelStore(db, dir, options.sync === true, counter);
  } catch (error) {
    await db.close().catch(() => undefined); // the open failure is what the caller needs to see
    throw toStoreError(error, 'opening', dir);
  }
}

/** Checks the marker and counter against the sidecar; writes both when the folder is new (or adopted). */
async function verify(db: Db, dir: string, sidecar: Sidecar | 'repaired' | undefined, log: StoreLog): Promise<Counter> {
  const [markerBytes, counterBytes] = await db.getMany([MARKER_KEY, COUNTER_KEY]);
  const marker = markerBytes === undefined ? undefined : decodeMarker(markerBytes);
  const stored = counterBytes === undefined ? undefined : decodeCounter(counterBytes);
  if (marker !== undefined && stored === undefined) {
    throw new StoreError(`refusing to open the data folder ${dir}: its commit counter record is missing or damaged`, { code: 'corrupt' });
  }
  if (sidecar === 'repaired') {
    log.warn({ dir, commits: stored?.commits ?? 0 }, 'opened a repaired data folder: the integrity checks start afresh from what it holds now');
  } else if (sidecar) {
    checkAgainstSidecar(dir, sidecar, marker === undefined ? undefined : stored!.commits);
    if (!sidecar.cleanClose) {
      log.warn(
        { dir, commits: stored!.commits },
        'the hub did not stop cleanly last time: LevelDB replayed its log; what the OS had written is kept (use --fsync to survive power loss)',
      );
    }
  } else if (marker !== undefined) {
    log.warn({ dir, file: SIDECAR_FILE }, 'the integrity file is missing, so this start cannot check for lost writes; it is written again now');
  }
  if (marker !== undefined) {
    log.info({ dir, commits: stored!.commits, revision: stored!.revision, created: marker.created }, 'opened the data folder');
    return stored!;
  }
  // No marker and no sidecar: a new folder, one written before these checks existed, or a repaired one.
  const first = await db.keys({ gte: FIRST_BUCKET_KEY, limit: 1 }).all();
  const counter: Counter = stored ?? { revision: first.length > 0 ? LEGACY_REVISION : 0, commits: 0 };
  await db.batch(
    [
      { type: 'put', key: MARKER_KEY, value: encodeMarker({ format: 1, created: new Date().toISOString() }) },
      { type: 'put', key: COUNTER_KEY, value: encodeCounter(counter) },
    ],
    { sync: true },
  );
  if (first.length > 0)
    log.info({ dir, commits: counter.commits }, 'adopted a data folder without integrity records (written by an older twinhub, or repaired): checks start now');
  else log.info({ dir }, 'created a new data folder');
  return counter;
}

/** What `repairLevelStore` found. */
export interface RepairReport {
  /** Records per bucket after the repair. */
  buckets: Record<string, number>;
  /** Committed batches the folder reads after the repair. */
  commits: number;
  /** Committed batches the integrity file said it held before; undefined when there was none. */
  expectedCommits?: number;
}

/**
 * Repairs a stopped hub's data folder: LevelDB's own repair (it salvages every readable record
 * from logs and tables and rebuilds the manifest), then opens it with fresh integrity records, so
 * the hub starts again. Whatever was lost stays lost.
 */
export async function repairLevelStore(dir: string, options: LevelStoreOptions = {}): Promise<RepairReport> {
  try {
    await access(dir);
  } catch {
    throw new StoreError(`there is no data folder at ${dir} to repair`);
  }
  // Read apart from the folder checks (the folder is damaged, yet the count says what was lost);
  // a missing or unreadable sidecar only means the loss cannot be counted.
  const expectedCommits = (await readSidecar(dir).catch(() => undefined))?.commits;
  // LevelDB's repair takes no lock: opening first refuses a folder a running hub holds.
  const probe: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  try {
    await probe.open();
    await probe.close();
  } catch (error) {
    if (isLockHeld(error)) throw toStoreError(error, 'opening', dir);
  }
  try {
    await ClassicLevel.repair(dir);
  } catch (error) {
    throw toStoreError(error, 'repairing', dir);
  }
  const store = await openStore(dir, options, true);
  try {
    return { buckets: await store.census(), commits: store.commits, ...(expectedCommits === undefined ? {} : { expectedCommits }) };
  } finally {
    await store.close();
  }
}
