// Byte layout of what the LevelDB backend stores besides bucket keys: values with their revision,
// and the store's own records (format marker, commit counter) in a key space no bucket can reach.
//
// A value is `0xff, revision (6 bytes, big-endian), UTF-8 text`. UTF-8 never contains 0xff, so a
// value without that first byte was written before revisions existed: it reads as revision 1
// (`LEGACY_REVISION`), and the store's counter then starts above it.

/** Revision of values written by a twinhub without revisions (all of them count as one first write). */
export const LEGACY_REVISION = 1;

const REVISIONED = 0xff;
const REVISION_BYTES = 6; // 2^48 writes: centuries at a million writes per second

export function encodeValue(value: string, revision: number): Buffer {
  const text = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(1 + REVISION_BYTES + text.length);
  out[0] = REVISIONED;
  out.writeUIntBE(revision, 1, REVISION_BYTES);
  text.copy(out, 1 + REVISION_BYTES);
  return out;
}

export function decodeValue(bytes: Buffer): { value: string; revision: number } {
  if (bytes.length > REVISION_BYTES && bytes[0] === REVISIONED) {
    return { value: bytes.toString('utf8', 1 + REVISION_BYTES), revision: bytes.readUIntBE(1, REVISION_BYTES) };
  }
  return { value: bytes.toString('utf8'), revision: LEGACY_REVISION };
}

/** Bucket keys start with a non-empty bucket name, never with 0x00: these keys belong to no bucket. */
export const MARKER_KEY = Buffer.from('\0marker', 'latin1');
export const COUNTER_KEY = Buffer.from('\0counter', 'latin1');
/** The first key of the bucket key space (every bucket key is above it). */
export const FIRST_BUCKET_KEY = Buffer.from([0x01]);

/** Written once when a folder is created (or adopted); its absence later means data was lost. */
export interface Marker {
  format: 1;
  created: string;
}

export function encodeMarker(marker: Marker): Buffer {
  return Buffer.from(JSON.stringify(marker), 'utf8');
}

export function decodeMarker(bytes: Buffer): Marker | undefined {
  try {
    const marker = JSON.parse(bytes.toString('utf8')) as Partial<Marker>;
    return marker.format === 1 && typeof marker.created === 'string' ? (marker as Marker) : undefined;
  } catch {
    return undefined; // unreadable: treated like a missing marker
  }
}

/**
 * Written in every batch: `revision` is the last revision handed out, `commits` counts committed
 * batches. Both only grow, so a store that reads a smaller `commits` than it once had lost writes.
 */
export interface Counter {
  revision: number;
  commits: number;
}

export function encodeCounter(counter: Counter): Buffer {
  const out = Buffer.allocUnsafe(2 * REVISION_BYTES);
  out.writeUIntBE(counter.revision, 0, REVISION_BYTES);
  out.writeUIntBE(counter.commits, REVISION_BYTES, REVISION_BYTES);
  return out;
}

export function decodeCounter(bytes: Buffer): Counter | undefined {
  if (bytes.length !== 2 * REVISION_BYTES) return undefined;
  return { revision: bytes.readUIntBE(0, REVISION_BYTES), commits: bytes.readUIntBE(REVISION_BYTES, REVISION_BYTES) };
}
