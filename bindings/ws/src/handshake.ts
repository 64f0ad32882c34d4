// The HTTP side of a WebSocket upgrade: where the bearer token comes from, and how an upgrade is
// refused with a real HTTP status and a problem body before any socket exists.

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest, unauthorized, type Problem } from '@twinhub/core';

/** The subprotocol of the twinhub JSON envelope; the only one the binding selects. */
export const WS_SUBPROTOCOL = 'twinhub.v1';

/** Browsers cannot set headers on a WebSocket: they offer `twinhub.v1, bearer.<token>` instead. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

export type TokenResult = { token: string } | { problem: Problem };

/**
 * Finds the bearer token of an upgrade request: the Authorization header wins; otherwise a
 * `bearer.<token>` subprotocol offered together with `twinhub.v1`.
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
      problem: unauthorized(`send "Authorization: Bearer <token>", or offer the subprotocols "${WS_SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}<token>"`).problem,
    };
  }
  if (bearer.length > 1) return { problem: badRequest(`offer exactly one "${BEARER_SUBPROTOCOL_PREFIX}<token>" subprotocol`).problem };
  // The server must select one offered subprotocol, and selecting the bearer one would echo the token.
  if (!offered.includes(WS_SUBPROTOCOL)) {
    return { problem: badRequest(`offer the "${WS_SUBPROTOCOL}" subprotocol together with "${BEARER_SUBPROTOCOL_PREFIX}<token>"`).problem };
  }
  const token = bearer[0].slice(BEARER_SUBPROTOCOL_PREFIX.length);
  if (token.length === 0) return { problem: unauthorized(`the "${BEARER_SUBPROTOCOL_PREFIX}<token>" subprotocol carries no token`).problem };
  return { token };
}

function offeredSubprotocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol.length > 0);
}

/** Picks the reply subprotocol: `twinhub.v1` when offered; never the bearer one. */
export function selectSubprotocol(protocols: Set<string>): string | false {
  return protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false;
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
