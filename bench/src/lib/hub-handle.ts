// The parent's handle on a hub process (procs/hub.ts): start it on a fresh temp data folder,
// set it up, read its stats, stop it. With `profile`, the hub runs under --cpu-prof.

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
  close(): Promise<void>;
}

/** Where --cpu-prof profiles go (bench/profiles, ignored by git). */
export const PROFILE_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

export async function startHubProc(options: Omit<HubProcOptions, 'dataDir'> & { profile?: string } = {}): Promise<HubHandle> {
  const dataDir = await tempDir('hub');
  const execArgv: string[] = [];
  if (options.profile) {
    await mkdir(PROFILE_DIR, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${options.profile}-${Date.now()}.cpuprofile`);
  }
  const { profile: _profile, ...procOptions } = options;
  const child = forkProc('hub', [JSON.stringify({ ...procOptions, dataDir } satisfies HubProcOptions)], execArgv);
  try {
    const ready = await nextMessage<{ urls: HubUrls; startupMs: number }>(child, 'ready', 60_000);
    return {
      child,
      urls: ready.urls,
      startupMs: ready.startupMs,
      setup: (request) => callChild<SetupResult>(child, 'setup', request, 300_000),
      stats: () => callChild<HubStats>(child, 'stats'),
      versions: (thingIds) => callChild<number>(child, 'versions', { thingIds }),
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
