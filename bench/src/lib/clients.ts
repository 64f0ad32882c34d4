// Protocol clients for the load generators: MQTT (mqtt.js), the WebSocket envelope (ws) and a
// streaming SSE reader over node:http. Each speaks to 127.0.0.1 only.

import http from 'node:http';
import { connectAsync, type MqttClient } from 'mqtt';
import WebSocket from 'ws';

export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw new Error(`benchmarks talk to loopback only, not ${url}`);
}

export async function mqttConnect(url: string, credential?: { id: string; token: string }, clientId?: string): Promise<MqttClient> {
  assertLoopback(url);
  const client = await connectAsync(url, {
    clientId: clientId ?? credential?.id ?? `bench-${process.pid}-${Math.random().toString(36).slice(2)}`,
    ...(credential ? { username: credential.id, password: credential.token } : {}),
    reconnectPeriod: 0,
    clean: true,
    connectTimeout: 10_000,
    keepalive: 120,
  });
  // mqtt.js leaves Nagle's algorithm on: small acknowledgements would wait for delayed ACKs.
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  return client;
}

export interface EnvelopeMessage {
  type: 'response' | 'notification' | 'request';
  operation: string;
  thingId?: string;
  name?: string;
  correlationId?: string;
  actionId?: string;
  status?: number;
  data?: unknown;
  output?: unknown;
  error?: { detail?: string };
}

/** A WebSocket speaking the twinhub envelope: `request` resolves with the matching response. */
export class EnvelopeSocket {
  private pending = new Map<string, (message: EnvelopeMessage) => void>();
  private counter = 0;
  /** Notifications and pushed agent requests (everything that is not a response to us). */
  onPush: (message: EnvelopeMessage) => void = () => undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as EnvelopeMessage;
      if (message.type === 'response' && message.correlationId !== undefined) {
        const resolve = this.pending.get(message.correlationId);
        if (resolve) {
          this.pending.delete(message.correlationId);
          resolve(message);
          return;
        }
      }
      this.onPush(message);
    });
  }

  static async open(url: string, token: string): Promise<EnvelopeSocket> {
    assertLoopback(url);
    const ws = new WebSocket(url, 'twinhub.v1', { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade refused: ${res.statusCode}`)));
    });
    return new EnvelopeSocket(ws);
  }

  request(request: Record<string, unknown>): Promise<EnvelopeMessage> {
    const correlationId = `c${++this.counter}`;
    return new Promise((resolve) => {
      this.pending.set(correlationId, resolve);
      this.ws.send(JSON.stringify({ type: 'request', ...request, correlationId }));
    });
  }

  /** Sends without waiting for the response (it arrives through onPush). */
  fire(request: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ type: 'request', ...request }));
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface SseFrame {
  event?: string;
  id?: string;
  data: string;
}

/** Opens an SSE stream; `onFrame` gets each event as it is parsed. Resolves once headers arrived. */
export function openSse(base: string, path: string, token: string, onFrame: (frame: SseFrame) => void): Promise<{ close(): void }> {
  assertLoopback(base);
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, base), { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`SSE ${path}: status ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: SseFrame = { data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
            else if (line.startsWith('event:')) frame.event = line.slice(6).trim();
            else if (line.startsWith('id:')) frame.id = line.slice(3).trim();
          }
          if (data.length === 0) continue;
          frame.data = data.join('\n');
          onFrame(frame);
        }
      });
      res.on('error', () => undefined);
      resolve({ close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** A keep-alive JSON request; resolves with the status (body drained). */
export function httpJson(agent: http.Agent, base: string, method: string, path: string, token: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(new URL(path, base), {
      method,
      agent,
      headers: { Authorization: `Bearer ${token}`, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export const enc = encodeURIComponent;
