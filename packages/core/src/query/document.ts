// The query document: what a filter and a sort see of one twin. Built per candidate when it is
// evaluated, never for all twins up front, and only with the fields the filter or sort reads (a
// filter on values never builds the twin TD). It holds only what the asking client may see.

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

/** The fields of a query document a filter or sort reads: a set of names, or 'all'. */
export type DocumentFields = ReadonlySet<string> | 'all';

/** Both field sets together. */
export function unionFields(a: DocumentFields, b: DocumentFields): DocumentFields {
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...a, ...b]);
}

/**
 * The query document of `twin` as `client` may see it, with only the `fields` asked for (a filter
 * on values never builds the twin TD, nor reads presence). Values are the hub's own objects: read,
 * never change them.
 */
export function queryDocument(twin: Twin, client: Client, sources: DocumentSources, fields: DocumentFields = 'all'): Record<string, unknown> {
  const document: Record<string, unknown> = {};
  for (const field of DOCUMENT_FIELDS) {
    if (fields !== 'all' && !fields.has(field)) continue;
    const value = fieldValue(field, twin, client, sources);
    if (value !== undefined) document[field] = value;
  }
  return document;
}

function fieldValue(field: (typeof DOCUMENT_FIELDS)[number], twin: Twin, client: Client, sources: DocumentSources): unknown {
  const visible = (name: string) => client.role === 'agent' || !isWriteOnly(twin.td, name);
  switch (field) {
    case 'id':
      return twin.thingId;
    case 'title':
      return typeof twin.td.title === 'string' ? twin.td.title : undefined;
    case 'type':
      return typesOf(twin.td);
    case 'agent':
      return twin.agentId;
    case 'tags':
      return client.role === 'agent' ? undefined : twin.tags;
    case 'created':
      return twin.created;
    case 'modified':
      return twin.modified;
    case 'version':
      return twin.version;
    case 'reported': {
      const values: [string, unknown][] = [];
      for (const name of Object.keys((twin.td.properties ?? {}) as object)) {
        if (!visible(name)) continue;
        const reported = sources.reported(twin.thingId, name);
        if (reported) values.push([name, reported.value]);
      }
      // fromEntries defines own properties: a name such as "__proto__" stays plain data.
      return Object.fromEntries(values);
    }
    case 'desired': {
      const values = new Map<string, unknown>();
      for (const write of sources.openWrites(twin.thingId)) if (visible(write.name)) values.set(write.name, write.input);
      return Object.fromEntries(values);
    }
    case 'presence': {
      const { connected, lastSeen } = sources.presence(twin.agentId);
      return lastSeen === undefined ? { connected } : { connected, lastSeen };
    }
    case 'td':
      return sources.twinTd(twin, client);
  }
}
