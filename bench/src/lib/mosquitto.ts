// Mosquitto as a second bare broker for the ingest scenario: Debian's /usr/sbin/mosquitto on a free
// 127.0.0.1 port with a temp config (anonymous, no persistence, errors to stderr only), its CPU time
// read from /proc/<pid>/stat; stop() kills it and removes its temp folder.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { removeTempDir, stop, tempDir, track } from './children.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_MISSING = 'skipped: install mosquitto (apt-get install mosquitto)';

export interface Mosquitto {
  url: string;
  /** CPU time (user + system) the broker used so far, ms. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts a broker (with `extraConfig` lines after the defaults), or resolves undefined when the binary is not installed. */
export async function startMosquitto(extraConfig: string[] = []): Promise<Mosquitto | undefined> {
  if (!existsSync(MOSQUITTO)) return undefined;
  const dir = await tempDir('mosquitto');
  try {
    const port = await freePort();
    const config = join(dir, 'mosquitto.conf');
    const lines = [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...extraConfig,
    ];
    await writeFile(config, `${lines.join('\n')}\n`);
    const child = track(spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    let failed = false;
    child.once('error', (error) => {
      failed = true;
      stderr += `${error.message}\n`;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const stopBroker = async () => {
      await stop(child, 3000);
      await removeTempDir(dir);
    };
    try {
      await untilListening(port, () => failed || child.exitCode !== null || child.signalCode !== null);
    } catch (error) {
      await stopBroker();
      throw new Error(`mosquitto did not start: ${(error as Error).message}${stderr ? `; it said: ${stderr.trim()}` : ''}`);
    }
    const ticks = clockTicks();
    return {
      url: `mqtt://127.0.0.1:${port}`,
      async cpuMs() {
        // /proc/<pid>/stat: the fields after "(comm)" start at field 3, so utime (14) and stime (15) are the 12th and 13th.
        const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return ((Number(fields[11]) + Number(fields[12])) / ticks) * 1000;
      },
      stop: stopBroker,
    };
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
}

/** A port free on 127.0.0.1 a moment ago (mosquitto takes no port 0): a race with other processes is unlikely and fails loudly. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function untilListening(port: number, exited: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error('it exited');
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (performance.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Clock ticks per second of /proc's CPU times: 100 on Linux unless `getconf CLK_TCK` says otherwise. */
function clockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}
