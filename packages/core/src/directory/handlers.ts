// Directory operations: TD lifecycle (register, replace, merge-patch, delete), retrieval, queries,
// tags, and subscriptions to thing_created / thing_updated / thing_deleted. A registration or
// delete takes effect in call order and is undone whole if the store refuses it.

import { ok, type HandlerTable, type HubCore } from '../core-context.js';
import { badRequest, forbidden, preconditionFailed } from '../model/errors.js';
import type { Client, Twin } from '../model/types.js';
import { canSee, checkPermission } from '../auth/permissions.js';
import type { ExpectedRevision } from '@twinhub/bucket';
import type { PendingWrite } from '../store/persist-queue.js';
import { ownerPresence } from '../presence/presence.js';
import { applyMergePatch, createMergePatch, validateThingDescription, withDefaultSecurity } from '../td/index.js';
import type { ThingNotificationMessage } from '../model/envelope.js';
import { checkHistoryAnnotations } from '../history/policy.js';
import { TWINS_BUCKET } from './directory.js';
import type { DocumentSources } from '../query/document.js';

async function register(core: HubCore, client: Client, input: unknown, options: { pathId?: string; ifVersion?: number }) {
  const td = input as { id?: unknown } | null;
  const thingId = options.pathId ?? (typeof td?.id === 'string' ? td.id : undefined);
  return twinWrite(core, thingId, (expect) => registerNow(core, client, input, options, expect));
}

/**
 * Cluster mode: the writes of one Thing's twin record from this instance run one at a time, each
 * stored only if the record is still at the revision read when it started (a compare-and-set), so
 * of two instances registering one Thing at the same moment one wins and the other answers 409.
 * Alone on its store the hub's view decides, as the only writer: no read, no condition.
 */
function twinWrite<T>(core: HubCore, thingId: string | undefined, write: (expect?: ExpectedRevision[]) => Promise<T>): Promise<T> {
  if (!core.membership.clustered || thingId === undefined) return write();
  return core.directory.serially(thingId, async () =>
    write([{ bucket: TWINS_BUCKET, key: thingId, revision: await core.persist.revisionOf(TWINS_BUCKET, thingId) }]),
  );
}

async function registerNow(
  core: HubCore,
  client: Client,
  input: unknown,
  options: { pathId?: string; ifVersion?: number },
  expect: ExpectedRevision[] | undefined,
) {
  // validateThingDescription also parses JSON text; over the wire a TD is an object, never a string.
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badRequest('a Thing Description must be a JSON object');
  const td = validateThingDescription(input, core.limits.maxTdBytes);
  checkHistoryAnnotations(td);
  const now = core.now().toISOString();
  const { twin, created } = core.directory.prepareRegistration(client, td, { ...options, limits: core.limits, now });
  const previous = core.directory.get(twin.thingId);
  if (!created) checkPermission(client, 'updateTD', previous);
  // Everything that can refuse the TD runs before anything is stored: registration is all or nothing.
  const twinTd = core.twinTd(twin, client);
  const dropped = core.state.reconcileWrites(twin.thingId, twin.td);
  const [revision] = await staged(
    core,
    twin.thingId,
    [{ bucket: TWINS_BUCKET, key: twin.thingId, value: twin }, ...dropped],
    () => core.directory.put(twin),
    // Undone only if still ours: another instance's record the feed applied meanwhile stays.
    () => {
      if (core.directory.get(twin.thingId) !== twin) return;
      if (previous) core.directory.put(previous);
      else core.directory.remove(twin.thingId);
    },
    expect,
  );
  for (const write of dropped) core.state.apply(write.key, undefined);
  announceTwin(core, twin, previous, revision);
  core.log.debug({ thingId: twin.thingId, agentId: twin.agentId, version: twin.version, created }, 'TD registered');
  return ok(twinTd, created ? 201 : 200);
}

/**
 * Tells who may see it that a Thing was created or updated. Who may see it is decided now: the
 * event stays replayable to them after a delete. Each client gets the twin TD as its role sees it;
 * an update also carries `patch`, the RFC 7396 merge patch from the previous TD to this one
 * (the Discovery notification API's `diff`), always with the TD's `id` [tdd-notification-data-update-id].
 */
