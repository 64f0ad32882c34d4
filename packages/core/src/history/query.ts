// History queries, read from the store on each call: a page of samples in a time range (newest or
// oldest first, cursor paging), or aggregates per time bucket for charts, both bounded.

import type { Bucket } from '@twinhub/bucket';
import { badRequest } from '../model/errors.js';
import type { TwinQuery } from '../model/operations.js';
import { parseSampleKey, seriesPrefix, timeBound, type SeriesKind } from './keys.js';
import type { SampleRecord } from './recorder.js';

export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;
/** An aggregation reads at most this many samples; past it the answer says `truncated` and gives a cursor. */
export const MAX_SCANNED_SAMPLES = 100_000;

export const AGGREGATES = ['min', 'max', 'avg', 'first', 'last', 'count'] as const;
export type Aggregate = (typeof AGGREGATES)[number];
const NUMERIC: ReadonlySet<Aggregate> = new Set(['min', 'max', 'avg']);

const QUERY_FIELDS = new Set(['from', 'to', 'limit', 'cursor', 'order', 'every', 'agg']);
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MIN_EVERY_MS = 1000;
const MAX_EVERY_MS = 366 * 86_400_000;
/** RFC 3339 date-time (§5.6): a date, `T`, a time with optional fraction, and Z or an offset. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export interface HistoryQuery {
  fromMs?: number;
  toMs?: number;
  limit: number;
  order: 'newest' | 'oldest';
  /** Continue after this key (the cursor's). */
  after?: string;
  every?: { text: string; ms: number };
  agg: Aggregate[];
}

function time(value: unknown, field: string): number {
  if (typeof value !== 'string' || !RFC3339.test(value))
    throw badRequest(`"${field}" must be an RFC 3339 date-time such as 2026-01-01T00:00:00Z, got ${JSON.stringify(value)}`);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw badRequest(`"${field}" is not a valid date-time: ${JSON.stringify(value)}`);
  return ms;
}

/** An opaque cursor: the last key served and the order it was served in, base64url JSON. */
export function encodeCursor(key: string, order: 'newest' | 'oldest'): string {
  return Buffer.from(JSON.stringify({ k: key, o: order })).toString('base64url');
}

function decodeCursor(cursor: unknown, series: string, order: 'newest' | 'oldest'): string {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 4096) throw badRequest('"cursor" must be the "next" value of a previous answer');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('"cursor" is not a cursor this hub issued; use the "next" value of a previous answer');
  }
  const { k, o } = (parsed ?? {}) as { k?: unknown; o?: unknown };
  if (typeof k !== 'string' || !k.startsWith(seriesPrefix(series)))
    throw badRequest('"cursor" belongs to another property or event, or was not issued by this hub');
  if (o !== order) throw badRequest(`"cursor" was issued for order=${String(o)}; ask with the same order`);
  return k;
}

function duration(value: unknown): { text: string; ms: number } {
  const match = typeof value === 'string' ? /^(\d{1,9})(s|m|h|d)$/.exec(value) : null;
  const ms = match ? Number(match[1]) * UNITS[match[2]] : NaN;
  if (!match || ms < MIN_EVERY_MS || ms > MAX_EVERY_MS) {
    throw badRequest(`"every" must be a duration from 1s to 366d such as 30s, 1m, 1h or 1d, got ${JSON.stringify(value)}`);
  }
  return { text: value as string, ms };
}

function aggregates(value: unknown): Aggregate[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').map((item) => item.trim()) : undefined;
  if (!list || list.length === 0 || !list.every((item) => (AGGREGATES as readonly unknown[]).includes(item))) {
    throw badRequest(`"agg" must list some of ${AGGREGATES.join(', ')} (comma-separated), got ${JSON.stringify(value)}`);
  }
  return [...new Set(list as Aggregate[])];
}

/** Checks a history request's query; `numeric` says whether the values are numbers by their schema (undefined: not declared). */
export function parseHistoryQuery(query: TwinQuery | undefined, series: string, numeric: boolean | undefined): HistoryQuery {
  const fields = (query ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => fields[key] !== undefined && !QUERY_FIELDS.has(key));
  if (unknown.length > 0) throw badRequest(`history queries take ${[...QUERY_FIELDS].join(', ')}; not ${unknown.join(', ')}`);
  const parsed: HistoryQuery = { limit: DEFAULT_HISTORY_LIMIT, order: 'newest', agg: [] };
  if (fields.from !== undefined) parsed.fromMs = time(fields.from, 'from');
  if (fields.to !== undefined) parsed.toMs = time(fields.to, 'to');
  if (parsed.fromMs !== undefined && parsed.toMs !== undefined && parsed.fromMs > parsed.toMs) throw badRequest('"from" must not be after "to"');
  if (fields.limit !== undefined) {
    const limit = fields.limit;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw badRequest(`"limit" must be an integer from 1 to ${MAX_HISTORY_LIMIT}, got ${JSON.stringify(limit)}`);
    }
    parsed.limit = limit;
  }
  if (fields.order !== undefined) {
    if (fields.order !== 'newest' && fields.order !== 'oldest') throw badRequest(`"order" must be "newest" or "oldest", got ${JSON.stringify(fields.order)}`);
    parsed.order = fields.order;
  }
  if (fields.cursor !== undefined) parsed.after = decodeCursor(fields.cursor, series, parsed.order);
  if (fields.every !== undefined) {
    parsed.every = duration(fields.every);
    parsed.agg = fields.agg === undefined ? ['last'] : aggregates(fields.agg);
    const numericAggs = parsed.agg.filter((agg) => NUMERIC.has(agg));
    if (numericAggs.length > 0 && numeric === false) {
      throw badRequest(`${numericAggs.join(', ')} need numbers, and the schema of these values is not a number; use first, last or count`);
    }
  } else if (fields.agg !== undefined) {
    throw badRequest('"agg" needs "every", the width of the time buckets (e.g. every=1m&agg=min,max,avg)');
  }
  return parsed;
}

