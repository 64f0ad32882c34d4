// Sorting query results: a JSON Pointer (RFC 6901) into the query document and an order, as WoT
// Discovery's `sort_by` / `sort_order` name them. Only basic values sort (null, booleans, numbers,
// strings; strings by Unicode code point); twins without a value come last; ties go by Thing id.

import { badRequest, forbidden } from '../model/errors.js';
import type { Client } from '../model/types.js';
import { resolvePointer } from '../td/json-pointer.js';

export type SortOrder = 'asc' | 'desc';

export interface SortSpec {
  /** A JSON Pointer into the query document, e.g. `/title`, `/reported/temperature`, `/td/description`. */
  by: string;
  order: SortOrder;
}

/** What a twin sorts by: its value at the pointer, or none. */
export type SortKey = { missing: true } | { missing: false; value: null | boolean | number | string };

/** Document fields that hold one basic value, or a map of them (by one more token), or any JSON (the TD). */
const SCALAR_FIELDS = new Set(['id', 'title', 'agent', 'created', 'modified', 'version']);
const MAP_FIELDS = new Set(['tags', 'reported', 'desired']);
const PRESENCE_FIELDS = new Set(['connected', 'lastSeen']);

const decode = (token: string) => token.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * Checks a sort: the pointer must be well formed and lead to a field that can hold a basic value.
 * [tdd-things-list-pagination-orderable] A sort on a field that holds objects or arrays (`/type`,
 * `/reported`, `/td`) is refused, as is `asc`/`desc` spelled otherwise. Agents may not sort by tags.
 */
export function checkSort(sort: unknown, client: Client): SortSpec {
  if (typeof sort !== 'object' || sort === null || Array.isArray(sort)) throw badRequest('"sort" must be an object { by, order }');
  const { by, order = 'asc' } = sort as { by?: unknown; order?: unknown };
  if (order !== 'asc' && order !== 'desc') throw badRequest(`sort order must be "asc" or "desc", got ${JSON.stringify(order)}`);
  if (typeof by !== 'string' || !by.startsWith('/') || by.length > 512 || /~[^01]|~$/.test(by)) {
    throw badRequest(`sort_by must be a JSON Pointer (RFC 6901) into the query document such as "/title", got ${JSON.stringify(by)}`);
  }
  const tokens = by.slice(1).split('/').map(decode);
  const [field, ...rest] = tokens;
  const notOrderable = (what: string) =>
    badRequest(
      `cannot sort by ${JSON.stringify(by)}: ${what}; only fields holding strings, numbers, booleans or null sort (e.g. /title, /modified, /reported/<property>)`,
    );
  if (field === 'tags' && client.role === 'agent') throw forbidden('agents cannot query by tags');
  if (SCALAR_FIELDS.has(field)) {
    if (rest.length > 0) throw notOrderable(`/${field} holds a single value`);
  } else if (MAP_FIELDS.has(field)) {
    if (rest.length === 0) throw notOrderable(`/${field} is an object`);
  } else if (field === 'presence') {
    if (rest.length !== 1 || !PRESENCE_FIELDS.has(rest[0])) throw notOrderable('/presence is an object; sort by /presence/connected or /presence/lastSeen');
  } else if (field === 'td') {
    if (rest.length === 0) throw notOrderable('/td is an object');
  } else if (field === 'type') {
    throw notOrderable('/type is an array of @type values');
  } else {
    throw badRequest(`cannot sort by ${JSON.stringify(by)}: the query document has no field "${field}" (see docs/queries.md)`);
  }
  return { by, order };
}

/** The query document field a sort reads (the pointer's first token). */
export function sortField(sort: SortSpec): string {
  return decode(sort.by.slice(1).split('/')[0]);
}

/**
 * The key a document sorts by. A value that is an object or an array makes the request fail:
 * [tdd-things-list-pagination-orderable] only orderable basic types sort.
 */
export function sortKey(document: Record<string, unknown>, sort: SortSpec, thingId: string): SortKey {
  const value = resolvePointer(document, sort.by);
  if (value === undefined) return { missing: true };
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return { missing: false, value };
  throw badRequest(
    `cannot sort by ${JSON.stringify(sort.by)}: Thing '${thingId}' has ${Array.isArray(value) ? 'an array' : 'an object'} there; only strings, numbers, booleans and null sort`,
  );
}

const rank = (value: null | boolean | number | string): number => (value === null ? 0 : typeof value === 'boolean' ? 1 : typeof value === 'number' ? 2 : 3);

/**
 * Unicode code point order of two strings. [tdd-things-list-pagination-order-utf-8] JavaScript's
 * `<` compares UTF-16 code units, which puts U+10000… (surrogates, 0xD800–0xDFFF) before
 * U+E000–U+FFFF; shifting the surrogates above 0xFFFF restores code point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const fix = (unit: number) => (unit >= 0xd800 && unit <= 0xdfff ? unit + 0x2000 : unit >= 0xe000 ? unit - 0x800 : unit);
    return fix(x) - fix(y);
  }
  return a.length - b.length;
}

/** Orders two keys in ascending order: null < booleans < numbers < strings. */
function compareValues(a: null | boolean | number | string, b: null | boolean | number | string): number {
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  if (typeof a === 'string') return compareCodePoints(a, b as string);
  if (typeof a === 'number' || typeof a === 'boolean') return Number(a) - Number(b);
  return 0;
}

/** The order of two (key, Thing id) entries: by key in the sort's order, twins without a value last, then by id ascending. */
export function compareEntries(order: SortOrder, a: SortKey, aId: string, b: SortKey, bId: string): number {
  if (a.missing !== b.missing) return a.missing ? 1 : -1;
  if (!a.missing && !b.missing) {
    const byValue = compareValues(a.value, b.value);
    if (byValue !== 0) return order === 'asc' ? byValue : -byValue;
  }
  return compareIds(aId, bId);
}

/**
 * The order of Thing ids, the directory's own (UTF-16 code units, as JavaScript compares). Ids are
 * ASCII URIs, for which that is code point order (see docs/conformance.md, known gaps).
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
