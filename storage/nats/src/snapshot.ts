// The snapshot stream beside the commit log (`<stream>-snapshots`): snapshots of the whole view at
// a commit sequence, written in chunks and made visible by a manifest published last, plus the
// lease that elects the one instance that writes them. See docs/cluster.md, "Compaction".
import { JetStreamApiError, type JetStreamClient, type JetStreamManager, type MsgRequest, StorageType, type StoredMsg } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/transport-node';
import { StoreError } from '@twinhub/bucket';
import type { SnapshotRecord } from './view.js';

/** What the manifest of a complete snapshot says; it is published only after every chunk was stored. */
export interface SnapshotManifest {
  /** The commit sequence the snapshot is the state after. */
  sequence: number;
  /** Stream sequences of the chunk messages, in order. */
  chunks: number[];
  records: number;
  /** Bytes of all chunks together. */
  bytes: number;
}

/** A compaction lease this store holds: the lease message's stream sequence. */
export interface Lease {
  holder: string;
  at: number;
}

/** The newest manifest and where it is in the snapshot stream (for the next writer's compare-and-set). */
export interface LatestSnapshot {
  manifest: SnapshotManifest;
  /** Stream sequence of the manifest message. */
  at: number;
}

/** The server's error code for a publish whose expected last (subject) sequence did not match. */
const WRONG_LAST_SEQUENCE = 10071;
/** The server's error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;
/** The server's error code for "stream name already in use" (another instance created it first). */
const STREAM_NAME_IN_USE = 10058;
/** Chunk reads and writes in flight at once. */
const WINDOW = 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A request the servers did not answer (yet): no stream leader, or a leader election under way. */
const noAnswer = (error: unknown): boolean => error instanceof TimeoutError || (error instanceof JetStreamApiError && error.status === 503);

const corrupt = (message: string): StoreError => new StoreError(message, { code: 'corrupt' });

export class SnapshotStream {
  readonly name: string;
  private readonly lease: string;
  private readonly manifest: string;
  private readonly dataPrefix: string;