function announceTwin(core: HubCore, twin: Twin, previous: Twin | undefined, revision: number | undefined): void {
  const operation = previous ? 'thing_updated' : 'thing_created';
  const views = new Map<string, ThingNotificationMessage>();
  core.notify.publish(
    { operation, thingId: twin.thingId, data: core.twinTd(twin), timestamp: twin.modified },
    {
      revision,
      audience: (c) => canSee(c, twin),
      // One variant per role, built on first use and shared by every session of that role.
      view: (client, numbered) => {
        let view = views.get(client.role);
        if (!view) {
          const td = core.twinTd(twin, client);
          const patch = previous ? { ...createMergePatch(core.twinTd(previous, client), td), id: twin.thingId } : undefined;
          views.set(client.role, (view = { ...(numbered as ThingNotificationMessage), data: td, ...(patch ? { patch } : {}) }));
        }
        return view;
      },
    },
  );
}

function announceDeleted(core: HubCore, twin: Twin, revision: number | undefined): void {
  const timestamp = core.now().toISOString();
  core.notify.publish(
    { operation: 'thing_deleted', thingId: twin.thingId, data: { id: twin.thingId }, timestamp },
    { revision, audience: (c) => canSee(c, twin) },
  );
}

/**
 * A twin record another writer committed (cluster mode), applied like this hub's own changes:
 * put in (or taken out of) the view, then announced, numbered with its revision. A record with the
 * same TD (its tags changed) is not announced, as the writer did not announce it either.
 */
export function applyTwinRecord(core: HubCore, thingId: string, twin: Twin | undefined, revision?: number): void {
  const known = core.directory.get(thingId);
  if (!twin) {
    if (!known) return;
    core.directory.remove(thingId);
    core.state.forget(thingId);
    announceDeleted(core, known, revision);
    return;
  }
  core.directory.put(twin);
  const sameTd = known !== undefined && known.version === twin.version && JSON.stringify(known.td) === JSON.stringify(twin.td);
  if (!sameTd) announceTwin(core, twin, known, revision);
}

/**
 * Applies a change to the view at once (so requests handled meanwhile see it, in call order), then
 * stores `writes`; if the store refuses them the change is undone and the error goes to the client.
 */
async function staged(
  core: HubCore,
  thingId: string,
  writes: PendingWrite[],
  apply: () => void,
  undo: () => void,
  expect?: ExpectedRevision[],
): Promise<number[]> {
  // Until stored, the view is ahead of the store: the twin must not be dropped and read back.
  const release = core.directory.pin(thingId);
  apply();
  try {
    // Distinct: each change keeps its own revision (its notification's id in a cluster).
    return await core.persist.write(writes, { distinct: true, ...(expect ? { expect } : {}) });
  } catch (error) {
    undo();
    throw error;
  } finally {
    release();
  }
}

/**
 * Deletes a twin with its state and queued requests, and announces it. Gone at once, like every
 * other handler applies its change: a request handled meanwhile (pipelined on the same connection
 * or from another client) already sees the Thing gone, so it can neither re-create its state after
 * the delete nor be undone by it.
 */
function removeTwin(core: HubCore, twin: Twin): Promise<void> {
  return twinWrite(core, twin.thingId, (expect) => removeTwinNow(core, twin, expect));
}

async function removeTwinNow(core: HubCore, twin: Twin, expect: ExpectedRevision[] | undefined): Promise<void> {
  const requests = core.requests.removeThing(twin.thingId, twin.agentId);
  const dropped = core.state.removeWrites(twin.thingId);
  const revisions = await staged(
    core,
    twin.thingId,
    [{ bucket: TWINS_BUCKET, key: twin.thingId, value: undefined }, ...dropped, ...requests.writes],
    () => core.directory.remove(twin.thingId),
    () => {
      if (!core.directory.get(twin.thingId)) core.directory.put(twin);
      requests.undo();
    },
    expect,
  );
  core.state.forget(twin.thingId);
  requests.announce(revisions.slice(1 + dropped.length));
  announceDeleted(core, twin, revisions[0]);
}

/** Registrations found expired per sweep step, at most (each is a delete with its own write). */
const PURGE_SLICE = 100;

/**
 * [tdd-registrationinfo-expiry-purge] Deletes the twins whose registration expired (`registration.ttl`
 * or `expires`), as a delete by their agent would: state, queued requests and all, announced as
 * thing_deleted. Runs with the hub's other sweeps.
 */
