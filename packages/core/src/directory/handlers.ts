// Directory operations: TD lifecycle (register, replace, merge-patch, delete), retrieval, queries,
// tags, and subscriptions to thing_created / thing_updated / thing_deleted.

import { ok, type HandlerTable, type HubCore } from '../core-context.js';
import { badRequest, preconditionFailed } from '../model/errors.js';
import type { Client, Twin } from '../model/types.js';
import { ACTIONS_BUCKET } from '../actions/queue.js';
import { STATE_BUCKET } from '../state/state.js';
import { canSee, checkPermission } from '../auth/permissions.js';
import { applyMergePatch, validateThingDescription, withDefaultSecurity } from '../td/index.js';
import { TWINS_BUCKET } from './directory.js';

async function register(core: HubCore, client: Client, input: unknown, options: { pathId?: string; ifVersion?: number }) {
  // validateThingDescription also parses JSON text; over the wire a TD is an object, never a string.
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badRequest('a Thing Description must be a JSON object');
  const td = validateThingDescription(input, core.limits.maxTdBytes);
  const now = core.now().toISOString();
  const { twin, created } = core.directory.prepareRegistration(client, td, {
    ...options,
    maxThingsPerAgent: core.limits.maxThingsPerAgent,
    now,
  });
  if (!created) checkPermission(client, 'updateTD', core.directory.get(twin.thingId));
  core.directory.put(twin);
  const stateChanged = core.state.reconcile(twin.thingId, twin.td);
  await core.persist.write([
    { bucket: TWINS_BUCKET, key: twin.thingId, value: twin },
    ...(created || stateChanged ? [{ bucket: STATE_BUCKET, key: twin.thingId, value: core.state.get(twin.thingId) }] : []),
  ]);
  const twinTd = core.twinTd(twin);
  core.notify.publish({ operation: created ? 'thing_created' : 'thing_updated', thingId: twin.thingId, data: twinTd, timestamp: now });
  core.log.debug({ thingId: twin.thingId, agentId: twin.agentId, version: twin.version, created }, 'TD registered');
  return ok(twinTd, created ? 201 : 200);
}

function checkTags(input: unknown): Record<string, string> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badRequest('tags must be a JSON object of string values');
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > 64) throw badRequest('at most 64 tags per Thing');
  for (const [key, value] of entries) {
    if (typeof value !== 'string' || key.length === 0 || key.length > 128 || value.length > 1024) {
      throw badRequest(`tag '${key}' is invalid: keys are 1-128 characters, values strings of at most 1024`);
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** What readtwin serves: the twin without its TD. */
function twinMetadata({ td: _td, ...meta }: Twin): Omit<Twin, 'td'> {
  return meta;
}

/** The twin TD, with another Thing-level security scheme when the client asks for one. */
function servedTd(core: HubCore, twin: Twin, security: string | undefined) {
  const td = core.twinTd(twin);
  return security === undefined ? td : withDefaultSecurity(td, security);
}

export const directoryHandlers: HandlerTable = {
  async updateTD(core, request, { client }) {
    return register(core, client, request.input, { pathId: request.thingId, ifVersion: request.ifVersion });
  },

  async patchTD(core, request, { client }) {
    const twin = core.directory.require(request.thingId);
    if (typeof request.input !== 'object' || request.input === null || Array.isArray(request.input)) {
      throw badRequest('a merge patch (RFC 7396) must be a JSON object');
    }
    const patched = applyMergePatch(twin.td, request.input);
    return register(core, client, patched, { pathId: twin.thingId, ifVersion: request.ifVersion });
  },

  async deleteTD(core, request) {
    const twin = core.directory.require(request.thingId);
    if (request.ifVersion !== undefined && request.ifVersion !== twin.version) {
      throw preconditionFailed(`Thing '${twin.thingId}' is at version ${twin.version}, not ${request.ifVersion}; re-read it before deleting`);
    }
    const now = core.now().toISOString();
    const records = core.queue.removeThing(twin.thingId);
    const cancelled = records.filter((r) => r.timeEnded === undefined);
    for (const record of cancelled) {
      Object.assign(record, {
        status: 'cancelled',
        timeEnded: now,
        error: { status: 410, title: 'Gone', detail: `Thing '${twin.thingId}' was deleted before the request ended` },
      });
    }
    // Forgotten before the write is awaited, like every other handler applies its change: a request
    // handled meanwhile (pipelined on the same connection or from another client) already sees the
    // Thing gone, so it can neither re-create its state record after the delete nor be undone by it.
    core.directory.remove(twin.thingId);
    core.state.remove(twin.thingId);
    await core.persist.write([
      { bucket: TWINS_BUCKET, key: twin.thingId, value: undefined },
      { bucket: STATE_BUCKET, key: twin.thingId, value: undefined },
      ...records.map((r) => ({ bucket: ACTIONS_BUCKET, key: r.actionId, value: undefined })),
    ]);
    for (const record of cancelled) core.actionChanged(record);
    core.notify.publish({ operation: 'thing_deleted', thingId: twin.thingId, data: { id: twin.thingId }, timestamp: now }, { audience: (c) => canSee(c, twin) });
    core.log.debug({ thingId: twin.thingId, cancelled: cancelled.length }, 'TD deleted');
    return ok(undefined, 204);
  },

  async retrieveTD(core, request) {
    return ok(servedTd(core, core.directory.require(request.thingId), request.query?.security));
  },

  async listTDs(core, request, { client }) {
    if (request.query?.metadataOnly) checkPermission(client, 'readtwin');
    const { twins, total } = core.directory.list(client, request.query);
    if (request.query?.metadataOnly) return { ...ok(twins.map(twinMetadata)), total };
    return { ...ok(twins.map((twin) => servedTd(core, twin, request.query?.security))), total };
  },

  async readtwin(core, request) {
    return ok(twinMetadata(core.directory.require(request.thingId)));
  },

  async updatetags(core, request) {
    const twin = core.directory.require(request.thingId);
    const updated: Twin = { ...twin, tags: checkTags(request.input), modified: core.now().toISOString() };
    core.directory.put(updated);
    await core.persist.put(TWINS_BUCKET, twin.thingId, updated);
    return ok(updated.tags);
  },

  async subscribedirectory(core, _request, context) {
    const session = core.session(context, 'subscribedirectory');
    core.notify.subscribe(session, { kind: 'directory' });
    return ok(undefined, 204);
  },

  async unsubscribedirectory(core, _request, context) {
    core.notify.unsubscribe(core.session(context, 'unsubscribedirectory'), { kind: 'directory' });
    return ok(undefined, 204);
  },
};
