// The embedded broker's retained property values, read from the twin state when a client
// subscribes instead of kept as a copy in aedes. aedes' memory persistence holds every retained
// message (a million twins: three million packets, seeded by reading every twin at start) and
// scans all of them on every SUBSCRIBE; the twin state already holds each value, validated. A
// subscription naming one Thing reads that Thing's values; a wildcard over Things walks the
// directory, as the broker's scan did.

import { Readable } from 'node:stream';
import type { AedesPublishPacket } from 'aedes';
import type { HubApi } from '@twinhub/core';
import type { Logger } from 'pino';
import { json, propertyValues } from './mirror.js';
import { decodeLevel, topicMatches, topics } from './topics.js';

type Done = (error?: Error | null) => void;

/** What aedes asks of its persistence for retained messages (aedes-persistence's callback API). */
export interface RetainedPersistence {
  storeRetained(packet: AedesPublishPacket, done?: Done): unknown;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

interface RetainedPacket {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: 0;
  retain: true;
}

/**
 * Makes the broker's persistence answer retained property values from the twin state, and stop
 * storing them (every other retained topic is still stored by aedes, though the hub retains none).
 */
export function serveRetainedValuesFromState(persistence: RetainedPersistence, hub: HubApi, logger: Logger): void {
  const storeRetained = persistence.storeRetained.bind(persistence);
  const storedStream = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.storeRetained = (packet, done) => {
    if (!isValueTopic(packet.topic)) return storeRetained(packet, done);
    // The twin state holds this value already (the mirror publishes what the core stored). Done
    // later, as aedes' own store calls back: completing inside the publish would run its delivery
    // to subscribers synchronously, nested in the publisher's call.
    const stored = Promise.resolve();
    if (done) void stored.then(() => done(null));
    return stored;
  };
  persistence.createRetainedStreamCombi = (patterns) =>
    Readable.from(
      (async function* () {
        yield* storedStream(patterns);
        try {
          yield* valuePackets(hub, patterns);
        } catch (error) {
          // A subscriber misses retained values rather than the broker failing the subscription.
          logger.warn({ err: error }, 'mqtt: could not read the retained property values for a subscription');
        }
      })(),
    );
}

/** Whether a topic has the shape of a property value topic, things/{thing}/properties/{name} (cheap: runs for every value published). */
function isValueTopic(topic: string): boolean {
  if (!topic.startsWith('things/')) return false;
  const levels = topic.split('/');
  return levels.length === 4 && levels[2] === 'properties';
}

/** The Things whose value topics a filter can match: one named Thing, all of them, or none (undefined). */
function scopeOf(filter: string): { all: true } | { thingId: string } | undefined {
  const [first, second] = filter.split('/');
  if (first === '#') return { all: true };
  // A value topic is things/{thing}/properties/{name}: a filter of one level other than '#' never matches it.
  if ((first !== 'things' && first !== '+') || second === undefined) return undefined;
  if (second === '#' || second === '+') return { all: true };
  const thingId = decodeLevel(second);
  return thingId === undefined ? undefined : { thingId };
}

/** The current value of every observable property of the matching Things, each topic once. */
async function* valuePackets(hub: HubApi, patterns: readonly string[]): AsyncGenerator<RetainedPacket> {
  const scopes = patterns.map(scopeOf).filter((scope) => scope !== undefined);
  if (scopes.length === 0) return;
  // A wildcard over Things walks every Thing; otherwise only the named ones are read.
  const named = scopes.some((scope) => 'all' in scope) ? undefined : new Set(scopes.map((scope) => (scope as { thingId: string }).thingId));
  for await (const { thingId, name, value } of propertyValues(hub, named)) {
    const topic = topics.propertyValue(thingId, name);
    if (patterns.some((filter) => topicMatches(filter, topic))) yield { cmd: 'publish', topic, payload: json(value), qos: 0, retain: true };
  }
}
