// A BucketStore on NATS JetStream: one stream is the commit log (one message per batch or
// compare-and-set, its stream sequence the revision), and every store object follows it into an
// in-memory ordered view that serves all reads, starting from the newest snapshot when the log was
// compacted. See docs/cluster.md for the design.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import {
  type Bucket,
  type BucketStore,
  checkBucketName,
  checkCompareAndSet,
  type BatchOptions,
  checkExpectations,
  checkOperation,
  type ExpectedRevision,
  expectationConflict,
  closedError,
  conflictError,
  type StoreChange,
  StoreError,
  type StoreOperation,
} from '@twinhub/bucket';
import { type Commit, decodeCommit, encodeCommit, OPS_PER_COMMIT, revisionOf, sequenceOf } from './commit.js';
import { COMPACTION_DEFAULTS, type CompactionOptions, type CompactionResult, CompactionSchedule, compactLog } from './compaction.js';
import { SnapshotStream } from './snapshot.js';
import { RecordView } from './view.js';

export interface NatsStoreOptions {
  /** NATS server URLs (any of the cluster's; the client learns the others). */
  servers: string | string[];
  /** The JetStream stream holding the commit log (created when missing). Default 'twinhub'. */
  stream?: string;
  /**
   * Replicas of the stream when this store creates it. Default: 3 when the cluster has 3 or more
   * servers, else 1. An existing stream keeps its configuration.
   */
  replicas?: number;
  /** Bound on every NATS round trip (publish, stream calls, catching up at open), in ms. Default 5000. */
  timeoutMs?: number;
  /** Pause between reconnect attempts, in ms. Default 1000. */
  reconnectWaitMs?: number;
  /** Authentication token, when the servers require one. */
  token?: string;
  /**
   * Path of a NATS credentials file (a user JWT and its NKey seed, the format `nsc` writes), when
   * the servers require one. Read at every connect (so a rotated file is picked up); its content
   * is never logged or put in an error message.
   */
  credsFile?: string;
  /** User and password, when the servers require them. */
  user?: string;
  pass?: string;
  /**
   * Log compaction (docs/cluster.md): when due, one instance snapshots its view and purges the
   * commits before it. On by default; false turns it off (this store then never compacts, but
   * still opens from a snapshot another instance wrote).
   */
  compaction?: false | CompactionOptions;
}

type Listener = (changes: readonly StoreChange[]) => void;

/** Bytes kept free under the server's max_payload for the message's headers. */
const HEADER_ALLOWANCE = 1024;
/** Pull expiry of the follower; its idle heartbeat (half of it) bounds how long a dead consumer goes unnoticed. */
const FOLLOW_EXPIRES_MS = 10_000;
/** Failed publishes remembered for the follower at most (each would be reported if it turns up in the log). */
const MAX_REMEMBERED_FAILURES = 1024;
/** The server's error code for a publish whose Nats-Expected-Last-Sequence did not match. */
const WRONG_LAST_SEQUENCE = 10071;
/** The server's error code for "stream name already in use" (another instance created it first). */
const STREAM_NAME_IN_USE = 10058;

function unavailable(message: string, cause?: unknown): StoreError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new StoreError(`${message}${detail}`, { cause, code: 'unavailable' });
}

/**
 * The server's error code for "no suitable peers for placement": a stream of N replicas asked for
 * while fewer than N servers are current, as when a cluster is still forming or a server rejoins
 * (seen opening a store just after the servers started). It passes once they are; retried until
 * the open's bound, after which the error says why (also when the cluster is too small for good).
 */
const NO_PEERS_FOR_PLACEMENT = 10005;
/** Whether a failed JetStream call may succeed when tried again (no answer yet, no leader yet, peers not current yet). */
function retryable(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.status === 503 || error.status === 408 || error.code === NO_PEERS_FOR_PLACEMENT;
  return error instanceof TimeoutError || error instanceof NoRespondersError;
}

/** The client reports a publish nobody answered as "JetStream not enabled", the RequestError as its cause. */
const noResponders = (error: unknown): boolean => error instanceof Error && error.cause instanceof RequestError && error.cause.isNoResponders();

