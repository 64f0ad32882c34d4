// Operations (W3C TD op names where they exist) and the request/result shapes the core accepts.
// Every binding maps its wire format onto a HubRequest and its HubResult back.

import type { Client, Problem } from './types.js';

export const CONSUMER_OPERATIONS = [
  'readproperty',
  'readallproperties',
  'readmultipleproperties',
  'writeproperty',
  'observeproperty',
  'unobserveproperty',
  'observeallproperties',
  'unobserveallproperties',
  'invokeaction',
  'queryaction',
  'queryallactions',
  'cancelaction',
  'subscribeevent',
  'unsubscribeevent',
  'subscribeallevents',
  'unsubscribeallevents',
  /** Extension: the full twin state (reported + desired values, events, version). */
  'readstate',
] as const;

export const DIRECTORY_OPERATIONS = [
  'retrieveTD',
  'listTDs',
  /**
   * Extension: the twin document: metadata (agent, created, modified, version, presence, tags but
   * not for agents), reported and desired values with their times, their delta, versions.
   */
  'readtwin',
  /** Extension: replace a twin's tags (admin/operator). */
  'updatetags',
  /** Extension: thing_created / thing_updated / thing_deleted notifications on this session. */
  'subscribedirectory',
  'unsubscribedirectory',
] as const;

export const AGENT_OPERATIONS = [
  /** Create or replace a TD (thingId from the TD; generated when absent). */
  'updateTD',
  /** RFC 7396 merge patch of a registered TD. */
  'patchTD',
  'deleteTD',
  /** Report one value (name given) or many (input is { name: value }). */
  'updateproperty',
  'publishevent',
  /** Progress/output/error of a delivered request; any report also acknowledges receipt. */
  'updateactionstatus',
  /** Start/stop receiving queued requests for this agent's Things on this session. */
  'subscriberequests',
  'unsubscriberequests',
  /** Extension: start-up configuration of the agent's Things (thingId: one; none: all): per writable property the desired, else the last reported value. */
  'readdesired',
] as const;

export const PRESENCE_OPERATIONS = [
  /** Extension: the agents the client may see, with their presence and the Things they own. */
  'listagents',
  /** Extension: one agent (agentId) with its presence and the Things it owns. */
  'readagent',
] as const;

/** Clients and tokens (admin only); the target and fields travel in `input`. */
export const ADMIN_OPERATIONS = [
  /** Create a client with a role: input { id, role }. 201, or 200 when it exists with that role; 409 for another role. */
  'createclient',
  'listclients',
  /** Delete a client and revoke its tokens: input { id }. Its Things stay registered. */
  'deleteclient',
  /** Issue a token: input { clientId, role? } (role creates the client when new). The secret is in this result only. */
  'createtoken',
  /** Tokens without secrets: input { clientId }? */
  'listtokens',
  /** Revoke one token, input { tokenId }, or all of a client's, input { clientId }. */
  'revoketoken',
] as const;

/** Fleet jobs: one write or invocation queued for every Thing a query matches. The job's id travels in input { jobId }. */
export const JOB_OPERATIONS = [
  /** Input { operation: 'writeproperty' | 'invokeaction', name, input?, query, ttl?, startAt? }; 201 with the job. */
  'createjob',
  /** One job with its counters: input { jobId }. */
  'readjob',
  /** Jobs, oldest first, paged by query { offset, limit }. */
  'listjobs',
  /** Stops queuing and cancels the job's requests not yet delivered: input { jobId }. */
  'canceljob',
] as const;

/** Value history (docs/history.md): queries for readers, policies for admins. */
export const HISTORY_OPERATIONS = [
  /** Extension: a property's recorded values (thingId, name; `query`: from, to, limit, cursor, order, every, agg). */
  'readpropertyhistory',
  /** Extension: an event's recorded occurrences (same fields as readpropertyhistory). */
  'readeventhistory',
  /** Extension: a Thing's history policy as the admin set it, and the effective one per property and event. */
  'readhistorypolicy',
  /** Extension: replace a Thing's history policy: input { enabled?, delta?, interval?, maxAgeSeconds?, maxSamples?, properties?, events? }. */
  'updatehistorypolicy',
] as const;

export type ConsumerOperation = (typeof CONSUMER_OPERATIONS)[number];
export type DirectoryOperation = (typeof DIRECTORY_OPERATIONS)[number];
export type AgentOperation = (typeof AGENT_OPERATIONS)[number];
export type PresenceOperation = (typeof PRESENCE_OPERATIONS)[number];
export type AdminOperation = (typeof ADMIN_OPERATIONS)[number];
export type JobOperation = (typeof JOB_OPERATIONS)[number];
export type HistoryOperation = (typeof HISTORY_OPERATIONS)[number];
export type Operation = ConsumerOperation | DirectoryOperation | AgentOperation | PresenceOperation | AdminOperation | JobOperation | HistoryOperation;

export const ALL_OPERATIONS: readonly Operation[] = [
  ...CONSUMER_OPERATIONS,
  ...DIRECTORY_OPERATIONS,
  ...AGENT_OPERATIONS,
  ...PRESENCE_OPERATIONS,
  ...ADMIN_OPERATIONS,
  ...JOB_OPERATIONS,
  ...HISTORY_OPERATIONS,
];

export function isOperation(value: unknown): value is Operation {
  return typeof value === 'string' && (ALL_OPERATIONS as readonly string[]).includes(value);
}

