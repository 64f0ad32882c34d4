// Running fleet jobs: match the Things, queue one request per Thing in slices (one store batch per
// slice, with the job's cursor and counters, so a restart resumes after the last Thing stored),
// cancel what is still pending, start scheduled jobs when due, and prune ended jobs.

import { documentSources } from '../directory/handlers.js';
import type { HubCore } from '../core-context.js';
import { MAX_LIST_LIMIT } from '../directory/directory.js';
import { isHubError } from '../model/errors.js';
import type { Client, JobRecord, Problem, RequestRecord } from '../model/types.js';
import { prepareRequest } from '../requests/handlers.js';
import { JobBook, unendedRequests } from './book.js';

export interface JobServiceOptions {
  now: () => Date;
  /** Requests queued per store batch (default 500); the event loop is yielded between slices. */
  sliceSize?: number;
  /** Jobs scheduled, running or queued at once, at most (default 100). */
  maxOpenJobs?: number;
  /** Whether this hub runs jobs (cluster: only the sweep leader; default: always). */
  leads?: () => boolean;
  /** Ended jobs are kept this long (default 7 days)... */
  retentionSeconds?: number;
  /** ...and at most this many of them (default 1000). */
  retentionCount?: number;
}

/** Refusal groups kept per job: the count stays exact, only the variety of examples is bounded. */
const MAX_REFUSAL_KINDS = 20;

/**
 * The IDs of the Things `client` may see that match `query`, in Thing-ID order, as of now. Pages
 * through the directory's listing synchronously, so no change can shift a page under it.
 * (The one place matching happens: the query planner can take over here.)
 */
