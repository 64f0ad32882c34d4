// State operations: consumers read and observe property values and events; agents report values
// and publish events. Reports are validated against the TD, stored, and only then applied to the
// view and announced: a report the store refused is never served to anyone.

import { affordance, checkPayloadSize, checkValue, ok, type HandlerTable, type HubCore } from '../core-context.js';
import { badRequest, forbidden, notFound, preconditionFailed } from '../model/errors.js';
import type { HubContext, HubRequest, HubSuccess } from '../model/operations.js';
import type { Client, Twin } from '../model/types.js';
import type { SubscriptionTarget } from '../notify/registry.js';
import type { PendingWrite } from '../store/persist-queue.js';
import { thingOfStateKey } from './state.js';

/** The reported values of the named properties (never-reported ones are left out). */
function reportedValues(core: HubCore, twin: Twin, names: string[]): Record<string, unknown> {
  const values: [string, unknown][] = [];
  for (const name of names) {
    const reported = core.state.reported(twin.thingId, name);
    if (reported) values.push([name, reported.value]);
  }
  // fromEntries defines own properties: a name such as "__proto__" stays plain data.
  return Object.fromEntries(values);
}

/** The desired value of each property with an open write: the newest write's input. */
export function desiredValues(core: HubCore, thingId: string) {
  const desired = new Map<string, { value: unknown; at: string; requestId: string }>();
  for (const write of core.requests.queue.openWrites(thingId)) {
    desired.set(write.name, { value: write.input, at: write.timeRequested, requestId: write.actionId });
  }
  return desired;
}

/**
 * A write-only property (TD 1.1 §5.3.2.4 `writeOnly`: a password, a set-point that must not leak)
 * is never readable or observable through the twin; only the owning agent, whose device it is,
 * reads its reported value back (checkPermission keeps agents to their own Things).
 */
export function isWriteOnly(twin: Twin, name: string): boolean {
  const properties = twin.td.properties as Record<string, { writeOnly?: unknown }> | undefined;
  return properties !== undefined && Object.hasOwn(properties, name) && properties[name].writeOnly === true;
}

const readsWriteOnly = (client: Client): boolean => client.role === 'agent';

/**
 * Only an `observable` property (TD 1.1 §5.3.2.4) can be observed: observeproperty on another is
 * refused on every binding, and observeallproperties tells of "changes to any observable property"
 * (TD 1.1 §5.3.4.2), so the values of the others are never announced (nor published on MQTT).
 */
function isObservable(twin: Twin, name: string): boolean {
  const properties = twin.td.properties as Record<string, { observable?: unknown }> | undefined;
  return properties !== undefined && Object.hasOwn(properties, name) && properties[name].observable === true;
}

function writeOnlyRefusal(twin: Twin, name: string): Error {
  return forbidden(
    `property '${name}' of Thing '${twin.thingId}' is write-only (writeOnly in its TD): its value is never readable or observable through the twin`,
  );
}

/** The property names of `names` whose values `client` may read. */
export function readable(twin: Twin, names: string[], client: Client): string[] {
  return readsWriteOnly(client) ? names : names.filter((name) => !isWriteOnly(twin, name));
}

/** Runs a read of a Thing's state after the reports made before it were applied (see TwinStateStore.readInOrder). */
async function readState(core: HubCore, request: HubRequest, read: (twin: Twin) => HubSuccess): Promise<HubSuccess> {
  const twin = core.directory.require(request.thingId);
  return core.state.readInOrder(twin.thingId, () => read(twin));
}

/** Stores state records, then applies them to the view and tells observers: the one order for every change. */
async function commitState(core: HubCore, thingId: string, writes: PendingWrite[]): Promise<void> {
  // Their history samples join the same batch: a value and its history are stored together or not at all.
  // Distinct: each report is its own change with its own revision (its notification's number in a
  // cluster), even when a burst reports one property or event twice.
  const stored = core.persist.write([...writes, ...core.history.recordState(thingId, writes)], { distinct: true });
  await core.state.applyWhenStored(thingId, stored, (revisions) => {
    for (const [i, write] of writes.entries()) applyStateRecord(core, write.key, write.value, revisions[i]);
  });
}

/**
 * Applies a state record to the view and tells observers: the one path for this hub's writes and
 * other writers'. `revision`: the store revision of the record (numbers the notification in a cluster).
 */
export function applyStateRecord(core: HubCore, key: string, record: object | undefined, revision?: number): void {
  // Another writer's record of a Thing this hub does not know (it raced a delete) is not applied; load deletes such records.
  if (record !== undefined && !core.directory.get(thingOfStateKey(key))) return;
  const change = core.state.apply(key, record, revision);
  if (change?.kind === 'property') {
    // Nobody observes a write-only or a non-observable property: its values are not announced (nor retained on MQTT).
    const twin = core.directory.get(change.thingId);
    if (twin && (isWriteOnly(twin, change.name) || !isObservable(twin, change.name))) return;
    core.notify.publish({ operation: 'observeproperty', thingId: change.thingId, name: change.name, data: change.value, timestamp: change.time }, { revision });
  } else if (change?.kind === 'event') {
    core.notify.publish({ operation: 'subscribeevent', thingId: change.thingId, name: change.name, data: change.data, timestamp: change.time }, { revision });
  }
}

/**
 * Throws unless the property of a registered Thing can be observed: it exists, is observable, and
 * is not write-only (HubApi.authorize). A Thing not registered (yet) is not decided here: an MQTT
 * subscription may wait for it.
 */
