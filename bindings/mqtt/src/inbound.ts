// Turns one publish on an inbound topic into a hub request, and the hub's answer into what the
// publisher hears back. Shared by the embedded broker and the external-broker mode, so both
// refuse the same things in the same words.

import {
  badRequest,
  envelopeLimitBytes,
  forbidden,
  internalProblem,
  isHubError,
  notFound,
  parseRequestMessage,
  payloadTooLarge,
  peekCorrelationId,
  toErrorMessage,
  toResponseMessage,
  type Client,
  type HubApi,
  type HubContext,
  type HubRequest,
  type HubResult,
  type Problem,
  type ResponseMessage,
} from '@twinhub/core';
import type { Logger } from 'pino';
import { isInbound, parseTopic, type InboundRoute } from './topics.js';

/** What a refused topic publish produces on clients/{id}/errors: the response envelope plus the topic. */
export type PublishError = ResponseMessage & { topic: string };

/** Where the outcome of one inbound publish goes. */
export interface PublishReplies {
  /** The response to an envelope request (clients/{id}/requests). */
  response(message: ResponseMessage): void;
  /** A refused topic publish (anything but an envelope request). */
  error(message: PublishError): void;
}

export const SCHEME_HINT =
  'clients publish to things/{thingId}/properties/{name}/set, things/{thingId}/actions/{name}, ' +
  'things/{thingId}/properties/{name}/reported, things/{thingId}/events/{name}/reported or clients/{clientId}/requests ' +
  '(each {…} level encodeURIComponent-encoded)';

/** The route of a topic a client may publish to, or the HubError saying why it may not. */
export function inboundRoute(topic: string): InboundRoute {
  const route = parseTopic(topic);
  if (!route) throw notFound(`topic '${topic}' is not part of the twinhub MQTT topic scheme; ${SCHEME_HINT}`);
  if (!isInbound(route)) throw forbidden(`topic '${topic}' is published by the hub only; ${SCHEME_HINT}`);
  return route;
}

/** The operation a topic publish on `route` runs (envelope requests name their own). */
const TOPIC_OPERATIONS = {
  propertySet: 'writeproperty',
  propertyReported: 'updateproperty',
  action: 'invokeaction',
  eventReported: 'publishevent',
} as const;

/**
 * Why `client` may not publish on `topic` at all, or undefined if it may (what the payload asks
 * for is checked when the publish runs). Used for wills, which are checked at CONNECT.
 */
export function publishProblem(hub: HubApi, client: Client, topic: string): Problem | undefined {
  let route: InboundRoute;
  try {
    route = inboundRoute(topic);
  } catch (error) {
    if (isHubError(error)) return error.problem;
    throw error;
  }
  if (route.kind === 'clientRequests') return route.clientId === client.id ? undefined : othersRequests(client).problem;
  return hub.authorize(client, TOPIC_OPERATIONS[route.kind], route.thingId);
}

/** The hub request a publish on `route` stands for. Throws a HubError (400/403/413) for bad input. */
export function requestFor(route: InboundRoute, payload: Buffer, client: Client, limits: HubApi['limits']): HubRequest {
  const maxPayloadBytes = limits.maxPayloadBytes;
  if (route.kind === 'clientRequests') {
    if (route.clientId !== client.id) throw othersRequests(client);
    const { type: _type, ...request } = parseRequestMessage(payload, envelopeLimitBytes(limits));
    return request;
  }
  // A value must be given; an action's input and an event's data may be absent.
  const valueRequired = route.kind === 'propertySet' || route.kind === 'propertyReported';
  return { operation: TOPIC_OPERATIONS[route.kind], thingId: route.thingId, name: route.name, input: jsonPayload(payload, maxPayloadBytes, valueRequired) };
}

function othersRequests(client: Client) {
  return forbidden(`client '${client.id}' may only publish requests to clients/${encodeURIComponent(client.id)}/requests`);
}

/** A topic payload as JSON; an empty payload means "no input" where that is allowed. */
function jsonPayload(payload: Buffer, maxBytes: number, required: boolean): unknown {
  if (payload.byteLength > maxBytes) throw payloadTooLarge(`payload is ${payload.byteLength} bytes; the limit is ${maxBytes}`);
  if (payload.byteLength === 0) {
    if (required) throw badRequest('payload is empty; publish the value as JSON (e.g. 42, "on", {"x":1})');
    return undefined;
  }
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw badRequest(`payload is not valid JSON: ${(error as Error).message}; strings must be quoted ("on", not on)`);
  }
}

/** Who publishes, as far as the hub can tell, and on which session. */
export interface Publisher {
  /**
   * undefined: nobody the hub can attribute the publish to (external mode, topic without owner).
   * Answered synchronously, hub.handle is called before handlePublish returns (pipelining).
   */
  client(route: InboundRoute): Client | undefined | Promise<Client | undefined>;
  context(client: Client, request: HubRequest): HubContext;
  /** Called just before hub.handle: from here on the core has the request in its order (pipelining). */
  handing?(): void;
}

export interface PublishOutcome {
  result: HubResult;
  request?: HubRequest;
}

/**
 * Handles one publish end to end: route, request, hub.handle, and the reply (response envelope for
 * envelope requests, error message for refused topic publishes). Never throws. With a publisher
 * that knows its client synchronously, the hub handles the request before this returns, so a
 * caller may start the next publish at once (the core applies requests in call order).
 */
export async function handlePublish(
  hub: HubApi,
  logger: Logger,
  topic: string,
  payload: Buffer,
  publisher: Publisher,
  replies: PublishReplies,
): Promise<PublishOutcome> {
  let route: InboundRoute | undefined;
  let request: HubRequest | undefined;
  let correlationId: string | undefined;
  try {
    route = inboundRoute(topic);
    if (route.kind === 'clientRequests') correlationId = peekCorrelationId(payload, envelopeLimitBytes(hub.limits));
    const known = publisher.client(route);
    const client = known instanceof Promise ? await known : known;
    if (!client) throw forbidden(`nobody the hub knows may publish to '${topic}'`);
    request = requestFor(route, payload, client, hub.limits);
    const context = publisher.context(client, request);
    publisher.handing?.();
    const result = await hub.handle(request, context);
    if (route.kind === 'clientRequests') replies.response(toResponseMessage(request, result));
    else if (!result.ok) replies.error({ ...toResponseMessage(request, result), topic });
    return { result, request };
  } catch (error) {
    if (!isHubError(error)) logger.error({ err: error, topic }, 'mqtt: publish failed unexpectedly');
    const problem: Problem = isHubError(error) ? error.problem : internalProblem();
    const result: HubResult = { ok: false, status: problem.status, problem };
    if (route?.kind === 'clientRequests') replies.response(toErrorMessage(problem, correlationId));
    else replies.error({ ...(request ? toResponseMessage(request, result) : toErrorMessage(problem)), topic });
    return { result, request };
  }
}
