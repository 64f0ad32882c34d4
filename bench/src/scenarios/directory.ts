// Scenario 3, directory: register TDs over HTTP, then GET /things/{id} and list by @type with 50
// concurrent clients (autocannon), against a bare node:http server sending the same bytes.

import { forkProc, nextMessage, runLoad, stop } from '../lib/children.js';
import { startHubProc } from '../lib/hub-handle.js';
import { enc } from '../lib/clients.js';
import { fmt, int, pcts } from '../lib/stats.js';
import { benchThingId } from '../lib/td.js';
import type { ScenarioReport } from '../lib/report.js';
import type { CannonParams, CannonResult, RegisterParams, RegisterResult } from '../load/directory.js';
import type { RawBody } from '../procs/raw-http.js';
import type { ScenarioContext } from './context.js';

const CONNECTIONS = 50;
const AGENTS = 10;
const TYPES = Array.from({ length: 10 }, (_, i) => `BenchType${i}`);

export async function directoryScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const total = ctx.quick ? 2000 : 10_000;
  const durationMs = ctx.quick ? 1000 : 10_000;
  const hub = await startHubProc(ctx.profile ? { profile: 'directory' } : {});
  const raw = { child: undefined as ReturnType<typeof forkProc> | undefined };
  try {
    const setup = await hub.setup({ agents: Array.from({ length: AGENTS }, (_, i) => ({ id: `dir-agent-${i}`, things: 0 })), viewers: ['dir-viewer'] });
    const agents = setup.agents.map((a) => ({ ...a, thingIds: Array.from({ length: total / AGENTS }, (_, i) => benchThingId(a.id, i)) }));
    const registration = await hub.measure('register', () =>
      runLoad<RegisterResult>('register', { http: hub.urls.http, agents, types: TYPES, concurrency: CONNECTIONS } satisfies RegisterParams, 300_000),
    );
    ctx.log(`  registered ${int(registration.registered)} TDs at ${int(registration.perSecond)}/s (${registration.failed} failed)`);

    const viewer = setup.viewers[0].token;
    const ids = agents.flatMap((a) => a.thingIds);
    const itemPaths = Array.from({ length: 1000 }, (_, i) => `/things/${enc(ids[(i * 7919) % ids.length])}`);
    const listPath = `/things?type=${TYPES[3]}`;
    const sample = async (path: string): Promise<RawBody & { bytes: number }> => {
      const res = await fetch(new URL(path, hub.urls.http), { headers: { Authorization: `Bearer ${viewer}` } });
      const bytes = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${bytes.toString()}`);
      return { contentType: res.headers.get('content-type') ?? 'application/json', base64: bytes.toString('base64'), bytes: bytes.length };
    };
    const item = await sample(itemPaths[0]);
    const list = await sample(listPath);
    raw.child = forkProc('raw-http');
    raw.child.send({ type: 'params', params: { item, list } });
    const { url: rawUrl } = await nextMessage<{ url: string }>(raw.child, 'ready', 10_000);

    const bench = async (url: string, paths: string[]) =>
      runLoad<CannonResult>('cannon', { url, paths, token: viewer, connections: CONNECTIONS, durationMs } satisfies CannonParams, durationMs + 30_000);
    const results = {
      hubItem: await hub.measure('get', () => bench(hub.urls.http, itemPaths)),
      rawItem: await bench(rawUrl, itemPaths),
      hubList: await hub.measure('list', () => bench(hub.urls.http, [listPath])),
      rawList: await bench(rawUrl, [listPath]),
    };
    for (const [name, r] of Object.entries(results)) ctx.log(`  ${name}: ${int(r.perSecond)} req/s, p99 ${fmt(r.latency.p99)} ms`);
    const row = (what: string, server: string, r: CannonResult, limit: CannonResult | undefined, bytes: number) => [
      what,
      server,
      int(r.perSecond),
      limit ? fmt(r.perSecond / limit.perSecond) : '1',
      pcts(r.latency),
      int(bytes),
      `${r.non2xx + r.errors}`,
    ];
    return {
      scenario: 'directory',
      title: `3. Directory: ${int(total)} TDs, ${CONNECTIONS} concurrent clients, ${durationMs / 1000} s per run`,
      params: { tds: total, agents: AGENTS, types: TYPES.length, connections: CONNECTIONS, durationMs, listPath },
      table: {
        headers: ['request', 'server', 'req/s', 'hub/raw', 'latency ms p50/p95/p99', 'body bytes', 'errors'],
        rows: [
          ['PUT /things/{id} (register)', 'hub', int(registration.perSecond), '–', pcts(registration.latency), '–', String(registration.failed)],
          row('GET /things/{id}', 'hub', results.hubItem, results.rawItem, item.bytes),
          row('GET /things/{id}', 'bare node:http', results.rawItem, undefined, item.bytes),
          row(`GET ${listPath}`, 'hub', results.hubList, results.rawList, list.bytes),
          row(`GET ${listPath}`, 'bare node:http', results.rawList, undefined, list.bytes),
        ],
      },
      targets: [],
      notes: [
        `Registration: ${AGENTS} agents PUT ${int(total)} TDs with ${CONNECTIONS} requests in flight. ${TYPES.length} @type values, so a type query matches ${int(total / TYPES.length)} Things and returns the default page (up to 100 twin TDs).`,
        'GET /things/{id} cycles through 1000 different Things. The bare server answers every request with the bytes the hub sent for the same kind of request (the limit: HTTP parsing and writing only).',
      ],
      data: { registration, results, bodyBytes: { item: item.bytes, list: list.bytes } },
    };
  } finally {
    if (raw.child) await stop(raw.child);
    await hub.close();
  }
}
