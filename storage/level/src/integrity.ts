// Integrity checks of a LevelDB data folder, so damage fails loudly instead of losing data
// silently: the folder is inspected before LevelDB may create anything in it, and a small fsynced
// sidecar file remembers how many batches were committed, to compare with what the store reads.
import { open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '@twinhub/bucket';
import { repairAdvice } from './errors.js';

/** The sidecar's file name inside the data folder (LevelDB ignores files it did not name). */
export const SIDECAR_FILE = 'twinhub-integrity.json';

/** The sidecar: the commit counter at the last start or clean stop, which the store must still reach. */
export interface Sidecar {
  format: 1;
  commits: number;
  revision: number;
  /** true: written by a clean close (everything was synced); false: by an open, the hub may have crashed since. */
  cleanClose: boolean;
  updated: string;
}

/** What the folder holds before LevelDB opens it. */
export interface FolderState {
  /** Nothing of a store is there yet: LevelDB may create one. */
  fresh: boolean;
  sidecar?: Sidecar;
}

const corrupt = (dir: string, what: string): StoreError =>
  new StoreError(`refusing to open the data folder ${dir}: ${what}; ${repairAdvice(dir)}`, { code: 'corrupt' });

/** LevelDB's own data files: the manifest, write-ahead logs and tables (not LOCK or the info LOG). */
const isLevelDataFile = (name: string): boolean => /^MANIFEST-\d+$/.test(name) || /^\d+\.(log|ldb|sst)$/.test(name);

/**
 * Checks the folder before LevelDB touches it: LevelDB would silently create an empty store in a
 * folder whose CURRENT file is gone, and the hub would then serve (and hand out a new admin
 * token over) nothing. Only an absent or store-less folder is `fresh`.
 */
export async function inspectFolder(dir: string): Promise<FolderState> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { fresh: true };
    throw error;
  }
  const sidecar = names.includes(SIDECAR_FILE) ? await readSidecar(dir) : undefined;
  if (!names.includes('CURRENT')) {
    const files = names.filter(isLevelDataFile);
    if (files.length > 0)
      return Promise.reject(corrupt(dir, `it holds LevelDB files (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', ...' : ''}) but no CURRENT file`));
    if (sidecar) return Promise.reject(corrupt(dir, `its integrity file says it held ${sidecar.commits} committed batches, but its LevelDB files are gone`));
    return { fresh: true };
  }
  const manifest = (await readFile(join(dir, 'CURRENT'), 'utf8')).trim();
  if (!/^MANIFEST-\d+$/.test(manifest) || !names.includes(manifest)) {
    throw corrupt(
      dir,
      `its CURRENT file names ${JSON.stringify(manifest.slice(0, 40))}, which is ${/^MANIFEST-\d+$/.test(manifest) ? 'missing' : 'not a LevelDB manifest'}`,
    );
  }
  return { fresh: false, ...(sidecar ? { sidecar } : {}) };
}

/** The sidecar's content; rejects 'corrupt' when it is unreadable (ENOENT when there is none). */
export async function readSidecar(dir: string): Promise<Sidecar> {
  const text = await readFile(join(dir, SIDECAR_FILE), 'utf8');
  try {
    const sidecar = JSON.parse(text) as Partial<Sidecar>;
    if (sidecar.format === 1 && Number.isSafeInteger(sidecar.commits) && Number.isSafeInteger(sidecar.revision) && typeof sidecar.cleanClose === 'boolean') {
      return sidecar as Sidecar;
    }
  } catch {
    // reported below, like any other unreadable content
  }
  throw corrupt(dir, `its integrity file ${SIDECAR_FILE} is unreadable`);
}

/** Replaces the sidecar atomically and durably (temp file, fsync, rename, fsync of the folder). */
export async function writeSidecar(dir: string, state: Omit<Sidecar, 'format' | 'updated'>): Promise<void> {
  const sidecar: Sidecar = { format: 1, ...state, updated: new Date().toISOString() };
  const temp = join(dir, `${SIDECAR_FILE}.tmp`);
  const file = await open(temp, 'w');
  try {
    await file.writeFile(`${JSON.stringify(sidecar)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, join(dir, SIDECAR_FILE));
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/**
 * Compares what the store reads with what the sidecar says it held; throws 'corrupt' when
 * committed batches are missing. `commits` undefined: the store has no marker record.
 */
export function checkAgainstSidecar(dir: string, sidecar: Sidecar, commits: number | undefined): void {
  if (commits === undefined) {
    throw corrupt(
      dir,
      `it was in use (its integrity file counts ${sidecar.commits} committed batches) but its marker record is gone, so its contents were lost or replaced`,
    );
  }
  if (commits < sidecar.commits) {
    const lost = sidecar.commits - commits;
    throw corrupt(
      dir,
      `${lost} acknowledged write batch${lost === 1 ? ' is' : 'es are'} missing: it reads ${commits} of the ${sidecar.commits} committed batches it held when the hub last ${sidecar.cleanClose ? 'stopped cleanly' : 'started'} (a truncated or lost LevelDB log)`,
    );
  }
}
