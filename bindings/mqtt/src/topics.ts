// The MQTT topic scheme of the hub (see docs/mqtt.md): building topics, parsing them back into
// routes, and matching subscription filters. Every variable level is percent-encoded, so a Thing
// id or name can never add levels ('/') or act as a wildcard ('+', '#').

/** Topics the hub publishes (clients subscribe). */
export type OutboundRoute =
  | { kind: 'propertyValue'; thingId: string; name: string }
  | { kind: 'event'; thingId: string; name: string }
  | { kind: 'agentRequests'; clientId: string }
  | { kind: 'clientResponses'; clientId: string }
  | { kind: 'clientNotifications'; clientId: string }
  | { kind: 'clientErrors'; clientId: string };

/** Topics clients publish (the hub consumes). */
export type InboundRoute =
  | { kind: 'propertySet'; thingId: string; name: string }
  | { kind: 'propertyReported'; thingId: string; name: string }
  | { kind: 'action'; thingId: string; name: string }
  | { kind: 'eventReported'; thingId: string; name: string }
  | { kind: 'clientRequests'; clientId: string };

export type Route = OutboundRoute | InboundRoute;

const INBOUND_KINDS: ReadonlySet<Route['kind']> = new Set(['propertySet', 'propertyReported', 'action', 'eventReported', 'clientRequests']);

export function isInbound(route: Route): route is InboundRoute {
  return INBOUND_KINDS.has(route.kind);
}

/**
 * One topic level for a Thing id, affordance name or client id. (An id that is exactly '.' or '..'
 * stays as is: valid on MQTT, but a URL parser drops such a path segment from a form's href, so
 * such Things only work with clients that read mqv:topic / mqv:filter.)
 */
export function encodeLevel(value: string): string {
  return encodeURIComponent(value);
}

/** The value of one encoded level; undefined unless it is non-empty and canonically encoded. */
export function decodeLevel(level: string): string | undefined {
  let value: string;
  try {
    value = decodeURIComponent(level);
  } catch {
    return undefined;
  }
  // One spelling per value: aliases would dodge retained values and exact-topic permissions.
  return value.length > 0 && encodeLevel(value) === level ? value : undefined;
}

const thing = (thingId: string) => `things/${encodeLevel(thingId)}`;

export const topics = {
  propertyValue: (thingId: string, name: string) => `${thing(thingId)}/properties/${encodeLevel(name)}`,
  propertySet: (thingId: string, name: string) => `${thing(thingId)}/properties/${encodeLevel(name)}/set`,
  propertyReported: (thingId: string, name: string) => `${thing(thingId)}/properties/${encodeLevel(name)}/reported`,
  action: (thingId: string, name: string) => `${thing(thingId)}/actions/${encodeLevel(name)}`,
  event: (thingId: string, name: string) => `${thing(thingId)}/events/${encodeLevel(name)}`,
  eventReported: (thingId: string, name: string) => `${thing(thingId)}/events/${encodeLevel(name)}/reported`,
  agentRequests: (clientId: string) => `agents/${encodeLevel(clientId)}/requests`,
  clientRequests: (clientId: string) => `clients/${encodeLevel(clientId)}/requests`,
  clientResponses: (clientId: string) => `clients/${encodeLevel(clientId)}/responses`,
  clientNotifications: (clientId: string) => `clients/${encodeLevel(clientId)}/notifications`,
  clientErrors: (clientId: string) => `clients/${encodeLevel(clientId)}/errors`,
};

/** Filters the hub subscribes to on an external broker: everything clients publish to it. */
export const INBOUND_FILTERS = [
  'things/+/properties/+/set',
  'things/+/properties/+/reported',
  'things/+/actions/+',
  'things/+/events/+/reported',
  'clients/+/requests',
] as const;

/**
 * A filter as an MQTT 5 shared subscription (§4.8.2): the broker hands each matching message to one
 * subscriber of `group`, so several hub instances on one broker handle each client publish once.
 */
export function sharedFilter(group: string, filter: string): string {
  return `$share/${group}/${filter}`;
}

/** A ShareName must be non-empty and hold no '/', '+' or '#' (MQTT 5 §4.8.2). */
export function isShareName(group: string): boolean {
  return group.length > 0 && !/[/+#]/.test(group);
}

// Keyed by "<section>/<suffix>" (Maps, so level text like 'constructor' can never hit a prototype).
const THING_ROUTES = new Map<string, Route['kind']>([
  ['properties/', 'propertyValue'],
  ['properties/set', 'propertySet'],
  ['properties/reported', 'propertyReported'],
  ['actions/', 'action'],
  ['events/', 'event'],
  ['events/reported', 'eventReported'],
]);

const CLIENT_ROUTES = new Map<string, Route['kind']>([
  ['requests', 'clientRequests'],
  ['responses', 'clientResponses'],
  ['notifications', 'clientNotifications'],
  ['errors', 'clientErrors'],
]);

/** The route of a concrete topic (no wildcards), or undefined when it is outside the scheme. */
export function parseTopic(topic: string): Route | undefined {
  const levels = topic.split('/');
  if (levels[0] === 'things' && (levels.length === 4 || levels.length === 5)) {
    const thingId = decodeLevel(levels[1]);
    const name = decodeLevel(levels[3]);
    // A fifth level must name a suffix: 'things/t/properties/p/' is not the value topic.
    const kind = levels[4] === '' ? undefined : THING_ROUTES.get(`${levels[2]}/${levels[4] ?? ''}`);
    if (thingId === undefined || name === undefined || kind === undefined) return undefined;
    return { kind, thingId, name } as Route;
  }
  if (levels.length === 3 && (levels[0] === 'agents' || levels[0] === 'clients')) {
    const clientId = decodeLevel(levels[1]);
    if (clientId === undefined) return undefined;
    if (levels[0] === 'agents') return levels[2] === 'requests' ? { kind: 'agentRequests', clientId } : undefined;
    const kind = CLIENT_ROUTES.get(levels[2]);
    return kind ? ({ kind, clientId } as Route) : undefined;
  }
  return undefined;
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/** MQTT filter matching ('+' one level, '#' the rest); '$' topics only match filters naming them. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
