// The hub's own session on MQTT: it observes every property, event and directory change and
// republishes them on the Thing topics (values retained, events not), so consumers only ever see
// values the core has validated. The same mirror feeds the embedded broker and an external one.

import type { Logger } from 'pino';
import type { Client, HubApi, HubRequest, NotificationMessage, Session, ThingDescription, Twin } from '@twinhub/core';
import { topics } from './topics.js';

/** The system client of the MQTT binding (never issued a token; it exists only inside the hub). */
export const MQTT_SYSTEM_CLIENT: Client = Object.freeze({ id: '$twinhub-mqtt', role: 'admin' });

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

/** Publishes one message on the broker (fire and forget; failures are the publisher's to log). */
export type TopicPublish = (topic: string, payload: Buffer, options: PublishOptions) => void;

/** Values and events are at-most-once notifications (docs/mqtt.md): QoS 0, nothing queued offline. */
const VALUE_OPTIONS: PublishOptions = { qos: 0, retain: true };
const EVENT_OPTIONS: PublishOptions = { qos: 0, retain: false };
const LIST_PAGE = 1000;

export interface Mirror {
  close(): void;
}

export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value === undefined ? null : value));
}

function propertyNames(td: unknown): Set<string> {
  const properties = (td as ThingDescription | undefined)?.properties;
  return new Set(properties && typeof properties === 'object' ? Object.keys(properties) : []);
}

/**
 * The reported value of every observable property (the others are never published) of the given
 * Things, or of every Thing: their IDs come from a metadata listing, a page at a time (building
 * every twin TD would cost most of the time). Things deleted meanwhile are skipped.
 */
export async function* propertyValues(hub: HubApi, thingIds?: Iterable<string>): AsyncGenerator<{ thingId: string; name: string; value: unknown }> {
  const valuesOf = async function* (thingId: string) {
    // The reported values only (readstate would copy the whole state of every Thing).
    const values = await hub.handle({ operation: 'readallproperties', thingId, query: { observableOnly: true } }, { client: MQTT_SYSTEM_CLIENT });
    if (!values.ok) return;
    for (const [name, value] of Object.entries(values.output as Record<string, unknown>)) yield { thingId, name, value };
  };
  if (thingIds !== undefined) {
    for (const thingId of thingIds) yield* valuesOf(thingId);
    return;
  }
  for (let offset = 0; ; offset += LIST_PAGE) {
    const page = await hub.handle({ operation: 'listTDs', query: { offset, limit: LIST_PAGE, metadataOnly: true } }, { client: MQTT_SYSTEM_CLIENT });
    if (!page.ok) throw new Error(`mqtt: listTDs failed: ${page.problem.title}: ${page.problem.detail}`);
    const twins = (page.output ?? []) as Omit<Twin, 'td'>[];
    for (const { thingId } of twins) yield* valuesOf(thingId);
    if (twins.length < LIST_PAGE) return;
  }
}

export interface MirrorOptions {
  /**
   * True while the hub applies a change another instance made (several instances on one external
   * broker): that instance publishes it, so each value and event goes out once, in the order its
   * instance stored it (docs/cluster.md).
   */
  fromOtherInstance?: () => boolean;
  /**
   * Publish the current value of every Thing's properties as retained at start (default true): an
   * external broker may have lost them. The embedded broker reads them from the twin state instead
   * (retained-values.ts).
   */
  seedRetained?: boolean;
}

/**
 * Opens the system session, subscribes it to everything, and (unless told not to) seeds the
 * retained values of the Things already registered.
 */
