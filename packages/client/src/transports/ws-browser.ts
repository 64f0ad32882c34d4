// Opens the browser's own WebSocket: the token travels as the `bearer.<token>` subprotocol next to
// `twinhub.v1` (browsers cannot set headers on an upgrade; docs/ws.md "Connecting and authenticating").

import { TwinhubError } from '../errors.js';
import type { WebSocketLike, WebSocketOpener } from './ws.js';

export const openBrowserWebSocket: WebSocketOpener = (url, token) =>
  new Promise((resolve, reject) => {
    const Socket = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    if (!Socket) {
      reject(TwinhubError.local(503, 'No WebSocket', 'this environment has no global WebSocket'));
      return;
    }
    const socket = new Socket(url, ['twinhub.v1', `bearer.${token}`]);
    const onOpen = () => {
      socket.removeEventListener('close', onClose);
      resolve(socket as unknown as WebSocketLike);
    };
    // A browser never sees the refusal's status (401, 403 ...): the upgrade just fails (close 1006).
    const onClose = (event: CloseEvent) => {
      socket.removeEventListener('open', onOpen);
      reject(
        TwinhubError.local(
          503,
          'Connection Failed',
          `the WebSocket to ${url} did not open (close ${event.code}); a refused token or origin looks the same to a page`,
        ),
      );
    };
    socket.addEventListener('open', onOpen, { once: true });
    socket.addEventListener('close', onClose, { once: true });
  });