/** The key range of a query over a series, after its cursor. */
function range(series: string, query: HistoryQuery) {
  return {
    prefix: seriesPrefix(series),
    ...(query.fromMs !== undefined ? { gte: timeBound(series, query.fromMs) } : {}),
    ...(query.toMs !== undefined ? { lt: timeBound(series, query.toMs) } : {}),
    ...(query.after !== undefined ? (query.order === 'oldest' ? { gt: query.after } : { lt: query.after }) : {}),
    reverse: query.order === 'newest',
  };
}

/** One sample as served: `value` for properties, `data` for events; `since` when later values replaced it (delta sampling). */
function served(kind: SeriesKind, record: SampleRecord): Record<string, unknown> {
  return { time: record.t, [kind === 'p' ? 'value' : 'data']: record.v, ...(record.f !== undefined ? { since: record.f } : {}) };
}

/** A page of samples, and the cursor of the next one when there may be more. */
export async function readSamples(bucket: Bucket, series: string, kind: SeriesKind, query: HistoryQuery): Promise<Record<string, unknown>> {
  const samples: Record<string, unknown>[] = [];
  let lastKey: string | undefined;
  let more = false;
  // One more than the page, to know whether a next page exists.
  for await (const [key, json] of bucket.entries({ ...range(series, query), limit: query.limit + 1 })) {
    if (samples.length === query.limit) {
      more = true;
      break;
    }
    samples.push(served(kind, JSON.parse(json) as SampleRecord));
    lastKey = key;
  }
  return { samples, ...(more && lastKey !== undefined ? { next: encodeCursor(lastKey, query.order) } : {}) };
}

interface Bucketed {
  start: number;
  count: number;
  numbers: number;
  min?: number;
  max?: number;
  sum: number;
  first?: unknown;
  last?: unknown;
}

function output(bucket: Bucketed, every: number, aggs: Aggregate[], partial: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { start: new Date(bucket.start).toISOString(), end: new Date(bucket.start + every).toISOString() };
  for (const agg of aggs) {
    if (agg === 'count') out.count = bucket.count;
    else if (agg === 'min') out.min = bucket.min ?? null;
    else if (agg === 'max') out.max = bucket.max ?? null;
    else if (agg === 'avg') out.avg = bucket.numbers > 0 ? bucket.sum / bucket.numbers : null;
    else out[agg] = bucket[agg] ?? null;
  }
  if (partial) out.partial = true;
  return out;
}

/**
 * Aggregates per bucket of `every` (aligned to the Unix epoch, so days start at 00:00 UTC), in
 * the query's order, at most `limit` buckets and `maxScanned` samples read. Every bucket
 * served is complete, except a single bucket larger than the scan bound, which is marked
 * `partial` (the next page continues it). Buckets without samples are left out.
 */
export async function aggregateSamples(
  bucket: Bucket,
  series: string,
  query: HistoryQuery,
  maxScanned = MAX_SCANNED_SAMPLES,
): Promise<Record<string, unknown>> {
  const every = query.every!;
  const done: Bucketed[] = [];
  let current: Bucketed | undefined;
  /** The last key folded into `current`, and the last key of the last bucket in `done`. */
  let currentKey: string | undefined;
  let doneKey: string | undefined;
  let scanned = 0;
  let stop: 'limit' | 'scan' | undefined;
  for await (const [key, json] of bucket.entries(range(series, query))) {
    const ms = parseSampleKey(key)?.ms;
    if (ms === undefined) continue;
    const start = Math.floor(ms / every.ms) * every.ms;
    if (current === undefined || current.start !== start) {
      if (current !== undefined) {
        done.push(current);
        doneKey = currentKey;
        if (done.length === query.limit) {
          current = undefined;
          stop = 'limit';
          break;
        }
      }
      current = { start, count: 0, numbers: 0, sum: 0 };
    }
    if (scanned === maxScanned) {
      stop = 'scan';
      break;
    }
    scanned += 1;
    const value = (JSON.parse(json) as SampleRecord).v;
    current.count += 1;
    // first/last by time, whichever order the scan runs in.
    const [earliest, latest] = query.order === 'oldest' ? (['first', 'last'] as const) : (['last', 'first'] as const);
    if (current.count === 1) current[earliest] = value;
    current[latest] = value;
    if (typeof value === 'number') {
      current.numbers += 1;
      current.sum += value;
      current.min = current.min === undefined ? value : Math.min(current.min, value);
      current.max = current.max === undefined ? value : Math.max(current.max, value);
    }
    currentKey = key;
  }
  let next: string | undefined;
  let partial = false;
  if (stop === 'limit') next = doneKey;
  else if (stop === 'scan') {
    if (done.length > 0)
      next = doneKey; // the unfinished bucket is served whole on the next page
    else if (current !== undefined && current.count > 0) {
      done.push(current);
      partial = true;
      next = currentKey;
    }
  } else if (current !== undefined) done.push(current);
  const buckets = done.map((b, i) => output(b, every.ms, query.agg, partial && i === done.length - 1));
  return {
    every: every.text,
    agg: query.agg,
    buckets,
    scanned,
    ...(stop === 'scan' ? { truncated: true } : {}),
    ...(next !== undefined ? { next: encodeCursor(next, query.order) } : {}),
  };
}