export async function startMirror(hub: HubApi, logger: Logger, ownPublish: TopicPublish, options: MirrorOptions = {}): Promise<Mirror> {
  const fromOtherInstance = options.fromOtherInstance ?? (() => false);
  const publish: TopicPublish = (topic, payload, options) => {
    if (!fromOtherInstance()) ownPublish(topic, payload, options);
  };
  /** Per Thing, the properties whose value topic holds a retained value (to clear when they go). */
  const retained = new Map<string, Set<string>>();
  const retain = (thingId: string, name: string) => {
    let names = retained.get(thingId);
    if (!names) retained.set(thingId, (names = new Set()));
    names.add(name);
  };
  /**
   * Value topics whose latest publish from here was a change this instance made. Another instance
   * publishes its changes from its own connection, so the broker may get that newer value before
   * this instance's older one (the two connections race): when the newer value reaches this
   * instance, it publishes it once more, after its own older one, so the retained value ends on the
   * newest (a duplicate of the same value, never an older value last).
   */
  const ownLast = new Set<string>();
  // Value topics already published from a live notification: seeding must not overwrite them.
  const fresh = new Set<string>();
  /**
   * Per value topic, the id of the newest value notification seen. In a cluster ids are store
   * revisions and an instance may hear an older value after a newer one (its own report stored
   * just before another instance's): that one is not published, so the topic (live and retained)
   * never goes back to an older value. WebSocket and SSE observers still get it, with its id.
   */
  const newestId = new Map<string, number>();
  let seeding = true;

  // An empty retained payload removes the retained value (MQTT 3.1.1 §3.3.1.3).
  const clearValues = (thingId: string, names: Iterable<string>) => {
    for (const name of names) publish(topics.propertyValue(thingId, name), Buffer.alloc(0), VALUE_OPTIONS);
  };

  const onNotification = (message: NotificationMessage) => {
    switch (message.operation) {
      case 'observeproperty':
        if (message.name !== undefined) {
          const topic = topics.propertyValue(message.thingId, message.name);
          if (seeding) fresh.add(topic);
          retain(message.thingId, message.name);
          if (message.seq < (newestId.get(topic) ?? 0)) return;
          newestId.set(topic, message.seq);
          if (!fromOtherInstance()) ownLast.add(topic);
          else if (!ownLast.delete(topic)) return;
          ownPublish(topic, json(message.data), VALUE_OPTIONS);
        }
        return;
      case 'subscribeevent':
        if (message.name !== undefined) publish(topics.event(message.thingId, message.name), json(message.data), EVENT_OPTIONS);
        return;
      case 'thing_created':
      case 'thing_updated': {
        const before = retained.get(message.thingId);
        if (!before) return;
        const names = propertyNames(message.data);
        const gone = [...before].filter((name) => !names.has(name));
        clearValues(message.thingId, gone);
        for (const name of gone) {
          before.delete(name);
          ownLast.delete(topics.propertyValue(message.thingId, name));
        }
        if (before.size === 0) retained.delete(message.thingId);
        return;
      }
      case 'thing_deleted':
        for (const name of retained.get(message.thingId) ?? []) ownLast.delete(topics.propertyValue(message.thingId, name));
        clearValues(message.thingId, retained.get(message.thingId) ?? []);
        retained.delete(message.thingId);
        return;
      default:
        return;
    }
  };

  const session: Session = hub.openSession(MQTT_SYSTEM_CLIENT, 'mqtt', {
    send(message) {
      if (message.type !== 'notification') return;
      try {
        onNotification(message);
      } catch (error) {
        logger.error({ err: error, thingId: message.thingId }, 'mqtt: could not republish a notification');
      }
    },
    close(reason) {
      logger.info({ reason }, 'mqtt: the hub closed the binding session');
    },
  });

  const run = async (request: HubRequest) => {
    const result = await hub.handle(request, { client: MQTT_SYSTEM_CLIENT, session });
    if (!result.ok) throw new Error(`mqtt: ${request.operation} failed: ${result.problem.title}: ${result.problem.detail}`);
    return result;
  };

  try {
    await run({ operation: 'subscribedirectory' });
    await run({ operation: 'observeallproperties' });
    await run({ operation: 'subscribeallevents' });
    // Only reported values are retained, so they are all seeding needs.
    if (options.seedRetained !== false) {
      for await (const { thingId, name, value } of propertyValues(hub)) {
        const topic = topics.propertyValue(thingId, name);
        retain(thingId, name);
        if (!fresh.has(topic)) ownPublish(topic, json(value), VALUE_OPTIONS);
      }
    }
    seeding = false;
    fresh.clear();
  } catch (error) {
    hub.closeSession(session);
    throw error;
  }

  return mirrorOf(session);

  function mirrorOf(session: Session): Mirror {
    return {
      close() {
        hub.closeSession(session);
      },
    };
  }
}
