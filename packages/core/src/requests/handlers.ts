// Request operations: consumers write properties and invoke actions (both queued for the agent),
// query and cancel them; agents receive them and report their progress and outcome.

import { randomUUID } from 'node:crypto';
import { affordance, checkPayloadSize, checkValue, ok, type HandlerTable, type HubCore } from '../core-context.js';
import { badRequest, conflict, notFound, preconditionFailed, tooManyRequests } from '../model/errors.js';
import type { ActionStatusReport, HubRequest } from '../model/operations.js';
import type { Client, RequestRecord, Twin } from '../model/types.js';
import { checkPermission } from '../auth/permissions.js';
import { isTerminal, isUnacknowledged } from './queue.js';
import { isWriteOnly } from '../state/handlers.js';

const MAX_TTL_SECONDS = 365 * 24 * 3600;
const REPORT_STATUSES = new Set(['running', 'completed', 'failed']);

function expiresAt(core: HubCore, request: HubRequest, now: Date): string {
  const ttl = request.ttl ?? core.defaultRequestTtlSeconds;
  if (!(ttl >= 1 && ttl <= MAX_TTL_SECONDS)) throw badRequest(`ttl must be from 1 to ${MAX_TTL_SECONDS} seconds`);
  return new Date(now.getTime() + ttl * 1000).toISOString();
}

function newRecord(core: HubCore, twin: Twin, client: Client, request: HubRequest, operation: RequestRecord['operation'], name: string): RequestRecord {
  const max = core.limits.maxQueuedRequestsPerThing;
  if (core.requests.queue.openCount(twin.thingId) >= max) {
    throw tooManyRequests(`Thing '${twin.thingId}' already has ${max} requests waiting, the limit; retry once its agent caught up`);
  }
  const now = core.now();
  return {
    actionId: randomUUID(),
    thingId: twin.thingId,
    name,
    operation,
    ...(request.input !== undefined ? { input: request.input } : {}),
    status: 'pending',
    requestedBy: client.id,
    timeRequested: now.toISOString(),
    expiresAt: expiresAt(core, request, now),
    seq: core.requests.queue.nextSeq(),
  };
}

/** The record a request names, checked against the Thing it claims and the client's rights. */
function requireRecord(core: HubCore, request: HubRequest, client: Client): RequestRecord {
  if (request.actionId === undefined) throw badRequest(`${request.operation} needs an actionId`);
  const record = core.requests.queue.get(request.actionId);
  // A request is only found under the Thing and affordance it was made for, when those are given.
  if (!record || (request.thingId !== undefined && record.thingId !== request.thingId) || (request.name !== undefined && record.name !== request.name)) {
    const under = [request.thingId !== undefined ? `Thing '${request.thingId}'` : '', request.name !== undefined ? `'${request.name}'` : '']
      .filter(Boolean)
      .join(' ');
    throw notFound(`no request '${request.actionId}'${under ? ` for ${under}` : ''} is known (ended requests are kept for a limited time)`);
  }
  checkPermission(client, request.operation, core.directory.get(record.thingId));
  return record;
}

/**
 * A copy of the record as `client` may see it: the value written to a write-only property (a PIN)
 * is shown only to whoever wrote it and to the Thing's agent, never to other consumers.
 */
function shownTo(core: HubCore, record: RequestRecord, client: Client): RequestRecord {
  const twin = core.directory.get(record.thingId);
  const secret = record.operation === 'writeproperty' && twin !== undefined && isWriteOnly(twin, record.name);
  if (!secret || client.role === 'agent' || client.id === record.requestedBy) return { ...record };
  const { input: _input, ...shown } = record;
  return shown;
}

/** queryallactions pages like listTDs: `offset`, and `limit` (default and most 1000). */
function pageOf(request: HubRequest): { offset: number; limit: number } {
  const offset = request.query?.offset ?? 0;
  const limit = request.query?.limit ?? 1000;
  if (!Number.isInteger(offset) || offset < 0) throw badRequest("'offset' must be a non-negative integer");
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest("'limit' must be an integer from 1 to 1000");
  return { offset, limit };
}

function checkReport(input: unknown): ActionStatusReport {
  const report = input as ActionStatusReport | undefined;
  if (typeof report !== 'object' || report === null || !REPORT_STATUSES.has(report.status)) {
    throw badRequest('updateactionstatus needs input { "status": "running" | "completed" | "failed", "output"?, "error"?, "progress"? }');
  }
  return report;
}

/**
 * Checks a write or invocation by `client` (rights on the Thing, affordance, value against the TD,
 * ttl, the Thing's queue bound) and builds its record, not yet queued: what the two handlers and
 * fleet jobs share. Throws the HubError a client would get.
 */
