// Log compaction: when a snapshot is due (the schedule), and writing one (the lease, the snapshot,
// then purging the commit log up to it). See docs/cluster.md, "Compaction".
import type { JetStreamManager } from '@nats-io/jetstream';
import type { SnapshotManifest, SnapshotStream } from './snapshot.js';
import type { RecordView } from './view.js';

export interface CompactionOptions {
  /**
   * Commits since the newest snapshot after which a new one is due; never fewer than the records
   * in that snapshot, so rewriting the whole state costs at most one record per commit. Default 10,000.
   */
  commits?: number;
  /** Commit bytes since the newest snapshot that make one due whatever their count (never fewer than that snapshot's bytes). Default 64 MiB. */
  bytes?: number;
  /**
   * Bound on one compaction's lease, in ms: the elected instance releases it when done; if it
   * dies meanwhile, others wait this long. Default 60,000.
   */
  leaseMs?: number;
  /** Largest chunk of a snapshot, in bytes. Default: the servers' max_payload less 1 KiB. */
  chunkBytes?: number;
}

export const COMPACTION_DEFAULTS = { commits: 10_000, bytes: 64 * 1024 * 1024, leaseMs: 60_000 };
/** After an attempt that found another instance compacting, wait this long before asking again. */
const RETRY_MS = 10_000;

export type CompactionResult =
  | { done: true; sequence: number; records: number; bytes: number; chunks: number; purged: number; ms: number }
  | { done: false; reason: 'lease-held' | 'up-to-date' | 'superseded'; latest?: SnapshotManifest };

/** Counts the log since the newest snapshot this store knows of and says when the next one is due. */
export class CompactionSchedule {
  private commits = 0;
  private bytes = 0;
  private snapshotRecords = 0;
  private snapshotBytes = 0;
  private notBefore = 0;

  constructor(private readonly options: Required<Pick<CompactionOptions, 'commits' | 'bytes'>>) {}

  /** A commit of `bytes` was applied to the view. */
  count(bytes: number): void {
    this.commits++;
    this.bytes += bytes;
  }

  due(): boolean {
    if (Date.now() < this.notBefore) return false;
    return this.commits >= Math.max(this.options.commits, this.snapshotRecords) || this.bytes >= Math.max(this.options.bytes, this.snapshotBytes);
  }

  /** A snapshot at `sequence` exists (this store's or another's); `applied` is the view's position. */
  snapshotSeen(snapshot: { sequence: number; records: number; bytes: number }, applied: number): void {
    this.snapshotRecords = snapshot.records;
    this.snapshotBytes = snapshot.bytes;
    // Commits after the snapshot still count; their bytes are estimated from the average so far.
    const since = Math.max(0, applied - snapshot.sequence);
    this.bytes = this.commits > 0 ? Math.round((this.bytes / this.commits) * Math.min(since, this.commits)) : 0;
    this.commits = since;
  }

  /** Another instance is compacting: ask again later. */
  backOff(): void {
    this.notBefore = Date.now() + RETRY_MS;
  }
}

export interface CompactionWork {
  jsm: JetStreamManager;
  snapshots: SnapshotStream;
  /** The commit log stream. */
  stream: string;
  writer: string;
  view: RecordView;
  leaseMs: number;
  chunkBytes: number;
}

/**
 * Writes a snapshot of the view as it is now (sequence s), then purges the commit log before s.
 * The commit at s stays, so the stream is never empty and its last sequence (which compare-and-set
 * publishes expect) is unchanged; revisions stay valid as a purge never reuses sequences.
 */
export async function compactLog(work: CompactionWork): Promise<CompactionResult> {
  const started = Date.now();
  const lease = await work.snapshots.takeLease(work.writer, work.leaseMs);
  if (lease === undefined) return { done: false, reason: 'lease-held' };
  try {
    return await snapshotAndPurge(work, started);
  } finally {
    // Others may compact as soon as it is due again; a holder that died instead lets the lease run out.
    await work.snapshots.releaseLease(lease).catch(() => undefined);
  }
}

async function snapshotAndPurge(work: CompactionWork, started: number): Promise<CompactionResult> {
  const latest = await work.snapshots.latest();
  const sequence = work.view.applied;
  if (latest !== undefined && latest.manifest.sequence >= sequence) return { done: false, reason: 'up-to-date', latest: latest.manifest };
  // Copied in one synchronous step: the view is exactly the state after commit `sequence`.
  const records = work.view.records();
  const written = await work.snapshots.write(sequence, records, work.chunkBytes, latest?.at ?? 0);
  if (written === 'superseded') return { done: false, reason: 'superseded' };
  const { purged } = await work.jsm.streams.purge(work.stream, { seq: sequence });
  await work.snapshots.prune(written);
  const { manifest } = written;
  return { done: true, sequence, records: manifest.records, bytes: manifest.bytes, chunks: manifest.chunks.length, purged, ms: Date.now() - started };
}
