// The commit log's message format: one JetStream message per batch (or compare-and-set), and the
// revision of each record it writes, derived from the message's stream sequence.
import { StoreError, type StoreOperation } from '@twinhub/bucket';

/**
 * Operations one message may carry. A record's revision is `sequence * OPS_PER_COMMIT + index`,
 * so every write of a batch gets its own revision (the seam wants them strictly increasing) while
 * any reader computes it from the message alone. 2^20 keeps revisions exact up to sequence 2^33.
 */
export const OPS_PER_COMMIT = 2 ** 20;

/** The revision of the `index`-th operation of the message at stream sequence `sequence`. */
export function revisionOf(sequence: number, index: number): number {
  return sequence * OPS_PER_COMMIT + index;
}

/** The stream sequence of the commit that gave a record `revision`. */
export function sequenceOf(revision: number): number {
  return Math.floor(revision / OPS_PER_COMMIT);
}

/** What a message says: who wrote it (a store object's random id) and the operations in order. */
export interface Commit {
  writer: string;
  /** The writer's own number for this commit (absent in commits of older versions): tells its follower which of its publishes this is. */
  number?: number;
  operations: StoreOperation[];
}

/** Wire form: `{"w": writer, "n": its commit number, "o": [[bucket, key, value] (put) | [bucket, key] (delete), ...]}` ("n" since 2026-12; older commits lack it). */
type WireOperation = [bucket: string, key: string, value?: string];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommit(commit: Commit): Uint8Array {
  const o: WireOperation[] = commit.operations.map((op) => (op.type === 'put' ? [op.bucket, op.key, op.value] : [op.bucket, op.key]));
  return encoder.encode(JSON.stringify(commit.number === undefined ? { w: commit.writer, o } : { w: commit.writer, n: commit.number, o }));
}

/** Parses a message of the log; a message this code did not write is 'corrupt'. */
export function decodeCommit(data: Uint8Array, sequence: number): Commit {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch (error) {
    throw new StoreError(`commit log message ${sequence} is not JSON`, { cause: error, code: 'corrupt' });
  }
  const { w, n, o } = (parsed ?? {}) as { w?: unknown; n?: unknown; o?: unknown };
  if (typeof w !== 'string' || !Array.isArray(o)) throw new StoreError(`commit log message ${sequence} is not a twinhub commit`, { code: 'corrupt' });
  const operations = o.map((item: unknown): StoreOperation => {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string') {
      throw new StoreError(`commit log message ${sequence} has a malformed operation`, { code: 'corrupt' });
    }
    return typeof item[2] === 'string' ? { bucket: item[0], type: 'put', key: item[1], value: item[2] } : { bucket: item[0], type: 'del', key: item[1] };
  });
  return typeof n === 'number' ? { writer: w, number: n, operations } : { writer: w, operations };
}
