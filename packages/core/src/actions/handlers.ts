// Request operations: consumers write properties and invoke actions (both queued for the agent),
// query and cancel them; agents receive them and report their progress and outcome.

import { randomUUID } from 'node:crypto';
import { affordance, checkPayloadSize, checkValue, ok, type HandlerTable, type HubCore } from '../core-context.js';
import { badRequest, conflict, notFound, tooManyRequests } from '../model/errors.js';
import type { ActionStatusReport, HubRequest } from '../model/operations.js';
import type { ActionRecord, Client, Twin } from '../model/types.js';
import { checkPermission } from '../auth/permissions.js';
import { STATE_BUCKET } from '../state/state.js';
import { ACTIONS_BUCKET, isTerminal, isUnacknowledged } from './queue.js';
import type { PendingWrite } from '../store/persist-queue.js';

const MAX_TTL_SECONDS = 365 * 24 * 3600;
const REPORT_STATUSES = new Set(['running', 'completed', 'failed']);

function expiresAt(core: HubCore, request: HubRequest, now: Date): string {
  const ttl = request.ttl ?? core.defaultActionTtlSeconds;
  if (!(ttl >= 1 && ttl <= MAX_TTL_SECONDS)) throw badRequest(`ttl must be from 1 to ${MAX_TTL_SECONDS} seconds`);
  return new Date(now.getTime() + ttl * 1000).toISOString();
}

function newRecord(core: HubCore, twin: Twin, client: Client, request: HubRequest, operation: ActionRecord['operation'], name: string): ActionRecord {
  if (core.queue.openCount(twin.thingId) >= core.limits.maxQueuedActionsPerThing) {
    throw tooManyRequests(`Thing '${twin.thingId}' already has ${core.limits.maxQueuedActionsPerThing} requests waiting, the limit; retry once its agent caught up`);
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
    seq: core.queue.nextSeq(),
  };
}

/** The record a request names, checked against the Thing it claims and the client's rights. */
function requireRecord(core: HubCore, request: HubRequest, client: Client): ActionRecord {
  if (request.actionId === undefined) throw badRequest(`${request.operation} needs an actionId`);
  const record = core.queue.get(request.actionId);
  // A request is only found under the Thing and affordance it was made for, when those are given.
  if (!record || (request.thingId !== undefined && record.thingId !== request.thingId) || (request.name !== undefined && record.name !== request.name)) {
    const under = [request.thingId !== undefined ? `Thing '${request.thingId}'` : '', request.name !== undefined ? `'${request.name}'` : ''].filter(Boolean).join(' ');
    throw notFound(`no request '${request.actionId}'${under ? ` for ${under}` : ''} is known (ended requests are kept for a limited time)`);
  }
  checkPermission(client, request.operation, core.directory.get(record.thingId));
  return record;
}

function checkReport(input: unknown): ActionStatusReport {
  const report = input as ActionStatusReport | undefined;
  if (typeof report !== 'object' || report === null || !REPORT_STATUSES.has(report.status)) {
    throw badRequest('updateactionstatus needs input { "status": "running" | "completed" | "failed", "output"?, "error"?, "progress"? }');
  }
  return report;
}

export const actionHandlers: HandlerTable = {
  async writeproperty(core, request, { client }) {
    const twin = core.directory.require(request.thingId);
    const property = affordance(twin, 'properties', request.name);
    if (property.schema.readOnly === true) throw badRequest(`property '${property.name}' of Thing '${twin.thingId}' is read-only`);
    if (request.input === undefined) throw badRequest(`writeproperty needs the new value of '${property.name}' as input`);
    checkPayloadSize(core.limits, request.input, `the value of property '${property.name}'`);
    checkValue(property.schema, request.input, `the value of property '${property.name}'`, '');
    const record = newRecord(core, twin, client, request, 'writeproperty', property.name);
    const state = core.state.setDesired(twin.thingId, property.name, request.input, record.actionId, record.timeRequested, request.ifVersion);
    core.queue.add(record, twin.agentId);
    await core.persist.write([
      { bucket: ACTIONS_BUCKET, key: record.actionId, value: record },
      { bucket: STATE_BUCKET, key: twin.thingId, value: state },
    ]);
    core.deliver(record);
    return ok({ ...record }, 202);
  },

  async invokeaction(core, request, { client }) {
    const twin = core.directory.require(request.thingId);
    const action = affordance(twin, 'actions', request.name);
    checkPayloadSize(core.limits, request.input, `the input of action '${action.name}'`);
    checkValue(action.schema.input as Record<string, unknown> | undefined, request.input, `the input of action '${action.name}'`, '');
    const record = newRecord(core, twin, client, request, 'invokeaction', action.name);
    core.queue.add(record, twin.agentId);
    await core.persist.put(ACTIONS_BUCKET, record.actionId, record);
    core.deliver(record);
    return ok({ ...record }, 201);
  },

  async queryaction(core, request, { client }) {
    return ok({ ...requireRecord(core, request, client) });
  },

  async queryallactions(core, request) {
    const twin = core.directory.require(request.thingId);
    return ok(core.queue.forThing(twin.thingId).map((record) => ({ ...record })));
  },

  async cancelaction(core, request, { client }) {
    const record = requireRecord(core, request, client);
    if (record.status !== 'pending') {
      throw conflict(`request '${record.actionId}' is ${record.status}; only pending requests (not yet delivered to the agent) can be cancelled`);
    }
    core.queue.update(record, { status: 'cancelled', timeEnded: core.now().toISOString() });
    const writes: PendingWrite[] = [{ bucket: ACTIONS_BUCKET, key: record.actionId, value: record }];
    if (record.operation === 'writeproperty' && core.state.endWrite(record.thingId, record.name, record.actionId)) {
      writes.push({ bucket: STATE_BUCKET, key: record.thingId, value: core.state.get(record.thingId) });
    }
    await core.persist.write(writes);
    core.actionChanged(record);
    return ok({ ...record });
  },

  async updateactionstatus(core, request, { client }) {
    const record = requireRecord(core, request, client);
    const report = checkReport(request.input);
    if (isTerminal(record.status)) {
      throw conflict(`request '${record.actionId}' already ended (${record.status}); its status can no longer change`);
    }
    const now = core.now().toISOString();
    const changes: Partial<ActionRecord> = { status: report.status };
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
    core.queue.update(record, changes);
    const writes: PendingWrite[] = [{ bucket: ACTIONS_BUCKET, key: record.actionId, value: record }];
    if (record.operation === 'writeproperty' && isTerminal(record.status) && core.state.endWrite(record.thingId, record.name, record.actionId)) {
      writes.push({ bucket: STATE_BUCKET, key: record.thingId, value: core.state.get(record.thingId) });
    }
    await core.persist.write(writes);
    core.actionChanged(record);
    return ok({ ...record });
  },

  async subscriberequests(core, request, context) {
    core.receiveRequests(core.session(context, request.operation), true);
    return ok(undefined, 204);
  },

  async unsubscriberequests(core, request, context) {
    core.receiveRequests(core.session(context, request.operation), false);
    return ok(undefined, 204);
  },
};
