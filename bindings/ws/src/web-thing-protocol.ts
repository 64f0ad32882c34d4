// The W3C Web Thing Protocol (WebSocket Sub-protocol) Community Group Draft as of
// w3c/web-thing-protocol index.html at 038a70b (2025-10-22): parsing its request messages into core
// requests, and building its response and notification messages. [wtp-<id>] cites the draft's section ids.

import { randomUUID } from 'node:crypto';
import { badRequest, HubError, isOperation, payloadTooLarge, type Problem, type RequestRecord } from '@twinhub/core';

/** The draft this module implements (docs/ws.md names it too). */
export const WTP_DRAFT = {
  url: 'https://github.com/w3c/web-thing-protocol/blob/038a70b17af04fe9061525d46cea37a51d77ec50/index.html',
  commit: '038a70b17af04fe9061525d46cea37a51d77ec50',
  date: '2025-10-22',
} as const;

type Member = 'name' | 'names' | 'value' | 'actionID';

/** The draft's operations the hub serves, with the request members each one requires ([wtp-property-operations] ff.). */
const REQUIRED_MEMBERS = {
  readproperty: ['name'],
  writeproperty: ['name', 'value'],
  readallproperties: [],
  readmultipleproperties: ['names'],
  observeproperty: ['name'],
  unobserveproperty: ['name'],
  observeallproperties: [],
  unobserveallproperties: [],
  invokeaction: ['name'],
  queryaction: ['actionID'],
  cancelaction: ['actionID'],
  queryallactions: [],
  subscribeevent: ['name'],
  unsubscribeevent: ['name'],
  subscribeallevents: [],
  unsubscribeallevents: [],
} as const satisfies Record<string, readonly Member[]>;

export type WtpOperation = keyof typeof REQUIRED_MEMBERS;

/**
 * Defined by the draft but not served: the core has no batch write, and queued writes cannot
 * report the "successfully assigned" values these responses must carry [wtp-writemultipleproperties-response].
 */
const UNSUPPORTED_OPERATIONS = new Set(['writeallproperties', 'writemultipleproperties']);

/** A checked request message [wtp-message-format]. */
export interface WtpRequest {
  operation: WtpOperation;
  thingID: string;
  name?: string;
  names?: string[];
  /** writeproperty: the new value (present, possibly null). */
  value?: unknown;
  /** invokeaction. */
  input?: unknown;
  actionID?: string;
  correlationID?: string;
}

/** What is known of a message, to address the response to it even when it did not parse. */
export interface WtpAddress {
  thingID?: string;
  operation?: string;
  name?: string;
  correlationID?: string;
}

export type WtpParseResult = { request: WtpRequest } | { problem: Problem; address: WtpAddress };

/** A message the hub sends: every one carries a fresh messageID [wtp-message-format]. */
export type WtpMessage = Record<string, unknown> & { messageID: string; messageType: 'response' | 'notification' };

const isWtpOperation = (operation: string): operation is WtpOperation => Object.hasOwn(REQUIRED_MEMBERS, operation);

/** Parses one text frame. Unknown members are ignored (lastNotificationID included: the draft lets a Thing ignore it). */
export function parseWtpRequest(raw: Buffer, maxBytes: number): WtpParseResult {
  if (raw.byteLength > maxBytes) return refused(payloadTooLarge(`message is ${raw.byteLength} bytes; the limit is ${maxBytes}`), {});
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    return refused(badRequest(`message is not valid JSON: ${(error as Error).message}`), {});
  }
  // [wtp-message-format] All messages MUST be a JSON object.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refused(badRequest('a Web Thing Protocol message must be a JSON object { "messageType": "request", "operation": ..., "thingID": ... }'), {});
  }
  const message = value as Record<string, unknown>;
  const address = addressOf(message);
  try {
    return { request: checkRequest(message) };
  } catch (error) {
    return refused(error as HubError, address);
  }
}

function refused(error: HubError, address: WtpAddress): WtpParseResult {
  return { problem: error.problem, address };
}

function addressOf(message: Record<string, unknown>): WtpAddress {
  const address: WtpAddress = {};
  for (const key of ['thingID', 'operation', 'name', 'correlationID'] as const) {
    const field = message[key];
    if (typeof field === 'string' && field.length > 0) address[key] = field;
  }
  return address;
}

