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

export type BucketOperation =
  | { type: 'put'; key: string; value: string }
  | { type: 'del'; key: string };

/** An operation of a store-wide batch: the same as a bucket operation, naming its bucket. */
export type StoreOperation = BucketOperation & { bucket: string };

/** A named, ordered key/value namespace inside a store. */
export interface Bucket {
  readonly name: string;
  get(key: string): Promise<string | undefined>;
  /** Values in the order of `keys`; `undefined` where a key is absent. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Applies all operations atomically: after a crash either all or none are visible. */
  batch(operations: readonly BucketOperation[]): Promise<void>;
  /** Entries in key order (or reverse), within the range. */
  entries(range?: KeyRange): AsyncIterable<[key: string, value: string]>;
  keys(range?: KeyRange): AsyncIterable<string>;
}

export interface BucketStore {
  /** The bucket with this name (created on first use). Names are non-empty, without '!' or '\0'. */
  bucket(name: string): Bucket;
  /** Atomic batch across buckets: all or nothing, durable when the promise resolves. */
  batch(operations: readonly StoreOperation[]): Promise<void>;
  /** Flushes and releases the store. Further calls reject. */
  close(): Promise<void>;
}

/** Thrown by a store used after close(), or given a bad bucket name. */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** Validates a bucket name; backends call this so they all refuse the same names. */
export function checkBucketName(name: string): void {
  if (name.length === 0 || name.includes('!') || name.includes('\0')) {
    throw new StoreError(`invalid bucket name ${JSON.stringify(name)}: must be non-empty, without '!' or NUL`);
  }
}

/** True when `key` lies inside `range` (prefix and bounds; limit and reverse are ignored). */
export function keyInRange(key: string, range: KeyRange = {}): boolean {
  if (range.prefix !== undefined && !key.startsWith(range.prefix)) return false;
  if (range.gt !== undefined && !(key > range.gt)) return false;
  if (range.gte !== undefined && !(key >= range.gte)) return false;
  if (range.lt !== undefined && !(key < range.lt)) return false;
  if (range.lte !== undefined && !(key <= range.lte)) return false;
  return true;
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
