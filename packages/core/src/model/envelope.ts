// The JSON message envelope shared by the push bindings (WS, MQTT, SSE): one parser, one set of
// shapes, so every binding refuses bad input the same way.

import { badRequest, payloadTooLarge } from './errors.js';
import type { HubLimits } from './hub-api.js';
import { isOperation, type HubRequest, type HubResult, type ListingPage } from './operations.js';
import type { AgentPresence, Problem } from './types.js';

export interface RequestMessage extends HubRequest {
  type: 'request';
}

export interface ResponseMessage {
  type: 'response';
  operation: string;
  thingId?: string;
  name?: string;
  correlationId?: string;
  status: number;
  output?: unknown;
  /** listTDs: how many twins match in all (for paging). */
  total?: number;
  /** listTDs: the next page's cursor, a partial scan, the query plan (docs/queries.md). */
  page?: ListingPage;
  /** readproperty: when the value was reported. */
  timestamp?: string;
  error?: Problem;
}

/** Changes of one Thing; `actionstatus`: a request this client made changed status. */
export const THING_NOTIFICATION_OPERATIONS = ['observeproperty', 'subscribeevent', 'thing_created', 'thing_updated', 'thing_deleted', 'actionstatus'] as const;
export type ThingNotificationOperation = (typeof THING_NOTIFICATION_OPERATIONS)[number];

/** An agent's first receiving session opened / its last one closed (directory subscribers). */
export const AGENT_NOTIFICATION_OPERATIONS = ['agent_connected', 'agent_disconnected'] as const;
export type AgentNotificationOperation = (typeof AGENT_NOTIFICATION_OPERATIONS)[number];

/** Every kind of notification (the AsyncAPI document is checked against this list). */
export const NOTIFICATION_OPERATIONS = [...THING_NOTIFICATION_OPERATIONS, ...AGENT_NOTIFICATION_OPERATIONS] as const;
export type NotificationOperation = (typeof NOTIFICATION_OPERATIONS)[number];

/** A change of one Thing: a value, an event, its TD, a request's status. */
export interface ThingNotificationMessage {
  type: 'notification';
  operation: ThingNotificationOperation;
  thingId: string;
  /** Only agent notifications carry an agentId (declared so code reading it on any notification gets undefined). */
  agentId?: never;
  /** Property/event name, or the action name for actionstatus; absent for directory changes. */
  name?: string;
  /** Property value, event data, RequestRecord, or twin TD ({ id } for thing_deleted). */
  data: unknown;
  /** thing_updated: the RFC 7396 merge patch from the previous twin TD to this one, with the TD's `id` (SSE `/events?diff=true` sends it as the data). */
  patch?: Record<string, unknown>;
  timestamp: string;
  /** Hub-wide increasing number: SSE event id, resume point for Last-Event-ID. */
  seq: number;
}

/** A change of an agent's presence; `data` is its presence after the change. */
export interface AgentNotificationMessage {
  type: 'notification';
  operation: AgentNotificationOperation;
  agentId: string;
  /** Not about one Thing (declared so code reading `thingId`/`name` of any notification gets undefined). */
  thingId?: never;
  name?: never;
  data: AgentPresence;
  timestamp: string;
  seq: number;
}

export type NotificationMessage = ThingNotificationMessage | AgentNotificationMessage;

/** A notification as handed to NotificationRegistry.publish, which numbers it. */
export type UnnumberedNotification = Unnumbered<NotificationMessage>;
type Unnumbered<M> = M extends unknown ? Omit<M, 'type' | 'seq'> : never;

/** A queued request pushed to an agent. The agent answers with updateactionstatus(actionId). */
export interface AgentRequestMessage {
  type: 'request';
  operation: 'invokeaction' | 'writeproperty';
  thingId: string;
  name: string;
  input?: unknown;
  actionId: string;
  correlationId: string;
  expiresAt: string;
}

/** What the core pushes to a live session. */
export type OutboundMessage = NotificationMessage | AgentRequestMessage;

/** Room for the envelope's own fields around the largest input it may carry. */
const ENVELOPE_OVERHEAD_BYTES = 4096;

/** The largest request envelope a binding accepts: it may carry a whole TD (updateTD) or a payload. */
export function envelopeLimitBytes(limits: Pick<HubLimits, 'maxTdBytes' | 'maxPayloadBytes'>): number {
  return Math.max(limits.maxTdBytes, limits.maxPayloadBytes) + ENVELOPE_OVERHEAD_BYTES;
}

