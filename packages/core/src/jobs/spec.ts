// What a createjob input must be: the operation, the affordance name, the value or action input,
// the query naming the Things, and optionally each request's ttl and a start time. Checked whole
// before anything is stored: a bad job is a 400, never a job that fails on every Thing.

import { checkPayloadSize } from '../core-context.js';
import { badRequest } from '../model/errors.js';
import type { HubLimits } from '../model/hub-api.js';
import type { JobRecord } from '../model/types.js';

export type JobSpec = Pick<JobRecord, 'operation' | 'name' | 'input' | 'query' | 'ttl'> & { startAt?: string };

const SPEC_FIELDS = new Set(['operation', 'name', 'input', 'query', 'ttl', 'startAt']);
/**
 * The listTDs filters a job may use. Anything else is refused rather than ignored: a misspelt
 * filter would otherwise widen the job to every Thing.
 */
const QUERY_FIELDS = new Set(['agent', 'type', 'title', 'tags', 'filter']);
const MAX_TTL_SECONDS = 365 * 24 * 3600;
/** A job is scheduled at most a year ahead. */
export const MAX_SCHEDULE_AHEAD_MS = 365 * 24 * 3600 * 1000;

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function checkQuery(value: unknown): JobRecord['query'] {
  if (value === undefined)
    throw badRequest(
      'createjob needs input.query naming the Things (listTDs filters: agent, type, title, tags, filter (the query language, docs/queries.md); {} for every Thing)',
    );
  const query = object(value, 'input.query');
  const unknown = Object.keys(query).filter((key) => !QUERY_FIELDS.has(key));
  if (unknown.length > 0) throw badRequest(`input.query has unknown filter(s) ${unknown.join(', ')}; a job may filter by ${[...QUERY_FIELDS].join(', ')}`);
  const checked: JobRecord['query'] = {};
  for (const key of ['agent', 'type', 'title', 'filter'] as const) {
    const field = query[key];
    if (field === undefined) continue;
    if (typeof field !== 'string' || field === '') throw badRequest(`input.query.${key} must be a non-empty string`);
    checked[key] = field;
  }
  if (query.tags !== undefined) {
    const tags = object(query.tags, 'input.query.tags');
    for (const [key, tag] of Object.entries(tags)) if (typeof tag !== 'string') throw badRequest(`input.query.tags.${key} must be a string`);
    checked.tags = tags as Record<string, string>;
  }
  return checked;
}

/** The checked spec of a createjob input, `now` being the creation time. */
export function checkJobSpec(input: unknown, now: Date, limits: HubLimits): JobSpec {
  const fields = object(input, 'createjob input');
  const unknown = Object.keys(fields).filter((key) => !SPEC_FIELDS.has(key));
  if (unknown.length > 0) throw badRequest(`createjob input has unknown field(s) ${unknown.join(', ')}`);
  const { operation, name, ttl, startAt } = fields;
  if (operation !== 'writeproperty' && operation !== 'invokeaction') throw badRequest("input.operation must be 'writeproperty' or 'invokeaction'");
  if (typeof name !== 'string' || name === '') throw badRequest(`input.name must name the ${operation === 'writeproperty' ? 'property' : 'action'} (a string)`);
  if (operation === 'writeproperty' && fields.input === undefined) throw badRequest('a writeproperty job needs the value to write as input.input');
  checkPayloadSize(limits, fields.input, 'input.input');
  const spec: JobSpec = { operation, name, query: checkQuery(fields.query) };
  if (fields.input !== undefined) spec.input = fields.input;
  if (ttl !== undefined) {
    if (typeof ttl !== 'number' || !(ttl >= 1 && ttl <= MAX_TTL_SECONDS)) throw badRequest(`input.ttl must be from 1 to ${MAX_TTL_SECONDS} seconds`);
    spec.ttl = ttl;
  }
  if (startAt !== undefined) {
    const at = typeof startAt === 'string' && /^\d{4}-\d\d-\d\dT/.test(startAt) ? Date.parse(startAt) : Number.NaN;
    if (Number.isNaN(at)) throw badRequest('input.startAt must be an RFC 3339 date-time');
    if (at - now.getTime() > MAX_SCHEDULE_AHEAD_MS) throw badRequest('input.startAt may be at most a year ahead');
    spec.startAt = new Date(at).toISOString();
  }
  return spec;
}
