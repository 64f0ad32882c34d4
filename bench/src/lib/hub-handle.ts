// The parent's handle on a hub process (procs/hub.ts): start it on a fresh temp data folder,
// set it up, read its stats, stop it. With `profile`, measured phases are CPU-profiled.

import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { HubProcOptions, HubStats, SetupRequest, SetupResult } from '../procs/hub.js';
import { forkProc, nextMessage, removeTempDir, stop, tempDir } from './children.js';
import { callChild } from './ipc.js';

export interface HubUrls {
  http: string;
  ws: string;
  mqtt?: string;
}

export interface HubHandle {
  child: ChildProcess;
  urls: HubUrls;
  startupMs: number;
  setup(request: SetupRequest): Promise<SetupResult>;
  stats(): Promise<HubStats>;
  versions(thingIds: string[]): Promise<number>;
  /** How many of these Things and tokens the hub knows (a second instance learns them from the store's change feed). */
  knows(thingIds: string[], tokens: string[]): Promise<{ things: number; tokens: number }>;
  /** History samples of one property (at most 1000). */
  historyCount(thingId: string, name: string): Promise<number>;
  /** Runs `phase`; with profiling on, the hub's CPU profile of just that phase goes to bench/profiles. */
  measure<T>(label: string, phase: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Where --cpu-prof profiles go (bench/profiles, ignored by git). */
export const PROFILE_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

/**
 * Waits until `hub` knows every Thing and token of `setup` (made on another instance of the same
 * store); rejects after `timeoutMs`.
 */
export async function awaitPeerSetup(hub: HubHandle, setup: SetupResult, timeoutMs = 30_000): Promise<void> {
  const thingIds = setup.agents.flatMap((a) => a.thingIds);
  const tokens = [...setup.agents, ...setup.viewers, ...setup.operators].map((c) => c.token);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const known = await hub.knows(thingIds, tokens);
    if (known.things === thingIds.length && known.tokens === tokens.length) return;
    if (performance.now() > deadline)
      throw new Error(`the second hub knows ${known.things}/${thingIds.length} Things and ${known.tokens}/${tokens.length} tokens after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startHubProc(options: Omit<HubProcOptions, 'dataDir'> & { profile?: string } = {}): Promise<HubHandle> {
  const dataDir = await tempDir('hub');
  const { profile, ...procOptions } = options;
  if (profile) await mkdir(PROFILE_DIR, { recursive: true });
  const child = forkProc('hub', [JSON.stringify({ ...procOptions, dataDir } satisfies HubProcOptions)]);
  try {
    const ready = await nextMessage<{ urls: HubUrls; startupMs: number }>(child, 'ready', 60_000);
    return {
      child,
      urls: ready.urls,
      startupMs: ready.startupMs,
      setup: (request) => callChild<SetupResult>(child, 'setup', request, 300_000),
      stats: () => callChild<HubStats>(child, 'stats'),
      versions: (thingIds) => callChild<number>(child, 'versions', { thingIds }),
      knows: (thingIds, tokens) => callChild<{ things: number; tokens: number }>(child, 'knows', { thingIds, tokens }),
      historyCount: (thingId, name) => callChild<number>(child, 'historyCount', { thingId, name }),
      async measure(label, phase) {
        if (!profile) return phase();
        await callChild(child, 'profileStart');
        try {
          return await phase();
        } finally {
          await callChild(child, 'profileStop', { file: `${PROFILE_DIR}${profile}-${label}.cpuprofile` });
        }
      },
      async close() {
        await callChild(child, 'close', {}, 30_000).catch(() => undefined);
        await stop(child, 10_000);
        await removeTempDir(dataDir);
      },
    };
  } catch (error) {
    await stop(child, 1000);
    await removeTempDir(dataDir);
    throw error;
  }
}
