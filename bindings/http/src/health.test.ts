// GET /health/live and /health/ready: no token, ready turns 503 naming the store while the store
// refuses writes and back to 200 once it takes them, live stays 200 throughout, nothing leaks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, flakyMemoryStore } from '@twinhub/testkit';
import { lampTd, startHttpHub, type HttpHubFixture } from './testing.js';

const ID = 'urn:dev:ops:health-lamp';

describe('health checks', () => {
  let fx: HttpHubFixture;
  const flaky = flakyMemoryStore();
  before(async () => {
    fx = await startHttpHub({ hub: { store: flaky.store, readinessProbeIntervalMs: 50 } });
    await fx.request('PUT', `/things/${encodeURIComponent(ID)}`, { token: fx.tokens.agent, body: lampTd(ID) });
  });
  after(() => fx.close());

  const get = (path: string) => fx.request('GET', path, { token: null });

  test('live and ready answer 200 without a token; /health stays the liveness check', async () => {
    assert.deepEqual((await get('/health/live')).body, { status: 'ok' });
    assert.deepEqual((await get('/health')).body, { status: 'ok' });
    const ready = await get('/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
  });

  test('ready is 503 naming the store while the store refuses writes, live stays 200, and ready recovers', async () => {
    flaky.failing = 'unavailable';
    // No write happens meanwhile: the probe record alone must find the failure.
    await eventually(async () => (await get('/health/ready')).status === 503, 'ready to turn 503');
    const ready = await get('/health/ready');
    assert.equal(ready.headers.get('content-type'), 'application/problem+json');
    const problem = ready.body as { status: number; detail: string };
    assert.equal(problem.status, 503);
    assert.match(problem.detail, /^store: /);
    assert.ok(!JSON.stringify(problem).includes(ID), 'no Thing ID in a public answer');
    assert.equal((await get('/health/live')).status, 200);
    flaky.failing = false;
    await eventually(async () => (await get('/health/ready')).status === 200, 'ready to recover');
  });

  test('a full store is named as such', async () => {
    flaky.failing = 'full';
    await eventually(async () => (await get('/health/ready')).status === 503, 'ready to turn 503');
    assert.match(((await get('/health/ready')).body as { detail: string }).detail, /store: it is full/);
    flaky.failing = false;
    await eventually(async () => (await get('/health/ready')).status === 200, 'ready to recover');
  });

  test('probes are rate-limited: a burst of readiness checks writes at most a few probe records', async () => {
    let batches = 0;
    const batch = flaky.store.batch;
    flaky.store.batch = (ops) => {
      batches++;
      return batch(ops);
    };
    const started = Date.now();
    try {
      await Promise.all(Array.from({ length: 50 }, () => get('/health/ready')));
    } finally {
      flaky.store.batch = batch;
    }
    // At most one probe per 50 ms interval the burst spans, however many checks arrive in it.
    const intervals = Math.ceil((Date.now() - started) / 50) + 1;
    assert.ok(batches <= Math.min(intervals, 25), `${batches} store batches for 50 readiness checks in ${intervals} intervals`);
  });
});
