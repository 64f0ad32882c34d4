// Helpers for the cluster outage tests: `twinhub serve` processes on a NATS cluster, a client
// transport that fails over between hub instances, a tap on an agent's wire (what the hub delivered
// and what it confirmed), and a load generator that keeps a ledger of every acknowledged operation.

import { randomBytes } from 'node:crypto';
import {
  type AgentClient,
  type ConsumerClient,
  fallbackTransport,
  type Link,
  type Transport,
  TwinhubError,
  openNodeWebSocket,
  wsTransport,
} from '@twinhub/client';
import type { RequestEnvelope } from '@twinhub/client';
import { runCli, spawnHub, type ChildHub } from './support.js';

/** An admin token every hub process accepts without storing it (TWINHUB_ADMIN_TOKEN). */
export function bootstrapAdminToken(): string {
  return `th_${randomBytes(32).toString('hex')}`;
}

/**
 * Starts `twinhub serve` on the NATS servers (`--nats` each), HTTP/WS on a free port, no MQTT.
 * The data folder only has to exist: in cluster mode the records live in JetStream.
 */
export function spawnClusterHub(dataDir: string, servers: readonly string[], adminToken: string): Promise<ChildHub> {
  const args = [...servers.flatMap((url) => ['--nats', url]), '--no-mqtt', '--max-queued-requests', '20000'];
  return spawnHub(dataDir, args, 30_000, { TWINHUB_ADMIN_TOKEN: adminToken });
}

/** SIGKILL (no chance to flush or say goodbye), resolved once the process is gone. */
export async function killHub(hub: ChildHub | undefined): Promise<void> {
  if (!hub || hub.child.exitCode !== null || hub.child.signalCode !== null) return;
  hub.child.kill('SIGKILL');
  await hub.exited;
}

/** `twinhub token create` through a running hub's HTTP API. */
export async function createToken(hub: ChildHub, adminToken: string, role: 'agent' | 'operator', id: string): Promise<string> {
  const { stdout } = await runCli(['token', 'create', '--url', hub.urls.http, '--role', role, '--id', id], { TWINHUB_TOKEN: adminToken });
  const token = stdout.trim();
  if (!token.startsWith('th_')) throw new Error(`token create for ${id} printed ${stdout}`);
  return token;
}

/** One HTTP call with a JSON body, bounded by `timeoutMs` (an abort is a failure of the caller's check, never a hang). */
export async function httpCall(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; contentType: string; body: unknown; text: string }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(new URL(path, base), {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: parsed, text };
}

/**
 * What an agent's wire carried: every request the hub delivered, and for each request the moment
 * the hub confirmed the agent's first status report (its acknowledgement). A delivery of a request
 * after its acknowledgement was confirmed is a duplicate the hub must never make.
 */
export class AgentWireTap {
  /** actionId → how many times the hub delivered it. */
  readonly deliveries = new Map<string, number>();
  /** actionIds whose acknowledgement (a status report) the hub confirmed. */
  readonly acknowledged = new Set<string>();
  /** Deliveries of an acknowledged request: must stay empty. */
  readonly afterAck: string[] = [];
  /** Deliveries of a request delivered before but not acknowledged yet (at least once: allowed). */
  redeliveredBeforeAck = 0;
  private readonly statusReports = new Map<string, string>();

  /** Wraps a transport so that every link it opens is observed. */
  wrap(transport: Transport): Transport {
    return {
      name: transport.name,
      open: async (handlers) => {
        const link = await transport.open({
          closed: (info) => handlers.closed(info),
          message: (message) => {
            if (message.type === 'request') this.delivered(message.actionId);
            else if (message.type === 'response' && message.correlationId !== undefined) this.answered(message.correlationId, message.status);
            handlers.message(message);
          },
        });
        const tapped: Link = {
          send: (request: RequestEnvelope) => {
            if (request.operation === 'updateactionstatus' && request.actionId !== undefined) this.statusReports.set(request.correlationId, request.actionId);
            link.send(request);
          },
          close: () => link.close(),
          ...(link.receiveRequests ? { receiveRequests: () => link.receiveRequests!() } : {}),
        };
        return tapped;
      },
    };
  }

  private delivered(actionId: string): void {
    const count = this.deliveries.get(actionId) ?? 0;
    this.deliveries.set(actionId, count + 1);
    if (this.acknowledged.has(actionId)) this.afterAck.push(actionId);
    else if (count > 0) this.redeliveredBeforeAck += 1;
  }