export function prepareRequest(core: HubCore, client: Client, request: HubRequest): { record: RequestRecord; agentId: string } {
  const twin = core.directory.require(request.thingId);
  checkPermission(client, request.operation, twin);
  if (request.operation === 'writeproperty') return { record: prepareWrite(core, twin, client, request), agentId: twin.agentId };
  if (request.operation === 'invokeaction') return { record: prepareInvocation(core, twin, client, request), agentId: twin.agentId };
  throw badRequest(`${request.operation} is not a queued request`);
}

function prepareWrite(core: HubCore, twin: Twin, client: Client, request: HubRequest): RequestRecord {
  const property = affordance(twin, 'properties', request.name);
  if (property.schema.readOnly === true) throw badRequest(`property '${property.name}' of Thing '${twin.thingId}' is read-only`);
  if (request.input === undefined) throw badRequest(`writeproperty needs the new value of '${property.name}' as input`);
  checkPayloadSize(core.limits, request.input, `the value of property '${property.name}'`);
  checkValue(property.schema, request.input, `the value of property '${property.name}'`, '');
  const version = core.state.version(twin.thingId);
  if (request.ifVersion !== undefined && request.ifVersion !== version) {
    throw preconditionFailed(`the state of Thing '${twin.thingId}' is at version ${version}, not ${request.ifVersion}; re-read it and retry`);
  }
  // The request record is the write's only durable trace: the desired value is derived from it.
  return newRecord(core, twin, client, request, 'writeproperty', property.name);
}

function prepareInvocation(core: HubCore, twin: Twin, client: Client, request: HubRequest): RequestRecord {
  const action = affordance(twin, 'actions', request.name);
  checkPayloadSize(core.limits, request.input, `the input of action '${action.name}'`);
  checkValue(action.schema.input as Record<string, unknown> | undefined, request.input, `the input of action '${action.name}'`, '');
  return newRecord(core, twin, client, request, 'invokeaction', action.name);
}

export const requestHandlers: HandlerTable = {
  async writeproperty(core, request, { client }) {
    const { record, agentId } = prepareRequest(core, client, request);
    await core.requests.enqueue(record, agentId);
    return ok({ ...record }, 202);
  },

  async invokeaction(core, request, { client }) {
    const { record, agentId } = prepareRequest(core, client, request);
    await core.requests.enqueue(record, agentId);
    return ok({ ...record }, 201);
  },

  async queryaction(core, request, { client }) {
    return ok(shownTo(core, requireRecord(core, request, client), client));
  },

  async queryallactions(core, request, { client }) {
    const twin = core.directory.require(request.thingId);
    const { offset, limit } = pageOf(request);
    const { records, total } = core.requests.queue.forThing(twin.thingId, offset, limit);
    return { ...ok(records.map((record) => shownTo(core, record, client))), total };
  },

  async cancelaction(core, request, { client }) {
    const record = requireRecord(core, request, client);
    if (record.status !== 'pending') {
      throw conflict(`request '${record.actionId}' is ${record.status}; only pending requests (not yet delivered to the agent) can be cancelled`);
    }
    await core.requests.end(record, { status: 'cancelled', timeEnded: core.now().toISOString() });
    return ok({ ...record });
  },

  async updateactionstatus(core, request, { client }) {
    const record = requireRecord(core, request, client);
    const report = checkReport(request.input);
    if (isTerminal(record.status)) {
      throw conflict(`request '${record.actionId}' already ended (${record.status}); its status can no longer change`);
    }
    const now = core.now().toISOString();
    const changes: Partial<RequestRecord> = { status: report.status };
    if (isUnacknowledged(record)) changes.timeAcknowledged = now;
    if (record.timeDelivered === undefined) changes.timeDelivered = now;
    if (report.progress !== undefined) {
      checkPayloadSize(core.limits, report.progress, 'progress');
      changes.progress = report.progress;
    }
    if (report.status === 'completed') {
      checkPayloadSize(core.limits, report.output, 'the output');
      if (record.operation === 'invokeaction') {
        const action = affordance(core.directory.require(record.thingId), 'actions', record.name);
        checkValue(action.schema.output as Record<string, unknown> | undefined, report.output, `the output of action '${record.name}'`, '');
      }
      if (report.output !== undefined) changes.output = report.output;
    }
    if (report.status === 'failed') {
      const title = typeof report.error?.title === 'string' ? report.error.title : 'Action Failed';
      const detail = typeof report.error?.detail === 'string' ? report.error.detail : 'the agent reported a failure without details';
      changes.error = { status: 502, title, detail };
    }
    if (isTerminal(report.status)) changes.timeEnded = now;
    await core.requests.end(record, changes);
    return ok({ ...record });
  },

  async subscriberequests(core, request, context) {
    core.requests.receive(core.sessions.require(context, request.operation), true);
    return ok(undefined, 204);
  },

  async unsubscriberequests(core, request, context) {
    core.requests.receive(core.sessions.require(context, request.operation), false);
    return ok(undefined, 204);
  },
};
