// The domain's data: twins, their state, queued requests and the identities that act on them.
// Everything here is plain JSON-serializable data, so it can be stored and sent as is.

/** A Thing Description as JSON. Validated against the W3C TD 1.1 schema before it is stored. */
export type ThingDescription = Record<string, unknown> & { id?: string; title?: string; '@type'?: string | string[] };

export type Role = 'admin' | 'agent' | 'operator' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'agent', 'operator', 'viewer'];

/** An authenticated identity. Agents own the Things they register. */
export interface Client {
  readonly id: string;
  readonly role: Role;
}

/** A registered Thing as the hub keeps it. */
export interface Twin {
  thingId: string;
  /** The TD as the agent registered it (validated). The twin TD served to consumers is derived. */
  td: ThingDescription;
  /** The client id of the agent that owns this Thing. */
  agentId: string;
  created: string;
  modified: string;
  /** Increments on every TD change. */
  version: number;
  /** When the registration expires (WoT Discovery `registration.expires`): the hub then deletes it. Absent: never. */
  expires?: string;
  /** The registrant's relative expiry in seconds (`registration.ttl`), from which `expires` was computed. */
  ttl?: number;
  /** Consumer/admin metadata; never sent to agents. */
  tags: Record<string, string>;
}

export interface PropertyState {
  /** Last value reported by the agent (absent until the first report). */
  value?: unknown;
  updated?: string;
  /** Last value a consumer asked for. */
  desired?: unknown;
  desiredAt?: string;
  /** actionId of the write request not yet completed, if any. */
  pendingWrite?: string;
}

export interface EventState {
  data: unknown;
  time: string;
}

export interface TwinState {
  thingId: string;
  properties: Record<string, PropertyState>;
  events: Record<string, EventState>;
  /** Increments on every state change; writes may carry `ifVersion`. */
  version: number;
}

export type RequestStatus = 'pending' | 'delivered' | 'running' | 'completed' | 'failed' | 'expired' | 'cancelled';
export const TERMINAL_STATUSES: ReadonlySet<RequestStatus> = new Set(['completed', 'failed', 'expired', 'cancelled']);

/**
 * A request travelling to an agent: an action invocation or a property write. Its id keeps the
 * wire name `actionId` (the WoT queryaction/cancelaction operations name action ids).
 */
export interface RequestRecord {
  actionId: string;
  thingId: string;
  /** Which affordance: an action name, or a property name for writes. */
  name: string;
  operation: 'invokeaction' | 'writeproperty';
  input?: unknown;
  status: RequestStatus;
  /** Client id of the consumer that asked. */
  requestedBy: string;
  timeRequested: string;
  expiresAt: string;
  timeDelivered?: string;
  /** Set once the agent acknowledged receipt (any status report); unacknowledged ones are redelivered. */
  timeAcknowledged?: string;
  timeEnded?: string;
  /** Agent-reported progress while running (free-form). */
  progress?: unknown;
  output?: unknown;
  error?: Problem;
  /** Global enqueue order; delivery to an agent follows it. */
  seq: number;
  /** The fleet job that queued this request, if any (its counters follow the request's status). */
  jobId?: string;
}

/** An RFC 9457 problem: what every error, on every binding, turns into. */
export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** A URI naming the problem type (defaults to about:blank). */
  type?: string;
  /** Field-level details, e.g. schema validation errors. */
  errors?: ProblemDetailItem[];
}

export interface ProblemDetailItem {
  /** JSON pointer into the offending input. */
  pointer: string;
  message: string;
}

export interface AgentPresence {
  agentId: string;
  connected: boolean;
  /** Live sessions that receive requests. */
  sessions: number;
  /** Connected without a break since then. */
  since?: string;
  lastSeen?: string;
}

// Fleet jobs (issue #12): one write or invocation applied to every Thing a query matches.

export type JobStatus = 'scheduled' | 'running' | 'queued' | 'completed' | 'cancelled';

/**
 * A job's progress. `matched` Things each got a request (`queued`) or were `refused`; every queued
 * request is counted under its current status, so pending + delivered + running + completed +
 * failed + expired + cancelled = queued. Kept current as requests change status and stored with
 * the job, so they outlive the request records' retention.
 */
export interface JobCounts {
  matched: number;
  queued: number;
  refused: number;
  pending: number;
  delivered: number;
  running: number;
  completed: number;
  failed: number;
  expired: number;
  cancelled: number;
}

/** Things a job could not queue a request for, grouped by the problem's status and title, with the first one as the example. */
export interface JobRefusal {
  status: number;
  title: string;
  count: number;
  thingId: string;
  detail: string;
}

/** A fleet job as stored (bucket `jobs`, key `jobId`) and served. */
export interface JobRecord {
  jobId: string;
  operation: 'writeproperty' | 'invokeaction';
  /** The property to write or the action to invoke, on every matched Thing. */
  name: string;
  input?: unknown;
  /** Which Things: the listTDs filters (agent, type, title, tags), evaluated with the creator's rights when the job starts. */
  query: { agent?: string; type?: string; title?: string; tags?: Record<string, string>; filter?: string };
  /** Time to live of each request, seconds from when it is queued (default: the hub's). */
  ttl?: number;
  /** The creator: its requests are made in its name, matching sees what it may see. */
  requestedBy: string;
  requesterRole: Role;
  timeCreated: string;
  /** When queuing starts (the creation time when not scheduled). */
  startAt: string;
  status: JobStatus;
  timeStarted?: string;
  /** Every matched Thing was handled (queued or refused). */
  timeQueued?: string;
  /** Completed (every request ended) or cancelled. */
  timeEnded?: string;
  /** The last Thing ID handled while queuing: a restart resumes after it. */
  cursor?: string;
  counts: JobCounts;
  refusals: JobRefusal[];
}
