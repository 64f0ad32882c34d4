// The storage contract every backend implements. The core persists through these interfaces
// only, so it never knows whether LevelDB, memory or something else sits underneath.
// Keys and values are strings: the core serializes (JSON) and chooses key layouts that sort well.

/** Bounds for an ordered walk over a bucket's keys (lexicographic, by UTF-16 code units). */
export interface KeyRange {
  /** Only keys starting with this prefix. Combines with the bounds below. */
  prefix?: string;
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  /** At most this many entries. */
  limit?: number;
  /** Walk from the highest key down. */
  reverse?: boolean;
}

export type BucketOperation = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** An operation of a store-wide batch: the same as a bucket operation, naming its bucket. */
export type StoreOperation = BucketOperation & { bucket: string };

/** A key's revision a conditional batch expects (0: the key must be absent). */
export interface ExpectedRevision {
  bucket: string;
  key: string;
  revision: number;
}

export interface BatchOptions {
  /**
   * Apply the batch only if every one of these keys still has this revision (compare-and-set
   * over several keys and buckets); otherwise reject with 'conflict' and apply nothing.
   */
  expect?: readonly ExpectedRevision[];
}

/** A value with its revision: a positive number that grows with every write of any key in the store. */
export interface Revisioned {
  value: string;
  revision: number;
}

/** A record committed by another writer of the same store (cluster mode), as the change feed reports it. */
export interface StoreChange {
  bucket: string;
  key: string;
  /** undefined: the key was deleted. */
  value: string | undefined;
  revision: number;
}

/** A named, ordered key/value namespace inside a store. Writes go through `BucketStore.batch` or `compareAndSet`. */
export interface Bucket {
  readonly name: string;
  get(key: string): Promise<string | undefined>;
  /** The value and its current revision; undefined when the key is absent. */
  getEntry(key: string): Promise<Revisioned | undefined>;
  /**
   * Writes (or with `value` undefined, deletes) `key` only if its current revision is
   * `expectedRevision` (0: the key must be absent). Resolves with the new revision (0 after a
   * delete); rejects with a StoreError of code 'conflict' when another write came first.
   */
  compareAndSet(key: string, value: string | undefined, expectedRevision: number): Promise<number>;
  /** Entries in key order (or reverse), within the range. */
  entries(range?: KeyRange): AsyncIterable<[key: string, value: string]>;
  /**
   * The committed value of `key` read without waiting, where the backend can (LevelDB, memory;
   * not NATS). Lets the core keep records out of memory and read them back inside a synchronous
   * step (lazy loading). Throws a StoreError when the store is closed or the read fails.
   */
  getSync?(key: string): string | undefined;
}

export interface BucketStore {
  /** The bucket with this name (created on first use). Names are non-empty, without '!' or '\0'. */
  bucket(name: string): Bucket;
  /**
   * Atomic batch across buckets: all or nothing, durable when the promise resolves. Operations
   * apply in order (the last one on a key wins); every operation gets a new revision, strictly
   * increasing in operation order. Resolves with them, one per operation (empty for an empty
   * batch): the change feed reports the same revisions to other writers, so a revision names one
   * change everywhere (cluster mode numbers notifications with them).
   */
  batch(operations: readonly StoreOperation[], options?: BatchOptions): Promise<readonly number[]>;
  /**
   * The change feed: calls `listener` with the records other writers of the same store committed,
   * in commit order, one call per committed batch. Never reports this store object's own writes
   * (always silent for a single-process store such as LevelDB), except one whose `batch` was
   * rejected 'unconfirmed' and that was made after all: the caller was told it failed, so it
   * learns of it like of another writer's. Returns the unsubscribe function.
   */
  watch(listener: (changes: readonly StoreChange[]) => void): () => void;
  /** Flushes and releases the store. Further calls reject. */
  close(): Promise<void>;
}

/**
 * Why a store operation failed, so the core can answer a client usefully:
 * - 'full': out of space or over a budget (HTTP 507) - retry once space was freed;
 * - 'unavailable': the store cannot be reached or written right now (HTTP 503);
 * - 'unconfirmed': the store did not confirm a write in time; it may still have been made, and if so
 *   the store's change feed reports it (HTTP 503, read before retrying);
 * - 'corrupt': the data on disk is damaged or inconsistent (refuse to serve);
 * - 'conflict': a compare-and-set lost against another writer;
 * - 'closed': used after close();
 * - 'invalid': a programming error (bad bucket name...).
 */
export type StoreErrorCode = 'full' | 'unavailable' | 'unconfirmed' | 'corrupt' | 'conflict' | 'closed' | 'invalid';

