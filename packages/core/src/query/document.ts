// The query document: what a filter and a sort see of one twin. Built per candidate when it is
// evaluated, never for all twins up front; its costly parts (values, presence, the twin TD) only
// when the filter or sort touches them. It holds only what the asking client may see.

import type { Client, ThingDescription, Twin } from '../model/types.js';

/** The @type values of a TD, as a list (as the directory's @type index has them). */
function typesOf(td: ThingDescription): string[] {
  const types = td['@type'];
  if (types === undefined) return [];
  return Array.isArray(types) ? types.filter((t): t is string => typeof t === 'string') : [types];
}

/** Where the document's parts come from (the core's state, request queue, sessions and twin TDs). */
export interface DocumentSources {
  reported(thingId: string, name: string): { value: unknown } | undefined;
  /** Open property writes of the Thing, oldest first: the newest one's input is the desired value. */
  openWrites(thingId: string): Iterable<{ name: string; input?: unknown }>;
  presence(agentId: string): { connected: boolean; lastSeen?: string };
  /** The twin TD as the client's role sees it. */
  twinTd(twin: Twin, client: Client): ThingDescription;
}

/**
 * The fields of the query document, in order. `tags` is left out for agents (they never see tags);
 * `reported` and `desired` leave out write-only properties for everyone but the owning agent.
 */
export const DOCUMENT_FIELDS = ['id', 'title', 'type', 'agent', 'tags', 'created', 'modified', 'version', 'reported', 'desired', 'presence', 'td'] as const;

/** A property the TD declares `writeOnly` (TD 1.1 §5.3.2.4): its value must never be readable, nor matchable, through the twin. */
function isWriteOnly(td: ThingDescription, name: string): boolean {
  const properties = td.properties as Record<string, { writeOnly?: unknown }> | undefined;
  return properties !== undefined && Object.hasOwn(properties, name) && properties[name]?.writeOnly === true;
}

/** Defines `key` as computed on first read, then kept (an own, enumerable property, as JSONPath needs). */
function lazy(document: Record<string, unknown>, key: string, compute: () => unknown): void {
  Object.defineProperty(document, key, {
    enumerable: true,
    configurable: true,
    get() {
      const value = compute();
      Object.defineProperty(document, key, { value, enumerable: true, configurable: true, writable: false });
      return value;
    },
  });
}

/** The query document of `twin` as `client` may see it. Values are the hub's own objects: read, never change them. */
export function queryDocument(twin: Twin, client: Client, sources: DocumentSources): Record<string, unknown> {
  const seesWriteOnly = client.role === 'agent';
  const visible = (name: string) => seesWriteOnly || !isWriteOnly(twin.td, name);
  const document: Record<string, unknown> = {
    id: twin.thingId,
    ...(typeof twin.td.title === 'string' ? { title: twin.td.title } : {}),
    type: typesOf(twin.td),
    agent: twin.agentId,
    ...(client.role === 'agent' ? {} : { tags: twin.tags }),
    created: twin.created,
    modified: twin.modified,
    version: twin.version,
  };
  lazy(document, 'reported', () => {
    const values: [string, unknown][] = [];
    for (const name of Object.keys((twin.td.properties ?? {}) as object)) {
      if (!visible(name)) continue;
      const reported = sources.reported(twin.thingId, name);
      if (reported) values.push([name, reported.value]);
    }
    // fromEntries defines own properties: a name such as "__proto__" stays plain data.
    return Object.fromEntries(values);
  });
  lazy(document, 'desired', () => {
    const values = new Map<string, unknown>();
    for (const write of sources.openWrites(twin.thingId)) if (visible(write.name)) values.set(write.name, write.input);
    return Object.fromEntries(values);
  });
  lazy(document, 'presence', () => {
    const { connected, lastSeen } = sources.presence(twin.agentId);
    return lastSeen === undefined ? { connected } : { connected, lastSeen };
  });
  lazy(document, 'td', () => sources.twinTd(twin, client));
  return document;
}