  /**
   * @param jsm for stream calls; `quick`, the same with a short timeout, for message reads, which
   *   a clustered server leaves unanswered while the stream has no leader yet (just created, or
   *   its leader died), so they are retried rather than waited for.
   */
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly quick: JetStreamManager,
    private readonly js: JetStreamClient,
    commitStream: string,
    private readonly timeoutMs: number,
  ) {
    this.name = `${commitStream}-snapshots`;
    this.lease = `${commitStream}.snapshots.lease`;
    this.manifest = `${commitStream}.snapshots.manifest`;
    this.dataPrefix = `${commitStream}.snapshots.data`;
  }

  /**
   * Creates the stream when missing, with the commit log's replicas (an existing one is left alone).
   * Retried while the servers do not answer: two instances creating it at once on a cluster can
   * leave one request unanswered until the new stream has a leader (seen: 5 s and more on a loaded
   * 2-core machine); creating it again with the same configuration is harmless.
   */
  async ensure(replicas: number): Promise<void> {
    const deadline = Date.now() + this.timeoutMs * 4;
    for (;;) {
      try {
        await this.create(replicas);
        return;
      } catch (error) {
        if (!noAnswer(error) || Date.now() > deadline) throw error;
      }
    }
  }

  private async create(replicas: number): Promise<void> {
    try {
      await this.quick.streams.info(this.name);
      return;
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND)) throw error;
    }
    try {
      await this.quick.streams.add({
        name: this.name,
        subjects: [`${this.lease.slice(0, -'.lease'.length)}.>`],
        storage: StorageType.File,
        num_replicas: replicas,
      });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) throw error;
    }
  }

  /** The newest complete snapshot's manifest, or undefined when there is none (or no stream yet). */
  async latest(): Promise<LatestSnapshot | undefined> {
    // Asked first: a clustered server does not answer a message read on a missing stream at all.
    try {
      await this.jsm.streams.info(this.name);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND) return undefined;
      throw error;
    }
    const message = await this.get({ last_by_subj: this.manifest });
    if (message === null) return undefined;
    const manifest = message.json<SnapshotManifest>();
    if (!Number.isSafeInteger(manifest?.sequence) || !Array.isArray(manifest.chunks))
      throw corrupt(`snapshot manifest ${message.seq} of ${this.name} is malformed`);
    return { manifest, at: message.seq };
  }

  /**
   * The snapshot's records, or undefined when one of its chunks is gone: a newer snapshot replaced
   * it while it was being read (the caller starts over from the newest manifest).
   */
  async read(manifest: SnapshotManifest): Promise<SnapshotRecord[] | undefined> {
    const subject = `${this.dataPrefix}.${manifest.sequence}`;
    const parts: SnapshotRecord[][] = [];
    for (let start = 0; start < manifest.chunks.length; start += WINDOW) {
      const window = manifest.chunks.slice(start, start + WINDOW);
      const messages = await Promise.all(window.map((seq) => this.get({ seq })));
      for (const message of messages) {
        // A purged chunk reads as missing; its sequence is never reused, so no other message is found there.
        if (message === null || message.subject !== subject) return undefined;
        parts.push(JSON.parse(decoder.decode(message.data)) as SnapshotRecord[]);
      }
    }
    const records = parts.flat();
    if (records.length !== manifest.records)
      throw corrupt(`snapshot at ${manifest.sequence} holds ${records.length} records, its manifest says ${manifest.records}`);
    return records;
  }

  /**
   * Writes the snapshot of `records` at commit `sequence`: the chunks (each at most `chunkBytes`),
   * then the manifest, which the server stores only if the newest manifest is still the one at
   * `after` (0: none), so two writers racing cannot both succeed and an older snapshot never
   * replaces a newer one. 'superseded' when another manifest came first (its chunks are removed).
   * A writer that dies before the manifest leaves chunks nobody reads; the next snapshot removes them.
   */
  async write(sequence: number, records: readonly SnapshotRecord[], chunkBytes: number, after: number): Promise<LatestSnapshot | 'superseded'> {
    const subject = `${this.dataPrefix}.${sequence}`;
    const chunks = encodeChunks(records, chunkBytes);
    const sequences: number[] = [];
    let bytes = 0;
    for (let start = 0; start < chunks.length; start += WINDOW) {
      const window = chunks.slice(start, start + WINDOW);
      const acks = await Promise.all(window.map((data) => this.js.publish(subject, data, { timeout: this.timeoutMs })));
      for (const [i, ack] of acks.entries()) {
        sequences.push(ack.seq);
        bytes += window[i].length;
      }
    }
    const manifest: SnapshotManifest = { sequence, chunks: sequences, records: records.length, bytes };
    try {
      const ack = await this.js.publish(this.manifest, encoder.encode(JSON.stringify(manifest)), {
        timeout: this.timeoutMs,
        expect: { lastSubjectSequence: after },
      });
      return { manifest, at: ack.seq };
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE)) throw error;
      await this.jsm.streams.purge(this.name, { filter: subject });
      return 'superseded';
    }
  }

  /**
   * Takes (or renews) the compaction lease for `holder` until `ms` from now, by compare-and-set on
   * the lease subject: false when another holder's lease has not run out or another taker came
   * first. Expiry compares the holder's clock with the taker's: clocks may drift by much less than
   * a lease. The lease only saves duplicate work; the manifest's compare-and-set keeps it safe.
   */
  async takeLease(holder: string, ms: number): Promise<Lease | undefined> {
    const last = await this.get({ last_by_subj: this.lease });
    if (last !== null) {
      const lease = last.json<{ holder?: string; until?: number }>();
      if (lease.holder !== holder && typeof lease.until === 'number' && lease.until > Date.now()) return undefined;
    }
    return this.claim(holder, Date.now() + ms, last?.seq ?? 0);
  }

  /** Ends `lease` now, unless someone took it since (its holder's lease had run out). */
  async releaseLease(lease: Lease): Promise<void> {
    await this.claim(lease.holder, 0, lease.at);
  }

  private async claim(holder: string, until: number, after: number): Promise<Lease | undefined> {
    try {
      const ack = await this.js.publish(this.lease, encoder.encode(JSON.stringify({ holder, until })), {
        timeout: this.timeoutMs,
        expect: { lastSubjectSequence: after },
      });
      return { holder, at: ack.seq };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) return undefined;
      throw error;
    }
  }

  /** One stored message (null: none), retried while the stream's leader does not answer yet. */
  private async get(query: MsgRequest): Promise<StoredMsg | null> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        return await this.quick.streams.getMessage(this.name, query);
      } catch (error) {
        if (!noAnswer(error) || Date.now() > deadline) throw error;
      }
    }
  }

  /**
   * After `latest` is stored: removes the chunks stored before its own (older snapshots, complete
   * or not) and old manifests and leases. Chunks stored after it are left: they may be those of a
   * writer that started after this manifest and will publish the next one.
   */
  async prune(latest: LatestSnapshot): Promise<void> {
    const first = Math.min(...latest.manifest.chunks, latest.at);
    await this.jsm.streams.purge(this.name, { filter: `${this.dataPrefix}.>`, seq: first });
    await this.jsm.streams.purge(this.name, { filter: this.manifest, keep: 1 });
    await this.jsm.streams.purge(this.name, { filter: this.lease, keep: 1 });
  }
}

/** Records as JSON arrays of whole records, each array encoded to at most `limit` bytes where a record allows. */
function encodeChunks(records: readonly SnapshotRecord[], limit: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let parts: string[] = [];
  let size = 2; // the brackets
  for (const record of records) {
    const text = JSON.stringify(record);
    const bytes = Buffer.byteLength(text) + 1;
    if (parts.length > 0 && size + bytes > limit) {
      chunks.push(encoder.encode(`[${parts.join(',')}]`));
      parts = [];
      size = 2;
    }
    parts.push(text);
    size += bytes;
  }
  if (parts.length > 0) chunks.push(encoder.encode(`[${parts.join(',')}]`));
  return chunks;
}
