// The HTTP side of a WebSocket upgrade: where the bearer token comes from, and how an upgrade is
// refused with a real HTTP status and a problem body before any socket exists.

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest, unauthorized, type Problem } from '@twinhub/core';

/** The subprotocol of the twinhub JSON envelope (also spoken when no subprotocol is offered). */
export const WS_SUBPROTOCOL = 'twinhub.v1';

/** The W3C Web Thing Protocol CG draft's subprotocol name ([wtp-protocol-handshake]); see web-thing-protocol.ts. */
export const WTP_SUBPROTOCOL = 'webthingprotocol';

/** What the binding speaks; selectSubprotocol picks the first of these the client offers. */
export const SUPPORTED_SUBPROTOCOLS: readonly string[] = [WS_SUBPROTOCOL, WTP_SUBPROTOCOL];

/** Browsers cannot set headers on a WebSocket: they offer `twinhub.v1, bearer.<token>` (or `webthingprotocol, ...`) instead. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

export type TokenResult = { token: string } | { problem: Problem };

/**
 * Finds the bearer token of an upgrade request: the Authorization header wins; otherwise a
 * `bearer.<token>` subprotocol offered together with `twinhub.v1` or `webthingprotocol`.
 */
export function bearerTokenOf(request: IncomingMessage): TokenResult {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization);
    if (!match) return { problem: unauthorized('the Authorization header must be "Bearer <token>"').problem };
    return { token: match[1] };
  }
  const offered = offeredSubprotocols(request);
  const bearer = offered.filter((protocol) => protocol.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (bearer.length === 0) {
    return {
      problem: unauthorized(
        `send "Authorization: Bearer <token>", or offer the subprotocols "${WS_SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}<token>" (or "${WTP_SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}<token>")`,
      ).problem,
    };
  }
  if (bearer.length > 1) return { problem: badRequest(`offer exactly one "${BEARER_SUBPROTOCOL_PREFIX}<token>" subprotocol`).problem };
  // The server must select one offered subprotocol, and selecting the bearer one would echo the token.
  if (selectSubprotocol(offered) === false) {
    return {
      problem: badRequest(`offer the "${WS_SUBPROTOCOL}" or "${WTP_SUBPROTOCOL}" subprotocol together with "${BEARER_SUBPROTOCOL_PREFIX}<token>"`).problem,
    };
  }
  const token = bearer[0].slice(BEARER_SUBPROTOCOL_PREFIX.length);
  if (token.length === 0) return { problem: unauthorized(`the "${BEARER_SUBPROTOCOL_PREFIX}<token>" subprotocol carries no token`).problem };
  return { token };
}

/** The Sec-WebSocket-Protocol values of an upgrade request, in the client's order. */
export function offeredSubprotocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol.length > 0);
}

/**
 * Picks the reply subprotocol: the first supported one in the client's list (RFC 6455 §4.1: the
 * client lists them by preference; §4.2.2: the server selects one of them, or none); never the
 * bearer one. `protocols` keeps the client's order (ws builds the Set from the header in order).
 */
export function selectSubprotocol(protocols: Iterable<string>): string | false {
  for (const protocol of protocols) if (SUPPORTED_SUBPROTOCOLS.includes(protocol)) return protocol;
  return false;
}

/** Answers an upgrade request with an HTTP error and a problem+json body, then closes the socket. */
export function refuseUpgrade(socket: Duplex, problem: Problem, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(problem);
  const head = [
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? problem.title}`,
    'Connection: close',
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