  private answered(correlationId: string, status: number): void {
    const actionId = this.statusReports.get(correlationId);
    if (actionId === undefined) return;
    this.statusReports.delete(correlationId);
    if (status < 300) this.acknowledged.add(actionId);
  }
}

/**
 * A WebSocket transport that opens its link on the first hub of `urls` that answers: when the
 * instance a client used dies, the client's own reconnect loop lands on the next one.
 */
export function failoverTransport(urls: readonly string[], token: string): Transport {
  return fallbackTransport(urls.map((url) => wsTransport({ url, token, open: openNodeWebSocket })));
}

/** Client options for the tests: quick reconnects (the default backoff grows to 30 s), no console warnings. */
export const quickClient = { backoff: { initialMs: 50, maxMs: 500 }, requestTimeoutMs: 15_000, onWarning: () => undefined } as const;

/** Everything a load phase got acknowledged, and what it could not get. */
export interface Ledger {
  /** The last report value the hub acknowledged, and the last one sent (the view holds one in between). */
  reported: { acked: number; sent: number };
  /** Queued requests the hub acknowledged (the consumer got the record back), by actionId. */
  requests: Map<string, { operation: 'writeproperty' | 'invokeaction'; n: number }>;
  /** Written values acknowledged: the last one, and the last one sent. */
  written: { acked: number; sent: number };
  /** Operations refused with 503 (store or hub unavailable) and tried again. */
  retried503: number;
  /** Other failures (link lost mid-request, timeouts): the operation may or may not have been made. */
  unconfirmed: number;
  /** Refusals other than 503: the test fails on any. */
  refusals: string[];
}

export function newLedger(): Ledger {
  return { reported: { acked: 0, sent: 0 }, requests: new Map(), written: { acked: 0, sent: 0 }, retried503: 0, unconfirmed: 0, refusals: [] };
}

export interface LoadTarget {
  thingId: string;
  agent: AgentClient;
  /** Who writes `target` and who invokes `move` (may be the same client). */
  writer: ConsumerClient;
  invoker: ConsumerClient;
  /** Values of this phase: base + n, so phases never reuse a value. */
  base: number;
}

/** A running load: `ops` counts acknowledged operations so far. */
export interface Load {
  readonly ops: () => number;
  /** Starts no new operation (one in flight may still wait, e.g. a report buffered until the store is back). */
  halt(): void;
  /** Halts and waits until every loop's last operation settled. */
  stop(): Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Three sequential loops (modest load, tens of operations per second each): the agent reports
 * `level`, one consumer writes `target`, another invokes `move`. Each records what was
 * acknowledged in `ledger`; a 503 is retried with a new value (it was not made: nothing to keep).
 */
export function startLoad(target: LoadTarget, ledger: Ledger, paceMs = { report: 15, request: 40 }): Load {
  let running = true;
  let ops = 0;
  const outcome = (error: unknown): void => {
    if (error instanceof TwinhubError && error.status === 503 && error.title !== 'Connection Lost') ledger.retried503 += 1;
    else if (error instanceof TwinhubError && [503, 504].includes(error.status)) ledger.unconfirmed += 1;
    else ledger.refusals.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  };
  const loop = async (op: (n: number) => Promise<void>, pace: number) => {
    for (let n = 1; running; n++) {
      try {
        await op(n);
        ops += 1;
      } catch (error) {
        outcome(error);
      }
      await pause(pace);
    }
  };
  const loops = [
    loop(async (n) => {
      const value = target.base + n;
      ledger.reported.sent = value;
      await target.agent.report(target.thingId, { level: value });
      ledger.reported.acked = Math.max(ledger.reported.acked, value);
    }, paceMs.report),
    loop(async (n) => {
      const value = target.base + n;
      ledger.written.sent = value;
      const handle = await target.writer.write(target.thingId, 'target', value);
      ledger.written.acked = value;
      ledger.requests.set(handle.actionId, { operation: 'writeproperty', n: value });
    }, paceMs.request),
    loop(async (n) => {
      const value = target.base + n;
      const handle = await target.invoker.invoke(target.thingId, 'move', { n: value });
      ledger.requests.set(handle.actionId, { operation: 'invokeaction', n: value });
    }, paceMs.request),
  ];
  return {
    ops: () => ops,
    halt() {
      running = false;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}
