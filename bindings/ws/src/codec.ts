// What one subprotocol makes of a socket: how a received frame becomes hub requests and an answer,
// and how the messages the core pushes look on the wire. WsConnection owns the socket (order,
// backpressure, liveness); a codec only translates. One codec instance per connection.

import {
  badRequest,
  internalProblem,
  isHubError,
  parseRequestMessage,
  peekCorrelationId,
  toErrorMessage,
  toResponseMessage,
  type Client,
  type HubApi,
  type HubRequest,
  type HubResult,
  type OutboundMessage,
  type RequestMessage,
  type Session,
} from '@twinhub/core';
import type { Logger } from 'pino';

export interface WsFrame {
  data: Buffer;
  isBinary: boolean;
}

/** A message as it goes on the wire (serialized with JSON.stringify). */
export type WireMessage = object;

export interface CodecContext {
  hub: HubApi;
  client: Client;
  logger: Logger;
  /** Largest message accepted, bytes (larger ones get a 413 answer). */
  envelopeLimitBytes: number;
}

export interface WsCodec {
  /**
   * The answer to one received frame, or undefined for none (yet). Called in arrival order; it
   * must call hub.handle before its first await, so requests reach the core in that order.
   */
  answer(frame: WsFrame, session: Session): Promise<WireMessage | undefined>;
  /** A message the core pushed, as sent on this subprotocol; undefined: not sent at all. */
  encode(message: OutboundMessage): WireMessage | undefined;
}

export type WsCodecFactory = (context: CodecContext) => WsCodec;

/** HubApi.handle never throws by contract; this keeps the socket usable if it does anyway. */
export function handleSafely(context: CodecContext, request: HubRequest, session: Session): Promise<HubResult> {
  try {
    return context.hub.handle(request, { client: context.client, session }).catch((error: unknown) => failed(context, request, error));
  } catch (error) {
    return Promise.resolve(failed(context, request, error));
  }
}

function failed(context: CodecContext, request: HubRequest, error: unknown): HubResult {
  context.logger.error({ err: (error as Error).message, operation: request.operation }, 'hub.handle threw');
  return { ok: false, status: 500, problem: internalProblem() };
}

/** The twinhub.v1 envelope (docs/ws.md): requests and responses as the core shapes them. */
export const twinhubCodec: WsCodecFactory = (context) => ({
  async answer({ data, isBinary }, session) {
    if (isBinary) {
      return toErrorMessage(badRequest('binary frames are not supported: send the JSON request envelope as a text frame').problem);
    }
    let request: RequestMessage;
    try {
      request = parseRequestMessage(data, context.envelopeLimitBytes);
    } catch (error) {
      const problem = isHubError(error) ? error.problem : internalProblem();
      return toErrorMessage(problem, peekCorrelationId(data, context.envelopeLimitBytes));
    }
    return toResponseMessage(request, await handleSafely(context, request, session));
  },
  encode: (message) => message,
});
