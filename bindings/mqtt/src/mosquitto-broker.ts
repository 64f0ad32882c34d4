// A real Mosquitto for tests (subpath `@twinhub/binding-mqtt/testing`): finds the binary, starts
// one on a free 127.0.0.1 port with its own temporary folder, and stops it again. Tests that need
// it skip with MOSQUITTO_SKIP_HINT where it is not installed.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** mosquitto on PATH (Debian puts it in /usr/sbin, which a non-root PATH may lack). */
export function findMosquitto(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, 'mosquitto')).find((path) => path.startsWith('/') && existsSync(path));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const MOSQUITTO_SKIP_HINT = 'mosquitto not found on PATH; run .ci/mosquitto.sh (apt-get install mosquitto mosquitto-clients) to enable';

export interface MosquittoBroker {
  /** mqtt://127.0.0.1:port */
  readonly url: string;
  /** Kills the broker and removes its folder. */
  stop(): Promise<void>;
}

/** Starts Mosquitto (MQTT 3.1.1 and 5) on a free loopback port; anonymous clients, no persistence, plus `extraConfig` lines. */
export async function startMosquitto(extraConfig = ''): Promise<MosquittoBroker> {
  const binary = findMosquitto();
  if (!binary) throw new Error(MOSQUITTO_SKIP_HINT);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'twinhub-mosquitto-'));
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n${extraConfig}`);
  const broker = spawn(binary, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  const exited = once(broker, 'exit');
  try {
    await waitForPort(port);
  } catch (error) {
    broker.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      if (broker.exitCode === null && broker.signalCode === null) {
        broker.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