export function checkObservable(core: HubCore, thingId: string | undefined, name: string): void {
  const twin = thingId === undefined ? undefined : core.directory.get(thingId);
  if (twin) observableName(twin, name);
}

/** The property's name if it can be observed through the twin; a 404, 403 or 400 problem otherwise. */
function observableName(twin: Twin, requested: string | undefined): string {
  const { name } = affordance(twin, 'properties', requested);
  if (isWriteOnly(twin, name)) throw writeOnlyRefusal(twin, name);
  if (!isObservable(twin, name)) {
    throw badRequest(`property '${name}' of Thing '${twin.thingId}' is not observable (its TD does not say "observable": true); read it instead`);
  }
  return name;
}

/** Builds the subscription target of an observe/subscribe request (no thingId: all visible Things). */
function target(core: HubCore, request: HubRequest, kind: 'property' | 'event', named: boolean): SubscriptionTarget {
  if (request.thingId === undefined) {
    if (named) throw badRequest(`${request.operation} needs a thingId and a name`);
    return { kind };
  }
  const twin = core.directory.require(request.thingId);
  if (!named) return { kind, thingId: twin.thingId };
  const name = kind === 'property' ? observableName(twin, request.name) : affordance(twin, 'events', request.name).name;
  return { kind, thingId: twin.thingId, name };
}

function subscribe(kind: 'property' | 'event', named: boolean) {
  return async (core: HubCore, request: HubRequest, context: HubContext) => {
    const session = core.sessions.require(context, request.operation);
    const subscription = target(core, request, kind, named);
    core.notify.subscribe(session, subscription);
    return request.since === undefined ? ok(undefined, 204) : ok(core.notify.replayTo(session, subscription, request.since));
  };
}

function unsubscribe(kind: 'property' | 'event', named: boolean) {
  return async (core: HubCore, request: HubRequest, context: HubContext) => {
    core.notify.unsubscribe(core.sessions.require(context, request.operation), target(core, request, kind, named));
    return ok(undefined, 204);
  };
}

export const stateHandlers: HandlerTable = {
  async readproperty(core, request, { client }) {
    return readState(core, request, (twin) => {
      const { name } = affordance(twin, 'properties', request.name);
      if (isWriteOnly(twin, name) && !readsWriteOnly(client)) throw writeOnlyRefusal(twin, name);
      const property = core.state.reported(twin.thingId, name);
      if (!property) throw notFound(`property '${name}' of Thing '${twin.thingId}' has no reported value yet`);
      return { ...ok(property.value), timestamp: property.updated };
    });
  },

  async readallproperties(core, request, { client }) {
    return readState(core, request, (twin) => {
      const names = Object.keys((twin.td.properties as object | undefined) ?? {});
      const wanted = request.query?.observableOnly ? names.filter((name) => isObservable(twin, name)) : names;
      return ok(reportedValues(core, twin, readable(twin, wanted, client)));
    });
  },

  async readmultipleproperties(core, request, { client }) {
    const names = request.names;
    if (!names || names.length === 0) throw badRequest('readmultipleproperties needs "names", a non-empty list of property names');
    return readState(core, request, (twin) =>
      ok(
        reportedValues(
          core,
          twin,
          readable(
            twin,
            names.map((name) => affordance(twin, 'properties', name).name),
            client,
          ),
        ),
      ),
    );
  },

  async readstate(core, request, { client }) {
    return readState(core, request, (twin) => {
      const state = core.state.snapshot(twin.thingId, desiredValues(core, twin.thingId));
      const shown = readable(twin, Object.keys(state.properties), client);
      return ok({ ...state, properties: Object.fromEntries(shown.map((name) => [name, state.properties[name]])) });
    });
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
    // A conditional report (Azure/AWS/Ditto style): only onto the state version the agent last saw.
    const version = core.state.latestVersion(twin.thingId);
    if (request.ifVersion !== undefined && request.ifVersion !== version) {
      throw preconditionFailed(`the state of Thing '${twin.thingId}' is at version ${version}, not ${request.ifVersion}; re-read it and retry`);
    }
    let values: Map<string, unknown>;
    if (request.name !== undefined) {
      values = new Map([[request.name, request.input]]);
    } else if (typeof request.input === 'object' && request.input !== null && !Array.isArray(request.input)) {
      values = new Map(Object.entries(request.input));
    } else {
      throw badRequest('updateproperty needs a property name and a value, or an object { name: value, ... } as input');
    }
    if (values.size === 0) throw badRequest('updateproperty got no values');
    // All values are checked before any is stored: a report is applied whole or not at all.
    for (const [name, value] of values) {
      const { schema } = affordance(twin, 'properties', name);
      if (value === undefined) throw badRequest(`property '${name}' needs a value`);
      checkPayloadSize(core.limits, value, `the value of property '${name}'`);
      checkValue(schema, value, `the value of property '${name}'`, `/${name}`);
    }
    await commitState(core, twin.thingId, core.state.reportWrites(twin.thingId, values, core.now().toISOString()));
    return ok(undefined, 204);
  },

  async publishevent(core, request) {
    const twin = core.directory.require(request.thingId);
    const event = affordance(twin, 'events', request.name);
    checkPayloadSize(core.limits, request.input, `the data of event '${event.name}'`);
    checkValue(event.schema.data as Record<string, unknown> | undefined, request.input, `the data of event '${event.name}'`, '');
    await commitState(core, twin.thingId, [core.state.eventWrite(twin.thingId, event.name, request.input ?? null, core.now().toISOString())]);
    return ok(undefined, 204);
  },
};
