// Child processes of a benchmark run (hub, brokers, load generators) and temp folders: all are
// tracked here so that run.ts can kill and remove every one of them, whatever went wrong.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { awaitMessage } from './ipc.js';

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
/** Other resources to release on cleanup (e.g. a NATS cluster), each removed once it ran. */
const cleanups = new Set<() => Promise<void>>();

/** dist/procs/<name>.js of this package. */
export function procScript(name: string): string {
  return fileURLToPath(new URL(`../procs/${name}.js`, import.meta.url));
}

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Forks one of our procs/*.js with IPC; stderr is passed through so crashes are visible. */
export function forkProc(name: string, args: string[] = [], execArgv: string[] = []): ChildProcess {
  return track(fork(procScript(name), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }));
}

export function spawnNode(args: string[], options: { cwd?: string } = {}): ChildProcess {
  return track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
}

/** The first IPC message of `type` from the child; rejects on an `error` message, if it exits first or the time runs out. */
export function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return awaitMessage<T>(
    child,
    (message) => {
      const m = message as { type?: string; error?: string };
      if (m?.type === 'error') return new Error(`child ${child.pid}: ${m.error}`);
      return m?.type === type ? { value: message as T } : undefined;
    },
    timeoutMs,
    `waiting for '${type}'`,
  );
}

/** Forks a load generator with its parameters, waits for its one result, and lets it exit. */
export async function runLoad<T>(job: string, params: unknown, timeoutMs: number): Promise<T> {
  const child = forkProc('load', [job]);
  child.send({ type: 'params', params });
  try {
    return (await nextMessage<{ result: T }>(child, 'result', timeoutMs)).result;
  } finally {
    await stop(child, 2000);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `twinhub-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Registers `release` to run on cleanup unless the returned function ran it first (then it is forgotten). */
export function onCleanup(release: () => Promise<void>): () => Promise<void> {
  cleanups.add(release);
  return async () => {
    if (!cleanups.delete(release)) return;
    await release();
  };
}

/** Kills every child still running, releases every registered resource and removes every temp folder. */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...children].map((child) => stop(child, 2000)));
  const pending = [...cleanups];
  cleanups.clear();
  await Promise.all(pending.map((release) => release().catch(() => undefined)));
  await Promise.all([...tempDirs].map((dir) => removeTempDir(dir)));
}
