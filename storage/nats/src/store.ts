// A BucketStore on NATS JetStream: one stream is the commit log (one message per batch or
// compare-and-set, its stream sequence the revision), and every store object follows it into an
// in-memory ordered view that serves all reads. See docs/cluster.md for the design.
import { randomUUID } from 'node:crypto';
import {
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type PubAck,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection, NoRespondersError, TimeoutError } from '@nats-io/transport-node';
import {
  type Bucket,
  type BucketStore,
  checkBucketName,
  checkCompareAndSet,
  checkOperation,
  closedError,
  conflictError,
  type StoreChange,
  StoreError,
  type StoreOperation,
} from '@twinhub/bucket';
import { type Commit, decodeCommit, encodeCommit, OPS_PER_COMMIT, revisionOf } from './commit.js';
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
  /** User and password, when the servers require them. */
  user?: string;
  pass?: string;
}

type Listener = (changes: readonly StoreChange[]) => void;

/** Bytes kept free under the server's max_payload for the message's headers. */
const HEADER_ALLOWANCE = 1024;
/** Pull expiry of the follower; its idle heartbeat (half of it) bounds how long a dead consumer goes unnoticed. */
const FOLLOW_EXPIRES_MS = 10_000;
/** The server's error code for a publish whose Nats-Expected-Last-Sequence did not match. */
const WRONG_LAST_SEQUENCE = 10071;
/** The server's error code for "stream name already in use" (another instance created it first). */
const STREAM_NAME_IN_USE = 10058;

function unavailable(message: string, cause?: unknown): StoreError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new StoreError(`${message}${detail}`, { cause, code: 'unavailable' });
}

/** Whether a failed JetStream call may succeed when tried again (no answer yet, no leader yet). */
function retryable(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.status === 503 || error.status === 408;
  return error instanceof TimeoutError || error instanceof NoRespondersError;
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
  private readonly view = new RecordView();
  private readonly listeners = new Set<Listener>();
  private readonly buckets = new Map<string, Bucket>();
  /** Callers waiting until the view reached a stream sequence. */
  private waiters: { sequence: number; resolve: (reached: boolean) => void; reject: (error: unknown) => void }[] = [];
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
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

  async batch(operations: readonly StoreOperation[]): Promise<void> {
    this.checkOpen();
    // Validate everything before publishing, so a bad batch applies nothing.
    for (const op of operations) checkOperation(op);
    if (operations.length === 0) return;
    await this.whenReady();
    const ack = await this.publish([...operations]);
    if (ack === 'wrong-last-sequence') throw new StoreError('unexpected sequence expectation on a batch', { code: 'corrupt' });
    await this.settle(ack.seq, operations);
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
    const { servers, token, user, pass } = this.options;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers,
        token,
        user,
        pass,
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
      throw unavailable(`cannot connect to NATS at ${String(servers)}`, error);
    }
    this.nc = nc;
    this.connected = true;
    void this.trackConnection(nc);
    if (this.closed) throw closedError();
    try {
      const last = await this.setUpStream(nc);
      this.history = last;
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
        this.js = jetstream(nc, { timeout: this.timeoutMs });
        await this.ensureStream(jsm, nc);
        const last = (await jsm.streams.info(this.stream)).state.last_seq;
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
        this.messages?.stop();
      }
    }
  }

  /** Follows the log from the first commit not applied yet; starts over after any failure. */
  private async follow(): Promise<void> {
    const js = this.js as JetStreamClient;
    while (!this.closed) {
      try {
        const consumer = await js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.view.applied + 1 });
        const messages = await consumer.consume({ expires: FOLLOW_EXPIRES_MS });
        this.messages = messages;
        if (this.closed) messages.stop();
        for await (const message of messages) this.receive(message.seq, message.data);
      } catch {
        // Disconnected or the consumer vanished: retry below; reads keep serving the view.
      }
      if (!this.closed) await sleep(250);
    }
  }

  /** A commit from the log: applied in order (once), reported when another writer made it. */
  private receive(sequence: number, data: Uint8Array): void {
    if (this.closed || sequence <= this.view.applied) return;
    let commit: Commit;
    try {
      commit = decodeCommit(data, sequence);
    } catch {
      // Not a twinhub commit (someone else published on the subject): skip it, keep the order.
      commit = { writer: '', operations: [] };
    }
    const changes = this.view.apply(sequence, commit.operations);
    this.wake();
    if (commit.writer === this.writer || sequence <= this.history || changes.length === 0) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(changes);
      } catch {
        // A listener's failure is its own; the feed goes on for the others.
      }
    }
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
  private async publish(operations: StoreOperation[], expectedLast?: number): Promise<PubAck | 'wrong-last-sequence'> {
    if (operations.length > OPS_PER_COMMIT) {
      throw new StoreError(`a batch of ${operations.length} operations is over the limit of ${OPS_PER_COMMIT} per commit; split it`, { code: 'full' });
    }
    const data = encodeCommit({ writer: this.writer, operations });
    const nc = this.nc as NatsConnection;
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    if (data.length > maxPayload - HEADER_ALLOWANCE) {
      // One message per commit keeps a batch atomic; splitting would need a commit protocol.
      throw new StoreError(
        `a batch of ${operations.length} operations encodes to ${data.length} bytes, over what one NATS message may carry (max_payload ${maxPayload} bytes less ${HEADER_ALLOWANCE} for headers); write it in smaller batches or raise the servers' max_payload`,
        { code: 'full' },
      );
    }
    if (!this.connected) throw unavailable('NATS is unreachable: the write was not made');
    try {
      return await (this.js as JetStreamClient).publish(this.subject, data, {
        timeout: this.timeoutMs,
        ...(expectedLast === undefined ? {} : { expect: { lastSequence: expectedLast } }),
      });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) return 'wrong-last-sequence';
      if (this.closed) throw closedError();
      throw unavailable('NATS JetStream did not confirm the write (it may not have been made)', error);
    }
  }

  /**
   * After our commit at `sequence` was stored: apply it at once when it is the next one in the
   * log, else let the follower bring the view up to it (read-your-writes). The write is durable
   * already, so a follower that lags past the timeout does not turn it into a failure.
   */
  private async settle(sequence: number, operations: readonly StoreOperation[]): Promise<void> {
    if (this.view.applied === sequence - 1) {
      this.view.apply(sequence, operations);
      this.wake();
      return;
    }
    await this.waitApplied(sequence, this.timeoutMs);
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
        await this.settle(ack.seq, operations);
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
