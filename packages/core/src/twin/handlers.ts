// The twin document (Azure device twin / AWS shadow spirit): one read of everything the hub knows
// of a Thing (reported and desired values with their times, the delta between them, tags, presence,
// versions), and the agent's start-up read of its Things' desired configuration.

import { ok, type HandlerTable, type HubCore } from '../core-context.js';
import { checkPermission } from '../auth/permissions.js';
import { badRequest } from '../model/errors.js';
import type { Client, Twin } from '../model/types.js';
import { ownerPresence } from '../presence/presence.js';
import { desiredValues, readable } from '../state/handlers.js';
import { define } from '../td/merge-patch.js';

/** The twin document `readtwin` serves. Agents get theirs without tags (twin metadata of consumers). */
export function twinDocument(core: HubCore, twin: Twin, client: Client) {
  const { td: _td, tags, version, ...meta } = twin;
  const state = core.state.snapshot(twin.thingId, desiredValues(core, twin.thingId));
  const names = readable(twin, Object.keys(state.properties), client);
  const reported: Record<string, { value: unknown; updated: string }> = {};
  const desired: Record<string, { value: unknown; at: string; requestId: string }> = {};
  const delta: Record<string, unknown> = {};
  for (const name of names) {
    const property = state.properties[name];
    if (property.updated !== undefined) define(reported, name, { value: property.value, updated: property.updated });
    if (property.pendingWrite === undefined) continue;
    define(desired, name, { value: property.desired, at: property.desiredAt as string, requestId: property.pendingWrite });
    // The delta: what the device has yet to take on (desired differs from reported, or nothing reported yet).
    if (property.updated === undefined || JSON.stringify(property.value) !== JSON.stringify(property.desired)) define(delta, name, property.desired);
  }
  return {
    ...meta,
    version,
    ...(client.role === 'agent' ? {} : { tags }),
    presence: ownerPresence(core, twin.agentId),
    reported,
    desired,
    delta,
    versions: { td: version, state: state.version },
  };
}

/**
 * What an agent applies at start-up, per Thing and writable property: the value a consumer asked for
 * last (an open write's input), or else the last reported one (HiveOT: devices that cannot keep their
 * configuration get the last known values). Open writes are still delivered as requests.
 */
function desiredConfiguration(core: HubCore, twin: Twin, client: Client): Record<string, unknown> {
  const properties = (twin.td.properties ?? {}) as Record<string, { readOnly?: unknown }>;
  const writable = Object.keys(properties).filter((name) => properties[name].readOnly !== true);
  const wanted = desiredValues(core, twin.thingId);
  const configuration: Record<string, unknown> = {};
  for (const name of readable(twin, writable, client)) {
    const open = wanted.get(name);
    const reported = core.state.reported(twin.thingId, name);
    if (open) define(configuration, name, open.value);
    else if (reported) define(configuration, name, reported.value);
  }
  return configuration;
}

export const twinHandlers: HandlerTable = {
  async readtwin(core, request, { client }) {
    return ok(twinDocument(core, core.directory.require(request.thingId), client));
  },

  async readdesired(core, request, { client }) {
    if (request.thingId !== undefined) {
      const twin = core.directory.require(request.thingId);
      return ok({ [twin.thingId]: desiredConfiguration(core, twin, client) });
    }
    const agentId = client.role === 'agent' ? client.id : request.agentId;
    if (agentId === undefined) throw badRequest('readdesired needs a thingId, or (for an admin) the agentId whose Things to read');
    const things = core.directory.ownedBy(agentId).map((thingId) => core.directory.get(thingId)!);
    for (const twin of things) checkPermission(client, 'readdesired', twin);
    return ok(Object.fromEntries(things.map((twin) => [twin.thingId, desiredConfiguration(core, twin, client)])));
  },
};
