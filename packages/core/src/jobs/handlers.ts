// Fleet job operations: createjob (controllers), readjob and listjobs (consumers), canceljob
// (controllers). The job's id travels in input { jobId }; answers are copies of the job record.

import { randomUUID } from 'node:crypto';
import { ok, type HandlerTable, type HubCore } from '../core-context.js';
import { checkCount, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from '../directory/directory.js';
import { badRequest, conflict, notFound, tooManyRequests } from '../model/errors.js';
import type { HubRequest } from '../model/operations.js';
import type { Client, JobRecord } from '../model/types.js';
import { emptyCounts, isOpenJob } from './book.js';
import { checkJobSpec } from './spec.js';

/**
 * What a client gets: a copy (the live record keeps changing as requests progress), without the
 * resume cursor. A viewer does not see the value a write job writes: the property may be
 * `writeOnly` (a PIN) on some of the Things, and only those who may write it see it.
 */
function view(job: JobRecord, client: Client): JobRecord {
  const { cursor: _cursor, ...shown } = structuredClone(job);
  if (job.operation === 'writeproperty' && client.role === 'viewer') delete shown.input;
  return shown;
}

function requireJob(core: HubCore, request: HubRequest): JobRecord {
  const input = request.input as { jobId?: unknown } | undefined;
  const jobId = typeof input === 'object' && input !== null ? input.jobId : undefined;
  if (typeof jobId !== 'string' || jobId === '') throw badRequest(`${request.operation} needs input { "jobId": "..." }`);
  const job = core.jobs.book.get(jobId);
  if (!job) throw notFound(`no job '${jobId}' is known (ended jobs are kept for a limited time)`);
  return job;
}

export const jobHandlers: HandlerTable = {
  async createjob(core, request, { client }) {
    const now = core.now();
    const spec = checkJobSpec(request.input, now, core.limits);
    if (core.jobs.book.openCount() >= core.jobs.maxOpenJobs) {
      throw tooManyRequests(`${core.jobs.maxOpenJobs} jobs are scheduled or running, the limit; retry once some ended or cancel some`);
    }
    const { startAt, ...what } = spec;
    const scheduled = startAt !== undefined && Date.parse(startAt) > now.getTime();
    const job: JobRecord = {
      jobId: randomUUID(),
      ...what,
      requestedBy: client.id,
      requesterRole: client.role,
      timeCreated: now.toISOString(),
      startAt: startAt ?? now.toISOString(),
      status: 'scheduled',
      counts: emptyCounts(),
      refusals: [],
    };
    // Known once durable: a sweep in between must not start a job the store may still refuse.
    await core.persist.write([core.jobs.book.write(job)]);
    core.jobs.book.add(job);
    // Due now: matching and the first slice start at once; a scheduled job waits for the sweep.
    if (!scheduled) core.jobs.start(core, job);
    return ok(view(job, client), 201);
  },

  async readjob(core, request, { client }) {
    return ok(view(requireJob(core, request), client));
  },

  async listjobs(core, request, { client }) {
    const offset = checkCount('offset', request.query?.offset, 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const limit = checkCount('limit', request.query?.limit, 1, MAX_LIST_LIMIT) ?? DEFAULT_LIST_LIMIT;
    const { jobs, total } = core.jobs.book.page(offset, limit);
    return { ...ok(jobs.map((job) => view(job, client))), total };
  },

  async canceljob(core, request, { client }) {
    const job = requireJob(core, request);
    if (!isOpenJob(job)) throw conflict(`job '${job.jobId}' already ended (${job.status}); only scheduled, running or queued jobs can be cancelled`);
    await core.jobs.cancel(core, job);
    return ok(view(job, client));
  },
};