export function matchThings(core: HubCore, client: Client, query: JobRecord['query']): string[] {
  const ids: string[] = [];
  const options = { maxPageBytes: Number.MAX_SAFE_INTEGER, scanLimit: core.queryScanLimit, sources: documentSources(core) };
  // Cursor paging follows a filter past the scan limit too (each page evaluates at most the limit).
  for (let cursor: string | undefined; ; ) {
    const page = core.directory.list(client, { ...query, limit: MAX_LIST_LIMIT, ...(cursor ? { cursor } : {}) }, options);
    for (const twin of page.twins) ids.push(twin.thingId);
    if (page.next === undefined) return ids;
    cursor = page.next;
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class JobService {
  readonly book: JobBook;
  readonly maxOpenJobs: number;
  private readonly sliceSize: number;
  /** Jobs queuing (or cancelling) in this process: never two passes over one job at once. */
  private readonly active = new Map<string, Promise<void>>();
  /** Cancelled jobs whose leftover pending requests were looked for since the hub started. */
  private readonly cancelChecked = new Set<string>();
  private stopped = false;

  constructor(private readonly options: JobServiceOptions) {
    this.book = new JobBook(options.now, options.leads);
    this.sliceSize = options.sliceSize ?? 500;
    this.maxOpenJobs = options.maxOpenJobs ?? 100;
  }

  /** The hub is closing: no new slice is queued (what was handed to the store is drained by the hub). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Periodic work (a Sweeps task): starts scheduled jobs that are due, resumes jobs a restart or a
   * refused batch interrupted, finishes cancelling, prunes ended jobs. Never waits for a job to queue.
   */
  async sweep(core: HubCore): Promise<void> {
    if (this.stopped) return;
    const nowMs = this.options.now().getTime();
    for (const job of this.book.all()) {
      if (this.active.has(job.jobId)) continue;
      if ((job.status === 'scheduled' && Date.parse(job.startAt) <= nowMs) || job.status === 'running') this.start(core, job);
      else if (job.status === 'cancelled' && job.counts.pending > 0 && !this.cancelChecked.has(job.jobId))
        void this.track(core, job, this.cancelPending(core, job));
    }
    const olderThan = nowMs - (this.options.retentionSeconds ?? 7 * 24 * 3600) * 1000;
    const pruned = this.book.prune(olderThan, this.options.retentionCount ?? 1000);
    if (pruned.length > 0) await core.persist.write(pruned).catch((error) => core.log.error({ err: error }, 'could not delete pruned jobs'));
  }

  /** Starts (or resumes) queuing the job in the background. */
  start(core: HubCore, job: JobRecord): void {
    // (Cluster) another instance leads: it starts the job at its next sweep, from the stored record.
    if (this.stopped || this.active.has(job.jobId) || !(this.options.leads?.() ?? true)) return;
    void this.track(core, job, this.queueAll(core, job));
  }

  /**
   * Cancels the job: it stops queuing, and its requests not yet delivered end as cancelled through
   * the same path as cancelaction; delivered and running ones are left to their agents.
   */
  async cancel(core: HubCore, job: JobRecord): Promise<void> {
    const before = { status: job.status, timeEnded: job.timeEnded };
    job.status = 'cancelled';
    job.timeEnded = this.options.now().toISOString();
    // Durable first: a restart must not resume queuing a cancelled job.
    try {
      await core.persist.write([this.book.write(job)]);
    } catch (error) {
      Object.assign(job, before);
      if (before.timeEnded === undefined) delete job.timeEnded;
      throw error;
    }
    await this.active.get(job.jobId); // the slice being stored, if any, lands before the sweep below
    if (job.counts.pending > 0) await this.track(core, job, this.cancelPending(core, job));
  }

  /** Runs a pass over the job as its one active pass; a failure is logged (the sweep tries again), never thrown. */
  private track(core: HubCore, job: JobRecord, work: Promise<void>): Promise<void> {
    const tracked = work
      .catch((error: unknown) => core.log.error({ err: error, jobId: job.jobId }, 'job pass failed'))
      .finally(() => this.active.delete(job.jobId));
    this.active.set(job.jobId, tracked);
    return tracked;
  }

  private async queueAll(core: HubCore, job: JobRecord): Promise<void> {
    const client: Client = { id: job.requestedBy, role: job.requesterRole };
    // Resuming: the Things up to the cursor were handled (their requests are stored with it).
    const cursor = job.cursor;
    const ids = matchThings(core, client, job.query).filter((id) => cursor === undefined || id > cursor);
    if (job.status === 'scheduled') {
      job.status = 'running';
      job.timeStarted = this.options.now().toISOString();
    }
    job.counts.matched = job.counts.queued + job.counts.refused + ids.length;
    core.log.info({ jobId: job.jobId, matched: job.counts.matched, resumedAfter: cursor }, 'job queuing');
    for (let start = 0; start === 0 || start < ids.length; start += this.sliceSize) {
      // A closing hub, a cancel or (cluster) a lost lease stops queuing between slices; the cursor says where to resume.
      if (this.stopped || job.status !== 'running' || !(this.options.leads?.() ?? true)) return;
      if (start > 0) await yieldToEventLoop();
      if (this.stopped || job.status !== 'running') return;
      const slice = ids.slice(start, start + this.sliceSize);
      const stored = await this.queueSlice(core, job, client, slice, start + slice.length >= ids.length);
      if (!stored) return; // the sweep retries from the cursor
    }
  }

  /** Queues one slice with the job's record in one store batch; false when the store refused it (nothing of it stays). */
  private async queueSlice(core: HubCore, job: JobRecord, client: Client, slice: readonly string[], last: boolean): Promise<boolean> {
    const before = { cursor: job.cursor, refused: job.counts.refused, refusals: job.refusals.map((r) => ({ ...r })) };
    const entries: Array<{ record: RequestRecord; agentId: string }> = [];
    for (const thingId of slice) {
      try {
        const prepared = prepareRequest(core, client, { operation: job.operation, thingId, name: job.name, input: job.input, ttl: job.ttl });
        prepared.record.jobId = job.jobId;
        entries.push(prepared);
      } catch (error) {
        if (!isHubError(error)) throw error;
        this.refuse(job, thingId, error.problem);
      }
      job.cursor = thingId;
    }
    job.counts.queued += entries.length;
    job.counts.pending += entries.length;
    if (last) {
      job.status = 'queued';
      job.timeQueued = this.options.now().toISOString();
      this.book.settle(job);
    }
    try {
      await core.requests.enqueueBatch(entries, [this.book.write(job)]);
      return true;
    } catch (error) {
      core.log.error({ err: error, jobId: job.jobId }, 'store refused a slice of a job; it is retried from the last stored Thing');
      // None of the slice exists: its counts go (each request where it stands now), the cursor goes back.
      job.counts.queued -= entries.length;
      for (const { record } of entries) job.counts[record.status] -= 1;
      Object.assign(job, { cursor: before.cursor, refusals: before.refusals });
      job.counts.refused = before.refused;
      if (before.cursor === undefined) delete job.cursor;
      if (job.status === 'queued' || job.status === 'completed') {
        job.status = 'running';
        delete job.timeQueued;
        delete job.timeEnded;
      }
      return false;
    }
  }

  private refuse(job: JobRecord, thingId: string, problem: Problem): void {
    job.counts.refused += 1;
    const kind = job.refusals.find((r) => r.status === problem.status && r.title === problem.title);
    if (kind) kind.count += 1;
    else if (job.refusals.length < MAX_REFUSAL_KINDS)
      job.refusals.push({ status: problem.status, title: problem.title, count: 1, thingId, detail: problem.detail });
  }

  /** Ends the job's pending requests as cancelled, in slices (each one store batch). */
  private async cancelPending(core: HubCore, job: JobRecord): Promise<void> {
    this.cancelChecked.add(job.jobId);
    const pending: RequestRecord[] = [];
    for (const agentId of core.directory.agents()) {
      for (const record of core.requests.queue.unacknowledged(agentId)) if (record.jobId === job.jobId && record.status === 'pending') pending.push(record);
    }
    for (let start = 0; start < pending.length; start += this.sliceSize) {
      if (this.stopped) return;
      const timeEnded = this.options.now().toISOString();
      // Delivered meanwhile: left to the agent, like cancelaction would.
      const slice = pending.slice(start, start + this.sliceSize).filter((record) => record.status === 'pending');
      const results = await Promise.allSettled(slice.map((record) => core.requests.end(record, { status: 'cancelled', timeEnded })));
      const refused = results.filter((r) => r.status === 'rejected').length;
      if (refused > 0) core.log.error({ jobId: job.jobId, refused }, "store refused cancelling some of a job's requests");
      await yieldToEventLoop();
    }
    if (unendedRequests(job.counts) === 0) core.log.info({ jobId: job.jobId }, 'job cancelled');
  }
}