/** The correlationId of a message that may fail to parse as an envelope, so even its error response can be matched. */
export function peekCorrelationId(raw: string | Uint8Array, maxBytes: number): string | undefined {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > maxBytes) return undefined;
  try {
    const value: unknown = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const correlationId = (value as Record<string, unknown>).correlationId;
    return typeof correlationId === 'string' && correlationId.length > 0 ? correlationId : undefined;
  } catch {
    return undefined;
  }
}

const REQUEST_FIELDS = new Set([
  'type',
  'operation',
  'thingId',
  'agentId',
  'name',
  'input',
  'actionId',
  'names',
  'ifVersion',
  'ttl',
  'since',
  'query',
  'correlationId',
]);

/**
 * Parses one request envelope (a JSON text or bytes). Throws a HubError (400/413) describing
 * exactly what is wrong; never returns a partially checked request.
 */
export function parseRequestMessage(raw: string | Uint8Array, maxBytes: number): RequestMessage {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > maxBytes) throw payloadTooLarge(`message is ${size} bytes; the limit is ${maxBytes}`);
  const text = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`message is not valid JSON: ${(error as Error).message}`);
  }
  return checkRequestMessage(value);
}

/** Checks an already-parsed envelope object (see parseRequestMessage). */
export function checkRequestMessage(value: unknown): RequestMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('message must be a JSON object { "type": "request", "operation": ... }');
  }
  const message = value as Record<string, unknown>;
  const unknownFields = Object.keys(message).filter((key) => !REQUEST_FIELDS.has(key));
  if (unknownFields.length > 0) throw badRequest(`unknown field(s) in request: ${unknownFields.join(', ')}`);
  if (message.type !== undefined && message.type !== 'request') {
    throw badRequest(`"type" must be "request", got ${JSON.stringify(message.type)}`);
  }
  if (!isOperation(message.operation)) {
    throw badRequest(`"operation" ${JSON.stringify(message.operation)} is not a known operation`);
  }
  const request: RequestMessage = { type: 'request', operation: message.operation };
  for (const key of ['thingId', 'agentId', 'name', 'actionId', 'correlationId'] as const) {
    const field = message[key];
    if (field === undefined) continue;
    if (typeof field !== 'string' || field.length === 0) throw badRequest(`"${key}" must be a non-empty string`);
    request[key] = field;
  }
  if (message.input !== undefined) request.input = message.input;
  if (message.names !== undefined) {
    if (!Array.isArray(message.names) || !message.names.every((n) => typeof n === 'string')) {
      throw badRequest('"names" must be an array of property names');
    }
    request.names = message.names as string[];
  }
  for (const key of ['ifVersion', 'ttl', 'since'] as const) {
    const field = message[key];
    if (field === undefined) continue;
    if (typeof field !== 'number' || !Number.isFinite(field) || field < 0) throw badRequest(`"${key}" must be a non-negative number`);
    request[key] = field;
  }
  if (message.query !== undefined) {
    if (typeof message.query !== 'object' || message.query === null || Array.isArray(message.query)) {
      throw badRequest('"query" must be an object');
    }
    request.query = message.query as RequestMessage['query'];
  }
  return request;
}

/** The response envelope for a request's result. */
export function toResponseMessage(request: Pick<HubRequest, 'operation' | 'thingId' | 'name' | 'correlationId'>, result: HubResult): ResponseMessage {
  const response: ResponseMessage = { type: 'response', operation: request.operation, status: result.status };
  if (request.thingId !== undefined) response.thingId = request.thingId;
  if (request.name !== undefined) response.name = request.name;
  if (request.correlationId !== undefined) response.correlationId = request.correlationId;
  if (result.ok) {
    if (result.output !== undefined) response.output = result.output;
    if (result.total !== undefined) response.total = result.total;
    if (result.page !== undefined) response.page = result.page;
    if (result.timestamp !== undefined) response.timestamp = result.timestamp;
  } else {
    response.error = result.problem;
  }
  return response;
}

/** The response envelope for a message that could not even be parsed into a request. */
export function toErrorMessage(problem: Problem, correlationId?: string): ResponseMessage {
  return { type: 'response', operation: 'unknown', status: problem.status, error: problem, ...(correlationId ? { correlationId } : {}) };
}
