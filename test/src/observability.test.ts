// Metrics, access log and the bounded stop, end to end: /metrics on its own port parsed as
// Prometheus text after traffic over HTTP, SSE, WS and MQTT; access log lines without tokens; a
// hub whose close hangs exits 1 naming the part; a healthy `twinhub serve` stops with 0.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import parsePrometheus from 'parse-prometheus-text-format';
import { jsonRequest, lampTd, openSse } from '@twinhub/binding-http/testing';
import { connectMqtt, connectRefusal } from '@twinhub/binding-mqtt/testing';
import { connectWs, refusedUpgrade } from '@twinhub/binding-ws/testing';
import { DEFAULT_LIMITS } from '@twinhub/core';
import { startHub, type RunningHub } from '@twinhub/hub';
import { captureLogs, eventually } from '@twinhub/testkit';
import { createTokens, spawnHub, tempDataDir, testConfig, type Tokens } from './support.js';

const LAMP = 'urn:dev:ops:observed-lamp';
const lampPath = (suffix = '') => `/things/${encodeURIComponent(LAMP)}${suffix}`;

async function scrape(url: string) {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return new Map(parsePrometheus(await response.text()).map((family) => [family.name, family]));
}
type Families = Awaited<ReturnType<typeof scrape>>;

/** Sum of a counter's or gauge's samples whose labels include `labels`. */
function total(families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  assert.ok(family, `family ${name} is exposed`);
  return family.metrics
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value))
    .reduce((sum, sample) => sum + Number(sample.value), 0);
}

describe('metrics and access log', { timeout: 60_000 }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const logs = captureLogs('info');

  before(async () => {
    data = await tempDataDir();
    // A small send buffer, so that a client that stops reading is dropped after a few updates.
    const config = testConfig(data.dir, { metricsPort: 0, logLevel: 'info', limits: { ...DEFAULT_LIMITS, maxSendBufferBytes: 64 * 1024 } });
    running = await startHub(config, logs.logger);
    tokens = await createTokens(running);
  });

  after(async () => {
    await running.close();
    await data.remove();
  });

  it('counts operations, sessions, notifications, queued requests, persist batches, slow clients and failed logins per binding', async () => {
    const http = running.urls.http;
    assert.equal((await jsonRequest(http, 'PUT', lampPath(), { token: tokens.agent, body: lampTd(LAMP) })).status, 201);
    assert.equal((await jsonRequest(http, 'PUT', lampPath('/properties/brightness'), { token: tokens.viewer, body: 10 })).status, 403);
    assert.equal((await jsonRequest(http, 'GET', '/things', { token: 'th_not-a-token' })).status, 401);
    assert.equal((await refusedUpgrade(running.urls.ws, { token: 'th_not-a-token' })).status, 401);
    assert.equal(await connectRefusal(running.urls.mqtt!, { username: 'agent-1', password: 'th_not-a-token' }), 4);
    // An action for the lamp waits in the queue (its agent has no receiving session).
    assert.equal((await jsonRequest(http, 'POST', lampPath('/actions/fade'), { token: tokens.operator, body: { level: 5 } })).status, 201);

    const watcher = await connectWs(running.urls.ws, { token: tokens.viewer });
    assert.equal((await watcher.request({ operation: 'observeproperty', thingId: LAMP, name: 'blob' })).status, 204);
    const slow = await connectWs(running.urls.ws, { token: tokens.operator });
    assert.equal((await slow.request({ operation: 'observeproperty', thingId: LAMP, name: 'blob' })).status, 204);
    const agent = await connectMqtt(running.urls.mqtt!, { username: 'agent-1', password: tokens.agent });
    assert.equal((await agent.request({ operation: 'readproperty', thingId: LAMP, name: 'blob' })).status, 404);

    let families = await scrape(running.metricsUrl!);
    assert.equal(total(families, 'twinhub_sessions', { binding: 'ws' }), 2);
    assert.ok(total(families, 'twinhub_sessions', { binding: 'mqtt' }) >= 1);

    // The slow WS client stops reading; updates from the agent over MQTT overflow its send buffer.
    slow.ws.pause();
    const value = 'b'.repeat(8 * 1024);
    await eventually(
      async () => {
        const answers = await Promise.all(
          Array.from({ length: 10 }, () => agent.request({ operation: 'updateproperty', thingId: LAMP, name: 'blob', input: value })),
        );
        assert.ok(answers.every((answer) => answer.status === 204));
        families = await scrape(running.metricsUrl!);
        assert.equal(total(families, 'twinhub_slow_clients_dropped_total', { binding: 'ws' }), 1);
      },
      'the slow client dropped',
      20_000,
    );
    await watcher.nextNotification({ name: 'blob' });

    assert.equal(total(families, 'twinhub_requests_total', { operation: 'updateTD', binding: 'http', status: '201' }), 1);
    assert.equal(total(families, 'twinhub_requests_total', { operation: 'writeproperty', binding: 'http', status: '403' }), 1);
    assert.equal(total(families, 'twinhub_requests_total', { operation: 'observeproperty', binding: 'ws', status: '204' }), 2);
    assert.ok(total(families, 'twinhub_requests_total', { operation: 'updateproperty', binding: 'mqtt', status: '204' }) >= 10);
    // parse-prometheus-text-format 1.1.1 folds a histogram's labelled series into one (it keeps
    // labels only for unlabelled histograms): labelled ones are checked for type and presence.
    for (const name of ['twinhub_request_duration_seconds', 'twinhub_persist_duration_seconds', 'twinhub_persist_batch_records']) {
      assert.equal(families.get(name)?.type, 'HISTOGRAM', name);
    }
    assert.equal(total(families, 'twinhub_sessions', { binding: 'ws' }), 1, 'the dropped session is no longer counted');
    assert.ok(total(families, 'twinhub_notifications_sent_total', { binding: 'ws' }) >= 1);
    assert.ok(total(families, 'twinhub_notifications_dropped_total', { binding: 'ws' }) >= 1);
    assert.equal(total(families, 'twinhub_queued_requests', { status: 'pending' }), 1);
    assert.ok(Number(families.get('twinhub_persist_batch_records')!.metrics[0]!.count) >= 1, 'persist batches counted');
    for (const binding of ['http', 'ws', 'mqtt']) assert.equal(total(families, 'twinhub_auth_failures_total', { binding }), 1, binding);
    assert.equal(total(families, 'twinhub_auth_failures_total', { binding: 'sse' }), 0);

    slow.ws.terminate();
    await Promise.all([watcher.close(), agent.close()]);
  });

  it('is served on its own port only: the API port has no /metrics, the metrics port nothing else', async () => {
    assert.equal((await jsonRequest(running.urls.http, 'GET', '/metrics', { token: tokens.admin })).status, 404);
    assert.equal(await fetch(new URL('/things', running.metricsUrl)).then((r) => r.status), 404);
    assert.equal(new URL(running.metricsUrl!).hostname, '127.0.0.1');
  });

  it('logs one access line per HTTP request and per session, never a token', async () => {
    const stream = await openSse(running.urls.http, '/events', { token: tokens.viewer, tokenInQuery: true });
    assert.equal(stream.status, 200);
    stream.close();
    const refused = await openSse(running.urls.http, '/events', { token: 'th_secret-guess', tokenInQuery: true });
    assert.equal(refused.status, 401);
    assert.equal((await jsonRequest(running.urls.http, 'GET', lampPath('/properties/blob'), { token: tokens.viewer })).status, 200);
    const ws = await connectWs(running.urls.ws, { token: tokens.operator });
    await ws.close();

    const access = () => logs.records.filter((record) => record.module === 'access');
    await eventually(() => access().some((r) => r.msg === 'session closed' && r.binding === 'ws'), 'the WS session closed line');
    const read = access().find((r) => r.msg === 'http request' && r.method === 'GET' && r.route === '/things/:id/properties/:name');
    assert.ok(read, 'a line for the property read');
    assert.equal(read.status, 200);
    assert.equal(read.level, 30, 'info');
    assert.equal(typeof read.ms, 'number');
    assert.equal(read.remoteAddress, '127.0.0.1');
    await eventually(() => access().filter((r) => r.msg === 'http request' && r.route === '/events').length === 2, 'both stream lines');
    assert.deepEqual(
      access()
        .filter((r) => r.route === '/events')
        .map((r) => r.status)
        .sort(),
      [200, 401],
    );
    for (const msg of ['session opened', 'session closed']) {
      for (const binding of ['sse', 'ws', 'mqtt'])
        assert.ok(
          access().some((r) => r.msg === msg && r.binding === binding),
          `${msg} (${binding})`,
        );
    }
    const secrets = [...Object.values(tokens), 'th_secret-guess', 'th_not-a-token', running.firstAdminToken].filter((t) => t !== undefined);
    for (const line of logs.raw) for (const secret of secrets) assert.ok(!line.includes(secret), `a log line holds a token: ${line}`);
  });
});

