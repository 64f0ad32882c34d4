// Test harness: a real NATS JetStream cluster of `nats-server` processes on free loopback ports,
// each with its own temporary store directory. Used by this package's tests and, later, by the
// multi-instance hub tests (exported as `@twinhub/storage-nats/testing`).
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/** Where `nats-server` is (PATH, then Debian's /usr/sbin), or undefined when it is not installed. */
export function natsServerPath(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The reason to give `node:test`'s `skip` when the binary is missing, or false when tests can run. */
export function natsSkipReason(): string | false {
  return natsServerPath() === undefined
    ? 'nats-server is not installed: run `bash .ci/nats.sh` (or `sudo apt-get install -y nats-server`) to run the NATS tests'
    : false;
}

/** A port nobody listens on right now (the OS picks it; a tiny race with other processes is accepted). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One server of the cluster; `stop` and `start` keep its ports and store directory (a restart). */
export interface NatsNode {
  readonly name: string;
  readonly url: string;
  readonly running: boolean;
  /** SIGKILL (no clean shutdown, as a crash would be); resolves once the process is gone. */
  kill(): Promise<void>;
  start(): void;
}

export interface NatsCluster {
  /** Client URLs of every server, e.g. for `NatsStore.open({ servers })`. */
  readonly servers: string[];
  readonly nodes: readonly NatsNode[];
  /** Resolves once JetStream answers through some server (a meta leader is elected). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** The name of the server leading a stream's RAFT group (the one whose death forces an election). */
  streamLeader(stream: string): Promise<string>;
  /** Kills every server and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts `size` JetStream servers routed to each other as one cluster (size 1: a lone server
 * without clustering) and waits until JetStream is ready. Throws when `nats-server` is missing.
 * `advertise: false` keeps the servers from telling clients the others' URLs, so a client given
 * one server stays cut off while that server is down (a partitioned instance).
 */
export async function startNatsCluster(options: { size?: number; advertise?: boolean } = {}): Promise<NatsCluster> {
  const binary = natsServerPath();
  if (binary === undefined) throw new Error(String(natsSkipReason()));
  const size = options.size ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'twinhub-nats-'));
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(',');
  const nodes = clientPorts.map((port, i) => {
    const name = `n${i + 1}`;
    const args = ['-a', '127.0.0.1', '-p', String(port), '-n', name, '-js', '-sd', join(root, name)];
    if (size > 1) args.push('--cluster_name', 'twinhub-test', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes);
    if (options.advertise === false) args.push('--no_advertise=true');
    return new ServerProcess(binary, name, `nats://127.0.0.1:${port}`, args);
  });
  for (const node of nodes) node.start();
  const cluster: NatsCluster = {
    servers: nodes.map((node) => node.url),
    nodes,
    async waitReady(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          const nc = await connect({ servers: nodes.filter((n) => n.running).map((n) => n.url), timeout: 1000, reconnect: false });
          try {
            const jsm = await jetstreamManager(nc, { timeout: 1000 });
            await jsm.getAccountInfo();
            return;
          } finally {
            await nc.close();
          }
        } catch (error) {
          last = error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const logs = nodes.map((node) => `--- ${node.name} ---\n${node.log()}`).join('\n');
      throw new Error(`the NATS cluster was not ready within ${timeoutMs} ms: ${String(last)}\n${logs}`);
    },
    async streamLeader(stream) {
      const nc = await connect({ servers: nodes.filter((n) => n.running).map((n) => n.url), timeout: 2000, reconnect: false });
      try {
        const info = await (await jetstreamManager(nc, { timeout: 2000 })).streams.info(stream);
        const leader = info.cluster?.leader;
        if (leader === undefined) throw new Error(`stream ${stream} has no leader now`);
        return leader;
      } finally {
        await nc.close();
      }
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.kill()));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await cluster.waitReady();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** A `nats-server` child process that can be killed and started again with the same arguments. */
class ServerProcess implements NatsNode {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    private readonly binary: string,
    readonly name: string,
    readonly url: string,
    private readonly args: string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  start(): void {
    if (this.child !== undefined) return;
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    // Keep the tail of the log for error messages; nats-server logs to stderr.
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    });
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    this.child = child;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** The server's recent log lines, for a failing test's message. */
  log(): string {
    return this.output;
  }
}