/** A server URL as it may be shown (logs, errors, the start banner): without a user and password in it. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A BucketStore whose records live in a NATS JetStream stream. Construct with `NatsStore.open` (or
 * `new NatsStore(options)`, which connects in the background: every call waits for it). Each store
 * object is one writer: its change feed reports the commits of every other store object on the
 * same stream, whichever process they live in.
 */
export class NatsStore implements BucketStore {
  /** Connects, creates the stream when missing and catches up with the log. Rejects 'unavailable'. */
  static async open(options: NatsStoreOptions): Promise<NatsStore> {
    const store = new NatsStore(options);
    try {
      await store.ready;
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Settles once the store can serve: connected, stream present, the log applied up to open time. */
  readonly ready: Promise<void>;
  readonly options: NatsStoreOptions;
  private readonly writer = randomUUID();
  private readonly stream: string;
  private readonly subject: string;
  private readonly timeoutMs: number;
  private view = new RecordView();
  private readonly listeners = new Set<Listener>();
  private readonly buckets = new Map<string, Bucket>();
  /** Callers waiting until the view reached a stream sequence. */
  private waiters: { sequence: number; resolve: (reached: boolean) => void; reject: (error: unknown) => void }[] = [];
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private snapshots: SnapshotStream | undefined;
  /** Replicas of the commit log, given to the snapshot stream when this store creates it. */
  private replicas = 1;
  private readonly schedule: CompactionSchedule;
  private compacting: Promise<void> | undefined;
  /**
   * Set when the follower met a commit after a gap: the commits in between were purged by a
   * compaction before this view applied them, so it must reload from the snapshot.
   */
  private gapAt: number | undefined;
  /** Sequences of this store's own commits, acknowledged but not applied to the view yet. */
  private readonly ownPending = new Set<number>();
  /** This writer's commit numbers (`Commit.number`), one per publish. */
  private commitNumber = 0;
  /**
   * This writer's publishes not confirmed yet ('in flight'), or rejected as unconfirmed ('failed':
   * the ack never came, the commit may still be in the log). The follower tells them apart from
   * confirmed ones: one seen in flight has landed (a late ack or a failure then returns its
   * sequence), one seen after its failure was made after all and is reported on the change feed.
   */
  private readonly unconfirmed = new Map<number, { state: 'in flight' | 'failed'; landed?: number }>();
  private messages: ConsumerMessages | undefined;
  private connected = false;
  private closed = false;
  /** Commits up to this sequence were in the log before this store opened: applied, not reported. */
  private history = Number.POSITIVE_INFINITY;

  constructor(options: NatsStoreOptions) {
    this.options = options;
    this.stream = options.stream ?? 'twinhub';
    this.subject = `${this.stream}.commits`;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.schedule = new CompactionSchedule({ ...COMPACTION_DEFAULTS, ...(options.compaction || {}) });
    this.ready = this.start();
    // Callers see the failure through their own calls; this only keeps it from being "unhandled".
    this.ready.catch(() => undefined);
  }

  /** Another store object on the same stream with its own connection: a second hub instance. */
  peer(): NatsStore {
    this.checkOpen();
    return new NatsStore(this.options);
  }

  bucket(name: string): Bucket {
    this.checkOpen();
    checkBucketName(name);
    let bucket = this.buckets.get(name);
    if (bucket === undefined) {
      bucket = this.createBucket(name);
      this.buckets.set(name, bucket);
    }
    return bucket;
  }

  async batch(operations: readonly StoreOperation[], options: BatchOptions = {}): Promise<readonly number[]> {
    this.checkOpen();
    // Validate everything before publishing, so a bad batch applies nothing.
    for (const op of operations) checkOperation(op);
    const expect = options.expect ?? [];
    checkExpectations(expect);
    if (operations.length === 0 && expect.length === 0) return [];
    await this.whenReady();
    if (expect.length > 0) return this.conditionalBatch(operations, expect);
    const ack = await this.publish([...operations]);
    if (ack === 'wrong-last-sequence') throw new StoreError('unexpected sequence expectation on a batch', { code: 'corrupt' });
    await this.settle(ack.seq, operations, ack.bytes);
    return operations.map((_, index) => revisionOf(ack.seq, index));
  }

  watch(listener: Listener): () => void {
    this.checkOpen();
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.buckets.clear();
    for (const waiter of this.waiters) waiter.reject(closedError());
    this.waiters = [];
    await this.ready.catch(() => undefined);
    this.messages?.stop();
    await this.compacting;
    await this.nc?.close().catch(() => undefined);
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }

  private async whenReady(): Promise<void> {
    await this.ready;
    this.checkOpen();
  }

  private async start(): Promise<void> {
    const { servers, token, user, pass, credsFile } = this.options;
    let nc: NatsConnection;
    try {
      if (credsFile !== undefined) readFileSync(credsFile); // fails here, naming the file, rather than inside the client
    } catch (error) {
      throw unavailable(`cannot read the NATS credentials file ${credsFile}`, error);
    }
    try {
      nc = await connect({
        servers,
        token,
        user,
        pass,
        ...(credsFile === undefined ? {} : { authenticator: credsAuthenticator(() => readFileSync(credsFile)) }),
        name: `twinhub-store-${this.writer}`,
        timeout: this.timeoutMs,
        maxReconnectAttempts: -1,
        // The client otherwise builds two Error objects per request (publish) only to improve a
        // timeout's stack trace: 9.5 % of CPU when committing (profile); failures here become
        // StoreErrors with their own message anyway.
        noAsyncTraces: true,
        reconnectTimeWait: this.options.reconnectWaitMs ?? 1000,
      });
    } catch (error) {
      throw unavailable(`cannot connect to NATS at ${[servers].flat().map(withoutCredentials).join(', ')}`, error);
    }
    this.nc = nc;
    this.connected = true;
    void this.trackConnection(nc);
    if (this.closed) throw closedError();
    try {
      const last = await this.setUpStream(nc);
      const snapshot = await this.openingSnapshot();
      if (snapshot !== undefined) this.view = snapshot;
      // Commits up to here are the state at open, not news: only later ones are reported.
      this.history = Math.max(last, this.view.applied);
      void this.follow();
      if (!(await this.waitApplied(last, this.timeoutMs * 4)))
        throw unavailable(`the commit log of stream ${this.stream} could not be read up to sequence ${last} in time`);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw unavailable(`NATS JetStream stream ${JSON.stringify(this.stream)} is not usable`, error);
    }
  }

  /**
   * Creates the stream when missing and returns its last sequence, retrying while JetStream cannot
   * answer yet (a meta or stream leader election after a server died takes seconds) up to a bound.
   */
  private async setUpStream(nc: NatsConnection): Promise<number> {
    const deadline = Date.now() + this.timeoutMs * 4;
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: this.timeoutMs });
        this.jsm = jsm;
        this.js = jetstream(nc, { timeout: this.timeoutMs });
        const quick = await jetstreamManager(nc, { timeout: Math.min(1000, this.timeoutMs), checkAPI: false });
        this.snapshots = new SnapshotStream(jsm, quick, this.js, this.stream, this.timeoutMs);
        await this.ensureStream(jsm, nc);
        const info = await jsm.streams.info(this.stream);
        this.replicas = info.config.num_replicas;
        const last = info.state.last_seq;
        // A compacted log is never empty: its last commit stays.
        if (last > 0) return last;
        // The server ignores an expected last sequence of 0, so compare-and-set needs a log that
        // is never empty: a first, empty commit (two instances racing here both add one: harmless).
        return (await this.js.publish(this.subject, encodeCommit({ writer: this.writer, operations: [] }), { timeout: this.timeoutMs })).seq;
      } catch (error) {
        if (this.closed || Date.now() > deadline || !retryable(error)) throw error;
        await sleep(250);
      }
    }
  }

  /** Creates the commit log stream unless it exists (its configuration is then left alone). */
  private async ensureStream(jsm: JetStreamManager, nc: NatsConnection): Promise<void> {
    try {
      await jsm.streams.info(this.stream);
      return;
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.status !== 404) throw error;
    }
    // connect_urls lists the client URLs of every server in the cluster (absent on a lone server).
    const servers = nc.info?.connect_urls?.length ?? 1;
    const replicas = this.options.replicas ?? (servers >= 3 ? 3 : 1);
    try {
      await jsm.streams.add({ name: this.stream, subjects: [this.subject], storage: StorageType.File, num_replicas: replicas });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) throw error;
    }
  }

  private async trackConnection(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') this.connected = false;
      else if (status.type === 'reconnect') {
        this.connected = true;
        // Follow again from the view's position at once, rather than waiting for the consumer to
        // notice missed heartbeats (the stream may have a new leader, the old consumer is gone).
        this.restartFollower();
      }
    }
  }

  /**
   * Follows the log from the first commit not applied yet; starts over after any failure, and
   * reloads from the newest snapshot when the commits it needed next were purged.
   */
  private async follow(): Promise<void> {
    const js = this.js as JetStreamClient;
    while (!this.closed) {
      try {
        if (this.gapAt !== undefined) await this.reload(this.gapAt);
        const consumer = await js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.view.applied + 1 });
        const messages = await consumer.consume({ expires: FOLLOW_EXPIRES_MS });
        this.messages = messages;
        if (this.closed) messages.stop();
        void this.watchHeartbeats(messages);
        for await (const message of messages) {
          this.receive(message.seq, message.data);
          if (this.gapAt !== undefined) {
            messages.stop();
            break;
          }
        }
        if (this.gapAt !== undefined) continue;
      } catch {
        // Disconnected, the consumer vanished or no snapshot covers a gap yet: retry below; reads
        // keep serving the view.
      }
      if (!this.closed) await sleep(250);
    }
  }

  /**
   * loadSnapshot while the store opens, retried like the stream set-up: another store may be
   * creating the snapshot stream right now (a clustered server leaves reads of a stream without a
   * leader yet unanswered until its election ends).
   */
  private async openingSnapshot(): Promise<RecordView | undefined> {
    const deadline = Date.now() + this.timeoutMs * 4;
    for (;;) {
      try {
        return await this.loadSnapshot();
      } catch (error) {
        if (this.closed || Date.now() > deadline || !retryable(error)) throw error;
        await sleep(250);
      }
    }
  }

  /**
   * Ends the follower's consumer when its heartbeats stop (then `follow` starts a new one from the
   * view). The client's ordered consumer would try to heal itself by asking the server about the
   * old consumer, but when the server holding it (the stream leader) died while this connection
   * went to a surviving server, that question is never answered: the view would stop following
   * the log for good, with no disconnect to set it going again (found by the cluster outage test).
   */
  private async watchHeartbeats(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (status.type === 'heartbeats_missed') {
        messages.stop();
        return;
      }
    }
  }

  /** The newest complete snapshot as a view, or undefined when the log was never compacted. */
  private async loadSnapshot(): Promise<RecordView | undefined> {
    const snapshots = this.snapshots as SnapshotStream;
    // A newer snapshot may replace the one being read (its chunks are then purged): start over.
    for (let attempt = 1; ; attempt++) {
      const latest = await snapshots.latest();
      if (latest === undefined) return undefined;
      const records = await snapshots.read(latest.manifest);
      if (records !== undefined) {
        this.schedule.snapshotSeen(latest.manifest, latest.manifest.sequence);
        return RecordView.fromRecords(latest.manifest.sequence, records);
      }
      if (attempt === 5) throw unavailable(`the snapshots of stream ${this.stream} kept being replaced while being read`);
    }
  }

  /**
   * The follower found the log purged past the view (commits `applied + 1` to `gapAt - 1` are
   * gone): loads the newest snapshot, which covers them, and reports to watch listeners what it
   * changed, as one call (the single commits in between are not known any more).
   */
  private async reload(gapAt: number): Promise<void> {
    const next = await this.loadSnapshot();
    if (this.closed) return;
    if (next === undefined || next.applied < gapAt - 1) {
      throw unavailable(`commits ${this.view.applied + 1} to ${gapAt - 1} of stream ${this.stream} are gone and no snapshot covers them`);
    }
    this.gapAt = undefined;
    if (next.applied <= this.view.applied) return;
    const changes = this.view
      .changesTo(next)
      .filter((change) => sequenceOf(change.revision) > this.history && !this.ownPending.has(sequenceOf(change.revision)));
    this.view = next;
    for (const sequence of this.ownPending) if (sequence <= next.applied) this.ownPending.delete(sequence);
    this.wake();
    this.report(changes);
  }

  /** Ends the follower's consumer now: `follow` starts a new one from the view's position. */
  private restartFollower(): void {
    this.messages?.stop();
  }

  /** A commit from the log: applied in order (once), reported when another writer made it. */
  private receive(sequence: number, data: Uint8Array): void {
    if (this.closed || sequence <= this.view.applied) return;
    if (sequence > this.view.applied + 1) {
      // Ordered consumers skip purged messages silently: a hole in the sequence is the only sign.
      this.gapAt = sequence;
      return;
    }
    let commit: Commit;
    try {
      commit = decodeCommit(data, sequence);
    } catch {
      // Not a twinhub commit (someone else published on the subject): skip it, keep the order.
      commit = { writer: '', operations: [] };
    }
    const changes = this.view.apply(sequence, commit.operations);
    this.ownPending.delete(sequence);
    this.wake();
    this.counted(data.length);
    if (commit.writer === this.writer) {
      const own = commit.number === undefined ? undefined : this.unconfirmed.get(commit.number);
      if (own?.state === 'in flight') own.landed = sequence;
      else if (own?.state === 'failed' && commit.number !== undefined) {
        // Its batch was rejected 'unconfirmed' and it is in the log after all: report it, or the
        // caller's view would never hold what the store does.
        this.unconfirmed.delete(commit.number);
        if (sequence > this.history) this.report(changes);
      }
      return;
    }
    if (sequence <= this.history) return;
    this.report(changes);
  }

  private report(changes: StoreChange[]): void {
    if (changes.length === 0) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(changes);
      } catch {
        // A listener's failure is its own; the feed goes on for the others.
      }
    }
  }

  /** A commit of `bytes` was applied: starts a compaction in the background when one is due. */
  private counted(bytes: number): void {
    this.schedule.count(bytes);
    if (this.options.compaction === false || this.compacting !== undefined || this.closed || !this.connected || !this.schedule.due()) return;
    this.compacting = this.compact().then(
      (result) => {
        if (!result.done) this.schedule.backOff();
      },
      // A failed attempt (a server away, a timeout) is retried later; the log only grows meanwhile.
      () => this.schedule.backOff(),
    );
    void this.compacting.finally(() => {
      this.compacting = undefined;
    });
  }

  /**
   * Compacts the log now (what happens in the background when due): if this store wins the lease,
   * writes a snapshot of its view and purges the commits before it. Says what it did.
   */
  async compact(): Promise<CompactionResult> {
    this.checkOpen();
    await this.whenReady();
    const snapshots = this.snapshots as SnapshotStream;
    await snapshots.ensure(this.replicas);
    const maxPayload = (this.nc as NatsConnection).info?.max_payload ?? 1024 * 1024;
    const options = this.options.compaction || {};
    const result = await compactLog({
      jsm: this.jsm as JetStreamManager,
      snapshots,
      stream: this.stream,
      writer: this.writer,
      view: this.view,
      leaseMs: options.leaseMs ?? COMPACTION_DEFAULTS.leaseMs,
      chunkBytes: Math.min(options.chunkBytes ?? Number.POSITIVE_INFINITY, maxPayload - HEADER_ALLOWANCE),
    });
    if (result.done) this.schedule.snapshotSeen(result, this.view.applied);
    else if (result.latest !== undefined) this.schedule.snapshotSeen(result.latest, this.view.applied);
    return result;
  }

  private wake(): void {
    const applied = this.view.applied;
    const due = this.waiters.filter((waiter) => waiter.sequence <= applied);
    if (due.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => waiter.sequence > applied);
    for (const waiter of due) waiter.resolve(true);
  }

  /** Resolves true once the view applied `sequence`, false after `timeoutMs`. */
  private waitApplied(sequence: number, timeoutMs: number): Promise<boolean> {
    if (this.view.applied >= sequence) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      const waiter = {
        sequence,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
        reject,
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Publishes one commit and resolves once JetStream stored it (replicated to a quorum): only then
   * is a write acknowledged. With `expectedLast`, the server refuses it if any commit came after
   * that sequence ('wrong-last-sequence'). Rejects 'unavailable' at once while disconnected.
   */
  private async publish(operations: StoreOperation[], expectedLast?: number): Promise<{ seq: number; bytes: number } | 'wrong-last-sequence'> {
    if (operations.length > OPS_PER_COMMIT) {
      throw new StoreError(`a batch of ${operations.length} operations is over the limit of ${OPS_PER_COMMIT} per commit; split it`, { code: 'full' });
    }
    const number = ++this.commitNumber;
    const data = encodeCommit({ writer: this.writer, number, operations });
    const nc = this.nc as NatsConnection;
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    if (data.length > maxPayload - HEADER_ALLOWANCE) {
      // One message per commit keeps a batch atomic; splitting would need a commit protocol.
      throw new StoreError(
        `a batch of ${operations.length} operations encodes to ${data.length} bytes, over what one NATS message may carry (max_payload ${maxPayload} bytes less ${HEADER_ALLOWANCE} for headers); write it in smaller batches or raise the servers' max_payload`,
        { code: 'full' },
      );
    }
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      if (!this.connected) throw unavailable('NATS is unreachable: the write was not made');
      this.unconfirmed.set(number, { state: 'in flight' });
      try {
        const ack = await (this.js as JetStreamClient).publish(this.subject, data, {
          timeout: this.timeoutMs,
          ...(expectedLast === undefined ? {} : { expect: { lastSequence: expectedLast } }),
        });
        this.unconfirmed.delete(number);
        return { seq: ack.seq, bytes: data.length };
      } catch (error) {
        const landed = this.unconfirmed.get(number)?.landed;
        this.unconfirmed.delete(number);
        if (error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) return 'wrong-last-sequence';
        if (this.closed) throw closedError();
        // The ack was lost but the follower already saw the commit in the log: it was made.
        if (landed !== undefined) return { seq: landed, bytes: data.length };
        // No responders: nobody received the message, so sending it again cannot store it twice.
        // It happens while a server has not yet learnt where the stream's leader is (a stream
        // just created, a leader just elected). A timeout is not retried: that write may be stored.
        if (noResponders(error) && Date.now() < deadline) {
          await sleep(100);
          continue;
        }
        if (noResponders(error)) throw unavailable('NATS JetStream did not take the write (no server answered for the stream): it was not made', error);
        // The server answered with an error: it did not store the message.
        if (error instanceof JetStreamApiError) throw unavailable('NATS JetStream refused the write: it was not made', error);
        // No answer in time (or the connection dropped meanwhile): the commit may be in the log.
        this.rememberFailed(number);
        const detail = error instanceof Error ? `: ${error.message}` : '';
        throw new StoreError(
          `NATS JetStream did not confirm the write in ${this.timeoutMs} ms; it may still have been made (then it shows like another writer's change): read before retrying${detail}`,
          { cause: error, code: 'unconfirmed' },
        );
      }
    }
  }

  /** Keeps a failed publish's number for the follower; the oldest go past a bound (a commit that never landed stays failed forever). */
  private rememberFailed(number: number): void {
    this.unconfirmed.set(number, { state: 'failed' });
    if (this.unconfirmed.size > MAX_REMEMBERED_FAILURES) {
      for (const [oldest, entry] of this.unconfirmed) {
        if (entry.state === 'failed') {
          this.unconfirmed.delete(oldest);
          break;
        }
      }
    }
  }

  /**
   * After our commit at `sequence` was stored: apply it at once when it is the next one in the
   * log, else let the follower bring the view up to it (read-your-writes). The write is durable
   * already, so a follower that lags past the timeout does not turn it into a failure.
   */
  private async settle(sequence: number, operations: readonly StoreOperation[], bytes: number): Promise<void> {
    // The follower applied it already (it reached the log before its acknowledgement reached us, or
    // the acknowledgement was lost and the follower saw it): nothing to wait for, nothing to track.
    if (this.view.applied >= sequence) return;
    if (this.view.applied === sequence - 1) {
      this.view.apply(sequence, operations);
      this.wake();
      this.counted(bytes);
      return;
    }
    this.ownPending.add(sequence);
    // Our commit is in the log but the follower did not bring it within the bound: it is stuck
    // (its consumer lost), so start it again rather than wait for missed heartbeats.
    if (!(await this.waitApplied(sequence, this.timeoutMs))) this.restartFollower();
  }

  /**
   * A batch applied only if the expected revisions still hold: checked against the view, then
   * published on the condition that no commit came after the view's last one (like compareAndSet).
   */
  private async conditionalBatch(operations: readonly StoreOperation[], expect: readonly ExpectedRevision[]): Promise<readonly number[]> {
    for (;;) {
      this.checkOpen();
      for (const expected of expect) {
        const actual = this.view.entry(expected.bucket, expected.key)?.revision ?? 0;
        if (actual !== expected.revision) throw expectationConflict(expected, actual);
      }
      if (operations.length === 0) return [];
      const seen = this.view.applied;
      const ack = await this.publish([...operations], seen);
      if (ack !== 'wrong-last-sequence') {
        await this.settle(ack.seq, operations, ack.bytes);
        return operations.map((_, index) => revisionOf(ack.seq, index));
      }
      if (!(await this.waitApplied(seen + 1, this.timeoutMs))) throw unavailable('the commit log could not be followed in time to check a conditional batch');
    }
  }

  private async compareAndSet(bucket: string, key: string, value: string | undefined, expectedRevision: number): Promise<number> {
    this.checkOpen();
    checkCompareAndSet(key, value, expectedRevision);
    await this.whenReady();
    const operations: StoreOperation[] = [value === undefined ? { bucket, type: 'del', key } : { bucket, type: 'put', key, value }];
    for (;;) {
      this.checkOpen();
      const actual = this.view.entry(bucket, key)?.revision ?? 0;
      if (actual !== expectedRevision) throw conflictError(bucket, key, expectedRevision, actual);
      if (value === undefined && actual === 0) return 0; // deleting an absent key changes nothing
      // Optimistic: valid only if nothing was committed after the view's last commit.
      const seen = this.view.applied;
      const ack = await this.publish(operations, seen);
      if (ack !== 'wrong-last-sequence') {
        await this.settle(ack.seq, operations, ack.bytes);
        return value === undefined ? 0 : revisionOf(ack.seq, 0);
      }
      // Someone committed meanwhile: catch up, then re-check the key's revision.
      if (!(await this.waitApplied(seen + 1, this.timeoutMs))) throw unavailable('the commit log could not be followed in time to check a compare-and-set');
    }
  }

  private createBucket(name: string): Bucket {
    // Methods are async so that a closed store or a bad argument rejects instead of throwing.
    const store = this;
    return {
      name,
      async get(key) {
        store.checkOpen();
        await store.whenReady();
        return store.view.entry(name, key)?.value;
      },
      async getEntry(key) {
        store.checkOpen();
        await store.whenReady();
        const found = store.view.entry(name, key);
        return found === undefined ? undefined : { value: found.value, revision: found.revision };
      },
      compareAndSet(key, value, expectedRevision) {
        return store.compareAndSet(name, key, value, expectedRevision);
      },
      async *entries(range) {
        store.checkOpen();
        await store.whenReady();
        yield* store.view.snapshot(name, range);
      },
    };
  }
}