describe('stopping with a bound', { timeout: 60_000 }, () => {
  it('exits 1 after --shutdown-timeout, naming the binding whose close hung', async () => {
    const data = await tempDataDir();
    try {
      const script = fileURLToPath(new URL('./fixtures/stuck-hub.js', import.meta.url));
      const child = spawn(process.execPath, [script, data.dir, '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [ready] = (await once(child.stdout.setEncoding('utf8'), 'data')) as [string];
      assert.equal(ready, 'ready\n');
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      assert.deepEqual({ code, signal }, { code: 1, signal: null });
      const line = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((record) => record.hung !== undefined);
      assert.ok(line, `a line names what hung; stderr: ${stderr}`);
      assert.equal(line.hung, 'binding stuck');
      assert.equal(line.level, 50, 'error');
    } finally {
      await data.remove();
    }
  });

  it('twinhub serve --metrics-port serves metrics and exits 0 on SIGTERM', async () => {
    const data = await tempDataDir();
    try {
      const hub = await spawnHub(data.dir, ['--metrics-port', '0', '--shutdown-timeout', '5']);
      const url = /^ {2}metrics (\S+)$/m.exec(hub.banner)?.[1];
      assert.ok(url, 'the banner names the metrics URL');
      const families = await scrape(url);
      assert.ok(families.has('twinhub_requests_total'));
      hub.child.kill('SIGTERM');
      assert.deepEqual(await hub.exited, { code: 0, signal: null });
      assert.ok(!hub.stderr().includes('"hung"'));
    } finally {
      await data.remove();
    }
  });
});
