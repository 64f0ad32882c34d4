// The SSE formats the hub serves. Routes pick one; a formatter returns undefined for messages that
// do not belong on its stream (e.g. actionstatus notifications on a property stream).

import type { AgentRequestMessage, NotificationMessage, OutboundMessage } from '@twinhub/core';
import type { SseFrame } from './frame.js';

/** Turns a message pushed to the session into a frame, or undefined to skip it. */
export type SseFormatter = (message: OutboundMessage) => SseFrame | undefined;

export function isNotification(message: OutboundMessage): message is NotificationMessage {
  return message.type === 'notification';
}

/**
 * Multi-source streams (`/stream`, `/events`, all properties of a Thing): named events
 * (`event: <operation>`), the whole NotificationMessage as data, `id:` = seq for Last-Event-ID.
 */
export function namedNotificationFormatter(accept: (message: NotificationMessage) => boolean = () => true): SseFormatter {
  return (message) => {
    if (!isNotification(message) || !accept(message)) return undefined;
    return { id: message.seq, event: message.operation, data: JSON.stringify(message) };
  };
}

/**
 * Per-affordance streams (one property, one event): unnamed events whose data is just the value or
 * event data, because node-wot's HTTP client reads them with `EventSource.onmessage`.
 */
export function valueFormatter(accept: (message: NotificationMessage) => boolean): SseFormatter {
  return (message) => {
    if (!isNotification(message) || !accept(message)) return undefined;
    return { id: message.seq, data: JSON.stringify(message.data ?? null) };
  };
}

const DIRECTORY_OPERATIONS: ReadonlySet<string> = new Set(['thing_created', 'thing_updated', 'thing_deleted', 'agent_connected', 'agent_disconnected']);

/**
 * Directory streams: `event: thing_created|thing_updated|thing_deleted`, data = the twin TD (or
 * `{ id }` for deletions); `event: agent_connected|agent_disconnected`, data = the agent's
 * presence; `id:` = seq. With `diff` (WoT Discovery `/events?diff=true`), thing_updated carries
 * the merge patch of the change instead of the whole TD [tdd-notification-data-update-diff];
 * thing_created keeps the whole TD [tdd-notification-data-create-full] and thing_deleted the id
 * [tdd-notification-data-delete-diff].
 */
export function directoryFormatter(accept: (message: NotificationMessage) => boolean = () => true, diff = false): SseFormatter {
  return (message) => {
    if (!isNotification(message) || !accept(message)) return undefined;
    if (!DIRECTORY_OPERATIONS.has(message.operation)) return undefined;
    const data = diff && message.operation === 'thing_updated' && message.patch ? message.patch : (message.data ?? { id: message.thingId });
    return { id: message.seq, event: message.operation, data: JSON.stringify(data) };
  };
}

/** The agent's request stream: `event: request`, `id:` = actionId, data = the AgentRequestMessage. */
export const agentRequestFormatter: SseFormatter = (message) => {
  if (message.type !== 'request') return undefined;
  const request: AgentRequestMessage = message;
  return { id: request.actionId, event: 'request', data: JSON.stringify(request) };
};
