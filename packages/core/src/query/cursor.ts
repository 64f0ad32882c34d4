// Paging cursors: opaque to clients, they hold where the last page ended (its last sort key and
// Thing id) and a fingerprint of the query they belong to. A page starts strictly after that
// position, so Things inserted or removed meanwhile shift nothing (unlike an offset).

import { createHash } from 'node:crypto';
import { badRequest } from '../model/errors.js';
import type { SortKey } from './sort.js';

export interface CursorPosition {
  /** The Thing id the previous page (or scan) ended at. */
  id: string;
  /** Its sort key, for a sorted query. */
  key?: SortKey;
}

interface CursorBody {
  v: 1;
  /** Fingerprint of the query: a cursor works only with the query that made it. */
  q: string;
  id: string;
  k?: SortKey;
}

/** A short digest of what decides a query's order and matches (not its limit, which may change between pages). */
export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeCursor(fingerprint: string, position: CursorPosition): string {
  const body: CursorBody = { v: 1, q: fingerprint, id: position.id, ...(position.key ? { k: position.key } : {}) };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

const invalid = () => badRequest('the cursor is not one this hub gave out; start again without a cursor');

function isSortKey(value: unknown): value is SortKey {
  if (typeof value !== 'object' || value === null) return false;
  const key = value as { missing?: unknown; value?: unknown };
  if (key.missing === true) return true;
  const v = key.value;
  return key.missing === false && (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string');
}

/** The position a cursor names; 400 when it is malformed or was made by another query. */
export function decodeCursor(cursor: string, fingerprint: string): CursorPosition {
  if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let body: Partial<CursorBody>;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    throw invalid();
  }
  if (typeof body !== 'object' || body === null || body.v !== 1 || typeof body.id !== 'string' || (body.k !== undefined && !isSortKey(body.k))) throw invalid();
  if (body.q !== fingerprint) throw badRequest('the cursor belongs to another query (filter or sort changed); start again without a cursor');
  return body.k === undefined ? { id: body.id } : { id: body.id, key: body.k };
}
