// A tiny promise-based twinhub WebSocket client for tests (subpath `@twinhub/binding-ws/testing`,
// for this package's tests and the e2e tests in /test): request() resolves with the matching
// response, next*() with the next pushed message (kept in the test kit's Inbox).

import type { AgentRequestMessage, HubRequest, NotificationMessage, ResponseMessage } from '@twinhub/core';
import { Inbox } from '@twinhub/testkit';
import { WebSocket, type ClientOptions } from 'ws';
import { BEARER_SUBPROTOCOL_PREFIX, WS_SUBPROTOCOL } from './handshake.js';

const DEFAULT_TIMEOUT_MS = 5000;

export interface WsTestClientOptions {
  token?: string;
  /** Where the token travels: the Authorization header (default) or the browser subprotocol pair. */
  tokenIn?: 'header' | 'protocol';
  /** false: never answer pings (a dead peer, for heartbeat tests). */
  autoPong?: boolean;
  /** Extra ws client options (e.g. headers). */
  ws?: ClientOptions;
}

export interface WsTestClient {
  readonly ws: WebSocket;
  /** The subprotocol the server selected ('' if none). */
  readonly protocol: string;
  /** Sends a request envelope (a correlationId is assigned if absent) and resolves with its response. */
  request(request: HubRequest, timeoutMs?: number): Promise<ResponseMessage>;
  /** Sends anything as is (malformed JSON, binary frames...); read the answer with nextResponse(). */
  sendRaw(data: string | Buffer, options?: { binary?: boolean }): void;
  /** The next response that no request() call is waiting for. */
  nextResponse(timeoutMs?: number): Promise<ResponseMessage>;
  /** The next notification matching `match` (fields compared with ===, or a predicate). */
  nextNotification(match?: NotificationMatch, timeoutMs?: number): Promise<NotificationMessage>;
  /** The next queued request the hub pushed to this (agent) client. */
  nextAgentRequest(timeoutMs?: number): Promise<AgentRequestMessage>;
  /** Resolves when the socket closed, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<{ code: number; reason: string }>;
}

export type NotificationMatch = Partial<Pick<NotificationMessage, 'operation' | 'thingId' | 'name'>> | ((notification: NotificationMessage) => boolean);

/** The HTTP answer to a refused upgrade. */
export class WsUpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    readonly body: string,
  ) {
    super(`WebSocket upgrade refused with HTTP ${status}: ${body}`);
    this.name = 'WsUpgradeRefused';
  }

  /** The problem+json body, parsed. */
  json(): unknown {
    return JSON.parse(this.body);
  }
}

export async function connectWs(url: string, options: WsTestClientOptions = {}): Promise<WsTestClient> {
  const headers: Record<string, string> = { ...(options.ws?.headers as Record<string, string> | undefined) };
  let protocols: string[] | undefined;
  if (options.token !== undefined) {
    if (options.tokenIn === 'protocol') protocols = [WS_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${options.token}`];
    else headers.authorization = `Bearer ${options.token}`;
  }
  const ws = new WebSocket(url, protocols, { ...options.ws, headers, autoPong: options.autoPong ?? true });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        reject(new WsUpgradeRefused(response.statusCode ?? 0, response.headers, Buffer.concat(chunks).toString('utf8')));
        request.destroy();
      });
      response.on('error', reject);
    });
  });
  return wrap(ws);
}

/** Connects expecting a refusal; resolves with it (rejects if the upgrade succeeds). */
export async function refusedUpgrade(url: string, options: WsTestClientOptions = {}): Promise<WsUpgradeRefused> {
  let client: WsTestClient;
  try {
    client = await connectWs(url, options);
  } catch (error) {
    if (error instanceof WsUpgradeRefused) return error;
    throw error;
  }
  await client.close();
  throw new Error(`expected the upgrade to ${url} to be refused, but it succeeded`);
}

function wrap(ws: WebSocket): WsTestClient {
  const pending = new Map<string, (response: ResponseMessage) => void>();
  const responses = new Inbox<ResponseMessage>();
  const notifications = new Inbox<NotificationMessage>();
  const agentRequests = new Inbox<AgentRequestMessage>();
  let counter = 0;

  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const message = JSON.parse(data.toString()) as ResponseMessage | NotificationMessage | AgentRequestMessage;
    if (message.type === 'response') {
      const waiter = message.correlationId === undefined ? undefined : pending.get(message.correlationId);
      if (waiter) waiter(message);
      else responses.push(message);
    } else if (message.type === 'notification') notifications.push(message);
    else if (message.type === 'request') agentRequests.push(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      const error = new Error(`socket closed (${code} ${reason.toString()})`);
      for (const inbox of [responses, notifications, agentRequests]) inbox.close(error);
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on('error', () => undefined); // surfaced through `closed`

  return {
    ws,
    protocol: ws.protocol,
    closed,
    request(request, timeoutMs = DEFAULT_TIMEOUT_MS) {
      const correlationId = request.correlationId ?? `c${++counter}`;
      return new Promise<ResponseMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(correlationId);
          reject(new Error(`no response to ${request.operation} (${correlationId}) within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(correlationId, (response) => {
          clearTimeout(timer);
          pending.delete(correlationId);
          resolve(response);
        });
        void closed.then(({ code }) => {
          if (!pending.has(correlationId)) return;
          clearTimeout(timer);
          pending.delete(correlationId);
          reject(new Error(`socket closed (${code}) before the response to ${request.operation}`));
        });
        ws.send(JSON.stringify({ type: 'request', ...request, correlationId }));
      });
    },
    sendRaw(data, options) {
      ws.send(data, { binary: options?.binary ?? typeof data !== 'string' });
    },
    nextResponse: (timeoutMs = DEFAULT_TIMEOUT_MS) => responses.next(timeoutMs, 'matching response'),
    nextNotification(match = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) {
      const predicate =
        typeof match === 'function'
          ? match
          : (n: NotificationMessage) => Object.entries(match).every(([key, value]) => n[key as keyof NotificationMessage] === value);
      return notifications.take(predicate, timeoutMs, 'matching notification');
    },
    nextAgentRequest: (timeoutMs = DEFAULT_TIMEOUT_MS) => agentRequests.next(timeoutMs, 'matching agent request'),
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      return closed;
    },
  };
}

export { eventually } from '@twinhub/testkit';
