// A transport over several: the browser's WebSocket-then-HTTP fallback, or several hub instances
// of a cluster tried in turn (Node).

import { TwinhubError } from '../errors.js';
import type { Link, LinkHandlers, Transport } from '../transport.js';

/** Tries each transport in turn when opening; the first that opens carries the link. A refused token is final. */
export function fallbackTransport(transports: readonly Transport[]): Transport {
  return {
    name: transports.map((t) => t.name).join('|'),
    async open(handlers: LinkHandlers): Promise<Link> {
      let last: unknown;
      for (const transport of transports) {
        try {
          return await transport.open(handlers);
        } catch (error) {
          if (error instanceof TwinhubError && (error.status === 401 || error.status === 403)) throw error;
          last = error;
        }
      }
      throw last;
    },
  };
}
