// The /jobs routes: create (201 + Location), read, list (X-Total-Count), cancel, over real HTTP
// with an agent taking its requests on its SSE stream; problems for refused and malformed calls.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobRecord } from '@twinhub/core';
import { eventually, lampTd, openSse, startHttpHub, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;
const THINGS = Array.from({ length: 5 }, (_, i) => `urn:test:jobs-http-${i}`);

describe('HTTP /jobs', () => {
  let fx: HttpHubFixture;
  before(async () => {
    fx = await startHttpHub();
    for (const id of THINGS) {
      const put = await fx.request('PUT', `/things/${enc(id)}`, { token: fx.tokens.agent, body: { ...lampTd(), id } });
      assert.equal(put.status, 201, put.text);
    }
  });
  after(() => fx.close());

  test('POST /jobs queues one request per matched Thing; GET /jobs/{id} follows them; cancel leaves delivered ones alone', async () => {
    const agent = await openSse(fx.url, '/agent/requests', { token: fx.tokens.agent });
    try {
      const created = await fx.request('POST', '/jobs', {
        token: fx.tokens.operator,
        body: { operation: 'invokeaction', name: 'fade', input: { level: 30 }, query: { agent: 'agent-1' } },
      });
      assert.equal(created.status, 201, created.text);
      const job = created.body as JobRecord;
      assert.equal(created.headers.get('location'), `${fx.url}/jobs/${enc(job.jobId)}`);
      assert.equal(job.requestedBy, 'operator-1');

      const requests = [];
      for (let i = 0; i < THINGS.length; i++) requests.push(JSON.parse((await agent.next()).data) as { actionId: string; thingId: string; input: unknown });
      assert.deepEqual(requests.map((r) => r.thingId).sort(), THINGS);
      assert.deepEqual(requests[0].input, { level: 30 });
      for (const r of requests.slice(0, 3)) {
        const reported = await fx.request('POST', `/agent/requests/${enc(r.actionId)}`, {
          token: fx.tokens.agent,
          body: { status: 'completed', output: { reached: 30 } },
        });
        assert.equal(reported.status, 200, reported.text);
      }
      await eventually(async () => {
        const read = await fx.request('GET', `/jobs/${enc(job.jobId)}`, { token: fx.tokens.viewer });
        assert.equal(read.status, 200, read.text);
        const counts = (read.body as JobRecord).counts;
        assert.deepEqual([counts.matched, counts.queued, counts.delivered, counts.completed], [5, 5, 2, 3]);
        assert.equal((read.body as JobRecord).status, 'queued');
      });

      const listed = await fx.request('GET', '/jobs?limit=10', { token: fx.tokens.viewer });
      assert.equal(listed.status, 200);
      assert.equal(listed.headers.get('x-total-count'), '1');
      assert.deepEqual(
        (listed.body as JobRecord[]).map((j) => j.jobId),
        [job.jobId],
      );

      const cancelled = await fx.request('POST', `/jobs/${enc(job.jobId)}/cancel`, { token: fx.tokens.operator });
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal((cancelled.body as JobRecord).status, 'cancelled');
      assert.equal((cancelled.body as JobRecord).counts.delivered, 2, 'delivered requests are left to the agent');
      const again = await fx.request('POST', `/jobs/${enc(job.jobId)}/cancel`, { token: fx.tokens.operator });
      assert.equal(again.status, 409);
      assert.equal(again.headers.get('content-type'), 'application/problem+json');
    } finally {
      agent.close();
    }
  });

  test('refused and malformed calls are problems: roles, unknown job, bad spec, bad paging', async () => {
    const spec = { operation: 'writeproperty', name: 'brightness', input: 5, query: {} };
    for (const [method, path, token, body, status] of [
      ['POST', '/jobs', fx.tokens.viewer, spec, 403],
      ['POST', '/jobs', fx.tokens.agent, spec, 403],
      ['GET', '/jobs', fx.tokens.agent, undefined, 403],
      ['GET', '/jobs/no-such-job', fx.tokens.viewer, undefined, 404],
      ['POST', '/jobs/no-such-job/cancel', fx.tokens.operator, undefined, 404],
      ['POST', '/jobs', fx.tokens.operator, { ...spec, query: { colour: 'red' } }, 400],
      ['POST', '/jobs', fx.tokens.operator, undefined, 400],
      ['GET', '/jobs?limit=0', fx.tokens.viewer, undefined, 400],
      ['GET', '/jobs?offset=x', fx.tokens.viewer, undefined, 400],
      ['GET', '/jobs', null, undefined, 401],
    ] as const) {
      const response = await fx.request(method, path, { token, ...(body !== undefined ? { body } : {}) });
      assert.equal(response.status, status, `${method} ${path}: ${response.text}`);
      assert.equal(response.headers.get('content-type'), 'application/problem+json', `${method} ${path}`);
    }
  });
});