/** Throws a 400 (or 501) HubError naming the first thing wrong; caught by parseWtpRequest. */
function checkRequest(message: Record<string, unknown>): WtpRequest {
  // [wtp-message-types-table] a Consumer only ever sends requests.
  if (message.messageType !== 'request') throw badRequest(`"messageType" must be "request", got ${JSON.stringify(message.messageType)}`);
  const operation = message.operation;
  if (typeof operation !== 'string') throw badRequest('"operation" must be the name of a WoT operation, e.g. "readproperty"');
  if (!isWtpOperation(operation)) throw unknownOperation(operation);
  const request: WtpRequest = { operation, thingID: nonEmptyString(message, 'thingID') };
  if (message.correlationID !== undefined) request.correlationID = nonEmptyString(message, 'correlationID');
  // messageID is mandatory in the draft, but the hub never needs it: a missing one is tolerated.
  if (message.messageID !== undefined) nonEmptyString(message, 'messageID');
  const required: readonly Member[] = REQUIRED_MEMBERS[operation];
  if (required.includes('name')) request.name = nonEmptyString(message, 'name');
  if (required.includes('actionID')) request.actionID = nonEmptyString(message, 'actionID');
  if (required.includes('value')) {
    if (!Object.hasOwn(message, 'value')) throw badRequest(`${operation} needs "value", the new value of property "${request.name}"`);
    request.value = message.value;
  }
  if (required.includes('names')) {
    const names = message.names;
    if (!Array.isArray(names) || names.length === 0 || !names.every((name) => typeof name === 'string')) {
      throw badRequest(`${operation} needs "names", a non-empty array of property names`);
    }
    request.names = names as string[];
  }
  if (operation === 'invokeaction' && message.input !== undefined) request.input = message.input;
  return request;
}

function unknownOperation(operation: string): HubError {
  if (UNSUPPORTED_OPERATIONS.has(operation)) {
    return new HubError(501, 'Not Implemented', `${operation} is not supported by this hub: write properties one at a time with writeproperty`);
  }
  if (isOperation(operation)) {
    return badRequest(`"${operation}" is a twinhub operation outside the Web Thing Protocol; connect with the twinhub.v1 subprotocol to use it`);
  }
  return badRequest(`"operation" ${JSON.stringify(operation)} is not an operation of the Web Thing Protocol`);
}

function nonEmptyString(message: Record<string, unknown>, key: string): string {
  const field = message[key];
  if (typeof field !== 'string' || field.length === 0) throw badRequest(`"${key}" must be a non-empty string`);
  return field;
}

/** A response message to `to` [wtp-message-format]: correlationID echoed, undefined members left out by JSON. */
export function wtpResponse(to: WtpAddress, members: Record<string, unknown>): WtpMessage {
  return {
    thingID: to.thingID,
    messageID: randomUUID(),
    messageType: 'response',
    operation: to.operation,
    ...members,
    correlationID: to.correlationID,
  };
}

/** An error response [wtp-error-response]: the problem, with the draft's common type URI where it has one. */
export function wtpError(to: WtpAddress, problem: Problem): WtpMessage {
  return wtpResponse(to, { name: to.name, error: wtpProblem(problem), timestamp: now() });
}

/** A notification (property change or event) for the subscription `correlationID` belongs to. */
export function wtpNotification(
  fields: { thingID: string; operation: string; name: string; correlationID?: string },
  payload: Record<string, unknown>,
): WtpMessage {
  const { thingID, operation, name, correlationID } = fields;
  return { thingID, messageID: randomUUID(), messageType: 'notification', operation, name, ...payload, correlationID };
}

/** [wtp-error-response] Common error types: the draft's (placeholder) type URIs for 400, 403, 404, 500 and 503. */
const COMMON_ERROR_STATUSES = new Set([400, 403, 404, 500, 503]);

export function wtpProblem(problem: Problem): Problem {
  if (problem.type !== undefined || !COMMON_ERROR_STATUSES.has(problem.status)) return problem;
  return { ...problem, type: `https://w3c.github.io/web-thing-protocol/errors#${problem.status}` };
}

/** The draft's ActionStatus object [wtp-action-status-object] for a queued request. */
export function actionStatusOf(record: RequestRecord): Record<string, unknown> {
  const state =
    record.status === 'pending' || record.status === 'delivered'
      ? 'pending'
      : record.status === 'running' || record.status === 'completed'
        ? record.status
        : 'failed';
  const status: Record<string, unknown> = { actionID: record.actionId, state, timeRequested: record.timeRequested };
  if (state === 'completed' && record.output !== undefined) status.output = record.output;
  if (state === 'failed' && record.error !== undefined) status.error = wtpProblem(record.error);
  if (record.timeEnded !== undefined) status.timeEnded = record.timeEnded;
  return status;
}

/** [wtp-message-format] date-time values are RFC 3339. */
export function now(): string {
  return new Date().toISOString();
}
