// Opens a WebSocket in Node with the `ws` package: the token in the Authorization header, and a
// refused upgrade (401, 403, 429, 503 ...) read back as the hub's problem+json.

import WebSocket from 'ws';
import { TwinhubError } from '../errors.js';
import type { Problem } from '../wire.js';
import type { WebSocketLike, WebSocketOpener } from './ws.js';

export const openNodeWebSocket: WebSocketOpener = (url, token) =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'twinhub.v1', { headers: { authorization: `Bearer ${token}` } });
    socket.once('open', () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // surfaced as 'close'
      resolve(socket as unknown as WebSocketLike);
    });
    socket.once('error', (error: Error) => reject(TwinhubError.local(503, 'Connection Failed', `${url}: ${error.message}`)));
    socket.once('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        request.destroy();
        const status = response.statusCode ?? 502;
        let problem: Problem = { status, title: response.statusMessage ?? 'Upgrade Refused', detail: Buffer.concat(chunks).toString('utf8') };
        try {
          const body = JSON.parse(problem.detail) as Partial<Problem>;
          if (typeof body.title === 'string' && typeof body.detail === 'string') problem = { ...problem, ...body, status };
        } catch {
          // not problem+json: keep the text as the detail
        }
        reject(new TwinhubError(problem, 'connect'));
      });
      response.on('error', (error) => reject(TwinhubError.local(503, 'Connection Failed', error.message)));
    });
  });
