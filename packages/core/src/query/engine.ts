// Runs a listing query: plans the candidates, evaluates the filter on each (building its query
// document then), orders the matches and cuts one page, by count and by bytes. A query whose
// candidates exceed the scan limit evaluates at most that many and says so, with a cursor to go on.

import { badRequest, forbidden, HubError } from '../model/errors.js';
import type { TwinQuery } from '../model/operations.js';
import type { Client, Twin } from '../model/types.js';
import { canSee } from '../auth/permissions.js';
import { decodeCursor, encodeCursor, queryFingerprint, type CursorPosition } from './cursor.js';
import { queryDocument, unionFields, type DocumentFields, type DocumentSources } from './document.js';
import { compileFilter, type CompiledFilter } from './language.js';
import { planQuery, type PlanExplain, type TwinIndexes } from './planner.js';
import { checkSort, compareEntries, compareIds, sortField, sortKey, type SortKey, type SortSpec } from './sort.js';

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
/** Candidates one request evaluates at most, unless the hub is configured otherwise (HubOptions.queryScanLimit). */
export const DEFAULT_SCAN_LIMIT = 100_000;

export interface QueryOptions {
  /** Candidates evaluated at most per request. */
  scanLimit: number;
  /** A page ends once its twins' stored JSON reaches this many bytes (never empty). */
  maxPageBytes: number;
  sources: DocumentSources;
}

/** One page of a listing query. */
export interface QueryResult {
  twins: Twin[];
  /** How many Things match in all; absent when the candidates were not all evaluated (over the scan limit). */
  total?: number;
  /** The cursor of the next page, when there may be more. */
  next?: string;
  /**
   * Set when the scan limit stopped the evaluation before the page was full: more Things may
   * match past `next`. Never a silent partial answer.
   */
  partial?: { evaluated: number; scanLimit: number };
  plan: PlanExplain & { evaluated: number };
}

const unprocessable = (detail: string) => new HubError(422, 'Unprocessable Content', detail);

