// Long polling for clients that cannot use SSE with a token (node-wot's HTTP client sends its
// credentials on long-poll requests but not on EventSource): each GET waits for the next value.

import type { HubRequest, NotificationMessage, OutboundMessage } from '@twinhub/core';
import { sendJson, sendProblem } from './http-io.js';
import type { BindingDeps, RouteContext } from './route.js';

export interface LongPollOptions {
  /** The subscription that feeds the poll (observeproperty or subscribeevent of one affordance). */
  subscribe: HubRequest;
  /** Which pushed notification answers the poll. */
  accept(message: NotificationMessage): boolean;
}

/**
 * HEAD: node-wot's handshake. The subscription is made on a throwaway session and dropped at once,
 * so the core (not the binding) decides whether it is allowed and the affordance exists.
 */
export async function answerLongPollHandshake(ctx: RouteContext, deps: BindingDeps, options: LongPollOptions): Promise<void> {
  const session = deps.hub.openSession(ctx.client, 'http-longpoll', { send: () => undefined, close: () => undefined });
  try {
    const result = await deps.hub.handle(options.subscribe, { client: ctx.client, session });
    if (!result.ok) return sendProblem(ctx.res, result.problem);
  } finally {
    deps.hub.closeSession(session);
  }
  ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  ctx.res.end();
}

/**
 * GET: one session per poll, subscribed before the wait starts; the first accepted notification is
 * the answer (its data as JSON) and ends the session. Nothing else is kept, so a poll holds at most
 * one value. Changes between two polls are not seen (at-most-once, like every live notification).
 */
export async function answerLongPoll(ctx: RouteContext, deps: BindingDeps, options: LongPollOptions): Promise<void> {
  const { hub } = deps;
  const { res } = ctx;
  let done = false;
  const finish = (answer: () => void) => {
    if (done) return;
    done = true;
    hub.closeSession(session);
    if (!res.writableEnded && !res.destroyed) answer();
  };
  const session = hub.openSession(ctx.client, 'http-longpoll', {
    send(message: OutboundMessage) {
      if (message.type !== 'notification' || !options.accept(message)) return;
      finish(() => sendJson(res, 200, message.data ?? null, { 'Cache-Control': 'no-store' }));
    },
    close(reason) {
      finish(() => sendProblem(res, { status: 503, title: 'Service Unavailable', detail: `the hub ended this poll (${reason}); poll again` }));
    },
  });
  // The client went away (node-wot unsubscribed, or the connection dropped).
  res.once('close', () => finish(() => undefined));
  const result = await hub.handle(options.subscribe, { client: ctx.client, session });
  if (!result.ok) finish(() => sendProblem(res, result.problem));
}
