// The wire types, taken from the core as types only (erased at build time, so no core runtime reaches
// the browser build): a change to the envelope or the operations breaks this package's build.

import type { AgentRequestMessage, NotificationMessage, RequestMessage, ResponseMessage } from '@twinhub/core';

export type {
  ActionStatusReport,
  AgentPresence,
  AgentRequestMessage,
  HubRequest,
  NotificationMessage,
  Problem,
  RequestMessage,
  RequestRecord,
  ResponseMessage,
  ThingDescription,
  TwinQuery,
} from '@twinhub/core';
export type { AgentNotificationMessage, Operation, ThingNotificationMessage } from '@twinhub/core';

/** What the hub sends a client: a response, a notification, or (to agents) a queued request. */
export type InboundMessage = ResponseMessage | NotificationMessage | AgentRequestMessage;

/** A request as the client sends it: always with a correlationId, so its response can be matched. */
export type RequestEnvelope = RequestMessage & { correlationId: string };

/** Narrows a parsed JSON value to a message the hub sends, or undefined (ignored: never a crash). */
export function asInboundMessage(value: unknown): InboundMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  return type === 'response' || type === 'notification' || type === 'request' ? (value as InboundMessage) : undefined;
}