export function checkCount(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badRequest(`'${name}' must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** The first index in sorted `ids` whose id is after `id`. */
function after(ids: readonly string[], id: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareIds(ids[mid], id) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Collects a page: up to `limit` twins, fewer once their bytes pass the budget (but never none). */
class PageBuilder {
  readonly twins: Twin[] = [];
  private bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly maxBytes: number,
    private readonly bytesOf: (thingId: string) => number,
  ) {}

  /** Adds a twin if it fits; false when the page is full. */
  add(twin: Twin): boolean {
    if (this.twins.length >= this.limit) return false;
    const bytes = this.bytesOf(twin.thingId);
    if (this.twins.length > 0 && this.bytes + bytes > this.maxBytes) return false;
    this.bytes += bytes;
    this.twins.push(twin);
    return true;
  }
}

export function runQuery(indexes: TwinIndexes, client: Client, query: TwinQuery, options: QueryOptions): QueryResult {
  const offset = checkCount('offset', query.offset, 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const limit = checkCount('limit', query.limit, 1, MAX_LIST_LIMIT) ?? DEFAULT_LIST_LIMIT;
  if (query.filter !== undefined && typeof query.filter !== 'string') throw badRequest('"filter" must be a string: an RFC 9535 filter expression');
  if (query.cursor !== undefined && typeof query.cursor !== 'string') throw badRequest('"cursor" must be the string a previous page gave as next');
  if (query.cursor !== undefined && offset > 0) throw badRequest('give either a cursor or an offset, not both');
  const filter = query.filter === undefined ? undefined : compileFilter(query.filter);
  if (client.role === 'agent' && (query.tags !== undefined || filter?.namesTags)) throw forbidden('agents cannot query by tags');
  let sort = query.sort === undefined ? undefined : checkSort(query.sort, client);
  // Ascending by id is the default order: it walks the sorted candidates and can stop early.
  if (sort?.by === '/id' && sort.order === 'asc') sort = undefined;
  const title = query.title?.toLowerCase();
  const fingerprint = queryFingerprint([filter?.text ?? null, sort ?? null, query.agent ?? null, query.type ?? null, title ?? null, query.tags ?? null]);
  const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor, fingerprint);
  const plan = planQuery(indexes, client, filter, query);

  // Every check beyond the planned indexes, on one candidate. The indexes already hold the
  // client's role (agents get their own Things) and the plain agent/type/tag filters.
  const plainTitle =
    title === undefined
      ? undefined
      : (twin: Twin) =>
          String(twin.td.title ?? '')
            .toLowerCase()
            .includes(title);
  const needsEvaluation = filter !== undefined || plainTitle !== undefined || sort !== undefined;
  // The document fields each candidate needs: what the filter reads, and the sort's field.
  const fields = unionFields(filter?.fields ?? new Set(), sort ? new Set([sortField(sort)]) : new Set());
  const context: Evaluation = { indexes, client, filter, plainTitle, options, limit, offset, fingerprint, position, fields, evaluated: 0 };
  if (!needsEvaluation) return slice(plan.ids, context, plan.explain);
  return sort === undefined ? byId(plan.ids, context, plan.explain) : sorted(plan.ids, context, plan.explain, sort);
}

interface Evaluation {
  indexes: TwinIndexes;
  client: Client;
  filter: CompiledFilter | undefined;
  plainTitle: ((twin: Twin) => boolean) | undefined;
  options: QueryOptions;
  limit: number;
  offset: number;
  fingerprint: string;
  position: CursorPosition | undefined;
  fields: DocumentFields;
  evaluated: number;
}

/** Whether the candidate matches (counted against the scan limit), with its document when it was built. */
function evaluate(context: Evaluation, thingId: string): { twin: Twin; document?: Record<string, unknown> } | undefined {
  context.evaluated++;
  const twin = context.indexes.get(thingId);
  if (!twin || !canSee(context.client, twin)) return undefined;
  if (context.plainTitle && !context.plainTitle(twin)) return undefined;
  if (!context.filter) return { twin };
  const document = queryDocument(twin, context.client, context.options.sources, context.fields);
  return context.filter.matches(document) ? { twin, document } : undefined;
}

/** Nothing to evaluate: the candidates are the matches, a page is a slice (no walk over every Thing). */
function slice(ids: readonly string[], context: Evaluation, explain: PlanExplain): QueryResult {
  const start = (context.position ? after(ids, context.position.id) : 0) + context.offset;
  const page = new PageBuilder(context.limit, context.options.maxPageBytes, context.indexes.bytesOf);
  let i = start;
  for (; i < ids.length; i++) {
    const twin = context.indexes.get(ids[i]);
    if (twin && !page.add(twin)) break;
  }
  const last = page.twins.at(-1);
  const next = i < ids.length && last ? encodeCursor(context.fingerprint, { id: last.thingId }) : undefined;
  return { twins: page.twins, total: ids.length, ...(next ? { next } : {}), plan: { ...explain, evaluated: 0 } };
}

/**
 * Id order. Within the scan limit every candidate is evaluated (the total is exact); past it the
 * walk starts at the cursor and stops at the limit, and a page it could not fill says so.
 */
function byId(ids: readonly string[], context: Evaluation, explain: PlanExplain): QueryResult {
  const { scanLimit } = context.options;
  const start = context.position ? after(ids, context.position.id) : 0;
  const page = new PageBuilder(context.limit, context.options.maxPageBytes, context.indexes.bytesOf);
  const plan = () => ({ ...explain, evaluated: context.evaluated });
  if (ids.length <= scanLimit) {
    let total = 0;
    let skipped = 0;
    let full = false;
    let more = false;
    for (let i = 0; i < ids.length; i++) {
      const match = evaluate(context, ids[i]);
      if (!match) continue;
      total++;
      if (i < start) continue;
      if (skipped < context.offset) {
        skipped++;
        continue;
      }
      if (full) more = true;
      else if (!page.add(match.twin)) {
        full = true;
        more = true;
      }
    }
    const last = page.twins.at(-1);
    const next = more && last ? encodeCursor(context.fingerprint, { id: last.thingId }) : undefined;
    return { twins: page.twins, total, ...(next ? { next } : {}), plan: plan() };
  }
  if (context.offset > 0) {
    throw unprocessable(`this query has ${ids.length} candidates, more than the ${scanLimit} one request evaluates: page with the cursor (next), not offset`);
  }
  let i = start;
  let full = false;
  for (; i < ids.length && context.evaluated < scanLimit; i++) {
    const match = evaluate(context, ids[i]);
    if (!match) continue;
    if (!page.add(match.twin)) {
      // One more match exists past a full page: there is a next page.
      full = true;
      break;
    }
  }
  const last = page.twins.at(-1);
  if (full && last) return { twins: page.twins, next: encodeCursor(context.fingerprint, { id: last.thingId }), plan: plan() };
  if (i >= ids.length) return { twins: page.twins, plan: plan() };
  // The scan limit stopped the walk: go on after the last candidate evaluated, and say so.
  const resume = ids[i - 1];
  return {
    twins: page.twins,
    next: encodeCursor(context.fingerprint, { id: resume }),
    partial: { evaluated: context.evaluated, scanLimit },
    plan: plan(),
  };
}

/** A custom order needs every candidate's key: refused (422) past the scan limit, never answered from a part. */
function sorted(ids: readonly string[], context: Evaluation, explain: PlanExplain, sort: SortSpec): QueryResult {
  const { scanLimit } = context.options;
  if (ids.length > scanLimit) {
    throw unprocessable(
      `sorting needs every candidate evaluated: this query has ${ids.length}, more than the ${scanLimit} one request evaluates; narrow it with an indexed filter (agent, @type, tag, title) or drop the sort`,
    );
  }
  const entries: { twin: Twin; key: SortKey }[] = [];
  for (const thingId of ids) {
    const match = evaluate(context, thingId);
    if (!match) continue;
    const document = match.document ?? queryDocument(match.twin, context.client, context.options.sources, context.fields);
    entries.push({ twin: match.twin, key: sortKey(document, sort, thingId) });
  }
  const total = entries.length;
  const position = context.position;
  if (position && !position.key) throw badRequest('the cursor belongs to an unsorted listing; start again without a cursor');
  const remaining = position ? entries.filter((e) => compareEntries(sort.order, e.key, e.twin.thingId, position.key!, position.id) > 0) : entries;
  remaining.sort((a, b) => compareEntries(sort.order, a.key, a.twin.thingId, b.key, b.twin.thingId));
  const page = new PageBuilder(context.limit, context.options.maxPageBytes, context.indexes.bytesOf);
  const keys = new Map<Twin, SortKey>();
  let i = context.offset;
  for (; i < remaining.length; i++) {
    if (!page.add(remaining[i].twin)) break;
    keys.set(remaining[i].twin, remaining[i].key);
  }
  const last = page.twins.at(-1);
  const next = i < remaining.length && last ? encodeCursor(context.fingerprint, { id: last.thingId, key: keys.get(last)! }) : undefined;
  return { twins: page.twins, total, ...(next ? { next } : {}), plan: { ...explain, evaluated: context.evaluated } };
}
