// History operations: readers query a property's or event's history (a page of samples, or
// aggregates per time bucket); admins read and set the per-Thing recording and retention policy.

import { affordance, checkPayloadSize, ok, type HandlerTable, type HubCore } from '../core-context.js';
import { badRequest, forbidden } from '../model/errors.js';
import type { Twin } from '../model/types.js';
import { parseThingPolicy, type EffectivePolicy } from './policy.js';

/**
 * A write-only property's history is as secret as its value (TD 1.1 §5.3.2.4 `writeOnly`): only
 * the owning agent reads it (checkPermission keeps agents to their own Things).
 */
function isWriteOnly(schema: Record<string, unknown>): boolean {
  return schema.writeOnly === true;
}

/** The effective policy of every property and event of a Thing, as readhistorypolicy shows it. */
function effectivePolicies(core: HubCore, twin: Twin): Record<string, Record<string, EffectivePolicy>> {
  const section = (key: 'properties' | 'events', kind: 'p' | 'e') =>
    Object.fromEntries(Object.keys((twin.td[key] as object | undefined) ?? {}).map((name) => [name, core.history.policy(twin, kind, name)]));
  return { properties: section('properties', 'p'), events: section('events', 'e') };
}

function policyAnswer(core: HubCore, thingId: string) {
  const twin = core.directory.get(thingId);
  return { thingId, policy: core.history.adminPolicy(thingId), ...(twin ? { effective: effectivePolicies(core, twin) } : {}) };
}

export const historyHandlers: HandlerTable = {
  async readpropertyhistory(core, request, { client }) {
    const twin = core.directory.require(request.thingId);
    const { name, schema } = affordance(twin, 'properties', request.name);
    if (isWriteOnly(schema) && client.role !== 'agent') {
      throw forbidden(`property '${name}' of Thing '${twin.thingId}' is write-only (writeOnly in its TD): its history is never readable through the twin`);
    }
    // After the reports made before this read were stored (their samples are in the same batches).
    return ok(await core.state.readInOrder(twin.thingId, () => core.history.query(twin, 'p', name, schema, request.query)));
  },

  async readeventhistory(core, request) {
    const twin = core.directory.require(request.thingId);
    const { name, schema } = affordance(twin, 'events', request.name);
    const data = schema.data as Record<string, unknown> | undefined;
    return ok(await core.state.readInOrder(twin.thingId, () => core.history.query(twin, 'e', name, data, request.query)));
  },

  async readhistorypolicy(core, request) {
    return ok(policyAnswer(core, requireThingId(request.thingId)));
  },

  async updatehistorypolicy(core, request) {
    const thingId = requireThingId(request.thingId);
    checkPayloadSize(core.limits, request.input, 'the history policy');
    await core.history.setAdminPolicy(thingId, parseThingPolicy(request.input));
    return ok(policyAnswer(core, thingId));
  },
};

/** Policies may name a Thing not registered (yet): an admin can prepare one before its device registers. */
function requireThingId(thingId: string | undefined): string {
  if (thingId === undefined) throw badRequest('this operation needs a thingId');
  return thingId;
}
