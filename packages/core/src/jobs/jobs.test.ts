// Fleet jobs over a hub on a memory store with a fake clock: counts that follow the requests (and
// outlive their retention and a restart), cancel, resuming after a restart mid-queuing, scheduled
// starts, refusals, and the operations' checks and permissions.

import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '@twinhub/storage-memory';
import { createHub, type Hub } from '../hub.js';
import type { AgentRequestMessage, OutboundMessage } from '../model/envelope.js';
import type { HubRequest, HubResult } from '../model/operations.js';
import type { Client, JobCounts, JobRecord, RequestRecord, ThingDescription } from '../model/types.js';
import { lampTd } from '../td/test-fixtures.js';
import { eventually, keepOpen } from '../testing/index.js';
import { JOBS_BUCKET } from './book.js';
import { REQUESTS_BUCKET } from '../requests/queue.js';

const agentA: Client = { id: 'agent-a', role: 'agent' };
const agentB: Client = { id: 'agent-b', role: 'agent' };
const operator: Client = { id: 'op-1', role: 'operator' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };

class Clock {
  ms = Date.parse('2026-01-01T00:00:00Z');
  now = () => new Date(this.ms);
  advance(seconds: number) {
    this.ms += seconds * 1000;
  }
}

async function call(hub: Hub, client: Client, request: HubRequest): Promise<HubResult> {
  return hub.handle(request, { client });
}

async function expectOk(hub: Hub, client: Client, request: HubRequest): Promise<unknown> {
  const result = await call(hub, client, request);
  assert.ok(result.ok, `${request.operation} failed: ${JSON.stringify(!result.ok && result.problem)}`);
  return result.output;
}

async function expectStatus(hub: Hub, client: Client, request: HubRequest, status: number): Promise<string> {
  const result = await call(hub, client, request);
  assert.equal(result.status, status, JSON.stringify(result));
  return result.ok ? '' : result.problem.detail;
}

const lamp = (id: string): ThingDescription => ({ ...lampTd(), id });
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `urn:test:${prefix}-${String(i).padStart(4, '0')}`);

async function register(hub: Hub, agent: Client, thingIds: string[], td: (id: string) => ThingDescription = lamp): Promise<void> {
  for (const id of thingIds) await expectOk(hub, agent, { operation: 'updateTD', input: td(id) });
}

/** An agent's live session receiving its requests. */
async function online(hub: Hub, agent: Client) {
  const received: OutboundMessage[] = [];
  const session = hub.openSession(agent, 'test', { send: (m) => received.push(m), close: () => undefined });
  assert.ok((await hub.handle({ operation: 'subscriberequests' }, { client: agent, session })).ok);
  return { requests: () => received.filter((m): m is AgentRequestMessage => m.type === 'request') };
}

const readJob = async (hub: Hub, jobId: string) => (await expectOk(hub, viewer, { operation: 'readjob', input: { jobId } })) as JobRecord;

/** The counts that matter, zeros left out, so a mismatch reads well. */
function nonZero(counts: JobCounts): Partial<JobCounts> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n !== 0));
}

async function storedRecords<T>(store: MemoryStore, bucket: string): Promise<T[]> {
  const records: T[] = [];
  for await (const [, json] of store.bucket(bucket).entries()) records.push(JSON.parse(json) as T);
  return records;
}

