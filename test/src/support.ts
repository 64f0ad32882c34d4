// Starting whole hubs (as `twinhub serve` does) for end-to-end tests: a LevelDB data folder in a
// temp dir, ephemeral ports on 127.0.0.1, and one token per role.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, startHub, type HubConfig, type RunningHub } from '@twinhub/hub';
import { pino } from 'pino';

export interface Tokens {
  admin: string;
  agent: string;
  otherAgent: string;
  operator: string;
  viewer: string;
}

export async function tempDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'twinhub-e2e-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function testConfig(dataDir: string, overrides: Partial<HubConfig> = {}): HubConfig {
  return { ...defaultConfig(), dataDir, host: '127.0.0.1', httpPort: 0, mqttPort: 0, logLevel: 'silent', ...overrides };
}

export async function startTestHub(dataDir: string, overrides: Partial<HubConfig> = {}): Promise<RunningHub> {
  return startHub(testConfig(dataDir, overrides), pino({ level: process.env.TWINHUB_TEST_LOG ?? 'silent' }));
}

/** One token per role (clients agent-1, agent-2, operator-1, viewer-1, admin-1). */
export async function createTokens(running: RunningHub): Promise<Tokens> {
  const create = async (id: string, role: 'admin' | 'agent' | 'operator' | 'viewer') => (await running.hub.tokens.create({ id, role })).token;
  return {
    admin: await create('admin-1', 'admin'),
    agent: await create('agent-1', 'agent'),
    otherAgent: await create('agent-2', 'agent'),
    operator: await create('operator-1', 'operator'),
    viewer: await create('viewer-1', 'viewer'),
  };
}
