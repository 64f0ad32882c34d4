// Starting whole hubs (as `twinhub serve` does) for end-to-end tests: a LevelDB data folder in a
// temp dir, ephemeral ports on 127.0.0.1, and one token per role.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, startHub, type HubConfig, type RunningHub } from '@twinhub/hub';
import { createTokens as createRoleTokens, type RoleTokens } from '@twinhub/testkit';
import { pino } from 'pino';

export type Tokens = RoleTokens;

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

/** One token per role (clients agent-1, agent-2, operator-1, viewer-1, admin-1), from the test kit. */
export function createTokens(running: RunningHub): Promise<Tokens> {
  return createRoleTokens(running.hub);
}

// ---- the hub as a child process (`twinhub serve`), for crash and shutdown tests -----------------

const CLI = fileURLToPath(new URL('../../packages/hub/dist/cli.js', import.meta.url));

export interface ChildHub {
  readonly child: ChildProcess;
  urls: { http: string; ws: string; mqtt?: string };
  /** The admin token printed on the first start of a data folder. */
  firstAdminToken?: string;
  /** Resolves when the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the process printed on start (URLs, data folder, first admin token). */
  readonly banner: string;
  /** Everything the process wrote to stderr so far (logs, errors). */
  stderr(): string;
}

/** Runs the twinhub CLI to completion with extra environment variables; resolves its exit and output. */
export async function cliResult(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

/** Runs the twinhub CLI to completion (e.g. `token create`); rejects on a non-zero exit. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 15_000): Promise<{ stdout: string; stderr: string }> {
  const { code, signal, stdout, stderr } = await cliResult(args, env, timeoutMs);
  if (code !== 0) throw new Error(`twinhub ${args.join(' ')} exited with ${code ?? signal}: ${stderr}`);
  return { stdout, stderr };
}

/** `twinhub token create` on a data folder (the hub must not be running on it). */
export async function cliToken(dataDir: string, role: 'admin' | 'agent' | 'operator' | 'viewer', id: string): Promise<string> {
  const { stdout } = await runCli(['token', 'create', '--data', dataDir, '--role', role, '--id', id]);
  const token = stdout.trim();
  if (!token) throw new Error(`token create for ${id} printed no token`);
  return token;
}

/**
 * Starts `twinhub serve` on `dataDir` with ephemeral ports on 127.0.0.1 and waits for its banner
 * (URLs, and the first-start admin token). Kill it with `child.kill(signal)` and await `exited`.
 */
export async function spawnHub(dataDir: string, extraArgs: string[] = [], timeoutMs = 15_000, env: NodeJS.ProcessEnv = {}): Promise<ChildHub> {
  const args = [CLI, 'serve', '--data', dataDir, '--http-port', '0', '--mqtt-port', '0', '--host', '127.0.0.1', ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TWINHUB_LOG_LEVEL: 'warn', ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`twinhub serve did not start within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    // The banner is written in one piece; it is complete once the data line (and the token line after "First start") arrived.
    const complete = () => /^ {2}data .*\n/m.test(stdout) && (!stdout.includes('First start') || /First start.*\n {2}\S+\n/.test(stdout));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (complete()) {
        clearTimeout(timer);
        resolve(stdout);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`twinhub serve exited (${code ?? signal}) before it started: ${stderr}`));
    });
  });
  const url = (label: string) => new RegExp(`^ {2}${label} +(\\S+)$`, 'm').exec(banner)?.[1];
  const http = url('HTTP')?.replace(/\/things$/, '');
  const ws = url('WS');
  if (!http || !ws) throw new Error(`unexpected banner: ${banner}`);
  const mqtt = url('MQTT');
  const firstAdminToken = /First start.*\n {2}(\S+)\n/.exec(banner)?.[1];
  return {
    child,
    urls: { http, ws, ...(mqtt ? { mqtt } : {}) },
    ...(firstAdminToken ? { firstAdminToken } : {}),
    exited,
    banner,
    stderr: () => stderr,
  };
}