/** Filters and paging for listTDs. All filters combine with AND. */
export interface TwinQuery {
  /** Owning agent's client id. */
  agent?: string;
  /** A TD @type value (exact match against any of the TD's types). */
  type?: string;
  /** Case-insensitive substring of the TD title. */
  title?: string;
  /** Tag key/value pairs that must all be present (not for agents). */
  tags?: Record<string, string>;
  offset?: number;
  /** Default 100, at most 1000. */
  limit?: number;
  /**
   * listTDs: list each twin's metadata (what readtwin returns: thingId, agentId, version, tags,
   * created, modified, the owner's presence) instead of its twin TD, which is far cheaper for a walk over many Things.
   * Needs the readtwin permission.
   */
  metadataOnly?: boolean;
  /**
   * retrieveTD and listTDs: serve twin TDs whose Thing-level security is this scheme (for clients
   * that honour only the Thing-level default, e.g. node-wot 0.8.16 over MQTT: `mqtt_basic_sc`).
   */
  security?: string;
  /** readallproperties: only the observable properties' values (what an observer is told of). */
  observableOnly?: boolean;

  // --- Twin queries (issue #12, docs/queries.md) ---
  /**
   * listTDs: an RFC 9535 filter expression (what goes inside `$[?…]`) over each twin's query
   * document `{ id, title, type, agent, tags, created, modified, version, reported, desired,
   * presence, td }`, e.g. `@.type[?@ == 'Lamp'] && @.reported.on == true`. ANDed with the plain filters.
   */
  filter?: string;
  /** listTDs: order by a JSON Pointer into the query document (`/title`, `/reported/temp`), asc (default) or desc. Default: by Thing id. */
  sort?: { by: string; order?: 'asc' | 'desc' };
  /** listTDs: continue after the page that gave this cursor (its `page.next`); not with `offset`. */
  cursor?: string;

  // History queries (readpropertyhistory, readeventhistory; docs/history.md). `limit` is the page
  // size in samples (or buckets): default 100, at most 1000.
  /** Samples at or after this RFC 3339 date-time. */
  from?: string;
  /** Samples before this RFC 3339 date-time. */
  to?: string;
  /** `newest` (default) or `oldest` first. */
  order?: 'newest' | 'oldest';
  /** Aggregate per time bucket of this width: `30s`, `1m`, `1h`, `1d` (from 1s to 366d). */
  every?: string;
  /** With `every`: min, max, avg, first, last, count (comma-separated or a list); default last. */
  agg?: string | string[];
}

/** listTDs: where a listing page ends and how it was found (docs/queries.md). */
export interface ListingPage {
  /** The cursor of the next page, when there may be more. */
  next?: string;
  /** The scan limit stopped the evaluation before the page was full: more may match past `next`. */
  partial?: { evaluated: number; scanLimit: number };
  /** How the candidates were found: indexes or a scan, how many, how many were evaluated. */
  plan: { kind: 'index' | 'scan'; indexes: string[]; candidates: number; evaluated: number };
  // --- end of twin queries ---
}

/** Input of updateactionstatus. */
export interface ActionStatusReport {
  status: 'running' | 'completed' | 'failed';
  progress?: unknown;
  output?: unknown;
  error?: { title?: string; detail?: string };
}

export interface HubRequest {
  operation: Operation;
  thingId?: string;
  /** readagent: the agent's client id. */
  agentId?: string;
  /** Affordance name (property, action or event). */
  name?: string;
  /** Value, action input, event data, TD, merge patch, tags or status report, by operation. */
  input?: unknown;
  /** queryaction, cancelaction, updateactionstatus. */
  actionId?: string;
  /** readmultipleproperties. */
  names?: string[];
  /** Optimistic locking: writeproperty and updateproperty (state version), updateTD/patchTD/deleteTD (TD version). */
  ifVersion?: number;
  /**
   * observe/subscribe operations and subscribedirectory: first replay the notifications after this
   * seq that the new subscription covers (a client resuming after a reconnect). The answer says how
   * many (`{ replayed }`), or `{ reset: true }` when the replay buffer no longer reaches back that far.
   */
  since?: number;
  /** Time to live of a queued request in seconds (invokeaction, writeproperty). */
  ttl?: number;
  /** listTDs (filters, paging); retrieveTD (only `security`); listjobs (only paging). */
  query?: TwinQuery;
  /** Echoed in the response envelope. */
  correlationId?: string;
}

export interface HubSuccess {
  ok: true;
  /** HTTP-style status: 200, 201 (created), 202 (accepted, queued), 204 (no content). */
  status: number;
  output?: unknown;
  /** listTDs: the number of twins matching the filter (for paging links). */
  total?: number;
  /** listTDs: a tag of the state of the whole collection (changes with any TD), for the listing's canonical link. */
  etag?: string;
  /** listTDs: the next page's cursor, a partial scan, the query plan (twin queries). */
  page?: ListingPage;
  /** readproperty: when the value was reported. */
  timestamp?: string;
}

export interface HubFailure {
  ok: false;
  status: number;
  problem: Problem;
}

export type HubResult = HubSuccess | HubFailure;

/** Who is asking, and (for push bindings) on which live session. */
export interface HubContext {
  client: Client;
  /** Required for observe/subscribe operations: where notifications go. */
  session?: Session;
}

/** A live connection of a client on one binding (a WS socket, an SSE stream, an MQTT client). */
export interface Session {
  readonly id: string;
  readonly client: Client;
  /** Binding name, for logs and presence: 'http', 'sse', 'ws', 'mqtt'. */
  readonly binding: string;
}