describe('fleet jobs', () => {
  let clock: Clock;
  let store: MemoryStore;
  const hubs: Hub[] = [];

  async function start(options: Partial<Parameters<typeof createHub>[0]> = {}): Promise<Hub> {
    const started = await createHub({ store: keepOpen(store), now: clock.now, expiryIntervalMs: 60_000, ...options });
    hubs.push(started);
    return started;
  }

  beforeEach(() => {
    clock = new Clock();
    store = new MemoryStore();
  });

  after(async () => {
    for (const hub of hubs) await hub.close();
  });

  it('a job over 1,000 Things, one agent offline: counts follow the requests, cancel leaves delivered ones alone, counts outlive pruning and a restart', async () => {
    const hub = await start({ jobs: { sliceSize: 200 } });
    await register(hub, agentA, ids('a', 500));
    await register(hub, agentB, ids('b', 500));
    const a = await online(hub, agentA);
    const created = (await expectOk(hub, operator, {
      operation: 'createjob',
      input: { operation: 'writeproperty', name: 'brightness', input: 42, query: { type: 'saref:LightSwitch' } },
    })) as JobRecord;
    assert.equal(created.status, 'running');
    assert.equal(created.requestedBy, operator.id);
    assert.equal(created.input, 42);
    assert.equal('input' in (await readJob(hub, created.jobId)), false, 'a viewer does not see the value written (it may be writeOnly somewhere)');
    const { jobId } = created;

    await eventually(async () => assert.deepEqual(nonZero((await readJob(hub, jobId)).counts), { matched: 1000, queued: 1000, pending: 500, delivered: 500 }));
    assert.equal((await readJob(hub, jobId)).status, 'queued');
    const delivered = a.requests();
    assert.equal(delivered.length, 500, 'the online agent got one request per Thing');
    assert.equal(new Set(delivered.map((r) => r.thingId)).size, 500);
    assert.deepEqual(
      delivered.map((r) => [r.operation, r.name, r.input]),
      delivered.map(() => ['writeproperty', 'brightness', 42]),
    );
    const record = (await expectOk(hub, viewer, { operation: 'queryaction', actionId: delivered[0].actionId })) as RequestRecord;
    assert.equal(record.jobId, jobId, 'each request names its job');
    assert.equal(record.requestedBy, operator.id);

    // Agent A completes 300, fails 100, starts 50, leaves 50 delivered.
    const report = (r: AgentRequestMessage, status: string) =>
      expectOk(hub, agentA, { operation: 'updateactionstatus', actionId: r.actionId, input: { status } });
    for (const r of delivered.slice(0, 300)) await report(r, 'completed');
    for (const r of delivered.slice(300, 400)) await report(r, 'failed');
    for (const r of delivered.slice(400, 450)) await report(r, 'running');
    assert.deepEqual(nonZero((await readJob(hub, jobId)).counts), {
      matched: 1000,
      queued: 1000,
      pending: 500,
      delivered: 50,
      running: 50,
      completed: 300,
      failed: 100,
    });

    // Cancel: agent B's 500 pending requests end as cancelled; A's delivered and running ones stay.
    const cancelled = (await expectOk(hub, operator, { operation: 'canceljob', input: { jobId } })) as JobRecord;
    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(nonZero(cancelled.counts), { matched: 1000, queued: 1000, delivered: 50, running: 50, completed: 300, failed: 100, cancelled: 500 });
    const stillDelivered = (await expectOk(hub, viewer, { operation: 'queryaction', actionId: delivered[449].actionId })) as RequestRecord;
    assert.equal(stillDelivered.status, 'running');
    assert.equal(((await expectOk(hub, viewer, { operation: 'queryaction', actionId: delivered[499].actionId })) as RequestRecord).status, 'delivered');
    const b = await online(hub, agentB);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(b.requests().length, 0, 'cancelled requests are never delivered');
    await expectStatus(hub, operator, { operation: 'canceljob', input: { jobId } }, 409);

    // The delivered ones still end normally and are counted; the job stays cancelled.
    for (const r of delivered.slice(400, 500)) await report(r, 'completed');
    const final = await readJob(hub, jobId);
    assert.equal(final.status, 'cancelled');
    assert.deepEqual(nonZero(final.counts), { matched: 1000, queued: 1000, completed: 400, failed: 100, cancelled: 500 });

    // A restart that prunes every ended request (retention: 10) keeps the counts.
    await hub.close();
    const restarted = await start({ requestRetentionCount: 10 });
    await eventually(async () => assert.ok((await storedRecords(store, REQUESTS_BUCKET)).length <= 10, 'ended requests were pruned'));
    const reloaded = await readJob(restarted, jobId);
    assert.equal(reloaded.status, 'cancelled');
    assert.deepEqual(reloaded.counts, final.counts);
  });

  it('a restart mid-queuing resumes after the last stored Thing: every Thing gets exactly one request', async () => {
    const hub = await start({ jobs: { sliceSize: 100 } });
    const things = ids('r', 1000);
    await register(hub, agentA, things);
    const { jobId } = (await expectOk(hub, operator, {
      operation: 'createjob',
      input: { operation: 'invokeaction', name: 'fade', input: { level: 7 }, query: { agent: agentA.id } },
    })) as JobRecord;
    await hub.close(); // while the first slice is being stored

    const [stored] = await storedRecords<JobRecord>(store, JOBS_BUCKET);
    assert.equal(stored.status, 'running', 'closed mid-queuing');
    assert.ok(stored.counts.queued > 0 && stored.counts.queued < 1000, `queued ${stored.counts.queued}`);
    assert.equal(stored.cursor, things[stored.counts.queued - 1], 'the cursor is the last Thing stored');
    assert.equal((await storedRecords<RequestRecord>(store, REQUESTS_BUCKET)).length, stored.counts.queued, 'requests and counts stored together');

    const restarted = await start({ jobs: { sliceSize: 100 } });
    await eventually(async () => assert.equal((await readJob(restarted, jobId)).status, 'queued'));
    const job = await readJob(restarted, jobId);
    assert.deepEqual(nonZero(job.counts), { matched: 1000, queued: 1000, pending: 1000 });
    assert.equal('cursor' in job, false, 'the resume cursor is internal');
    // The job reads 'queued' as soon as its last slice is handed to the store: wait until it is stored.
    await eventually(async () => {
      const requests = (await storedRecords<RequestRecord>(store, REQUESTS_BUCKET)).filter((r) => r.jobId === jobId);
      assert.deepEqual(requests.map((r) => r.thingId).sort(), things, 'one request per Thing, none twice, none missing');
    });

    // The agent completes them all: the job completes.
    const a = await online(restarted, agentA);
    await eventually(() => assert.equal(a.requests().length, 1000));
    for (const r of a.requests()) {
      await expectOk(restarted, agentA, { operation: 'updateactionstatus', actionId: r.actionId, input: { status: 'completed', output: { reached: 7 } } });
    }
    const done = await readJob(restarted, jobId);
    assert.equal(done.status, 'completed');
    assert.equal(done.timeEnded, clock.now().toISOString());
    assert.deepEqual(nonZero(done.counts), { matched: 1000, queued: 1000, completed: 1000 });
  });

  it('a scheduled job starts when due (from the sweep, and at load when overdue); expiries are counted', async () => {
    const hub = await start({ expiryIntervalMs: 10 });
    await register(hub, agentA, ids('s', 5));
    const startAt = new Date(clock.ms + 60_000).toISOString();
    const job = (await expectOk(hub, operator, {
      operation: 'createjob',
      input: { operation: 'invokeaction', name: 'toggle', query: {}, startAt, ttl: 30 },
    })) as JobRecord;
    assert.equal(job.status, 'scheduled');
    assert.equal(job.startAt, startAt);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await readJob(hub, job.jobId)).counts.queued, 0, 'not before its time');
    clock.advance(61);
    await eventually(async () => assert.deepEqual(nonZero((await readJob(hub, job.jobId)).counts), { matched: 5, queued: 5, pending: 5 }));
    const started = await readJob(hub, job.jobId);
    assert.equal(started.timeStarted, clock.now().toISOString());
    // Nobody takes them within their ttl: they expire, and the job completes with them.
    clock.advance(31);
    await eventually(async () => assert.equal((await readJob(hub, job.jobId)).status, 'completed'));
    assert.deepEqual(nonZero((await readJob(hub, job.jobId)).counts), { matched: 5, queued: 5, expired: 5 });

    // Overdue at load: a job scheduled while the hub was down starts when it comes back.
    const later = (await expectOk(hub, operator, {
      operation: 'createjob',
      input: { operation: 'writeproperty', name: 'brightness', input: 1, query: {}, startAt: new Date(clock.ms + 3600_000).toISOString() },
    })) as JobRecord;
    await hub.close();
    clock.advance(7200);
    const restarted = await start();
    await eventually(async () => assert.equal((await readJob(restarted, later.jobId)).status, 'queued'));
    assert.equal((await readJob(restarted, later.jobId)).counts.queued, 5);
  });

  it('refused Things are counted with their reasons; a job with nothing left to wait for completes', async () => {
    const hub = await start();
    await register(hub, agentA, ids('ok', 3));
    const { brightness: _dropped, ...withoutBrightness } = lampTd().properties as Record<string, unknown>;
    await register(hub, agentA, ids('nobright', 2), (id) => ({ ...lamp(id), properties: withoutBrightness }));
    const dim = lampTd().properties as Record<string, Record<string, unknown>>;
    await register(hub, agentA, ids('dim', 1), (id) => ({ ...lamp(id), properties: { ...dim, brightness: { ...dim.brightness, maximum: 10 } } }));
    const a = await online(hub, agentA);
    const { jobId } = (await expectOk(hub, operator, {
      operation: 'createjob',
      input: { operation: 'writeproperty', name: 'brightness', input: 42, query: { agent: agentA.id } },
    })) as JobRecord;
    await eventually(async () => assert.equal((await readJob(hub, jobId)).counts.delivered, 3));
    const job = await readJob(hub, jobId);
    assert.deepEqual(nonZero(job.counts), { matched: 6, queued: 3, refused: 3, delivered: 3 });
    assert.deepEqual(
      job.refusals.map(({ status, count, thingId }) => ({ status, count, thingId })).sort((x, y) => x.status - y.status),
      [
        { status: 400, count: 1, thingId: 'urn:test:dim-0000' },
        { status: 404, count: 2, thingId: 'urn:test:nobright-0000' },
      ],
    );
    assert.match(job.refusals.find((r) => r.status === 404)!.detail, /no property 'brightness'/);
    for (const r of a.requests()) await expectOk(hub, agentA, { operation: 'updateactionstatus', actionId: r.actionId, input: { status: 'completed' } });
    assert.equal((await readJob(hub, jobId)).status, 'completed');

    const empty = (await expectOk(hub, operator, {
      operation: 'createjob',
      input: { operation: 'invokeaction', name: 'toggle', query: { type: 'saref:Nothing' } },
    })) as JobRecord;
    await eventually(async () => assert.equal((await readJob(hub, empty.jobId)).status, 'completed'));
    assert.deepEqual(nonZero((await readJob(hub, empty.jobId)).counts), {});
  });

  it('checks job specs, pages listings, and follows the permission table', async () => {
    const hub = await start({ jobs: { maxOpenJobs: 3 } });
    await register(hub, agentA, ids('p', 2));
    const spec = { operation: 'writeproperty', name: 'brightness', input: 1, query: {} };
    for (const [input, pattern] of [
      [undefined, /must be an object/],
      [{ ...spec, operation: 'readproperty' }, /'writeproperty' or 'invokeaction'/],
      [{ ...spec, name: '' }, /input.name/],
      [{ ...spec, input: undefined }, /needs the value/],
      [{ ...spec, query: undefined }, /needs input.query/],
      [{ ...spec, query: { tpye: 'saref:LightSwitch' } }, /unknown filter\(s\) tpye/],
      [{ ...spec, query: { tags: { room: 1 } } }, /tags.room must be a string/],
      [{ ...spec, ttl: 0 }, /ttl/],
      [{ ...spec, startAt: 'tomorrow' }, /RFC 3339/],
      [{ ...spec, startAt: '2030-01-01T00:00:00Z' }, /a year ahead/],
      [{ ...spec, extra: 1 }, /unknown field\(s\) extra/],
    ] as const) {
      assert.match(await expectStatus(hub, operator, { operation: 'createjob', input }, 400), pattern);
    }
    assert.deepEqual(await expectOk(hub, viewer, { operation: 'listjobs' }), [], 'nothing was stored for refused specs');

    // Roles: controllers create and cancel; viewers read; agents do neither.
    await expectStatus(hub, viewer, { operation: 'createjob', input: spec }, 403);
    await expectStatus(hub, agentA, { operation: 'createjob', input: spec }, 403);
    const later = new Date(clock.ms + 60_000).toISOString();
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 3; i++) jobs.push((await expectOk(hub, operator, { operation: 'createjob', input: { ...spec, startAt: later } })) as JobRecord);
    assert.match(await expectStatus(hub, operator, { operation: 'createjob', input: spec }, 429), /3 jobs are scheduled or running/);
    await expectStatus(hub, agentA, { operation: 'readjob', input: { jobId: jobs[0].jobId } }, 403);
    await expectStatus(hub, agentA, { operation: 'listjobs' }, 403);
    await expectStatus(hub, viewer, { operation: 'canceljob', input: { jobId: jobs[0].jobId } }, 403);
    await expectStatus(hub, viewer, { operation: 'readjob', input: { jobId: 'no-such-job' } }, 404);
    await expectStatus(hub, viewer, { operation: 'readjob' }, 400);

    const page = await call(hub, viewer, { operation: 'listjobs', query: { offset: 1, limit: 1 } });
    assert.ok(page.ok);
    assert.equal(page.total, 3);
    assert.deepEqual(
      (page.output as JobRecord[]).map((j) => j.jobId),
      [jobs[1].jobId],
      'oldest first',
    );
    await expectStatus(hub, viewer, { operation: 'listjobs', query: { limit: 0 } }, 400);

    // A cancelled scheduled job never starts, and frees its place.
    const cancelled = (await expectOk(hub, operator, { operation: 'canceljob', input: { jobId: jobs[0].jobId } })) as JobRecord;
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(((await expectOk(hub, operator, { operation: 'createjob', input: { ...spec, startAt: later } })) as JobRecord).status, 'scheduled');
    clock.advance(120);
    await hub.close();
    const restarted = await start();
    await eventually(async () => assert.equal((await readJob(restarted, jobs[1].jobId)).status, 'queued'));
    assert.equal((await readJob(restarted, jobs[0].jobId)).counts.queued, 0, 'the cancelled one stayed cancelled');
    assert.equal((await readJob(restarted, jobs[0].jobId)).status, 'cancelled');
  });
});
