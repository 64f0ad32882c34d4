// Directory load: registering TDs over HTTP with a fixed number of concurrent clients, and
// read-only request storms with autocannon (latency of every response kept for percentiles).

import http from 'node:http';
import autocannon from 'autocannon';
import { assertLoopback, enc, httpJson } from '../lib/clients.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import { benchTd } from '../lib/td.js';

export interface RegisterParams {
  http: string;
  agents: Array<{ id: string; token: string; thingIds: string[] }>;
  types: string[];
  concurrency: number;
}

export interface RegisterResult {
  registered: number;
  failed: number;
  durationMs: number;
  perSecond: number;
  latency: LatencySummary;
}

export async function register(p: RegisterParams): Promise<RegisterResult> {
  assertLoopback(p.http);
  const jobs = p.agents.flatMap((agent) => agent.thingIds.map((id) => ({ id, token: agent.token })));
  const agent = new http.Agent({ keepAlive: true, maxSockets: p.concurrency });
  const latencies: number[] = [];
  let next = 0;
  let registered = 0;
  let failed = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: p.concurrency }, async () => {
      while (next < jobs.length) {
        const i = next++;
        const t = performance.now();
        const status = await httpJson(agent, p.http, 'PUT', `/things/${enc(jobs[i].id)}`, jobs[i].token, benchTd(jobs[i].id, p.types[i % p.types.length]));
        latencies.push(performance.now() - t);
        if (status === 201 || status === 200) registered++;
        else failed++;
      }
    }),
  );
  const durationMs = performance.now() - start;
  agent.destroy();
  return { registered, failed, durationMs, perSecond: registered / (durationMs / 1000), latency: summarize(latencies) };
}

export interface CannonParams {
  url: string;
  /** Paths requested round robin. */
  paths: string[];
  token: string;
  connections: number;
  durationMs: number;
}

export interface CannonResult {
  requests: number;
  perSecond: number;
  non2xx: number;
  errors: number;
  bytesPerSecond: number;
  latency: LatencySummary;
}

export async function cannon(p: CannonParams): Promise<CannonResult> {
  assertLoopback(p.url);
  const latencies: number[] = [];
  let counter = 0;
  let finished: (error: Error | null, result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => (finished = (error, result) => (error ? reject(error) : resolve(result))));
  const instance = autocannon(
    {
      url: p.url,
      connections: p.connections,
      duration: p.durationMs / 1000,
      headers: { Authorization: `Bearer ${p.token}` },
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: p.paths[counter++ % p.paths.length] }) }],
    },
    (error, result) => finished(error, result),
  );
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const result = await done;
  return {
    requests: result.requests.total,
    perSecond: result.requests.total / (p.durationMs / 1000),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    bytesPerSecond: result.throughput.average,
    latency: summarize(latencies),
  };
}
