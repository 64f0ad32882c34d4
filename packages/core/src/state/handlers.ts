// State operations: consumers read and observe property values and events; agents report values
// and publish events. Reports are validated against the TD, persisted, and only then announced.

import { affordance, checkPayloadSize, checkValue, ok, type HandlerTable, type HubCore } from '../core-context.js';
import { badRequest, notFound } from '../model/errors.js';
import type { HubRequest, HubContext } from '../model/operations.js';
import type { Twin } from '../model/types.js';
import type { SubscriptionTarget } from '../notify/registry.js';
import { STATE_BUCKET } from './state.js';

function reportedValues(core: HubCore, twin: Twin, names: string[]): Record<string, unknown> {
  const properties = core.state.get(twin.thingId).properties;
  const values: Record<string, unknown> = {};
  for (const name of names) {
    if (properties[name] && 'value' in properties[name]) values[name] = properties[name].value;
  }
  return values;
}

/** Builds the subscription target of an observe/subscribe request (no thingId: all visible Things). */
function target(core: HubCore, request: HubRequest, kind: 'property' | 'event', named: boolean): SubscriptionTarget {
  if (request.thingId === undefined) {
    if (named) throw badRequest(`${request.operation} needs a thingId and a name`);
    return { kind };
  }
  const twin = core.directory.require(request.thingId);
  if (!named) return { kind, thingId: twin.thingId };
  const { name } = affordance(twin, kind === 'property' ? 'properties' : 'events', request.name);
  return { kind, thingId: twin.thingId, name };
}

function subscribe(kind: 'property' | 'event', named: boolean) {
  return async (core: HubCore, request: HubRequest, context: HubContext) => {
    core.notify.subscribe(core.session(context, request.operation), target(core, request, kind, named));
    return ok(undefined, 204);
  };
}

function unsubscribe(kind: 'property' | 'event', named: boolean) {
  return async (core: HubCore, request: HubRequest, context: HubContext) => {
    core.notify.unsubscribe(core.session(context, request.operation), target(core, request, kind, named));
    return ok(undefined, 204);
  };
}

export const stateHandlers: HandlerTable = {
  async readproperty(core, request) {
    const twin = core.directory.require(request.thingId);
    const { name } = affordance(twin, 'properties', request.name);
    const property = core.state.get(twin.thingId).properties[name];
    if (!property || !('value' in property)) {
      throw notFound(`property '${name}' of Thing '${twin.thingId}' has no reported value yet`);
    }
    return { ...ok(property.value), ...(property.updated ? { timestamp: property.updated } : {}) };
  },

  async readallproperties(core, request) {
    const twin = core.directory.require(request.thingId);
    return ok(reportedValues(core, twin, Object.keys((twin.td.properties as object | undefined) ?? {})));
  },

  async readmultipleproperties(core, request) {
    const twin = core.directory.require(request.thingId);
    if (!request.names || request.names.length === 0) throw badRequest('readmultipleproperties needs "names", a non-empty list of property names');
    const names = request.names.map((name) => affordance(twin, 'properties', name).name);
    return ok(reportedValues(core, twin, names));
  },

  async readstate(core, request) {
    const twin = core.directory.require(request.thingId);
    return ok(structuredClone(core.state.get(twin.thingId)));
  },

  observeproperty: subscribe('property', true),
  unobserveproperty: unsubscribe('property', true),
  observeallproperties: subscribe('property', false),
  unobserveallproperties: unsubscribe('property', false),
  subscribeevent: subscribe('event', true),
  unsubscribeevent: unsubscribe('event', true),
  subscribeallevents: subscribe('event', false),
  unsubscribeallevents: unsubscribe('event', false),

  async updateproperty(core, request) {
    const twin = core.directory.require(request.thingId);
    let values: Record<string, unknown>;
    if (request.name !== undefined) {
      values = { [request.name]: request.input };
    } else if (typeof request.input === 'object' && request.input !== null && !Array.isArray(request.input)) {
      values = request.input as Record<string, unknown>;
    } else {
      throw badRequest('updateproperty needs a property name and a value, or an object { name: value, ... } as input');
    }
    if (Object.keys(values).length === 0) throw badRequest('updateproperty got no values');
    // All values are checked before any is stored: a report is applied whole or not at all.
    for (const [name, value] of Object.entries(values)) {
      const { schema } = affordance(twin, 'properties', name);
      if (value === undefined) throw badRequest(`property '${name}' needs a value`);
      checkPayloadSize(core.limits, value, `the value of property '${name}'`);
      checkValue(schema, value, `the value of property '${name}'`, `/${name}`);
    }
    const now = core.now().toISOString();
    const state = core.state.report(twin.thingId, values, now);
    await core.persist.put(STATE_BUCKET, twin.thingId, state);
    for (const [name, value] of Object.entries(values)) {
      core.notify.publish({ operation: 'observeproperty', thingId: twin.thingId, name, data: value, timestamp: now });
    }
    return ok(undefined, 204);
  },

  async publishevent(core, request) {
    const twin = core.directory.require(request.thingId);
    const event = affordance(twin, 'events', request.name);
    checkPayloadSize(core.limits, request.input, `the data of event '${event.name}'`);
    checkValue(event.schema.data as Record<string, unknown> | undefined, request.input, `the data of event '${event.name}'`, '');
    const now = core.now().toISOString();
    const state = core.state.recordEvent(twin.thingId, event.name, request.input ?? null, now);
    await core.persist.put(STATE_BUCKET, twin.thingId, state);
    core.notify.publish({ operation: 'subscribeevent', thingId: twin.thingId, name: event.name, data: request.input ?? null, timestamp: now });
    return ok(undefined, 204);
  },
};