export async function purgeExpiredRegistrations(core: HubCore): Promise<void> {
  for (const twin of core.directory.expired(core.now().getTime(), PURGE_SLICE)) {
    // Re-registered, re-tagged or deleted since the listing: not this sweep's to remove. (Compared
    // by version and time, not identity: a twin loaded on demand may have been read back since.)
    const current = core.directory.get(twin.thingId);
    if (current === undefined || current.version !== twin.version || current.modified !== twin.modified) continue;
    try {
      await removeTwin(core, twin);
      core.log.info({ thingId: twin.thingId, agentId: twin.agentId, expires: twin.expires }, 'registration expired; Thing deleted');
    } catch (error) {
      core.log.warn({ err: error, thingId: twin.thingId }, 'could not delete an expired registration; retrying at the next sweep');
    }
  }
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

/** Where twin queries read values, desired values, presence and twin TDs from. */
export function documentSources(core: HubCore): DocumentSources {
  return {
    reported: (thingId, name) => core.state.reported(thingId, name),
    openWrites: (thingId) => core.requests.queue.openWrites(thingId),
    presence: (agentId) => core.sessions.presence(agentId),
    twinTd: (twin, client) => core.twinTd(twin, client),
  };
}

/** What a metadata listing serves per twin: the twin without its TD, with its owner's presence. */
function twinMetadata(core: HubCore, { td: _td, ...meta }: Twin) {
  return { ...meta, presence: ownerPresence(core, meta.agentId) };
}

/** The twin TD as the client's role sees it, with another Thing-level security scheme when the client asks for one. */
function servedTd(core: HubCore, client: Client, twin: Twin, security: string | undefined) {
  const td = core.twinTd(twin, client);
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
    await removeTwin(core, twin);
    core.log.debug({ thingId: twin.thingId }, 'TD deleted');
    return ok(undefined, 204);
  },

  async retrieveTD(core, request, { client }) {
    return ok(servedTd(core, client, core.directory.require(request.thingId), request.query?.security));
  },

  async listTDs(core, request, { client }) {
    // Twin metadata carries tags, which agents never see.
    if (request.query?.metadataOnly && client.role === 'agent') throw forbidden('agents cannot list twin metadata (it carries tags); list TDs instead');
    const result = core.directory.list(client, request.query ?? {}, {
      maxPageBytes: core.limits.maxListPageBytes,
      scanLimit: core.queryScanLimit,
      sources: documentSources(core),
    });
    const { twins, total, next, partial, plan } = result;
    const listing = {
      ...(total !== undefined ? { total } : {}),
      etag: core.directory.collectionTag(),
      page: { ...(next ? { next } : {}), ...(partial ? { partial } : {}), plan },
    };
    if (request.query?.metadataOnly) return { ...ok(twins.map((twin) => twinMetadata(core, twin))), ...listing };
    // One stored TD the hub can no longer serve (written by an older version with weaker checks)
    // is left out and logged: it must not turn every listing into a 500.
    const tds = twins.flatMap((twin) => {
      try {
        return [servedTd(core, client, twin, request.query?.security)];
      } catch (error) {
        core.log.error({ err: error, thingId: twin.thingId }, 'a stored TD cannot be served; left out of the listing');
        return [];
      }
    });
    return { ...ok(tds), ...listing };
  },

  async updatetags(core, request) {
    const tags = checkTags(request.input);
    return twinWrite(core, core.directory.require(request.thingId).thingId, async (expect) => {
      const twin = core.directory.require(request.thingId);
      const updated: Twin = { ...twin, tags, modified: core.now().toISOString() };
      await staged(
        core,
        twin.thingId,
        [{ bucket: TWINS_BUCKET, key: twin.thingId, value: updated }],
        () => core.directory.put(updated),
        () => {
          if (core.directory.get(twin.thingId) === updated) core.directory.put(twin);
        },
        expect,
      );
      return ok(updated.tags);
    });
  },

  async subscribedirectory(core, request, context) {
    const session = core.sessions.require(context, 'subscribedirectory');
    core.notify.subscribe(session, { kind: 'directory' });
    return request.since === undefined ? ok(undefined, 204) : ok(core.notify.replayTo(session, { kind: 'directory' }, request.since));
  },

  async unsubscribedirectory(core, _request, context) {
    core.notify.unsubscribe(core.sessions.require(context, 'unsubscribedirectory'), { kind: 'directory' });
    return ok(undefined, 204);
  },
};