/** Every error a store raises: a stable code plus a message a user can act on. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(message: string, options?: ErrorOptions & { code?: StoreErrorCode }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = options?.code ?? 'invalid';
  }
}

/** Validates a bucket name; backends call this so they all refuse the same names. */
export function checkBucketName(name: string): void {
  if (name.length === 0 || name.includes('!') || name.includes('\0')) {
    throw new StoreError(`invalid bucket name ${JSON.stringify(name)}: must be non-empty, without '!' or NUL`);
  }
}

/** The error of every call on a closed store. */
export function closedError(): StoreError {
  return new StoreError('the store is closed', { code: 'closed' });
}

/** Validates one batch operation; backends call this before writing anything, so a bad batch applies nothing. */
export function checkOperation(op: StoreOperation): void {
  checkBucketName(op.bucket);
  if (typeof op.key !== 'string') throw new StoreError('batch operation key must be a string');
  if (op.type === 'put') {
    if (typeof op.value !== 'string') throw new StoreError(`batch put of ${JSON.stringify(op.key)}: value must be a string`);
  } else if (op.type !== 'del') {
    throw new StoreError(`unknown batch operation type ${JSON.stringify((op as { type: unknown }).type)}`);
  }
}

/** Validates a conditional batch's expectations (same rules on every backend). */
export function checkExpectations(expect: readonly ExpectedRevision[]): void {
  for (const { bucket, key, revision } of expect) {
    checkBucketName(bucket);
    checkCompareAndSet(key, undefined, revision);
  }
}

/** The conflict of a conditional batch whose expectation no longer holds. */
export function expectationConflict(expected: ExpectedRevision, actual: number): StoreError {
  return new StoreError(
    `a conditional batch expected ${JSON.stringify(expected.key)} in bucket ${JSON.stringify(expected.bucket)} at ${expected.revision === 0 ? 'no record' : `revision ${expected.revision}`} but found ${actual === 0 ? 'no record' : `revision ${actual}`}: another write came first; re-read and retry`,
    { code: 'conflict' },
  );
}

/** Validates compareAndSet's arguments (same rules on every backend). */
export function checkCompareAndSet(key: string, value: string | undefined, expectedRevision: number): void {
  if (typeof key !== 'string') throw new StoreError('compareAndSet key must be a string');
  if (value !== undefined && typeof value !== 'string') throw new StoreError(`compareAndSet of ${JSON.stringify(key)}: value must be a string or undefined`);
  if (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0) {
    throw new StoreError(`compareAndSet of ${JSON.stringify(key)}: expectedRevision must be a non-negative integer, got ${String(expectedRevision)}`);
  }
}

/** The 'conflict' error of a compare-and-set that lost; the same message on every backend. */
export function conflictError(bucket: string, key: string, expected: number, actual: number): StoreError {
  return new StoreError(
    `compare-and-set of ${JSON.stringify(key)} in bucket ${JSON.stringify(bucket)} expected revision ${expected} but found ${actual === 0 ? 'no record' : `revision ${actual}`}: another write came first; re-read and retry`,
    { code: 'conflict' },
  );
}

/** One end of a key interval: the key itself is included when `inclusive`. */
export interface KeyBound {
  key: string;
  inclusive: boolean;
}

/**
 * Folds a range's prefix and gt/gte/lt/lte into the tightest single lower and upper bound, so a
 * backend can seek once and stop at the first key past `upper`. A prefix P becomes
 * `>= P` and `< successor(P)` (P with its last non-U+FFFF code unit incremented).
 */
export function keyBounds(range: KeyRange = {}): { lower?: KeyBound; upper?: KeyBound } {
  let lower: KeyBound | undefined;
  let upper: KeyBound | undefined;
  const raise = (key: string | undefined, inclusive: boolean): void => {
    if (key === undefined) return;
    if (lower === undefined || key > lower.key || (key === lower.key && !inclusive)) lower = { key, inclusive };
  };
  const cap = (key: string | undefined, inclusive: boolean): void => {
    if (key === undefined) return;
    if (upper === undefined || key < upper.key || (key === upper.key && !inclusive)) upper = { key, inclusive };
  };
  if (range.prefix !== undefined && range.prefix !== '') {
    raise(range.prefix, true);
    cap(prefixSuccessor(range.prefix), false);
  }
  raise(range.gte, true);
  raise(range.gt, false);
  cap(range.lte, true);
  cap(range.lt, false);
  return { lower, upper };
}

/** The smallest string greater than every string starting with `prefix`; undefined if none. */
function prefixSuccessor(prefix: string): string | undefined {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--;
  if (end === 0) return undefined;
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}
