// The jobs' records (bucket `jobs`, one record per job, keyed by job id) in memory, and their
// counters: kept current as the job's requests change status (the request service's listener),
// and stored in the same batch as each change, so they survive the requests' retention and restarts.

import type { BucketStore } from '@twinhub/bucket';
import type { JobCounts, JobRecord, JobStatus, RequestRecord, RequestStatus } from '../model/types.js';
import type { PendingWrite } from '../store/persist-queue.js';

export const JOBS_BUCKET = 'jobs';

/** Jobs not ended yet (scheduled, running, queued): what the open-jobs bound counts. */
const OPEN_STATUSES: ReadonlySet<JobStatus> = new Set(['scheduled', 'running', 'queued']);

export const isOpenJob = (job: JobRecord): boolean => OPEN_STATUSES.has(job.status);

/** Requests of the job that have not ended yet. */
export const unendedRequests = (counts: JobCounts): number => counts.pending + counts.delivered + counts.running;

export function emptyCounts(): JobCounts {
  return { matched: 0, queued: 0, refused: 0, pending: 0, delivered: 0, running: 0, completed: 0, failed: 0, expired: 0, cancelled: 0 };
}

export class JobBook {
  /** By job id, in creation order (Map order): listings page over it. */
  private readonly jobs = new Map<string, JobRecord>();

  /**
   * @param leads whether this hub stores the counters (cluster: only the sweep leader does, so two
   * instances' counts never overwrite each other; the others count in memory and take its record).
   */
  constructor(
    private readonly now: () => Date,
    private readonly leads: () => boolean = () => true,
  ) {}

  async load(store: BucketStore): Promise<void> {
    const loaded: JobRecord[] = [];
    for await (const [, json] of store.bucket(JOBS_BUCKET).entries()) loaded.push(JSON.parse(json) as JobRecord);
    loaded.sort((a, b) => a.timeCreated.localeCompare(b.timeCreated) || a.jobId.localeCompare(b.jobId));
    for (const job of loaded) this.jobs.set(job.jobId, job);
  }

  get(jobId: string): JobRecord | undefined {
    return this.jobs.get(jobId);
  }

  add(job: JobRecord): void {
    this.jobs.set(job.jobId, job);
  }

  all(): IterableIterator<JobRecord> {
    return this.jobs.values();
  }

  openCount(): number {
    let open = 0;
    for (const job of this.jobs.values()) if (isOpenJob(job)) open++;
    return open;
  }

  /** A page of jobs, oldest first, and how many there are. */
  page(offset: number, limit: number): { jobs: JobRecord[]; total: number } {
    return { jobs: [...this.jobs.values()].slice(offset, offset + limit), total: this.jobs.size };
  }

  /** The job's record to store. The value is the live object: the persist queue serializes it at flush, so a burst of changes is one write. */
  write(job: JobRecord): PendingWrite {
    return { bucket: JOBS_BUCKET, key: job.jobId, value: job };
  }

  /** A request of a job changed status (or the change was undone): move it between the counters. */
  readonly requestChanged = (record: RequestRecord, from: RequestStatus, to: RequestStatus): PendingWrite[] => {
    const job = record.jobId === undefined ? undefined : this.jobs.get(record.jobId);
    if (!job) return [];
    job.counts[from] -= 1;
    job.counts[to] += 1;
    this.settle(job);
    return this.leads() ? [this.write(job)] : [];
  };

  /**
   * A job record another writer stored (cluster): taken as it is, except that the sweep leader
   * keeps its own counters (it counts every request change; another instance's copy may lag).
   */
  applyRecord(jobId: string, stored: JobRecord | undefined): void {
    const known = this.jobs.get(jobId);
    if (stored === undefined) {
      this.jobs.delete(jobId);
      return;
    }
    if (known === undefined) {
      this.jobs.set(jobId, stored);
      return;
    }
    // The live object is kept (a pass running over it sees the change, e.g. a cancel).
    const counts = this.leads() ? known.counts : stored.counts;
    for (const key of Object.keys(known) as (keyof JobRecord)[]) if (!Object.hasOwn(stored, key)) delete known[key];
    Object.assign(known, stored, { counts });
  }

  /** A fully queued job whose requests all ended is completed (and an undo can reopen it). */
  settle(job: JobRecord): void {
    if (job.status === 'queued' && unendedRequests(job.counts) === 0) {
      job.status = 'completed';
      job.timeEnded = this.now().toISOString();
    } else if (job.status === 'completed' && unendedRequests(job.counts) > 0) {
      job.status = 'queued';
      delete job.timeEnded;
    }
  }

  /**
   * Forgets ended jobs (completed, or cancelled with no request left to end) that ended before
   * `olderThanMs`, and the oldest ones beyond `maxEnded`; returns the deletions to store.
   */
  prune(olderThanMs: number, maxEnded: number): PendingWrite[] {
    const ended = [...this.jobs.values()].filter((job) => !isOpenJob(job) && unendedRequests(job.counts) === 0);
    ended.sort((a, b) => (a.timeEnded ?? '').localeCompare(b.timeEnded ?? ''));
    let excess = ended.length - maxEnded;
    const removed: PendingWrite[] = [];
    for (const job of ended) {
      const old = job.timeEnded !== undefined && Date.parse(job.timeEnded) < olderThanMs;
      if (!old && excess <= 0) break;
      this.jobs.delete(job.jobId);
      removed.push({ bucket: JOBS_BUCKET, key: job.jobId, value: undefined });
      excess--;
    }
    return removed;
  }
}
