// A tiny promise-based Web Thing Protocol client for tests: request() sends a draft request message
// and resolves with the response carrying its correlationID; notifications wait in an Inbox.

import { randomUUID } from 'node:crypto';
import { Inbox } from '@twinhub/testkit';
import { WebSocket } from 'ws';
import { BEARER_SUBPROTOCOL_PREFIX, WTP_SUBPROTOCOL } from './handshake.js';

const DEFAULT_TIMEOUT_MS = 5000;

/** A message as received: the draft's members, loosely typed (tests check them one by one). */
export type WtpReceived = Record<string, unknown> & { messageType: string; messageID: string; correlationID?: string };

export interface WtpTestClient {
  readonly ws: WebSocket;
  /** The subprotocol the server selected ('' if none). */
  readonly protocol: string;
  /** Sends `{ messageType: "request", messageID, correlationID, ...message }` and resolves with the response to it. */
  request(message: Record<string, unknown>, timeoutMs?: number): Promise<WtpReceived>;
  /** Sends anything as is; read the answer with nextResponse(). */
  sendRaw(data: string | Buffer, options?: { binary?: boolean }): void;
  /** The next response no request() waits for (a late synchronous-action response, an unparseable message's error...). */
  nextResponse(timeoutMs?: number): Promise<WtpReceived>;
  nextNotification(match?: (message: WtpReceived) => boolean, timeoutMs?: number): Promise<WtpReceived>;
  /** Every notification received so far. */
  readonly notifications: readonly WtpReceived[];
  close(): Promise<void>;
}

export interface WtpConnectOptions {
  token: string;
  /** Where the token travels: the Authorization header (default) or the browser subprotocol pair. */
  tokenIn?: 'header' | 'protocol';
  /** The subprotocols offered before the bearer one (default: webthingprotocol only). */
  protocols?: string[];
}

export async function connectWtp(url: string, options: WtpConnectOptions): Promise<WtpTestClient> {
  const protocols = [...(options.protocols ?? [WTP_SUBPROTOCOL])];
  const headers: Record<string, string> = {};
  if (options.tokenIn === 'protocol') protocols.push(`${BEARER_SUBPROTOCOL_PREFIX}${options.token}`);
  else headers.authorization = `Bearer ${options.token}`;
  const ws = new WebSocket(url, protocols, { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return wrap(ws);
}

function wrap(ws: WebSocket): WtpTestClient {
  const pending = new Map<string, (response: WtpReceived) => void>();
  const responses = new Inbox<WtpReceived>();
  const notifications = new Inbox<WtpReceived>({ keepHistory: true });
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as WtpReceived;
    if (message.messageType === 'notification') return notifications.push(message);
    const waiter = message.correlationID === undefined ? undefined : pending.get(message.correlationID);
    if (waiter) waiter(message);
    else responses.push(message);
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.on('error', () => undefined); // surfaced through `closed`

  return {
    ws,
    protocol: ws.protocol,
    get notifications() {
      return notifications.items;
    },
    request(message, timeoutMs = DEFAULT_TIMEOUT_MS) {
      const correlationID = typeof message.correlationID === 'string' ? message.correlationID : randomUUID();
      return new Promise<WtpReceived>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(correlationID);
          reject(new Error(`no response to ${String(message.operation)} (${correlationID}) within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(correlationID, (response) => {
          clearTimeout(timer);
          pending.delete(correlationID);
          resolve(response);
        });
        ws.send(JSON.stringify({ messageType: 'request', messageID: randomUUID(), ...message, correlationID }));
      });
    },
    sendRaw(data, options) {
      ws.send(data, { binary: options?.binary ?? typeof data !== 'string' });
    },
    nextResponse: (timeoutMs = DEFAULT_TIMEOUT_MS) => responses.next(timeoutMs, 'response'),
    nextNotification: (match = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) => notifications.take(match, timeoutMs, 'matching notification'),
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      await closed;
    },
  };
}
